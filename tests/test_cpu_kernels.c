/* The CPU backend's kernels called directly through its vtable, on host
 * buffers, against naive double-precision loops. This covers what the op-level
 * golden tests do not reach: every GEMM path (f32 sgemm/sgemv, parallel small
 * batches, the bf16/f16 GEMV for M <= 8 and the chunked conversion for larger
 * M, with padded leading dimensions, alpha/beta, NaN in C with beta = 0, K = 0),
 * all 65536 f16 bit patterns, copy_strided over 1..6 dims with accumulation
 * and a zero destination stride, bit-identical results for 1 and 2 OpenMP
 * threads where the backend promises determinism, and the bounds and dtype
 * checks, and the device's registry entry (name, storage dtypes per kernel).
 * CPU only: cross-device agreement is test_backends_agree's job. */
#define _GNU_SOURCE /* RTLD_DEFAULT */
#include <dlfcn.h>
#include <math.h>
#include <string.h>

#include "core/backend.h"
#include "core/registry.h"
#include "cpu/cpu.h"
#include "testutil.h"

static mrg_device *dev;
static const mrg_backend *be;

/* Buffer of n elements addressed from element offset 5 (offsets matter). */
static mrg_ptr mk(mrg_dtype dt, int64_t n) {
    mrg_buffer *b = calloc(1, sizeof *b);
    size_t bytes = (size_t)(n + 5) * mrg_dtype_size(dt);
    CHECK(b && be->buffer_alloc(dev, b, bytes) == MRG_OK);
    memset(b->handle, 0, bytes);
    mrg_ptr p = {b, 5, dt};
    return p;
}
static void rel(mrg_ptr p) {
    be->buffer_free(dev, p.buf);
    free(p.buf);
}
static float *F(mrg_ptr p) { return (float *)p.buf->handle + p.off; }
static int32_t *I(mrg_ptr p) { return (int32_t *)p.buf->handle + p.off; }
static uint16_t *H(mrg_ptr p) { return (uint16_t *)p.buf->handle + p.off; }

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static float urand(float lo, float hi) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return lo + (hi - lo) * (float)((double)(rng >> 11) / 9007199254740992.0);
}
static void fillr(float *x, int64_t n, float lo, float hi) {
    for (int64_t i = 0; i < n; i++) x[i] = urand(lo, hi);
}

/* |got − want| <= atol + rtol·|want| everywhere. */
static bool near(const char *what, const float *got, const double *want, int64_t n, double rtol,
                 double atol) {
    for (int64_t i = 0; i < n; i++)
        if (!(fabs((double)got[i] - want[i]) <= atol + rtol * fabs(want[i]))) {
            fprintf(stderr, "%s: element %lld is %.9g, want %.9g\n", what, (long long)i,
                    got[i], want[i]);
            return false;
        }
    return true;
}

/* ---- conversions ---------------------------------------------------------- */

static double f16_value(uint16_t h) {
    int e = (h >> 10) & 31, m = h & 1023;
    double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(1024 + m, e - 25);
    return (h >> 15) ? -v : v;
}

static void test_convert(void) {
    mrg_ptr h = mk(MRG_F16, 65536), o = mk(MRG_F32, 65536);
    for (int i = 0; i < 65536; i++) H(h)[i] = (uint16_t)i;
    CHECK_OK(be->convert(dev, h, o, 65536));
    int bad = 0;
    for (int i = 0; i < 65536; i++) {
        double want = f16_value((uint16_t)i);
        bool sign = signbit(F(o)[i]) != 0;
        if (isnan(want) ? !isnan(F(o)[i]) : (double)F(o)[i] != want || sign != (i >> 15)) bad++;
    }
    CHECK(bad == 0);
    for (int i = 0; i < 65536; i++) H(h)[i] = (uint16_t)i; /* reinterpreted as bf16 */
    h.dt = MRG_BF16;
    CHECK_OK(be->convert(dev, h, o, 65536));
    bad = 0;
    for (int i = 0; i < 65536; i++) {
        uint32_t u = (uint32_t)i << 16, g;
        memcpy(&g, &F(o)[i], 4);
        bad += g != u;
    }
    CHECK(bad == 0);
    mrg_ptr n = mk(MRG_I32, 100);
    for (int i = 0; i < 100; i++) I(n)[i] = i * 1000 - 7;
    CHECK_OK(be->convert(dev, n, o, 100));
    CHECK(F(o)[99] == 98993.0f && F(o)[0] == -7.0f);
    CHECK_OK(be->fill(dev, n, 50, 3.9f)); /* i32 fill truncates */
    CHECK(I(n)[0] == 3 && I(n)[49] == 3 && I(n)[50] == 49993);
    CHECK_OK(be->fill(dev, o, 65536, -2.5f));
    CHECK(F(o)[65535] == -2.5f);
    CHECK(be->fill(dev, o, 65537, 1.0f) == MRG_ERR_INVALID_ARG); /* past the buffer */
    CHECK(be->convert(dev, o, h, 10) == MRG_ERR_UNSUPPORTED);    /* bf16 destination */
    rel(h);
    rel(o);
    rel(n);
}

/* ---- copy_strided ------------------------------------------------------------ */

static int64_t offset_of(int64_t lin, int nd, const int64_t *sh, const int64_t *st) {
    int64_t off = 0;
    for (int k = nd - 1; k >= 0; k--) {
        off += (lin % sh[k]) * st[k];
        lin /= sh[k];
    }
    return off;
}

static void test_copy(void) {
    for (int nd = 1; nd <= 6; nd++)
        for (int acc = 0; acc < 2; acc++) {
            /* src in reversed-axis (transposed) order, dst row-major */
            int64_t sh[6], ss[6], ds[6], n = 1;
            for (int k = 0; k < nd; k++) {
                sh[k] = 2 + (k * 3 + nd) % 4;
                n *= sh[k];
            }
            int64_t s = 1;
            for (int k = 0; k < nd; k++) {
                ss[k] = s;
                s *= sh[k];
            }
            s = 1;
            for (int k = nd - 1; k >= 0; k--) {
                ds[k] = s;
                s *= sh[k];
            }
            mrg_ptr src = mk(MRG_F32, n), dst = mk(MRG_F32, n);
            fillr(F(src), n, -1, 1);
            fillr(F(dst), n, -1, 1);
            float *d0 = malloc((size_t)n * 4);
            memcpy(d0, F(dst), (size_t)n * 4);
            CHECK_OK(be->copy_strided(dev, src, dst, nd, sh, ss, ds, acc));
            int bad = 0;
            for (int64_t i = 0; i < n; i++) {
                int64_t so = offset_of(i, nd, sh, ss), dof = offset_of(i, nd, sh, ds);
                bad += F(dst)[dof] != (acc ? d0[dof] + F(src)[so] : F(src)[so]);
            }
            CHECK(bad == 0);
            free(d0);
            rel(src);
            rel(dst);
        }
    /* (300, 100) accumulated over rows into (100) through a zero dst stride:
     * sequential, so exactly the row-order float sum */
    int64_t sh[2] = {300, 100}, ss[2] = {100, 1}, zs[2] = {0, 1};
    mrg_ptr src = mk(MRG_F32, 30000), z = mk(MRG_F32, 100);
    fillr(F(src), 30000, -1, 1);
    CHECK_OK(be->copy_strided(dev, src, z, 2, sh, ss, zs, true));
    float want[100] = {0};
    for (int r = 0; r < 300; r++)
        for (int c = 0; c < 100; c++) want[c] += F(src)[r * 100 + c];
    CHECK(memcmp(want, F(z), sizeof want) == 0);
    int64_t bad_ss[2] = {101, 1}; /* reaches past the source buffer */
    CHECK(be->copy_strided(dev, src, z, 2, sh, bad_ss, zs, true) == MRG_ERR_INVALID_ARG);
    mrg_ptr iv = mk(MRG_I32, 10);
    CHECK(be->copy_strided(dev, iv, iv, 1, sh + 1, ss + 1, ss + 1, false) ==
          MRG_ERR_INVALID_ARG); /* 100 elements > 10 */
    int64_t five = 5, one = 1;
    CHECK(be->copy_strided(dev, iv, iv, 1, &five, &one, &one, true) == MRG_ERR_UNSUPPORTED);
    rel(src);
    rel(z);
    rel(iv);
}

/* ---- GEMM ----------------------------------------------------------------------- */

static void set_w(mrg_ptr B, int64_t i, float v) {
    if (B.dt == MRG_F32) F(B)[i] = v;
    else H(B)[i] = B.dt == MRG_BF16 ? mrg_f32_to_bf16(v) : mrg_f32_to_f16(v);
}
static double get_w(mrg_ptr B, int64_t i) {
    if (B.dt == MRG_F32) return F(B)[i];
    return B.dt == MRG_BF16 ? mrg_bf16_to_f32(H(B)[i]) : mrg_f16_to_f32(H(B)[i]);
}

static bool gemm_case(mrg_dtype bdt, bool ta, bool tb, int64_t M, int64_t N, int64_t K,
                      int64_t batch, bool shared, float alpha, float beta, int pad) {
    int64_t lda = (ta ? M : K) + pad, ldb = (tb ? K : N) + pad, ldc = N + pad;
    int64_t sa = (ta ? K : M) * lda + pad, sc = M * ldc + pad;
    int64_t sb = shared ? 0 : (tb ? N : K) * ldb + 3;
    int64_t na = batch * sa, nb = shared ? (tb ? N : K) * ldb : batch * sb, nc = batch * sc;
    mrg_ptr A = mk(MRG_F32, na), B = mk(bdt, nb), C = mk(MRG_F32, nc);
    fillr(F(A), na, -1, 1);
    for (int64_t i = 0; i < nb; i++) set_w(B, i, urand(-1, 1));
    double *want = malloc((size_t)nc * sizeof(double));
    for (int64_t i = 0; i < nc; i++) {
        F(C)[i] = beta == 0.0f ? NAN : urand(-1, 1); /* beta = 0: C must not be read */
        want[i] = F(C)[i];
    }
    for (int64_t b = 0; b < batch; b++)
        for (int64_t m = 0; m < M; m++)
            for (int64_t n = 0; n < N; n++) {
                double s = 0;
                for (int64_t k = 0; k < K; k++)
                    s += (double)F(A)[b * sa + (ta ? k * lda + m : m * lda + k)] *
                         get_w(B, b * sb + (tb ? n * ldb + k : k * ldb + n));
                int64_t ci = b * sc + m * ldc + n;
                want[ci] = alpha * s + (beta == 0.0f ? 0.0 : beta * want[ci]);
            }
    bool ok = be->gemm(dev, ta, tb, M, N, K, alpha, A, lda, sa, B, ldb, sb, beta, C, ldc, sc,
                       batch) == MRG_OK;
    /* padding between rows keeps its NaN: compare NaN to NaN there */
    for (int64_t i = 0; i < nc; i++)
        if (isnan(want[i]) && isnan(F(C)[i])) want[i] = F(C)[i] = 0.0f;
    char what[160];
    snprintf(what, sizeof what, "gemm %s ta%d tb%d M%lld N%lld K%lld batch%lld%s",
             mrg_dtype_name(bdt), ta, tb, (long long)M, (long long)N, (long long)K,
             (long long)batch, shared ? " shared" : "");
    ok = ok && near(what, F(C), want, nc, 1e-4, 1e-5 * sqrt((double)K));
    free(want);
    rel(A);
    rel(B);
    rel(C);
    return ok;
}

static void test_gemm(void) {
    const int64_t Ms[] = {1, 3, 9, 33}, Ns[] = {1, 7, 300}, Ks[] = {1, 5, 600};
    for (int dt = 0; dt < 3; dt++)
        for (int t = 0; t < 4; t++)
            for (int mi = 0; mi < 4; mi++)
                for (int ni = 0; ni < 3; ni++)
                    for (int ki = 0; ki < 3; ki++) {
                        int v = (mi + ni + ki + t) % 4;
                        CHECK(gemm_case((mrg_dtype)dt, t & 1, t >> 1, Ms[mi], Ns[ni], Ks[ki],
                                        v == 3 ? 3 : 1, v == 1, v == 2 ? 0.5f : 1.0f,
                                        v == 0 ? 0.0f : v == 2 ? 1.0f : -0.5f, v & 1));
                    }
    for (int dt = 0; dt < 3; dt++)
        for (int t = 0; t < 4; t++) {
            bool ta = t & 1, tb = t >> 1;
            CHECK(gemm_case((mrg_dtype)dt, ta, tb, 12, 10, 16, 5, false, 1.0f, 0.0f, 0));
            CHECK(gemm_case((mrg_dtype)dt, ta, tb, 12, 10, 16, 5, true, 1.0f, 0.0f, 0));
            CHECK(gemm_case((mrg_dtype)dt, ta, tb, 1, 10, 16, 4, false, 1.0f, 1.0f, 1));
            CHECK(gemm_case((mrg_dtype)dt, ta, tb, 70, 90, 80, 3, true, 1.0f, 0.5f, 2));
        }
    /* bf16/f16 with K = 5000: 209 columns per converted chunk, 3 chunks;
     * M = 1 and 5 take the GEMV path over 2000 / 700 columns */
    for (int dt = 1; dt < 3; dt++)
        for (int tb = 0; tb < 2; tb++) {
            CHECK(gemm_case((mrg_dtype)dt, false, tb, 20, 450, 5000, 1, true, 1.0f, 0.0f, 0));
            CHECK(gemm_case((mrg_dtype)dt, true, tb, 20, 450, 5000, 2, true, 1.0f, 0.0f, 1));
            CHECK(gemm_case((mrg_dtype)dt, false, tb, 1, 2000, 1500, 1, true, 1.0f, 0.0f, 0));
            CHECK(gemm_case((mrg_dtype)dt, true, tb, 5, 700, 2100, 1, true, 1.0f, 1.0f, 3));
        }
    /* every GEMV row count (1..8: the AVX-512 kernel's chain layouts on CPUs
     * that have it, and for 2+ rows its four-column blocks, 67 columns
     * leaving a tail of 3; on AVX2 CPUs without it the four-column blocks
     * of cpu_gemv_avx2.c for 2 to 4 rows; the portable ones elsewhere), K
     * with a tail after the 64-, 32- and 8-element steps */
    for (int dt = 1; dt < 3; dt++)
        for (int64_t m = 1; m <= 8; m++)
            CHECK(gemm_case((mrg_dtype)dt, false, true, m, 67, 200 + 7 * m, 1, true, 1.0f, m & 1 ? 0.0f : 0.5f,
                            (int)(m % 3)));
    /* K = 0 leaves beta·C; bad leading dimension and dtype are refused */
    mrg_ptr A = mk(MRG_F32, 4), B = mk(MRG_F32, 6), C = mk(MRG_F32, 6), Ah = mk(MRG_BF16, 4);
    for (int i = 0; i < 6; i++) F(C)[i] = (float)i;
    CHECK_OK(be->gemm(dev, false, false, 2, 3, 0, 1.0f, A, 1, 0, B, 3, 0, 2.0f, C, 3, 0, 1));
    CHECK(F(C)[5] == 10.0f);
    CHECK(be->gemm(dev, false, false, 2, 3, 2, 1.0f, A, 1, 0, B, 3, 0, 0.0f, C, 3, 0, 1) ==
          MRG_ERR_INVALID_ARG);
    CHECK(be->gemm(dev, false, false, 2, 3, 3, 1.0f, A, 3, 0, B, 3, 0, 0.0f, C, 3, 0, 1) ==
          MRG_ERR_INVALID_ARG); /* A needs 6 elements */
    CHECK(be->gemm(dev, false, false, 1, 1, 1, 1.0f, Ah, 1, 0, B, 1, 0, 0.0f, C, 1, 0, 1) ==
          MRG_ERR_UNSUPPORTED);
    rel(A);
    rel(B);
    rel(C);
    rel(Ah);
}

/* ---- determinism across thread counts -------------------------------------------- */

/* The library links OpenMP privately; its thread-count setters are looked
 * up at run time (libgomp is loaded with the library). */
typedef void (*set_threads_fn)(int);
typedef int (*get_threads_fn)(void);

static void test_determinism(void) {
    set_threads_fn set_threads;
    get_threads_fn get_threads;
    *(void **)&set_threads = dlsym(RTLD_DEFAULT, "omp_set_num_threads");
    *(void **)&get_threads = dlsym(RTLD_DEFAULT, "omp_get_max_threads");
    CHECK(set_threads && get_threads);
    if (!set_threads || !get_threads) return;
    int saved = get_threads();
    int64_t R = 300, V = 3000, Dm = 512, Vn = 100, n = 4000, Cc = 300;
    mrg_ptr X = mk(MRG_F32, R * V), T = mk(MRG_I32, R), L = mk(MRG_F32, 2);
    mrg_ptr dy = mk(MRG_F32, n * Dm), ids = mk(MRG_I32, n), dw1 = mk(MRG_F32, Vn * Dm),
            dw2 = mk(MRG_F32, Vn * Dm);
    mrg_ptr W = mk(MRG_F32, Cc), mu = mk(MRG_F32, R), rs = mk(MRG_F32, R), Y = mk(MRG_F32, R * Cc),
            dx = mk(MRG_F32, R * Cc), g1 = mk(MRG_F32, Cc), g2 = mk(MRG_F32, Cc);
    mrg_ptr sq = mk(MRG_F32, 4), red = mk(MRG_F32, 2);
    fillr(F(X), R * V, -10, 10);
    fillr(F(dy), n * Dm, -1, 1);
    fillr(F(W), Cc, -1, 1);
    for (int i = 0; i < R; i++) I(T)[i] = i % 7 == 0 ? -1 : (i * 131) % (int)V;
    for (int i = 0; i < n; i++) I(ids)[i] = (i * 37) % (int)Vn;
    mrg_ptr Lb = L, sqb = sq, redb = red;
    Lb.off++;
    sqb.off++;
    redb.off++;
    for (int pass = 0; pass < 2; pass++) {
        set_threads(pass == 0 ? 2 : 1);
        CHECK_OK(be->cross_entropy(dev, X, T, pass ? Lb : L, R, V, -1));
        CHECK_OK(be->embedding_backward(dev, dy, ids, pass ? dw2 : dw1, n, Dm, Vn));
        CHECK_OK(be->layernorm(dev, X, W, mrg_ptr_null(), Y, mu, rs, R, Cc, 1e-5f));
        CHECK_OK(be->layernorm_backward(dev, X, W, mu, rs, Y, dx, pass ? g2 : g1, mrg_ptr_null(),
                                        R, Cc));
        CHECK_OK(be->sum_squares(dev, X, R * V, pass ? sqb : sq));
        CHECK_OK(be->reduce_sum(dev, X, pass ? redb : red, 1, R * V, 1, 1.0f));
    }
    set_threads(saved);
    CHECK(F(L)[0] == F(L)[1]);
    CHECK(memcmp(F(dw1), F(dw2), (size_t)(Vn * Dm) * 4) == 0);
    CHECK(memcmp(F(g1), F(g2), (size_t)Cc * 4) == 0);
    CHECK(F(sq)[0] == F(sq)[1]);
    CHECK(F(red)[0] == F(red)[1]);
    /* and the values themselves */
    double ss = 0, tot = 0;
    for (int64_t i = 0; i < R * V; i++) {
        ss += (double)F(X)[i] * F(X)[i];
        tot += F(X)[i];
    }
    CHECK(near("sum_squares", F(sq), &ss, 1, 1e-6, 0));
    CHECK(near("reduce_sum", F(red), &tot, 1, 1e-6, 1e-3));
    mrg_ptr all[] = {X, T, L, dy, ids, dw1, dw2, W, mu, rs, Y, dx, g1, g2, sq, red};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) rel(all[i]);
}

/* ---- small kernels with exact expectations --------------------------------------- */

static void test_misc(void) {
    /* softmax: masked entries exactly 0 / −inf; rows sum to 1 */
    int64_t rows = 12, cols = 7, tq = 4;
    mrg_ptr x = mk(MRG_F32, rows * cols), y = mk(MRG_F32, rows * cols);
    fillr(F(x), rows * cols, -30, 30);
    for (int lg = 0; lg < 2; lg++) {
        CHECK_OK(be->softmax(dev, x, y, rows, cols, tq, lg));
        int bad = 0;
        for (int64_t r = 0; r < rows; r++) {
            double s = 0;
            for (int64_t j = 0; j < cols; j++) {
                float v = F(y)[r * cols + j];
                if (j > r % tq + cols - tq) bad += lg ? v != -INFINITY : v != 0.0f;
                else s += lg ? exp(v) : v;
            }
            bad += fabs(s - 1.0) > 1e-6;
        }
        CHECK(bad == 0);
    }
    /* the backward gives the same bits with dx in its own buffer and over
     * dy (rows of 300 span two of log-softmax's exp chunks) */
    {
        int64_t br = 3, bc = 300;
        mrg_ptr by = mk(MRG_F32, br * bc), bdy = mk(MRG_F32, br * bc), bdx = mk(MRG_F32, br * bc);
        for (int lg = 0; lg < 2; lg++) {
            fillr(F(by), br * bc, -8, 0);
            fillr(F(bdy), br * bc, -1, 1);
            CHECK_OK(be->softmax_backward(dev, by, bdy, bdx, br, bc, lg));
            CHECK_OK(be->softmax_backward(dev, by, bdy, bdy, br, bc, lg));
            CHECK(memcmp(F(bdx), F(bdy), (size_t)(br * bc) * sizeof(float)) == 0);
        }
        rel(by);
        rel(bdy);
        rel(bdx);
    }
    /* rope then its inverse, in place, both layouts */
    int64_t n = 2 * 5 * 3 * 64;
    mrg_ptr r = mk(MRG_F32, n), r2 = mk(MRG_F32, n);
    fillr(F(r), n, -1, 1);
    double *orig = malloc((size_t)n * sizeof(double));
    for (int64_t i = 0; i < n; i++) orig[i] = F(r)[i];
    for (int lay = 0; lay < 2; lay++) {
        CHECK_OK(be->rope(dev, r, r2, 2, 5, 3, 64, 1000, 10000.0f, lay, false));
        CHECK_OK(be->rope(dev, r2, r2, 2, 5, 3, 64, 1000, 10000.0f, lay, true));
        CHECK(near("rope inverse", F(r2), orig, n, 1e-5, 1e-6));
    }
    CHECK(be->rope(dev, r, r2, 2, 5, 3, 63, 0, 10000.0f, 0, false) == MRG_ERR_INVALID_ARG);
    free(orig);
    /* embedding from bf16 rows, out-of-range ids give zero rows; its
     * backward accumulates repeated ids in order */
    int64_t V = 10, D = 70, k = 9;
    int32_t id[9] = {3, 0, 9, 3, 10, -1, 3, 5, 0};
    mrg_ptr w = mk(MRG_BF16, V * D), ids = mk(MRG_I32, k), out = mk(MRG_F32, k * D),
            dw = mk(MRG_F32, V * D);
    for (int64_t i = 0; i < V * D; i++) H(w)[i] = mrg_f32_to_bf16(urand(-1, 1));
    memcpy(I(ids), id, sizeof id);
    CHECK_OK(be->embedding(dev, w, ids, out, k, D, V));
    int bad = 0;
    for (int i = 0; i < k; i++)
        for (int d = 0; d < D; d++)
            bad += F(out)[i * D + d] !=
                   (id[i] < 0 || id[i] >= V ? 0.0f : mrg_bf16_to_f32(H(w)[id[i] * D + d]));
    CHECK(bad == 0);
    fillr(F(dw), V * D, -1, 1);
    float *want = malloc((size_t)(V * D) * 4);
    memcpy(want, F(dw), (size_t)(V * D) * 4);
    for (int i = 0; i < k; i++)
        if (id[i] >= 0 && id[i] < V)
            for (int d = 0; d < D; d++) want[id[i] * D + d] += F(out)[i * D + d];
    CHECK_OK(be->embedding_backward(dev, out, ids, dw, k, D, V));
    CHECK(memcmp(want, F(dw), (size_t)(V * D) * 4) == 0);
    free(want);
    /* cross-entropy: every row ignored → loss 0, zero gradient; a target
     * outside [0, V) is an error */
    mrg_ptr t = mk(MRG_I32, 3), loss = mk(MRG_F32, 1), dl = mk(MRG_F32, 1), g = mk(MRG_F32, 3 * 7);
    for (int i = 0; i < 3; i++) I(t)[i] = -100;
    F(loss)[0] = 5.0f;
    F(dl)[0] = 1.0f;
    fillr(F(g), 21, 1, 2);
    CHECK_OK(be->cross_entropy(dev, x, t, loss, 3, 7, -100));
    CHECK_OK(be->cross_entropy_backward(dev, x, t, dl, g, 3, 7, -100));
    CHECK(F(loss)[0] == 0.0f && test_max_abs(F(g), 21) == 0.0);
    I(t)[1] = 7;
    CHECK(be->cross_entropy(dev, x, t, loss, 3, 7, -100) == MRG_ERR_INVALID_ARG);
    /* clip_scale: scales by max_norm / (norm + 1e-6) only when that is < 1 */
    mrg_ptr s = mk(MRG_F32, 1);
    F(s)[0] = 16.0f;
    F(g)[0] = 2.0f;
    CHECK_OK(be->clip_scale(dev, s, g, 21, 1.0f));
    CHECK(fabsf(F(g)[0] - 2.0f / (4.0f + 1e-6f)) < 1e-7f);
    F(s)[0] = 0.25f;
    CHECK_OK(be->clip_scale(dev, s, g, 21, 1.0f));
    CHECK(fabsf(F(g)[0] - 2.0f / (4.0f + 1e-6f)) < 1e-7f);
    mrg_ptr all[] = {x, y, r, r2, w, ids, out, dw, t, loss, dl, g, s};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) rel(all[i]);
    /* out of host memory is an error with a message, not an abort */
    mrg_buffer big;
    CHECK(be->buffer_alloc(dev, &big, (size_t)1 << 62) == MRG_ERR_OOM);
    CHECK(strstr(mrg_last_error(), "memory") != NULL);
}

/* cpu_exp gives expf's bits (the softmax, cross-entropy and attention
 * kernels promise the bits of their scalar expf loops): every 101st float
 * in [−104, 89] and every 61st in [0, 1], the special cases (±0,
 * subnormals, ±inf, NaN, overflow, underflow, the edges of the vector
 * path's range) in every lane of a block of 8 and in tails; and
 * cpu_sum_exp_shifted is the plain loop's double sum, across its chunks. */
static void test_exp(void) {
    enum { BLOCK = 1 << 16 };
    float *x = malloc(BLOCK * sizeof(float)), *y = malloc(BLOCK * sizeof(float));
    CHECK(x && y);
    if (!x || !y) return;
    const uint32_t ranges[][2] = {{0x80000000u, 0xC2D00000u}, /* −0 .. −104 */
                                  {0x00000000u, 0x42B20000u}, /* 0 .. 89 */
                                  {0x00000000u, 0x3F800000u}}; /* 0 .. 1, denser */
    long bad = 0, checked = 0;
    for (int rg = 0; rg < 3; rg++) {
        const uint32_t step = rg < 2 ? 101 : 61;
        for (uint64_t u0 = ranges[rg][0]; u0 < ranges[rg][1]; u0 += (uint64_t)step * BLOCK) {
            int n = 0;
            for (uint64_t u = u0; u < ranges[rg][1] && n < BLOCK; u += step, n++) {
                uint32_t bits = (uint32_t)u;
                memcpy(&x[n], &bits, 4);
            }
            cpu_exp(x, y, n);
            for (int i = 0; i < n; i++) {
                float want = expf(x[i]);
                bad += memcmp(&want, &y[i], 4) != 0;
            }
            checked += n;
        }
    }
    const float special[] = {0.0f, -0.0f, INFINITY, -INFINITY, NAN, -NAN, 1e-45f, -1e-45f,
                             1e-38f, 88.0f, 88.5f, 88.72f, 88.73f, 89.0f, 1e30f, -103.0f,
                             -103.5f, -103.97f, -104.0f, -150.0f, -1e30f, -0x1.f8cbb2p+5f, 3.5f,
                             -2.25f};
    int ns = (int)(sizeof special / sizeof special[0]);
    /* every special in every lane of an otherwise in-range block, and tails */
    for (int s = 0; s < ns; s++)
        for (int lane = 0; lane < 8; lane++)
            for (int len = lane + 1; len <= 17; len += 8) {
                for (int i = 0; i < len; i++) x[i] = -0.37f * (float)i;
                x[lane] = special[s];
                cpu_exp(x, y, len);
                for (int i = 0; i < len; i++) {
                    float want = expf(x[i]);
                    bad += memcmp(&want, &y[i], 4) != 0 && !(isnan(want) && isnan(y[i]));
                }
                checked += len;
            }
    printf("cpu_exp: %ld of %ld arguments differ from expf (vector path %s)\n", bad, checked,
           cpu_exp_exact() ? "on" : "off: scalar expf");
    CHECK(bad == 0);
    /* in place, and the sums */
    for (int n = 0; n < 1000; n += 37) {
        fillr(x, n, -20, 5);
        float sub = n ? x[n / 2] : 0.0f;
        double want = 0.0;
        for (int i = 0; i < n; i++) want += (double)expf(x[i] - sub);
        CHECK(cpu_sum_exp_shifted(x, sub, n) == want);
        memcpy(y, x, (size_t)n * sizeof(float));
        cpu_exp(y, y, n);
        for (int i = 0; i < n; i++) CHECK(memcmp(&y[i], &(float){expf(x[i])}, 4) == 0);
    }
    free(x);
    free(y);
}

/* The registry entry the device was opened through: its name and the
 * storage dtypes its weight operands take (core/registry.h). */
static void test_registry(void) {
    CHECK(dev->reg != NULL && !strcmp(dev->reg->prefix, "cpu"));
    CHECK(!strcmp(mrg_device_name(dev), "cpu"));
    const mrg_kernel ks[] = {MRG_KERNEL_GEMM, MRG_KERNEL_EMBEDDING, MRG_KERNEL_RMSNORM,
                             MRG_KERNEL_CONVERT};
    for (size_t i = 0; i < sizeof ks / sizeof ks[0]; i++) {
        CHECK(mrg_device_supports(dev, ks[i], MRG_F32));
        CHECK(mrg_device_supports(dev, ks[i], MRG_BF16));
        CHECK(mrg_device_supports(dev, ks[i], MRG_F16));
        CHECK(mrg_device_supports(dev, ks[i], MRG_I32) == (ks[i] == MRG_KERNEL_CONVERT));
    }
    /* a name of a known backend with a bad index is an unknown device */
    CHECK(mrg_device_open("cpu:0") == NULL);
    CHECK(strstr(mrg_last_error(), "unknown device 'cpu:0' (expected cpu, opencl or opencl:N") !=
          NULL);
}

int main(void) {
    dev = mrg_device_open("cpu");
    CHECK(dev != NULL);
    if (!dev) return test_finish("cpu_kernels");
    be = dev->be;
    test_registry();
    test_convert();
    test_copy();
    test_gemm();
    test_determinism();
    test_misc();
    test_exp();
    mrg_device_free(dev);
    return test_finish("cpu_kernels");
}

/* Fused scaled dot-product attention on the CPU, flash style: queries in
 * tiles of QT rows meet keys in tiles of KT; a tile's scores live in a
 * QT × KT scratch and an online softmax (running max m, running sum l)
 * rescales the output accumulator, so no Tq × Tk matrix is ever held.
 *
 * Forward: OpenMP over (batch, head, query tile). Backward
 * (FlashAttention-2): OpenMP over (batch, kv head); each kv head walks its
 * key tiles, recomputes P = exp(S − lse) against all G·Tq query rows of its
 * G query heads, accumulates dV, dK for the tile and dQ for the rows, so
 * every output element is summed by one thread in a fixed order and the
 * results are the same run to run.
 *
 * The tile products (S = Q·Kᵀ, O += P·V; dP = dO·Vᵀ, dV += Pᵀ·dO,
 * dK += dSᵀ·Q, dQ += dS·K) go through gemm_acc, whose 4 × 16 blocks keep
 * their sums in registers (CPU_CLONES adds an AVX2+FMA copy); each element
 * sums its products in index order, so the blocking never changes a bit. */
#include <math.h>
#include <stdlib.h>

#include "cpu/cpu.h"

enum { QT = 32, KT = 64 };

/* Element counts of the operands of one call (checked before any access). */
static mrg_status check_dims(const char *kernel, const mrg_sdpa_dims *d) {
    if (d->B < 0 || d->H < 1 || d->Hkv < 1 || d->H % d->Hkv || d->Tq < 0 || d->Tk < 1 ||
        d->D < 1 || d->Dv < 1 || d->R < 1 || d->cap < d->Tk || (d->causal && d->Tq > d->Tk))
        return mrg_error(MRG_ERR_INVALID_ARG, "cpu %s: bad sizes", kernel);
    return MRG_OK;
}

/* kT (D, KT) = the nk rows k[0..nk) (each D long) transposed; the columns
 * up to the next multiple of 16 are zeroed (tile_scores reads them). */
static void transpose_tile(const float *k, int64_t nk, int64_t D, float *kT) {
    for (int64_t j = 0; j < nk; j++)
        for (int64_t c = 0; c < D; c++) kT[c * KT + j] = k[j * D + c];
    for (int64_t c = 0; c < D; c++)
        for (int64_t j = nk; j < (nk + 15) / 16 * 16; j++) kT[c * KT + j] = 0.0f;
}

/* C (m, n) += A (m, k) · B (k, n) with A(r, t) = a[r·ars + t·ats] (so Aᵀ
 * is a stride swap), B rows ldb apart, C rows ldc apart: blocks of NR rows
 * × NC columns of C held in registers while t runs, so each element of C
 * sums its k products in order whatever the blocking. */
#define GEMM_BLOCK(NR, NC)                                                                  \
    static inline void gemm_block_##NR##_##NC(int64_t k, const float *a, int64_t ars,        \
                                              int64_t ats, const float *b, int64_t ldb,      \
                                              float *c, int64_t ldc) {                       \
        float acc[NR][NC];                                                                  \
        for (int r = 0; r < NR; r++)                                                        \
            for (int j = 0; j < NC; j++) acc[r][j] = c[r * ldc + j];                        \
        for (int64_t t = 0; t < k; t++) {                                                   \
            const float *bt = b + t * ldb;                                                  \
            for (int r = 0; r < NR; r++) {                                                  \
                const float ar = a[r * ars + t * ats];                                      \
                _Pragma("omp simd") for (int j = 0; j < NC; j++) acc[r][j] += ar * bt[j];   \
            }                                                                               \
        }                                                                                   \
        for (int r = 0; r < NR; r++)                                                        \
            for (int j = 0; j < NC; j++) c[r * ldc + j] = acc[r][j];                        \
    }
#if defined(__GNUC__)
/* The 4 × 16 block with its 64 sums in eight named 8-float vectors, which
 * the compiler keeps in registers (an array of them it kept in memory). */
typedef float v8f __attribute__((vector_size(32)));
typedef float v8f_u __attribute__((vector_size(32), aligned(4), may_alias));
#define ld8(p) (*(const v8f_u *)(p))
#define st8(p, v) (*(v8f_u *)(p) = (v))

CPU_CLONES static void gemm_block_4_16(int64_t k, const float *a, int64_t ars, int64_t ats,
                                   const float *b, int64_t ldb, float *c, int64_t ldc) {
    v8f c00 = ld8(c), c01 = ld8(c + 8), c10 = ld8(c + ldc), c11 = ld8(c + ldc + 8);
    v8f c20 = ld8(c + 2 * ldc), c21 = ld8(c + 2 * ldc + 8);
    v8f c30 = ld8(c + 3 * ldc), c31 = ld8(c + 3 * ldc + 8);
    for (int64_t t = 0; t < k; t++) {
        const v8f b0 = ld8(b + t * ldb), b1 = ld8(b + t * ldb + 8);
        const float *at = a + t * ats;
        const float a0 = at[0], a1 = at[ars], a2 = at[2 * ars], a3 = at[3 * ars];
        c00 += a0 * b0;
        c01 += a0 * b1;
        c10 += a1 * b0;
        c11 += a1 * b1;
        c20 += a2 * b0;
        c21 += a2 * b1;
        c30 += a3 * b0;
        c31 += a3 * b1;
    }
    st8(c, c00);
    st8(c + 8, c01);
    st8(c + ldc, c10);
    st8(c + ldc + 8, c11);
    st8(c + 2 * ldc, c20);
    st8(c + 2 * ldc + 8, c21);
    st8(c + 3 * ldc, c30);
    st8(c + 3 * ldc + 8, c31);
}
#else
GEMM_BLOCK(4, 16)
#endif
GEMM_BLOCK(1, 16)
GEMM_BLOCK(4, 1)
GEMM_BLOCK(1, 1)

CPU_CLONES static void gemm_acc(int64_t m, int64_t n, int64_t k, const float *a, int64_t ars,
                                int64_t ats, const float *b, int64_t ldb, float *c,
                                int64_t ldc) {
    int64_t j = 0;
    for (; j + 16 <= n; j += 16) {
        int64_t r = 0;
        for (; r + 4 <= m; r += 4)
            gemm_block_4_16(k, a + r * ars, ars, ats, b + j, ldb, c + r * ldc + j, ldc);
        for (; r < m; r++)
            gemm_block_1_16(k, a + r * ars, ars, ats, b + j, ldb, c + r * ldc + j, ldc);
    }
    for (; j < n; j++) {
        int64_t r = 0;
        for (; r + 4 <= m; r += 4)
            gemm_block_4_1(k, a + r * ars, ars, ats, b + j, ldb, c + r * ldc + j, ldc);
        for (; r < m; r++)
            gemm_block_1_1(k, a + r * ars, ars, ats, b + j, ldb, c + r * ldc + j, ldc);
    }
}

/* s (nq, KT) = a (nq, D) · bT (D, KT) over the first nk columns rounded up
 * to 16 (bT is zero there). */
static void tile_scores(const float *a, int64_t nq, int64_t D, const float *bT, int64_t nk,
                        float *s) {
    int64_t n = (nk + 15) / 16 * 16;
    for (int64_t i = 0; i < nq; i++)
        for (int64_t j = 0; j < n; j++) s[i * KT + j] = 0.0f;
    gemm_acc(nq, n, D, a, D, 1, bT, KT, s, KT);
}

/* The keys [0, n) of the tile at j0 that query t sees: all nk, or fewer
 * under the causal limit j <= t + Tk − Tq. */
static int64_t visible(const mrg_sdpa_dims *d, int64_t t, int64_t j0, int64_t nk) {
    if (!d->causal) return nk;
    int64_t n = t + d->Tk - d->Tq + 1 - j0;
    return n < 0 ? 0 : n > nk ? nk : n;
}

/* Runs body(args, i, ws) for i in [0, n), in parallel when par, each
 * thread with a scratch of `floats` floats of its own. Every item writes
 * its own outputs, so the split over threads changes no result. False when
 * a scratch could not be allocated. */
static bool for_each_with_scratch(int64_t n, bool par, size_t floats,
                                  void (*body)(const void *args, int64_t i, float *ws),
                                  const void *args) {
    bool oom = false;
#pragma omp parallel if (par)
    {
        float *ws = malloc(floats * sizeof(float));
        if (!ws) {
#pragma omp atomic write
            oom = true;
        }
#pragma omp for schedule(static)
        for (int64_t i = 0; i < n; i++)
            if (ws) body(args, i, ws);
        free(ws);
    }
    return !oom;
}

/* ---- forward ---------------------------------------------------------- */

typedef struct fwd_args {
    const mrg_sdpa_dims *d;
    const float *q, *k, *v, *mask;
    const int32_t *rows;
    float *o, *lse;
} fwd_args;

/* Scratch floats of one forward thread. */
static size_t fwd_scratch(const mrg_sdpa_dims *d) {
    return (size_t)(QT * d->D + d->D * KT + QT * KT + QT * d->Dv + QT);
}

/* Query rows [t0, t0 + nq) of head h of batch item b. */
static void fwd_tile(const fwd_args *A, int64_t b, int64_t h, int64_t t0, int64_t nq,
                     float *ws) {
    const mrg_sdpa_dims *d = A->d;
    const int64_t D = d->D, Dv = d->Dv, Tk = d->Tk, hk = h / (d->H / d->Hkv);
    const int64_t row = A->rows ? A->rows[b] : b;
    const float *kb = A->k + (row * d->Hkv + hk) * d->cap * D;
    const float *vb = A->v + (row * d->Hkv + hk) * d->cap * Dv;
    const float *qb = A->q + ((b * d->H + h) * d->Tq + t0) * D;
    const float *mk = A->mask ? A->mask + b * Tk : NULL;
    float *qs = ws, *kT = qs + QT * D, *s = kT + D * KT, *acc = s + QT * KT, *m = acc + QT * Dv;
    double l[QT];
    for (int64_t i = 0; i < nq * D; i++) qs[i] = d->scale * qb[i];
    for (int64_t i = 0; i < nq * Dv; i++) acc[i] = 0.0f;
    for (int64_t i = 0; i < nq; i++) {
        m[i] = -INFINITY;
        l[i] = 0.0;
    }
    /* keys past the last row's causal limit are never seen */
    int64_t kend = d->causal ? t0 + nq + Tk - d->Tq : Tk;
    for (int64_t j0 = 0; j0 < kend; j0 += KT) {
        int64_t nk = kend - j0 < KT ? kend - j0 : KT;
        transpose_tile(kb + j0 * D, nk, D, kT);
        tile_scores(qs, nq, D, kT, nk, s);
        for (int64_t i = 0; i < nq; i++) {
            float *si = s + i * KT;
            int64_t n = visible(d, t0 + i, j0, nk);
            float mx = -INFINITY;
            for (int64_t j = 0; j < n; j++) {
                if (mk) si[j] += mk[j0 + j];
                mx = si[j] > mx ? si[j] : mx;
            }
            float mnew = mx > m[i] ? mx : m[i];
            if (mnew == -INFINITY) n = 0; /* nothing seen yet: all weights 0 */
            float alpha = n ? expf(m[i] - mnew) : 1.0f;
            double ps = 0.0;
            for (int64_t j = 0; j < n; j++) si[j] -= mnew;
            cpu_exp(si, si, n);
            for (int64_t j = 0; j < n; j++) ps += si[j];
            for (int64_t j = n; j < nk; j++) si[j] = 0.0f; /* causally hidden */
            if (!n) continue;
            l[i] = l[i] * alpha + ps;
            m[i] = mnew;
            float *ai = acc + i * Dv;
            if (alpha != 1.0f)
                for (int64_t c = 0; c < Dv; c++) ai[c] *= alpha;
        }
        gemm_acc(nq, Dv, nk, s, KT, 1, vb + j0 * Dv, Dv, acc, Dv); /* O += P·V */
    }
    float *ob = A->o + ((b * d->H + h) * d->Tq + t0) * Dv;
    for (int64_t i = 0; i < nq; i++) {
        /* l = 0 (every key −inf) gives 0·inf = NaN, as the softmax does */
        float inv = (float)(1.0 / l[i]);
        for (int64_t c = 0; c < Dv; c++) ob[i * Dv + c] = acc[i * Dv + c] * inv;
        if (A->lse) A->lse[(b * d->H + h) * d->Tq + t0 + i] = m[i] + (float)log(l[i]);
    }
}

/* Query tiles per head. */
static int64_t q_tiles(const mrg_sdpa_dims *d) { return (d->Tq + QT - 1) / QT; }

/* Item it of the forward: tile it % tiles of head (b, h) = it / tiles. */
static void fwd_item(const void *args, int64_t it, float *ws) {
    const fwd_args *A = args;
    const mrg_sdpa_dims *d = A->d;
    int64_t tiles = q_tiles(d), bh = it / tiles, t0 = (it % tiles) * QT;
    fwd_tile(A, bh / d->H, bh % d->H, t0, d->Tq - t0 < QT ? d->Tq - t0 : QT, ws);
}

mrg_status cpu_sdpa(mrg_device *dev, const mrg_sdpa_dims *d, mrg_ptr q, mrg_ptr k, mrg_ptr v,
                    mrg_ptr mask, mrg_ptr rows, mrg_ptr o, mrg_ptr lse) {
    (void)dev;
    mrg_status st = check_dims("sdpa", d);
    if (st != MRG_OK) return st;
    const int64_t nrow = d->B * d->H * d->Tq;
    st = CPU_CHECK_F32("sdpa", {"q", q, nrow * d->D}, {"k", k, d->R * d->Hkv * d->cap * d->D},
                       {"v", v, d->R * d->Hkv * d->cap * d->Dv}, {"o", o, nrow * d->Dv});
    if (st == MRG_OK && cpu_present(mask)) st = cpu_check("sdpa", "mask", mask, d->B * d->Tk, CPU_DT(MRG_F32));
    if (st == MRG_OK && cpu_present(lse)) st = cpu_check("sdpa", "lse", lse, nrow, CPU_DT(MRG_F32));
    if (st == MRG_OK && cpu_present(rows)) st = cpu_check("sdpa", "rows", rows, d->B, CPU_DT(MRG_I32));
    if (st != MRG_OK) return st;
    const int32_t *pr = cpu_present(rows) ? cpu_i32(rows) : NULL;
    for (int64_t b = 0; b < d->B; b++)
        if (pr ? pr[b] < 0 || pr[b] >= d->R : b >= d->R)
            return mrg_error(MRG_ERR_INVALID_ARG, "cpu sdpa: kv row of batch item %lld outside [0, %lld)",
                             (long long)b, (long long)d->R);
    fwd_args A = {d, cpu_f32(q), cpu_f32(k), cpu_f32(v),
                  cpu_present(mask) ? cpu_f32(mask) : NULL, pr, cpu_f32(o),
                  cpu_present(lse) ? cpu_f32(lse) : NULL};
    const int64_t items = d->B * d->H * q_tiles(d);
    if (!for_each_with_scratch(items, items > 1 && nrow * d->Tk * d->D > CPU_PAR_MIN,
                               fwd_scratch(d), fwd_item, &A))
        return mrg_error(MRG_ERR_OOM, "cpu sdpa: out of host memory for the tile scratch");
    return MRG_OK;
}

/* ---- backward --------------------------------------------------------- */

typedef struct bwd_args {
    const mrg_sdpa_dims *d;
    const float *q, *k, *v, *mask, *o, *lse, *dout;
    float *dq, *dk, *dv;
} bwd_args;

/* Scratch floats of one backward thread: Di for the G·Tq rows, the tiles. */
static size_t bwd_scratch(const mrg_sdpa_dims *d) {
    int64_t G = d->H / d->Hkv;
    return (size_t)(G * d->Tq + QT * d->D + d->D * KT + d->Dv * KT + 2 * QT * KT +
                    KT * d->D + KT * d->Dv);
}

/* Every gradient of kv head hk of batch item b. The G query heads of one kv
 * head are adjacent, so its query rows are the G·Tq rows from (b, hk·G, 0);
 * row r is query t = r % Tq. */
static void bwd_group(const bwd_args *A, int64_t b, int64_t hk, float *ws) {
    const mrg_sdpa_dims *d = A->d;
    const int64_t D = d->D, Dv = d->Dv, Tq = d->Tq, Tk = d->Tk, G = d->H / d->Hkv;
    const int64_t nr = G * Tq, r_base = (b * d->H + hk * G) * Tq, kv = b * d->Hkv + hk;
    const float *qg = A->q + r_base * D, *og = A->o + r_base * Dv, *dog = A->dout + r_base * Dv;
    const float *lg = A->lse + r_base, *kb = A->k + kv * Tk * D, *vb = A->v + kv * Tk * Dv;
    const float *mk = A->mask ? A->mask + b * Tk : NULL;
    float *dqg = A->dq + r_base * D, *dkb = A->dk + kv * Tk * D, *dvb = A->dv + kv * Tk * Dv;
    float *Di = ws, *qs = Di + nr, *kT = qs + QT * D, *vT = kT + D * KT, *p = vT + Dv * KT;
    float *ds = p + QT * KT, *dkt = ds + QT * KT, *dvt = dkt + KT * D;
    /* D_i = Σ dO∘O (= Σ_j P_ij dP_ij, the softmax backward's row sum) */
    for (int64_t r = 0; r < nr; r++) {
        double acc = 0.0;
        for (int64_t c = 0; c < Dv; c++) acc += (double)dog[r * Dv + c] * og[r * Dv + c];
        Di[r] = (float)acc;
    }
    for (int64_t i = 0; i < nr * D; i++) dqg[i] = 0.0f;
    for (int64_t j0 = 0; j0 < Tk; j0 += KT) {
        int64_t nk = Tk - j0 < KT ? Tk - j0 : KT;
        transpose_tile(kb + j0 * D, nk, D, kT);
        transpose_tile(vb + j0 * Dv, nk, Dv, vT);
        for (int64_t i = 0; i < nk * D; i++) dkt[i] = 0.0f;
        for (int64_t i = 0; i < nk * Dv; i++) dvt[i] = 0.0f;
        for (int64_t r0 = 0; r0 < nr; r0 += QT) {
            int64_t nq = nr - r0 < QT ? nr - r0 : QT, any = 0;
            for (int64_t i = 0; i < nq; i++) any |= visible(d, (r0 + i) % Tq, j0, nk);
            if (!any) continue; /* the whole tile is above the causal diagonal */
            for (int64_t i = 0; i < nq * D; i++) qs[i] = d->scale * qg[r0 * D + i];
            const float *dO = dog + r0 * Dv;
            tile_scores(qs, nq, D, kT, nk, p);  /* S */
            tile_scores(dO, nq, Dv, vT, nk, ds); /* dP = dO·Vᵀ */
            for (int64_t i = 0; i < nq; i++) {
                float *pi = p + i * KT, *dsi = ds + i * KT;
                int64_t n = visible(d, (r0 + i) % Tq, j0, nk);
                float li = lg[r0 + i], di = Di[r0 + i];
                for (int64_t j = 0; j < n; j++) pi[j] = pi[j] + (mk ? mk[j0 + j] : 0.0f) - li;
                cpu_exp(pi, pi, n);
                for (int64_t j = 0; j < n; j++) dsi[j] = pi[j] * (dsi[j] - di); /* dS = P∘(dP − D_i) */
                for (int64_t j = n; j < nk; j++) pi[j] = dsi[j] = 0.0f; /* causally hidden */
            }
            gemm_acc(nk, Dv, nq, p, 1, KT, dO, Dv, dvt, Dv);                /* dV += Pᵀ·dO */
            gemm_acc(nk, D, nq, ds, 1, KT, qs, D, dkt, D);                  /* dK += dSᵀ·(scale·Q) */
            gemm_acc(nq, D, nk, ds, KT, 1, kb + j0 * D, D, dqg + r0 * D, D); /* dQ' += dS·K */
        }
        for (int64_t i = 0; i < nk * D; i++) dkb[j0 * D + i] = dkt[i];
        for (int64_t i = 0; i < nk * Dv; i++) dvb[j0 * Dv + i] = dvt[i];
    }
    /* dQ = scale·dQ' (the scale's own backward, as in the composed version) */
    for (int64_t i = 0; i < nr * D; i++) dqg[i] *= d->scale;
}

/* Item g of the backward: kv head g % Hkv of batch item g / Hkv. */
static void bwd_item(const void *args, int64_t g, float *ws) {
    const bwd_args *A = args;
    bwd_group(A, g / A->d->Hkv, g % A->d->Hkv, ws);
}

mrg_status cpu_sdpa_backward(mrg_device *dev, const mrg_sdpa_dims *d, mrg_ptr q, mrg_ptr k,
                             mrg_ptr v, mrg_ptr mask, mrg_ptr o, mrg_ptr lse, mrg_ptr dout,
                             mrg_ptr dq, mrg_ptr dk, mrg_ptr dv) {
    (void)dev;
    mrg_status st = check_dims("sdpa_backward", d);
    if (st == MRG_OK && (d->R != d->B || d->cap != d->Tk))
        st = mrg_error(MRG_ERR_INVALID_ARG, "cpu sdpa_backward: k, v must be (B, Hkv, Tk, ·)");
    if (st != MRG_OK) return st;
    const int64_t nq = d->B * d->H * d->Tq, nk = d->B * d->Hkv * d->Tk;
    st = CPU_CHECK_F32("sdpa_backward", {"q", q, nq * d->D}, {"k", k, nk * d->D},
                       {"v", v, nk * d->Dv}, {"o", o, nq * d->Dv}, {"lse", lse, nq},
                       {"dout", dout, nq * d->Dv}, {"dq", dq, nq * d->D}, {"dk", dk, nk * d->D},
                       {"dv", dv, nk * d->Dv});
    if (st == MRG_OK && cpu_present(mask))
        st = cpu_check("sdpa_backward", "mask", mask, d->B * d->Tk, CPU_DT(MRG_F32));
    if (st != MRG_OK) return st;
    bwd_args A = {d, cpu_f32(q), cpu_f32(k), cpu_f32(v),
                  cpu_present(mask) ? cpu_f32(mask) : NULL, cpu_f32(o), cpu_f32(lse),
                  cpu_f32(dout), cpu_f32(dq), cpu_f32(dk), cpu_f32(dv)};
    const int64_t groups = d->B * d->Hkv;
    if (!for_each_with_scratch(groups, groups > 1 && nq * d->Tk * d->D > CPU_PAR_MIN,
                               bwd_scratch(d), bwd_item, &A))
        return mrg_error(MRG_ERR_OOM, "cpu sdpa_backward: out of host memory for the tile scratch");
    return MRG_OK;
}

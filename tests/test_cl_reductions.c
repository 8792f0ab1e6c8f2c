/* The OpenCL column reductions (norm affine gradients, reduce_sum over a
 * middle axis, embedding backward) and the strided kernels, called through
 * the backend table against double-precision loops on the host:
 *   - right for row counts around the block size of the two-pass sums
 *     (1, 64, 65, 200, 1000) and for repeated and invalid embedding ids;
 *   - deterministic: the same bits on a second run, and on the same device
 *     reopened with work-groups capped at 8 items (MRG_CL_MAX_WG), since
 *     the partition depends on neither;
 *   - copy_strided and binary over shapes whose axes merge, broadcast or
 *     have size 1.
 * Skipped (77) without an OpenCL device. */
#include <string.h>

#include "core/backend.h"
#include "testutil.h"

static uint64_t rng = 0x853c49e6748fea9bull;
static float urand(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)((double)(rng >> 11) / 9007199254740992.0) * 2.0f - 1.0f;
}

/* A device buffer holding host floats (or ints). */
static mrg_ptr put(mrg_device *dev, const void *host, int64_t n, mrg_dtype dt) {
    mrg_buffer *b = calloc(1, sizeof *b);
    CHECK_OK(dev->be->buffer_alloc(dev, b, (size_t)(n > 0 ? n : 1) * 4 + 64));
    if (host && n > 0) CHECK_OK(dev->be->upload(dev, b, 0, host, (size_t)n * 4));
    mrg_ptr p = {b, 0, dt};
    return p;
}
static void get(mrg_device *dev, mrg_ptr p, float *host, int64_t n) {
    CHECK_OK(dev->be->download(dev, p.buf, 0, host, (size_t)n * 4));
}
static void drop(mrg_device *dev, mrg_ptr p) {
    dev->be->buffer_free(dev, p.buf);
    free(p.buf);
}

static bool near(const char *what, const float *got, const double *want, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (!(fabs(got[i] - want[i]) <= 1e-4 * (1.0 + fabs(want[i])))) {
            fprintf(stderr, "%s: element %lld is %.9g, want %.9g\n", what, (long long)i, got[i],
                    want[i]);
            return false;
        }
    return true;
}

/* Results of one run of every reduction, for the bitwise comparisons. */
#define N_ROWS 5
static const int64_t ROWS[N_ROWS] = {1, 64, 65, 200, 1000};
enum { COLS = 37, OUTER = 3, INNER = 70, EMB_N = 300, EMB_D = 29, EMB_V = 20 };
typedef struct run {
    float ln_dw[N_ROWS][COLS], ln_db[N_ROWS][COLS], rms_dw[N_ROWS][COLS];
    float sum[N_ROWS][OUTER * INNER];
    float emb[EMB_V * EMB_D];
} run;

static void norms(mrg_device *dev, int64_t rows, int r, run *out, bool check) {
    const mrg_backend *be = dev->be;
    const int64_t n = rows * COLS;
    float *x = malloc(n * 4), *dy = malloc(n * 4), w[COLS], mean_h[1000], rstd_h[1000];
    for (int64_t i = 0; i < n; i++) {
        x[i] = urand() * 2;
        dy[i] = urand();
    }
    for (int i = 0; i < COLS; i++) w[i] = 1 + urand() / 2;
    /* mean and rstd from the host: the forward's row reductions follow
     * the work-group size, the column reductions under test must not */
    for (int64_t i = 0; i < rows; i++) {
        double m = 0, v = 0;
        for (int c = 0; c < COLS; c++) m += x[i * COLS + c];
        m /= COLS;
        for (int c = 0; c < COLS; c++) v += (x[i * COLS + c] - m) * (x[i * COLS + c] - m);
        mean_h[i] = (float)m;
        rstd_h[i] = (float)(1 / sqrt(v / COLS + 1e-5));
    }
    mrg_ptr X = put(dev, x, n, MRG_F32), DY = put(dev, dy, n, MRG_F32), W = put(dev, w, COLS, MRG_F32);
    mrg_ptr M = put(dev, mean_h, rows, MRG_F32), R = put(dev, rstd_h, rows, MRG_F32),
            DW = put(dev, NULL, COLS, MRG_F32), DB = put(dev, NULL, COLS, MRG_F32);
    /* LayerNorm: dw, db */
    CHECK_OK(be->layernorm_backward(dev, X, W, M, R, DY, mrg_ptr_null(), DW, DB, rows, COLS));
    get(dev, DW, out->ln_dw[r], COLS);
    get(dev, DB, out->ln_db[r], COLS);
    if (check) {
        double want_w[COLS] = {0}, want_b[COLS] = {0};
        for (int64_t i = 0; i < rows; i++)
            for (int c = 0; c < COLS; c++) {
                double g = dy[i * COLS + c];
                want_w[c] += g * (x[i * COLS + c] - mean_h[i]) * rstd_h[i];
                want_b[c] += g;
            }
        CHECK(near("layernorm dw", out->ln_dw[r], want_w, COLS));
        CHECK(near("layernorm db", out->ln_db[r], want_b, COLS));
    }
    /* RMSNorm: dw (with the same rstd: the kernel only reads it) */
    CHECK_OK(be->rmsnorm_backward(dev, X, W, R, DY, mrg_ptr_null(), DW, rows, COLS));
    get(dev, DW, out->rms_dw[r], COLS);
    if (check) {
        double want_w[COLS] = {0};
        for (int64_t i = 0; i < rows; i++)
            for (int c = 0; c < COLS; c++)
                want_w[c] += (double)dy[i * COLS + c] * x[i * COLS + c] * rstd_h[i];
        CHECK(near("rmsnorm dw", out->rms_dw[r], want_w, COLS));
    }
    /* reduce_sum over the middle axis of (OUTER, rows, INNER) */
    const int64_t ns = OUTER * rows * INNER;
    float *s = malloc(ns * 4);
    for (int64_t i = 0; i < ns; i++) s[i] = urand();
    mrg_ptr S = put(dev, s, ns, MRG_F32), SY = put(dev, NULL, OUTER * INNER, MRG_F32);
    CHECK_OK(be->reduce_sum(dev, S, SY, OUTER, rows, INNER, 0.5f));
    get(dev, SY, out->sum[r], OUTER * INNER);
    if (check) {
        double want[OUTER * INNER] = {0};
        for (int o = 0; o < OUTER; o++)
            for (int64_t j = 0; j < rows; j++)
                for (int i = 0; i < INNER; i++)
                    want[o * INNER + i] += 0.5 * s[(o * rows + j) * INNER + i];
        CHECK(near("reduce_sum", out->sum[r], want, OUTER * INNER));
    }
    mrg_ptr all[] = {X, DY, W, M, R, DW, DB, S, SY};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) drop(dev, all[i]);
    free(x);
    free(dy);
    free(s);
}

static void embedding(mrg_device *dev, run *out, bool check) {
    int32_t ids[EMB_N];
    float *dy = malloc(EMB_N * EMB_D * 4), dw0[EMB_V * EMB_D];
    for (int i = 0; i < EMB_N; i++) /* mostly repeats of few ids, some invalid */
        ids[i] = i % 17 == 3 ? -1 : i % 23 == 5 ? EMB_V : (int32_t)((urand() + 1) * 3.5f) % EMB_V;
    for (int i = 0; i < EMB_N * EMB_D; i++) dy[i] = urand();
    for (int i = 0; i < EMB_V * EMB_D; i++) dw0[i] = urand();
    mrg_ptr DY = put(dev, dy, EMB_N * EMB_D, MRG_F32), ID = put(dev, ids, EMB_N, MRG_I32),
            DW = put(dev, dw0, EMB_V * EMB_D, MRG_F32);
    CHECK_OK(dev->be->embedding_backward(dev, DY, ID, DW, EMB_N, EMB_D, EMB_V));
    get(dev, DW, out->emb, EMB_V * EMB_D);
    if (check) {
        double want[EMB_V * EMB_D];
        for (int i = 0; i < EMB_V * EMB_D; i++) want[i] = dw0[i];
        for (int i = 0; i < EMB_N; i++)
            if (ids[i] >= 0 && ids[i] < EMB_V)
                for (int d = 0; d < EMB_D; d++) want[ids[i] * EMB_D + d] += dy[i * EMB_D + d];
        CHECK(near("embedding_backward", out->emb, want, EMB_V * EMB_D));
    }
    drop(dev, DY);
    drop(dev, ID);
    drop(dev, DW);
    free(dy);
}

/* Every reduction once, from the same seed. */
static void run_all(mrg_device *dev, run *out, bool check) {
    rng = 0x853c49e6748fea9bull;
    for (int r = 0; r < N_ROWS; r++) norms(dev, ROWS[r], r, out, check);
    embedding(dev, out, check);
}

/* copy_strided and binary against host loops, for shapes whose axes the
 * host merges or drops. */
static void strided(mrg_device *dev) {
    const mrg_backend *be = dev->be;
    enum { NS = 4 * 1 * 6 * 5 };
    float a[NS], b[NS], o[NS];
    for (int i = 0; i < NS; i++) a[i] = urand(), b[i] = urand();
    mrg_ptr A = put(dev, a, NS, MRG_F32), B = put(dev, b, NS, MRG_F32), O = put(dev, NULL, NS, MRG_F32);
    /* (4, 1, 6, 5): a contiguous (merges to one axis), b broadcast over axis 0 */
    const int64_t shape[4] = {4, 1, 6, 5}, as[4] = {30, 30, 5, 1}, bs[4] = {0, 0, 5, 1};
    CHECK_OK(be->binary(dev, MRG_BIN_SUB, A, B, O, 4, shape, as, bs));
    get(dev, O, o, NS);
    double want[NS];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 30; j++) want[i * 30 + j] = (double)a[i * 30 + j] - b[j];
    CHECK(near("binary broadcast", o, want, NS));
    /* transpose of the (4·6, 5) matrix, through size-1 and mergeable axes */
    const int64_t tshape[4] = {5, 1, 4, 6}, ts[4] = {1, 0, 30, 5}, td[4] = {24, 24, 6, 1};
    CHECK_OK(be->copy_strided(dev, A, O, 4, tshape, ts, td, false));
    get(dev, O, o, NS);
    for (int c = 0; c < 5; c++)
        for (int r = 0; r < 24; r++) want[c * 24 + r] = a[r * 5 + c];
    CHECK(near("copy_strided transpose", o, want, NS));
    /* accumulate a contiguous copy (every axis merges) */
    const int64_t cshape[3] = {4, 6, 5}, cs[3] = {30, 5, 1};
    CHECK_OK(be->copy_strided(dev, B, O, 3, cshape, cs, cs, true));
    get(dev, O, o, NS);
    for (int i = 0; i < NS; i++) want[i] += b[i];
    CHECK(near("copy_strided accumulate", o, want, NS));
    drop(dev, A);
    drop(dev, B);
    drop(dev, O);
}

int main(void) {
    int tested = 0;
    static run first, again, narrow;
    for (test_device_iter it = {0}; test_next_device(&it);) {
        if (mrg_device_is_cpu(it.dev)) continue;
        tested++;
        run_all(it.dev, &first, true);
        run_all(it.dev, &again, false);
        CHECK(memcmp(&first, &again, sizeof first) == 0);
        strided(it.dev);
        /* the same device with small work-groups gives the same bits */
        char name[32];
        snprintf(name, sizeof name, "%s", mrg_device_name(it.dev));
        setenv("MRG_CL_MAX_WG", "8", 1);
        mrg_device *small = test_device_open(name);
        unsetenv("MRG_CL_MAX_WG");
        if (small) {
            run_all(small, &narrow, true);
            CHECK(memcmp(&first, &narrow, sizeof first) == 0);
            strided(small);
            mrg_device_free(small);
        }
    }
    if (!tested) {
        printf("test_cl_reductions: no OpenCL device, skipped\n");
        return TEST_SKIP;
    }
    return test_finish("test_cl_reductions");
}

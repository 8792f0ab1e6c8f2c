/* 64-bit safety of the OpenCL backend with small buffers: the limits that
 * make large offsets dangerous are lowered through the environment, so
 * their paths run on PoCL in a few MiB.
 *   MRG_CL_MAX_OFFSET=4096  CLBlast may see no element index above 4096
 *                           (really 2^31−1: its kernels take int offsets);
 *                           GEMMs beyond it must go through sub-buffers, or
 *                           to the own 64-bit kernel when even the span of
 *                           one operand is larger, and still be right;
 *   MRG_CL_MAX_ALLOC=1 MiB  the arena never asks for a larger chunk; a step
 *                           bigger than that keeps several chunks, and the
 *                           next identical step allocates nothing (no
 *                           silent regrowth every step); one tensor larger
 *                           than an allocation is a clear error.
 * f32 GEMMs go to CLBlast here (MRG_CL_GEMM=clblast; by default they run
 * in mrg's own kernels, 64-bit throughout). Every result against a
 * double-precision loop on the host. Skipped (77)
 * without an OpenCL device. */
#include <string.h>

#include "core/backend.h"
#include "core/internal.h"
#include "testutil.h"
#ifdef MRG_HAVE_OPENCL
#include "mrg/opencl.h"
#endif

#define MAX_OFFSET 4096
#define MAX_ALLOC (1 << 20)

#ifdef MRG_HAVE_OPENCL
static uint64_t rng = 0x2545f4914f6cdd1dull;
static float urand(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)((double)(rng >> 11) / 9007199254740992.0) * 2.0f - 1.0f;
}

/* One GEMM case: sizes, transposes, batch and where each operand starts in
 * its buffer (elements); B in buffer 1 when separate_b, else buffer 0. */
typedef struct gemm_case {
    const char *what;
    int64_t M, N, K, batch;
    bool ta, tb, separate_b;
    int64_t aoff, boff, coff;
    float beta;
} gemm_case;

static mrg_opencl_gemm_counts counts(mrg_device *dev) {
    mrg_opencl_gemm_counts n = {0, 0, 0};
    CHECK_OK(mrg_opencl_gemm_counts_get(dev, &n));
    return n;
}

/* Runs case g on dev and checks C (and that nothing outside C changed). */
static void run_gemm(mrg_device *dev, const gemm_case *g) {
    const mrg_backend *be = dev->be;
    const int64_t lda = (g->ta ? g->M : g->K) + 3, ldb = (g->tb ? g->K : g->N) + 1,
                  ldc = g->N + 2;
    const int64_t sa = (g->ta ? g->K : g->M) * lda + 7, sb = (g->tb ? g->N : g->K) * ldb,
                  sc = g->M * ldc + 5;
    const int64_t n0 = 40000, n1 = 20000; /* elements of the two buffers */
    float *h0 = malloc(n0 * sizeof *h0), *h1 = malloc(n1 * sizeof *h1);
    float *out = malloc(n0 * sizeof *out);
    for (int64_t i = 0; i < n0; i++) h0[i] = urand();
    for (int64_t i = 0; i < n1; i++) h1[i] = urand();
    mrg_buffer b0 = {0}, b1 = {0};
    CHECK_OK(be->buffer_alloc(dev, &b0, n0 * 4));
    CHECK_OK(be->buffer_alloc(dev, &b1, n1 * 4));
    CHECK_OK(be->upload(dev, &b0, 0, h0, n0 * 4));
    CHECK_OK(be->upload(dev, &b1, 0, h1, n1 * 4));
    const float *hb = g->separate_b ? h1 : h0;
    mrg_ptr A = {&b0, g->aoff, MRG_F32}, B = {g->separate_b ? &b1 : &b0, g->boff, MRG_F32},
            C = {&b0, g->coff, MRG_F32};
    CHECK_OK(be->gemm(dev, g->ta, g->tb, g->M, g->N, g->K, 0.75f, A, lda, sa, B, ldb, sb, g->beta,
                      C, ldc, sc, g->batch));
    CHECK_OK(be->download(dev, &b0, 0, out, n0 * 4));
    /* the expected buffer 0: h0 with each C block replaced */
    float *want = malloc(n0 * sizeof *want);
    memcpy(want, h0, n0 * sizeof *want);
    for (int64_t z = 0; z < g->batch; z++)
        for (int64_t m = 0; m < g->M; m++)
            for (int64_t n = 0; n < g->N; n++) {
                double acc = 0;
                for (int64_t k = 0; k < g->K; k++) {
                    double a = h0[g->aoff + z * sa + (g->ta ? k * lda + m : m * lda + k)];
                    double b = hb[g->boff + z * sb + (g->tb ? n * ldb + k : k * ldb + n)];
                    acc += a * b;
                }
                int64_t ci = g->coff + z * sc + m * ldc + n;
                want[ci] = (float)(0.75 * acc + g->beta * h0[ci]);
            }
    int bad = 0;
    for (int64_t i = 0; i < n0 && bad < 3; i++)
        if (!(fabsf(out[i] - want[i]) <= 1e-4f * (1.0f + fabsf(want[i])))) {
            fprintf(stderr, "%s: element %lld is %g, want %g\n", g->what, (long long)i, out[i],
                    want[i]);
            bad++;
        }
    CHECK(bad == 0);
    be->buffer_free(dev, &b0);
    be->buffer_free(dev, &b1);
    free(h0);
    free(h1);
    free(out);
    free(want);
}

/* f32 GEMMs near and beyond the (lowered) CLBlast index limit. */
static void test_gemm_offsets(mrg_device *dev) {
    /* all below the limit: CLBlast as before (M > 16: the small-M path is
     * always mrg's own) */
    mrg_opencl_gemm_counts c0 = counts(dev);
    gemm_case below = {"below", 19, 11, 13, 1, false, false, false, 17, 600, 1000, 0.0f};
    run_gemm(dev, &below);
    mrg_opencl_gemm_counts c1 = counts(dev);
    CHECK(c1.clblast == c0.clblast + 1 && c1.clblast_subbuffer == c0.clblast_subbuffer);

    /* beyond it, every transpose, batched, B in the same or another
     * buffer, odd offsets: sub-buffers */
    for (int t = 0; t < 4; t++) {
        gemm_case g = {"beyond", 19, 11, 13, 3, t & 1, t >> 1, t == 2, 30001, 20011, 25003,
                       t == 1 ? 0.5f : 0.0f};
        if (g.separate_b) g.boff = 5001;
        run_gemm(dev, &g);
    }
    gemm_case m2 = {"beyond, M 20", 20, 70, 33, 1, false, true, false, 12345, 17777, 30303, 1.0f};
    run_gemm(dev, &m2);
    mrg_opencl_gemm_counts c2 = counts(dev);
    CHECK(c2.clblast_subbuffer == c1.clblast_subbuffer + 5);
    CHECK(c2.clblast == c1.clblast && c2.own == c1.own);

    /* one operand spans more than the limit (A: 70 × 83 elements): the own
     * kernel, with 64-bit indexing */
    gemm_case wide = {"wide", 70, 12, 80, 1, false, false, false, 20000, 100, 35000, 0.0f};
    run_gemm(dev, &wide);
    mrg_opencl_gemm_counts c3 = counts(dev);
    CHECK(c3.own == c2.own + 1 && c3.clblast == c2.clblast &&
          c3.clblast_subbuffer == c2.clblast_subbuffer);
}

/* The arena under a 1 MiB allocation limit. */
static void test_arena_chunks(mrg_device *dev) {
    const int64_t rows = 96, cols = 640; /* 240 KiB per tensor */
    float *ha = malloc(rows * cols * sizeof *ha), *hb = malloc(cols * 48 * sizeof *hb);
    for (int64_t i = 0; i < rows * cols; i++) ha[i] = urand();
    for (int64_t i = 0; i < cols * 48; i++) hb[i] = urand();
    double *want = malloc(rows * 48 * sizeof *want);
    for (int64_t m = 0; m < rows; m++)
        for (int64_t n = 0; n < 48; n++) {
            double acc = 0;
            for (int64_t k = 0; k < cols; k++) acc += (double)ha[m * cols + k] * hb[k * 48 + n];
            want[m * 48 + n] = acc;
        }
    float *got = malloc(rows * 48 * sizeof *got);
    uint64_t allocs_after_first = 0;
    for (int step = 0; step < 3; step++) {
        /* 7 tensors of 240 KiB: 1.7 MiB in at least two chunks */
        mrg_tensor *pad[5];
        for (int i = 0; i < 5; i++) pad[i] = mrg_tensor_zeros(dev, MRG_F32, MRG_SHAPE(rows, cols));
        mrg_tensor *a = mrg_tensor_from_f32(dev, MRG_SHAPE(rows, cols), ha);
        mrg_tensor *b = mrg_tensor_from_f32(dev, MRG_SHAPE(cols, 48), hb);
        for (int i = 0; i < 5; i++) CHECK(pad[i] != NULL);
        CHECK(a && b);
        mrg_tensor *y = a && b ? mrg_matmul(a, b, false, false) : NULL;
        CHECK(y != NULL);
        if (y && mrg_tensor_to_f32(y, got) == MRG_OK) {
            int bad = 0;
            for (int64_t i = 0; i < rows * 48; i++)
                if (!(fabs(got[i] - want[i]) <= 1e-4 * (1.0 + fabs(want[i])))) bad++;
            CHECK(bad == 0);
        }
        CHECK(mrg_arena_chunk_count(dev) >= 2); /* the step does not fit one chunk */
        CHECK(mrg_device_arena_bytes(dev) > MAX_ALLOC);
        mrg_step_reset(dev);
        if (step == 0) allocs_after_first = dev->arena_chunk_allocs;
        else if (!mrg_arena_separate_buffers()) CHECK(dev->arena_chunk_allocs == allocs_after_first);
    }
    /* a single step tensor larger than one allocation: a clear error */
    mrg_tensor *big = mrg_tensor_new(dev, MRG_F32, MRG_SHAPE(MAX_ALLOC / 4 + 1));
    CHECK(big == NULL);
    CHECK(strstr(mrg_last_error(), "MRG_CL_MAX_ALLOC") != NULL);
    mrg_clear_error();
    mrg_step_reset(dev);
    /* the environment is checked: a bad limit is refused */
    setenv("MRG_CL_MAX_OFFSET", "12x", 1);
    mrg_device *bad = mrg_device_open(mrg_device_name(dev));
    CHECK(bad == NULL && strstr(mrg_last_error(), "MRG_CL_MAX_OFFSET"));
    mrg_device_free(bad);
    free(ha);
    free(hb);
    free(want);
    free(got);
}
#endif

int main(void) {
#ifndef MRG_HAVE_OPENCL
    printf("test_cl_offsets: built without OpenCL, skipped\n");
    return TEST_SKIP;
#else
    setenv("MRG_CL_MAX_OFFSET", "4096", 1);
    setenv("MRG_CL_GEMM", "clblast", 1); /* f32 GEMMs with M > 16 on CLBlast */
    char alloc[32];
    snprintf(alloc, sizeof alloc, "%d", MAX_ALLOC);
    setenv("MRG_CL_MAX_ALLOC", alloc, 1);
    int tested = 0;
    for (test_device_iter it = {0}; test_next_device(&it);) {
        if (mrg_device_is_cpu(it.dev)) continue;
        tested++;
        test_gemm_offsets(it.dev);
        test_arena_chunks(it.dev);
        setenv("MRG_CL_MAX_OFFSET", "4096", 1);
    }
    if (!tested) {
        printf("test_cl_offsets: no OpenCL device, skipped\n");
        return TEST_SKIP;
    }
    return test_finish("test_cl_offsets");
#endif
}

/* Batched GEMM on the CPU.
 *
 *   f32 B:        OpenBLAS sgemm per batch item (sgemv when M == 1); many
 *                 small items run in parallel, one single-threaded sgemm each.
 *   bf16/f16 B:   M <= CPU_SMALL_M (decoding, beam search): our own GEMV-like
 *                 kernel that converts B on the fly, parallel over N, so the
 *                 weight is streamed once at memory speed;
 *                 larger M: B is converted in chunks of at most
 *                 CPU_GEMM_CHUNK_BYTES of f32 and each chunk goes to sgemm.
 *                 The weight is never expanded to f32 as a whole (a 7B model
 *                 must stay bf16 in memory).
 *
 * Layout (row-major): op(A) M×K, op(B) K×N, C M×N; A is stored K×M with
 * row stride lda when trans_a, B is stored N×K with row stride ldb when
 * trans_b. */
#include <cblas.h>
#include <inttypes.h>
#include <omp.h>
#include <stdlib.h>

#include "cpu/cpu.h"

/* OpenBLAS runs a GEMM single-threaded when M·N·K <= 65536·4 (its
 * GEMM_MULTITHREAD_THRESHOLD); below this bound we may call it from inside
 * our own parallel region without two thread pools fighting. */
#define CPU_SMALL_GEMM_MNK 131072.0

typedef struct gemm_args {
    bool ta, tb;
    int64_t M, N, K;
    float alpha, beta;
    const float *A;
    int64_t lda;
    const void *B; /* one batch item */
    mrg_dtype bdt;
    int64_t ldb;
    float *C;
    int64_t ldc;
} gemm_args;

/* C = beta·C, with beta == 0 meaning "C is not read" (it may hold NaNs). */
static void scale_c(float *C, int64_t M, int64_t N, int64_t ldc, float beta) {
    for (int64_t m = 0; m < M; m++) {
        float *c = C + m * ldc;
        if (beta == 0.0f)
            memset(c, 0, (size_t)N * sizeof(float));
        else if (beta != 1.0f)
            for (int64_t n = 0; n < N; n++) c[n] *= beta;
    }
}

/* ---- f32 ------------------------------------------------------------------ */

static void sgemm_item(const gemm_args *g) {
    const float *B = g->B;
    /* beta == 0: C is zeroed here (it may hold NaNs, which OpenBLAS's
     * scaling by 0 would keep in some kernels), and OpenBLAS then adds to
     * it (beta 1), which skips its own pass over C: the same sums, one pass
     * over C fewer (that pass took 2 % of a tiny training step) */
    float beta = g->beta == 0.0f ? 1.0f : g->beta;
    if (g->M == 1) {
        /* y(N) = alpha·op(B)ᵀ·a + beta·y; a is one row of A, or one column
         * of the stored K×1 A when trans_a (increment lda). */
        int inca = g->ta ? (int)g->lda : 1;
        if (g->beta == 0.0f) memset(g->C, 0, (size_t)g->N * sizeof(float));
        if (g->tb) /* B stored N×K: y = B·a */
            cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)g->N, (int)g->K, g->alpha, B,
                        (int)g->ldb, g->A, inca, beta, g->C, 1);
        else /* B stored K×N: y = Bᵀ·a */
            cblas_sgemv(CblasRowMajor, CblasTrans, (int)g->K, (int)g->N, g->alpha, B,
                        (int)g->ldb, g->A, inca, beta, g->C, 1);
        return;
    }
    if (g->beta == 0.0f) scale_c(g->C, g->M, g->N, g->ldc, 0.0f);
    cblas_sgemm(CblasRowMajor, g->ta ? CblasTrans : CblasNoTrans,
                g->tb ? CblasTrans : CblasNoTrans, (int)g->M, (int)g->N, (int)g->K, g->alpha,
                g->A, (int)g->lda, B, (int)g->ldb, beta, g->C, (int)g->ldc);
}

/* One GEMM split over the OpenMP threads: OpenBLAS runs single-threaded
 * (see cpu_init in backend_cpu.c) so that only one thread pool exists. Two
 * pools on the same cores (OpenMP workers spin-waiting between our kernels
 * while OpenBLAS's own threads want the cores) made training several times
 * slower. The longer of M and N is cut into one slice per thread. */
static void sgemm_parallel(const gemm_args *g) {
    int threads = omp_get_max_threads();
    double work = (double)g->M * (double)g->N * (double)g->K;
    if (threads <= 1 || work < 4.0 * CPU_SMALL_GEMM_MNK) {
        sgemm_item(g);
        return;
    }
    bool split_m = g->M >= g->N;
    int64_t len = split_m ? g->M : g->N;
    int64_t step = (len + threads - 1) / threads;
    if (step < 8) step = 8;
    int64_t parts = (len + step - 1) / step;
    size_t bes = cpu_dtype_size(g->bdt);
#pragma omp parallel for schedule(static, 1)
    for (int64_t p = 0; p < parts; p++) {
        int64_t o = p * step, n = len - o < step ? len - o : step;
        gemm_args s = *g;
        if (split_m) {
            /* rows o.. of op(A) and C; A stored K×M when transposed */
            s.A = g->A + (g->ta ? o : o * g->lda);
            s.C = g->C + o * g->ldc;
            s.M = n;
        } else {
            /* columns o.. of op(B) and C; B stored N×K when transposed */
            s.B = (const char *)g->B + (size_t)(g->tb ? o * g->ldb : o) * bes;
            s.C = g->C + o;
            s.N = n;
        }
        sgemm_item(&s);
    }
}

/* ---- bf16/f16, small M: convert-on-the-fly GEMV -------------------------------- */

/* s[m] = Σ_k a_m[k]·b[k] for m < M (M and L compile-time constants once
 * inlined), with a_m = a + m·lda and b one stored row of B (K halves).
 * Each row keeps L partial sums (lanes) over the whole of K, so the rows
 * share one conversion of each piece of b, the sums stay in registers, and
 * there are L / (vector width) independent chains of additions per row;
 * one horizontal sum per row at the end (the beam-3 step went from 2.8 to
 * 2.0 greedy tokens; for one row the plain loop below stays faster). */
typedef float v8f __attribute__((vector_size(32)));
typedef uint32_t v8u __attribute__((vector_size(32)));
typedef uint16_t v8h __attribute__((vector_size(16)));

/* (vectors go through pointers: returning one is an ABI question GCC
 * warns about in the clone without AVX) */
static inline __attribute__((always_inline)) void load_v8f(v8f *v, const float *p) {
    memcpy(v, p, sizeof *v);
}

/* 8 halves → 8 floats: bf16 by a shift, f16 one by one */
static inline __attribute__((always_inline)) void load_half8(v8f *f, mrg_dtype dt, const uint16_t *p) {
    if (dt == MRG_BF16) {
        v8h h;
        memcpy(&h, p, sizeof h);
        v8u u = __builtin_convertvector(h, v8u) << 16;
        memcpy(f, &u, sizeof *f);
    } else {
        for (int j = 0; j < 8; j++) (*f)[j] = cpu_f16_to_f32(p[j]);
    }
}

static inline __attribute__((always_inline)) void dot_rows_fixed(mrg_dtype dt, const uint16_t *b,
                                                                  int64_t K, const float *a,
                                                                  int64_t lda, float *s, const int M,
                                                                  const int L) {
    v8f acc[CPU_SMALL_M][2]; /* L / 8 vectors per row (L is 8 or 16) */
#pragma GCC unroll 8
    for (int m = 0; m < M; m++)
#pragma GCC unroll 4
        for (int v = 0; v < L / 8; v++) acc[m][v] = (v8f){0};
    int64_t k = 0;
    for (; k + L <= K; k += L)
#pragma GCC unroll 4
        for (int v = 0; v < L / 8; v++) {
            v8f bv, av;
            load_half8(&bv, dt, b + k + 8 * v);
#pragma GCC unroll 8
            for (int m = 0; m < M; m++) {
                load_v8f(&av, a + m * lda + k + 8 * v);
                acc[m][v] += av * bv;
            }
        }
    for (int m = 0; m < M; m++) {
        v8f t = acc[m][0];
        for (int v = 1; v < L / 8; v++) t += acc[m][v];
        float r = ((t[0] + t[1]) + (t[2] + t[3])) + ((t[4] + t[5]) + (t[6] + t[7]));
        s[m] = cpu_dot_half_tail(dt, b, a + m * lda, k, K, r);
    }
}

CPU_CLONES static void dot_rows_half(mrg_dtype dt, const uint16_t *b, int64_t K, const float *a,
                                     int64_t lda, int M, float *s) {
    if (M == 1) { /* GCC's own vectorisation of the plain loop measured faster here */
        float acc = 0.0f;
        if (dt == MRG_BF16) {
#pragma omp simd reduction(+ : acc)
            for (int64_t k = 0; k < K; k++) acc += a[k] * cpu_bf16_to_f32(b[k]);
        } else {
#pragma omp simd reduction(+ : acc)
            for (int64_t k = 0; k < K; k++) acc += a[k] * cpu_f16_to_f32(b[k]);
        }
        s[0] = acc;
        return;
    }
    /* lanes: 2 chains of 8 for up to 3 rows, one for more */
#define DOT_ROWS_FIXED(m) dot_rows_fixed(dt, b, K, a, lda, s, m, (m) <= 3 ? 16 : 8)
    CPU_SWITCH_ROWS(M, DOT_ROWS_FIXED)
#undef DOT_ROWS_FIXED
}

/* The dot products of a GEMV: the AVX-512 kernel where the CPU has it
 * (cpu_gemv_avx512.c), else the portable one; chosen once per product. */
typedef void (*dot_rows_fn)(mrg_dtype dt, const uint16_t *b, int64_t K, const float *a, int64_t lda, int M,
                            float *s);
static dot_rows_fn dot_rows_kernel(void) {
#if CPU_HAVE_AVX512_GEMV
    if (cpu_gemv_avx512()) return cpu_dot_rows_half_avx512;
#endif
    return dot_rows_half;
}

/* The four-column kernel for M rows, or NULL where there is none (one row,
 * more rows than the CPU's registers hold, no AVX2). */
typedef void (*dot4_fn)(mrg_dtype dt, const uint16_t *b, int64_t ldb, int64_t K, const float *a,
                        int64_t lda, int M, float *s);
static dot4_fn dot4_kernel(int M) {
    if (M < 2) return NULL;
#if CPU_HAVE_AVX512_GEMV
    if (cpu_gemv_avx512()) return cpu_dot4_rows_half_avx512;
#endif
#if CPU_HAVE_AVX2_GEMV
    if (M <= 4 && cpu_gemv_avx2()) return cpu_dot4_rows_half_avx2;
#endif
    return NULL;
}

/* acc[m][j] += Σ_k a_m[k]·B[k][n0 + j] for j < nb over all k, with B stored
 * K×N (row stride ldb); acc rows have stride CPU_GEMV_NB. Wide blocks keep
 * the reads of each row of B long enough for the hardware prefetcher. */
#define CPU_GEMV_NB 1024
CPU_CLONES static void axpy_cols_half(mrg_dtype dt, const uint16_t *B, int64_t ldb, int64_t K,
                                      int64_t nb, const float *a, int64_t lda, int M,
                                      float *acc) {
    float tmp[CPU_GEMV_NB];
    for (int64_t k = 0; k < K; k++) {
        const uint16_t *b = B + k * ldb;
        if (dt == MRG_BF16) {
#pragma omp simd
            for (int64_t j = 0; j < nb; j++) tmp[j] = cpu_bf16_to_f32(b[j]);
        } else {
#pragma omp simd
            for (int64_t j = 0; j < nb; j++) tmp[j] = cpu_f16_to_f32(b[j]);
        }
        for (int m = 0; m < M; m++) {
            float am = a[m * lda + k];
            float *r = acc + m * CPU_GEMV_NB;
#pragma omp simd
            for (int64_t j = 0; j < nb; j++) r[j] += am * tmp[j];
        }
    }
}

static inline void store_c(float *c, float v, float alpha, float beta) {
    *c = beta == 0.0f ? alpha * v : alpha * v + beta * *c;
}

/* A (M <= CPU_SMALL_M rows, contiguous, row stride lda) times a half B. */
static void gemv_half_item(mrg_device *dev, const gemm_args *g, const float *A, int64_t lda) {
    const uint16_t *B = g->B;
    int M = (int)g->M;
    int64_t N = g->N, K = g->K;
    if (g->tb) {
        /* B stored N×K: one dot product per output column, rows of B
         * contiguous; 64 columns per task balance the threads. */
        dot_rows_fn dot_rows = dot_rows_kernel();
        /* 2+ rows (beam steps, short prompts): four columns at a time, so
         * that each activation vector loaded serves four weight vectors
         * (AVX-512: up to 8 rows; AVX2: up to 4, what 16 registers hold);
         * one row stays on dot_rows (cpu_gemv_avx512.c says why) */
        dot4_fn dot4 = dot4_kernel(M);
        int64_t n4 = dot4 ? N / 4 * 4 : 0;
#pragma omp parallel for if (n4 * K > CPU_PAR_MIN) schedule(static, 16) /* 64 columns */
        for (int64_t n = 0; n < n4; n += 4) {
            float s[4 * CPU_SMALL_M];
            dot4(g->bdt, B + n * g->ldb, g->ldb, K, A, lda, M, s);
            for (int j = 0; j < 4; j++)
                for (int m = 0; m < M; m++)
                    store_c(g->C + m * g->ldc + n + j, s[j * CPU_SMALL_M + m], g->alpha, g->beta);
        }
#pragma omp parallel for if ((N - n4) * K > CPU_PAR_MIN) schedule(static, 64)
        for (int64_t n = n4; n < N; n++) {
            float s[CPU_SMALL_M];
            dot_rows(g->bdt, B + n * g->ldb, K, A, lda, M, s);
            for (int m = 0; m < M; m++) store_c(g->C + m * g->ldc + n, s[m], g->alpha, g->beta);
        }
    } else {
        /* B stored K×N: each task owns a block of columns and streams the
         * rows of B through it; blocks of 256..1024 columns, about two per
         * thread. */
        int64_t bw = (N / (2 * cpu_ctx_of(dev)->threads) + 63) / 64 * 64;
        bw = bw < 256 ? 256 : bw > CPU_GEMV_NB ? CPU_GEMV_NB : bw;
        int64_t nblk = (N + bw - 1) / bw;
#pragma omp parallel for if (N * K > CPU_PAR_MIN) schedule(static)
        for (int64_t q = 0; q < nblk; q++) {
            int64_t n0 = q * bw, nb = N - n0 < bw ? N - n0 : bw;
            float acc[CPU_SMALL_M * CPU_GEMV_NB]; /* 32 KiB */
            memset(acc, 0, (size_t)M * CPU_GEMV_NB * sizeof(float));
            axpy_cols_half(g->bdt, B + n0, g->ldb, K, nb, A, lda, M, acc);
            for (int m = 0; m < M; m++)
                for (int64_t j = 0; j < nb; j++)
                    store_c(g->C + m * g->ldc + n0 + j, acc[m * CPU_GEMV_NB + j], g->alpha,
                            g->beta);
        }
    }
}

/* ---- bf16/f16, larger M: chunked conversion + sgemm ------------------------ */

static mrg_status ensure_scratch(cpu_ctx *c, size_t floats) {
    if (c->scratch_floats >= floats) return MRG_OK;
    float *p = aligned_alloc(64, (floats * sizeof(float) + 63) & ~(size_t)63);
    if (!p)
        return mrg_error(MRG_ERR_OOM, "cpu gemm: cannot allocate %zu bytes of scratch",
                         floats * sizeof(float));
    free(c->scratch);
    c->scratch = p;
    c->scratch_floats = floats;
    return MRG_OK;
}

/* Columns [n0, n0 + nb) of op(B) → f32 scratch laid out as the matching
 * slice of the stored B: nb×K (ld K) when trans_b, K×nb (ld nb) otherwise. */
static void convert_b_chunk(const gemm_args *g, int64_t n0, int64_t nb, float *dst) {
    const uint16_t *B = g->B;
    if (g->tb) {
#pragma omp parallel for if (nb * g->K > CPU_PAR_MIN) schedule(static)
        for (int64_t j = 0; j < nb; j++)
            cpu_to_f32(g->bdt, B + (n0 + j) * g->ldb, dst + j * g->K, g->K);
    } else {
#pragma omp parallel for if (nb * g->K > CPU_PAR_MIN) schedule(static)
        for (int64_t k = 0; k < g->K; k++) cpu_to_f32(g->bdt, B + k * g->ldb + n0, dst + k * nb, nb);
    }
}

/* ---- entry --------------------------------------------------------------- */

static mrg_status check_ld(const char *what, int64_t ld, int64_t cols) {
    if (ld < (cols > 1 ? cols : 1) || ld > INT32_MAX)
        return mrg_error(MRG_ERR_INVALID_ARG,
                         "cpu gemm: %s = %" PRId64 " is invalid for rows of %" PRId64 " elements",
                         what, ld, cols);
    return MRG_OK;
}

/* Elements spanned by a batch of stored matrices: (batch−1)·stride +
 * (rows−1)·ld + cols. */
static int64_t span(int64_t batch, int64_t stride, int64_t rows, int64_t ld, int64_t cols) {
    return (batch - 1) * stride + (rows - 1) * ld + cols;
}

mrg_status cpu_gemm(mrg_device *dev, bool trans_a, bool trans_b, int64_t M, int64_t N,
                    int64_t K, float alpha, mrg_ptr A, int64_t lda, int64_t stride_a,
                    mrg_ptr B, int64_t ldb, int64_t stride_b, float beta, mrg_ptr C,
                    int64_t ldc, int64_t stride_c, int64_t batch) {
    if (M < 0 || N < 0 || K < 0 || batch < 0 || stride_a < 0 || stride_b < 0 || stride_c < 0)
        return mrg_error(MRG_ERR_INVALID_ARG, "cpu gemm: negative size or stride");
    if (M > INT32_MAX || N > INT32_MAX || K > INT32_MAX)
        return mrg_error(MRG_ERR_INVALID_ARG, "cpu gemm: dimension exceeds 2^31");
    if (M == 0 || N == 0 || batch == 0) return MRG_OK;
    mrg_status st = check_ld("ldc", ldc, N);
    if (st == MRG_OK) st = cpu_check("gemm", "C", C, span(batch, stride_c, M, ldc, N), CPU_DT(MRG_F32));
    if (st != MRG_OK) return st;
    if (K == 0) { /* empty sum: C = beta·C */
        for (int64_t b = 0; b < batch; b++) scale_c(cpu_f32(C) + b * stride_c, M, N, ldc, beta);
        return MRG_OK;
    }
    int64_t a_rows = trans_a ? K : M, a_cols = trans_a ? M : K;
    int64_t b_rows = trans_b ? N : K, b_cols = trans_b ? K : N;
    st = check_ld("lda", lda, a_cols);
    if (st == MRG_OK) st = check_ld("ldb", ldb, b_cols);
    if (st == MRG_OK)
        st = cpu_check("gemm", "A", A, span(batch, stride_a, a_rows, lda, a_cols), CPU_DT(MRG_F32));
    if (st == MRG_OK)
        st = cpu_check("gemm", "B", B, span(batch, stride_b, b_rows, ldb, b_cols), CPU_FLOATS);
    if (st != MRG_OK) return st;

    /* A shared weight over a batch of contiguous row blocks is one GEMM with
     * batch·M rows. */
    if (batch > 1 && stride_b == 0 && !trans_a && stride_a == M * lda && stride_c == M * ldc &&
        batch * M <= INT32_MAX) {
        M *= batch;
        batch = 1;
    }

    gemm_args g = {trans_a, trans_b, M, N, K, alpha, beta, NULL, lda, NULL, B.dt, ldb, NULL, ldc};
    const float *pa = cpu_f32(A);
    float *pc = cpu_f32(C);
    size_t bes = cpu_dtype_size(B.dt);
    const char *pb = cpu_addr(B);

    if (B.dt == MRG_F32) {
        /* OpenBLAS also threads sgemv above N·K = 2304·4; stay below it */
        bool small = M > 1 ? (double)M * (double)N * (double)K <= CPU_SMALL_GEMM_MNK
                           : (double)N * (double)K <= 8192.0;
        if (batch > 1 && small) {
            /* many small products (attention heads): one per thread */
#pragma omp parallel for schedule(dynamic, 1)
            for (int64_t b = 0; b < batch; b++) {
                gemm_args gb = g;
                gb.A = pa + b * stride_a;
                gb.B = pb + (size_t)(b * stride_b) * bes;
                gb.C = pc + b * stride_c;
                sgemm_item(&gb);
            }
        } else {
            for (int64_t b = 0; b < batch; b++) {
                g.A = pa + b * stride_a;
                g.B = pb + (size_t)(b * stride_b) * bes;
                g.C = pc + b * stride_c;
                sgemm_parallel(&g);
            }
        }
        return MRG_OK;
    }

    if (M <= CPU_SMALL_M) {
        /* rows of op(A) as contiguous f32 (a transposed A is gathered) */
        float at[CPU_SMALL_M * 1024];
        float *abuf = NULL;
        if (trans_a && M * K > (int64_t)(sizeof at / sizeof at[0])) {
            abuf = malloc((size_t)(M * K) * sizeof(float));
            if (!abuf) return mrg_error(MRG_ERR_OOM, "cpu gemm: out of host memory");
        }
        for (int64_t b = 0; b < batch; b++) {
            const float *a = pa + b * stride_a;
            int64_t la = lda;
            if (trans_a) {
                float *t = abuf ? abuf : at;
                for (int64_t m = 0; m < M; m++)
                    for (int64_t k = 0; k < K; k++) t[m * K + k] = a[k * lda + m];
                a = t;
                la = K;
            }
            g.B = pb + (size_t)(b * stride_b) * bes;
            g.C = pc + b * stride_c;
            gemv_half_item(dev, &g, a, la);
        }
        free(abuf);
        return MRG_OK;
    }

    /* chunks of op(B) columns: nb·K floats of scratch at most (one column
     * at least) */
    cpu_ctx *ctx = cpu_ctx_of(dev);
    int64_t nb_max = (int64_t)(CPU_GEMM_CHUNK_BYTES / sizeof(float)) / K;
    if (nb_max < 1) nb_max = 1;
    if (nb_max > N) nb_max = N;
    st = ensure_scratch(ctx, (size_t)(nb_max * K));
    if (st != MRG_OK) return st;
    float *scr = ctx->scratch;
    for (int64_t n0 = 0; n0 < N; n0 += nb_max) {
        int64_t nb = N - n0 < nb_max ? N - n0 : nb_max;
        for (int64_t b = 0; b < batch; b++) {
            g.B = pb + (size_t)(b * stride_b) * bes;
            /* a shared weight chunk is converted once for the whole batch */
            if (b == 0 || stride_b != 0) convert_b_chunk(&g, n0, nb, scr);
            gemm_args gc = g;
            gc.A = pa + b * stride_a;
            gc.B = scr;
            gc.bdt = MRG_F32;
            gc.N = nb;
            gc.ldb = trans_b ? K : nb;
            gc.C = pc + b * stride_c + n0;
            sgemm_parallel(&gc);
        }
    }
    return MRG_OK;
}

/* The bf16/f16 dot products of decoding (1..CPU_SMALL_M rows of f32
 * activations against one stored row of half weights) on AVX-512 CPUs.
 *
 * Decoding reads every weight once per token, so its GEMVs should run at the
 * memory's read bandwidth. The portable kernels in cpu_matmul.c get an
 * AVX2+FMA clone at best: 8 lanes, and for one row GCC keeps a single chain
 * of additions, whose latency capped batch-1 decoding of a 1.1B bf16 LLaMA
 * at 0.49 of the measured read bandwidth on a 2-core Zen 4 (README.md, "Side
 * by side"). Here every row has 16 lanes, and up to 3 rows have two
 * independent chains each (the sums of 4+ rows already make independent
 * chains). Measured on that machine (1.1B bf16, `mrg bench lm`, against
 * the AVX2 clone in the same minutes): one row 12.4-12.9 → 13.0-13.8
 * tokens/s, a beam-3 step 5.2-5.3 → 6.9-7.2 steps/s (2.4 → 1.9-2.0 greedy
 * tokens). Four chains for one row
 * measured 9.2 tokens/s and a software prefetch 512 or 2048 elements ahead
 * 10 to 10.6: both slower, left out. Nor is the widening of bf16 the limit
 * of the 3-row step: splitting bf16 pairs in-lane (a shift and a mask,
 * the activations split to match beforehand) measured 6.8 steps/s against
 * 7.1, and was left out too.
 *
 * Two or more rows (a beam step, a short prompt) take four stored rows at
 * once instead (cpu_dot4_rows_half_avx512): there the activation loads, M
 * per weight vector, were the limit, and one load now serves four weight
 * vectors. Same machine, same minutes, against dot_rows16: a 1.1B beam-3
 * step 7.1 → 9.4-9.6 steps/s (1.9-2.0 → 1.4 greedy tokens), the 7B
 * shape's 1.1 → 1.8-1.9 steps/s (1.9 → 1.2 greedy tokens) and its 8-token
 * prompt 5.0 → 8.0 tokens/s. For one row the four columns measured 11.8
 * tokens/s against 13.4-13.9 on the 1.1B (2.26 against 2.14 on the 7B),
 * so one row stays on dot_rows16.
 *
 * The products are those of the portable kernels (exact bf16/f16 → f32
 * conversions); only the order of the f32 sums differs. */
#include "cpu/cpu.h"

#if CPU_HAVE_AVX512_GEMV
#include <immintrin.h>

/* (libgcc's constructor has filled in the CPU model before any caller runs) */
bool cpu_gemv_avx512(void) { return __builtin_cpu_supports("avx512f"); }

/* 16 halves at p → 16 floats (bf16: the top half of an f32; f16: vcvtph2ps,
 * exact, subnormals included) */
__attribute__((target("avx512f"), always_inline)) static inline __m512 load_half16(mrg_dtype dt,
                                                                                   const uint16_t *p) {
    __m256i h = _mm256_loadu_si256((const __m256i *)p);
    if (dt == MRG_BF16) return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    return _mm512_cvtph_ps(h);
}

/* s[m] = Σ_k a_m[k]·b[k], m < M, a_m = a + m·lda; C chains of 16 lanes per
 * row (M and C compile-time constants once inlined). */
__attribute__((target("avx512f"), always_inline)) static inline void
dot_rows16(mrg_dtype dt, const uint16_t *b, int64_t K, const float *a, int64_t lda, float *s, const int M,
           const int C) {
    __m512 acc[CPU_SMALL_M][4];
#pragma GCC unroll 8
    for (int m = 0; m < M; m++)
#pragma GCC unroll 4
        for (int c = 0; c < C; c++) acc[m][c] = _mm512_setzero_ps();
    int64_t k = 0;
    for (; k + 16 * C <= K; k += 16 * C)
#pragma GCC unroll 4
        for (int c = 0; c < C; c++) {
            __m512 w = load_half16(dt, b + k + 16 * c);
#pragma GCC unroll 8
            for (int m = 0; m < M; m++)
                acc[m][c] = _mm512_fmadd_ps(_mm512_loadu_ps(a + m * lda + k + 16 * c), w, acc[m][c]);
        }
    for (int m = 0; m < M; m++) {
        __m512 t = acc[m][0];
        for (int c = 1; c < C; c++) t = _mm512_add_ps(t, acc[m][c]);
        s[m] = cpu_dot_half_tail(dt, b, a + m * lda, k, K, _mm512_reduce_add_ps(t));
    }
}

__attribute__((target("avx512f"))) void cpu_dot_rows_half_avx512(mrg_dtype dt, const uint16_t *b, int64_t K,
                                                                 const float *a, int64_t lda, int M, float *s) {
    /* two chains per row up to 3 rows, one beyond */
#define DOT_ROWS16(m) dot_rows16(dt, b, K, a, lda, s, m, (m) <= 3 ? 2 : 1)
    CPU_SWITCH_ROWS(M, DOT_ROWS16)
#undef DOT_ROWS16
}

/* s[j·CPU_SMALL_M + m] = Σ_k a_m[k]·b_j[k] for j < NB stored rows b_j =
 * b + j·ldb at once, one chain per (row, column): each activation vector
 * loaded serves NB weight vectors, where dot_rows16 loads M activation
 * vectors per weight vector (M, NB compile-time constants once inlined). */
__attribute__((target("avx512f"), always_inline)) static inline void
dot_cols16(mrg_dtype dt, const uint16_t *b, int64_t ldb, int64_t K, const float *a, int64_t lda, float *s,
           const int M, const int NB) {
    __m512 acc[CPU_SMALL_M][4];
#pragma GCC unroll 8
    for (int m = 0; m < M; m++)
#pragma GCC unroll 4
        for (int j = 0; j < NB; j++) acc[m][j] = _mm512_setzero_ps();
    int64_t k = 0;
    for (; k + 16 <= K; k += 16) {
        __m512 w[4];
#pragma GCC unroll 4
        for (int j = 0; j < NB; j++) w[j] = load_half16(dt, b + j * ldb + k);
#pragma GCC unroll 8
        for (int m = 0; m < M; m++) {
            __m512 x = _mm512_loadu_ps(a + m * lda + k);
#pragma GCC unroll 4
            for (int j = 0; j < NB; j++) acc[m][j] = _mm512_fmadd_ps(x, w[j], acc[m][j]);
        }
    }
    for (int j = 0; j < NB; j++)
        for (int m = 0; m < M; m++)
            s[j * CPU_SMALL_M + m] =
                cpu_dot_half_tail(dt, b + j * ldb, a + m * lda, k, K, _mm512_reduce_add_ps(acc[m][j]));
}

__attribute__((target("avx512f"))) void cpu_dot4_rows_half_avx512(mrg_dtype dt, const uint16_t *b, int64_t ldb,
                                                                  int64_t K, const float *a, int64_t lda, int M,
                                                                  float *s) {
    /* 4 columns × up to 4 rows: 16 sums, 4 weight vectors and an activation
     * vector in the 32 registers; 5 to 8 rows take the columns in pairs */
#define DOT_COLS16(m)                                                                                   \
    do {                                                                                                \
        if ((m) <= 4) {                                                                                 \
            dot_cols16(dt, b, ldb, K, a, lda, s, m, 4);                                                 \
        } else {                                                                                        \
            dot_cols16(dt, b, ldb, K, a, lda, s, m, 2);                                                 \
            dot_cols16(dt, b + 2 * ldb, ldb, K, a, lda, s + 2 * CPU_SMALL_M, m, 2);                     \
        }                                                                                               \
    } while (0)
    CPU_SWITCH_ROWS(M, DOT_COLS16)
#undef DOT_COLS16
}

#endif

/* The bf16/f16 dot products of a beam step or a short prompt (2 to 4 rows
 * of f32 activations against four stored rows of half weights at once) on
 * CPUs with AVX2, FMA and F16C but no AVX-512 (those take
 * cpu_gemv_avx512.c's kernel).
 *
 * The portable kernel in cpu_matmul.c (dot_rows_half, GCC's AVX2 clone)
 * loads M activation vectors for each weight vector, and on a 2-core Zen 3
 * a beam-3 step of a 1.1B bf16 LLaMA cost 1.6 to 1.9 greedy tokens
 * (issue 11's target: 1.5; 1.06 to 1.11 with this kernel). Here each activation vector loaded serves four
 * weight vectors: M + 4 loads per 4·M multiply-adds instead of 4 + 4·M,
 * with the 4·M sums, the M activation vectors and one weight vector in the
 * 16 registers (up to M = 3; four rows take the columns in pairs). The
 * products are those of the portable kernel (exact bf16/f16 → f32
 * conversions); only the order of the f32 sums differs. */
#include "cpu/cpu.h"

#if CPU_HAVE_AVX2_GEMV
#include <immintrin.h>

#include "mrg/cpu.h"

/* F16C comes from mrg's own ISA detection (cpuid, cached): clang's
 * __builtin_cpu_supports does not know "f16c" */
bool cpu_gemv_avx2(void) {
    const mrg_cpu_isa *isa = mrg_cpu_isa_get();
    return mrg_cpu_isa_has(isa, MRG_CPU_AVX2) && mrg_cpu_isa_has(isa, MRG_CPU_FMA) &&
           mrg_cpu_isa_has(isa, MRG_CPU_F16C);
}

/* 8 halves at p → 8 floats (bf16: the top half of an f32; f16: vcvtph2ps,
 * exact, subnormals included) */
__attribute__((target("avx2,fma,f16c"), always_inline)) static inline __m256 load_half8(mrg_dtype dt,
                                                                                         const uint16_t *p) {
    __m128i h = _mm_loadu_si128((const __m128i *)p);
    if (dt == MRG_BF16) return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
    return _mm256_cvtph_ps(h);
}

/* the sum of the 8 lanes */
__attribute__((target("avx2,fma,f16c"), always_inline)) static inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* s[j·CPU_SMALL_M + m] = Σ_k a_m[k]·b_j[k] for j < NB stored rows b_j = b +
 * j·ldb, m < M rows a_m = a + m·lda (dt, M, NB compile-time constants once
 * inlined) */
__attribute__((target("avx2,fma,f16c"), always_inline)) static inline void
dot_cols8(mrg_dtype dt, const uint16_t *b, int64_t ldb, int64_t K, const float *a, int64_t lda, float *s,
          const int M, const int NB) {
    __m256 acc[4][4];
#pragma GCC unroll 4
    for (int m = 0; m < M; m++)
#pragma GCC unroll 4
        for (int j = 0; j < NB; j++) acc[m][j] = _mm256_setzero_ps();
    int64_t k = 0;
    for (; k + 8 <= K; k += 8) {
        __m256 x[4];
#pragma GCC unroll 4
        for (int m = 0; m < M; m++) x[m] = _mm256_loadu_ps(a + m * lda + k);
#pragma GCC unroll 4
        for (int j = 0; j < NB; j++) {
            const __m256 w = load_half8(dt, b + j * ldb + k);
#pragma GCC unroll 4
            for (int m = 0; m < M; m++) acc[m][j] = _mm256_fmadd_ps(x[m], w, acc[m][j]);
        }
    }
    for (int j = 0; j < NB; j++)
        for (int m = 0; m < M; m++)
            s[j * CPU_SMALL_M + m] = cpu_dot_half_tail(dt, b + j * ldb, a + m * lda, k, K, hsum8(acc[m][j]));
}

__attribute__((target("avx2,fma,f16c"), always_inline)) static inline void
dot4_rows(mrg_dtype dt, const uint16_t *b, int64_t ldb, int64_t K, const float *a, int64_t lda, int M,
          float *s) {
    if (M == 2) {
        dot_cols8(dt, b, ldb, K, a, lda, s, 2, 4);
    } else if (M == 3) {
        dot_cols8(dt, b, ldb, K, a, lda, s, 3, 4);
    } else {
        dot_cols8(dt, b, ldb, K, a, lda, s, 4, 2);
        dot_cols8(dt, b + 2 * ldb, ldb, K, a, lda, s + 2 * CPU_SMALL_M, 4, 2);
    }
}

__attribute__((target("avx2,fma,f16c"))) void cpu_dot4_rows_half_avx2(mrg_dtype dt, const uint16_t *b, int64_t ldb,
                                                                      int64_t K, const float *a, int64_t lda, int M,
                                                                      float *s) {
    if (dt == MRG_BF16)
        dot4_rows(MRG_BF16, b, ldb, K, a, lda, M, s);
    else
        dot4_rows(MRG_F16, b, ldb, K, a, lda, M, s);
}

#endif

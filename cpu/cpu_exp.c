/* expf over arrays, eight at a time, with the same bits as the C library's
 * expf: softmax, cross-entropy and the attention tiles spent 2 to 4 % of a
 * training step in scalar expf calls (more than the tile products of the
 * attention forward), and a faster exp with other roundings would change
 * every trained model (the demo's documented scores with them).
 *
 * glibc (2.27 on) computes expf in double (the exp2f scheme of Szabolcs
 * Nagy's optimized-routines, published with its constants):
 *   x·32/ln 2 = k + r, k an integer (rounded by adding 1.5·2^52), |r| ≤ 1/2;
 *   2^(k/32) = T[k mod 32] with k div 32 added to its exponent bits;
 *   2^(r/32) ≈ 1 + c2·r + c1·r² + c0·r³, evaluated as (c0·r + c1)·r² +
 *   (c2·r + 1); the product rounded to float once.
 * On a CPU with AVX2 and FMA glibc picks its FMA build of that code, whose
 * r and polynomial steps are fused multiply-adds. cpu_exp's AVX2 path does
 * the same operations in the same order on four doubles at a time, and
 * reproduces that build bit for bit: checked against expf for all 2.24·10^9
 * floats in [−104, 88] on the development machine (glibc 2.36); the test
 * (test_cpu_kernels) checks a spread of them and every special case. In case
 * another C library rounds differently, the first call compares the two on
 * a few thousand arguments and keeps libm's expf if any differs
 * (cpu_exp_exact()). Arguments outside [−103, 88] (underflow to
 * subnormals and 0, overflow, infinities, NaN) always go to expf itself. */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "cpu/cpu.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define CPU_EXP_AVX2 1
#else
#define CPU_EXP_AVX2 0
#endif

static bool vector_exact; /* the AVX2 path reproduces this libm's expf */

#if CPU_EXP_AVX2
#define EXP_TABLE 32 /* 2^(i/32), i < 32 */

/* T[i] = the bits of 2^(i/32) minus i << 47, so that adding k << 47 (k's
 * high bits reach the exponent field) gives 2^(k/32) for any k. */
static uint64_t exp_table[EXP_TABLE];

static const double INV_LN2_32 = 0x1.71547652b82fep+0 * EXP_TABLE;
static const double ROUND_SHIFT = 0x1.8p+52; /* x + it rounds x to an integer */
static const double C0 = 0x1.c6af84b912394p-5 / EXP_TABLE / EXP_TABLE / EXP_TABLE;
static const double C1 = 0x1.ebfce50fac4f3p-3 / EXP_TABLE / EXP_TABLE;
static const double C2 = 0x1.62e42ff0c52d6p-1 / EXP_TABLE;

/* e^x for four floats widened to double (x in [−103, 88]). The file builds
 * with -ffp-contract=off: only the explicit fused steps are fused, as in
 * glibc's FMA build. */
__attribute__((target("avx2,fma"))) static inline __m128 exp4(__m128 x) {
    const __m256d xd = _mm256_cvtps_pd(x);
    const __m256d z = _mm256_mul_pd(_mm256_set1_pd(INV_LN2_32), xd);
    const __m256d shifted = _mm256_add_pd(z, _mm256_set1_pd(ROUND_SHIFT));
    const __m256i k = _mm256_castpd_si256(shifted); /* k in the low mantissa bits */
    const __m256d kd = _mm256_sub_pd(shifted, _mm256_set1_pd(ROUND_SHIFT));
    const __m256d r = _mm256_fmsub_pd(_mm256_set1_pd(INV_LN2_32), xd, kd);
    const __m256i idx = _mm256_and_si256(k, _mm256_set1_epi64x(EXP_TABLE - 1));
    __m256i t = _mm256_i64gather_epi64((const long long *)exp_table, idx, 8);
    t = _mm256_add_epi64(t, _mm256_slli_epi64(k, 52 - 5));
    const __m256d s = _mm256_castsi256_pd(t);
    const __m256d p = _mm256_fmadd_pd(_mm256_set1_pd(C0), r, _mm256_set1_pd(C1));
    const __m256d r2 = _mm256_mul_pd(r, r);
    __m256d y = _mm256_fmadd_pd(_mm256_set1_pd(C2), r, _mm256_set1_pd(1.0));
    y = _mm256_fmadd_pd(p, r2, y);
    return _mm256_cvtpd_ps(_mm256_mul_pd(y, s));
}

/* y[i] = e^x[i], 8 at a time where all 8 are in range, expf otherwise. */
__attribute__((target("avx2,fma"))) static void exp_avx2(const float *x, float *y, int64_t n) {
    const __m256 lo = _mm256_set1_ps(-103.0f), hi = _mm256_set1_ps(88.0f);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_loadu_ps(x + i);
        /* ordered comparisons: a NaN lane fails both */
        const __m256 ok = _mm256_and_ps(_mm256_cmp_ps(v, lo, _CMP_GE_OQ),
                                        _mm256_cmp_ps(v, hi, _CMP_LE_OQ));
        if (_mm256_movemask_ps(ok) != 0xff) {
            for (int j = 0; j < 8; j++) y[i + j] = expf(x[i + j]);
            continue;
        }
        const __m128 e0 = exp4(_mm256_castps256_ps128(v)), e1 = exp4(_mm256_extractf128_ps(v, 1));
        _mm256_storeu_ps(y + i, _mm256_set_m128(e1, e0));
    }
    for (; i < n; i++) y[i] = expf(x[i]);
}

/* True when the AVX2 path gives expf's bits on n spread arguments in
 * [−103, 88] and a few exact ones. */
static bool avx2_matches_libm(void) {
    enum { N = 4096 };
    float x[N], got[N];
    for (int i = 0; i < N; i++) x[i] = -103.0f + 191.0f * (float)i / (float)(N - 1);
    const float exact[] = {0.0f, -0.0f, 1.0f, -1.0f, 0.5f, -87.5f, -0x1.f8cbb2p+5f, 1e-30f};
    memcpy(x, exact, sizeof exact);
    exp_avx2(x, got, N);
    for (int i = 0; i < N; i++) {
        float want = expf(x[i]);
        if (memcmp(&want, &got[i], sizeof want) != 0) return false;
    }
    return true;
}
#endif

static void exp_init(void) {
#if CPU_EXP_AVX2
    for (int i = 0; i < EXP_TABLE; i++) {
        double v = (double)exp2l((long double)i / EXP_TABLE);
        uint64_t bits;
        memcpy(&bits, &v, sizeof bits);
        exp_table[i] = bits - ((uint64_t)i << (52 - 5));
    }
    __builtin_cpu_init();
    vector_exact = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                   avx2_matches_libm();
#endif
}

bool cpu_exp_exact(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, exp_init);
    return vector_exact;
}

void cpu_exp(const float *x, float *y, int64_t n) {
#if CPU_EXP_AVX2
    if (cpu_exp_exact()) {
        exp_avx2(x, y, n);
        return;
    }
#endif
    for (int64_t i = 0; i < n; i++) y[i] = expf(x[i]);
}

double cpu_sum_exp_shifted(const float *x, float sub, int64_t n) {
    enum { CHUNK = 256 };
    float e[CHUNK];
    double sum = 0.0;
    for (int64_t i0 = 0; i0 < n; i0 += CHUNK) {
        int64_t m = n - i0 < CHUNK ? n - i0 : CHUNK;
        for (int64_t j = 0; j < m; j++) e[j] = x[i0 + j] - sub;
        cpu_exp(e, e, m);
        for (int64_t j = 0; j < m; j++) sum += (double)e[j];
    }
    return sum;
}

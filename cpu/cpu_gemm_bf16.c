/* GEMM of bf16 values (the bf16-mixed precision of mrg_matmul) on the CPU.
 *
 * The front end hands over A and B whose values are bf16 already (rounded
 * f32, or bf16 storage for B), so every product is exact in f32 and the
 * only freedom left is the order of the f32 sums:
 *
 *   AVX512-BF16 CPUs: our own kernel. Debian's OpenBLAS 0.3.21 is built
 *     without BUILD_BFLOAT16 (libopenblas exports no cblas_sbgemm although
 *     cblas.h declares it) and oneDNN is not a dependency, so the kernel is
 *     ours: op(A) is packed as bf16 rows, op(B) in tiles of 32 columns
 *     with each k pair side by side; an 8×32 tile of C is 16 zmm
 *     accumulators, each step broadcasting one row's k pair against two
 *     zmm of the B tile in vdpbf16ps (32 products per instruction, twice
 *     the f32 FMA's count per register; no horizontal sums). Packing takes
 *     the top half of each f32, which is exact here.
 *   Other CPUs (or MRG_CPU_BF16=off): the f32 GEMM on the same values (the
 *     "converted" path): the same products, summed by sgemm. A notice says
 *     so once per process.
 *
 * Small products (M·N·K below CPU_BF16_MIN_MNK, or the GEMV shapes of
 * decoding) also take the f32 path: packing would cost more than it saves. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "cpu/cpu.h"
#include "mrg/cpu.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define CPU_HAVE_BF16_KERNEL 1
#include <immintrin.h>
#else
#define CPU_HAVE_BF16_KERNEL 0
#endif

#define CPU_BF16_MIN_MNK (64.0 * 64.0 * 64.0)
#define MR 8     /* rows of a C tile: 16 zmm accumulators with NR */
#define NR 32    /* columns of a C tile: two zmm of f32 */
#define MB 64    /* rows of A per parallel block (stays in L2) */
#define NB 512   /* columns of op(B) packed at a time */

bool cpu_bf16_native(void) {
    const char *env = getenv("MRG_CPU_BF16");
    if (env && (!strcmp(env, "off") || !strcmp(env, "0"))) return false;
#if CPU_HAVE_BF16_KERNEL
    return mrg_cpu_isa_has(mrg_cpu_isa_get(), MRG_CPU_AVX512_BF16);
#else
    return false;
#endif
}

static void notice_converted(void) {
    static atomic_flag said = ATOMIC_FLAG_INIT;
    if (atomic_flag_test_and_set(&said)) return;
    fprintf(stderr,
            "mrg: note: bf16-mixed: no AVX512-BF16 on this CPU%s, which mrg's bf16 GEMM kernel "
            "needs; the GEMM operands are rounded to bf16 and multiplied in f32 (same products, "
            "slower)\n",
            getenv("MRG_CPU_BF16") ? " (or MRG_CPU_BF16=off)" : "");
}

#if CPU_HAVE_BF16_KERNEL

static inline uint16_t top_half(mrg_dtype dt, const void *base, int64_t i) {
    if (dt == MRG_BF16) return ((const uint16_t *)base)[i];
    uint32_t u;
    memcpy(&u, (const float *)base + i, sizeof u);
    return (uint16_t)(u >> 16);
}

/* op(A) (element (m, k) at m·rs + k·ks of A) → pa: Mp rows of Kp bf16
 * (k pairs adjacent), zero-padded. The loops follow A's contiguous index. */
static void pack_a_block_t(const float *a, int64_t lda, uint16_t *d, int64_t ldd);

/* d[0..n) = the top halves of the f32 values a[0..n): sixteen at a time,
 * shifted down and narrowed by vpmovdw */
__attribute__((target("avx512f"))) static void top_halves(const float *a, int64_t n, uint16_t *d) {
    int64_t k = 0;
    for (; k + 16 <= n; k += 16) {
        __m512i v = _mm512_srli_epi32(_mm512_loadu_si512(a + k), 16);
        _mm256_storeu_si256((__m256i *)(d + k), _mm512_cvtepi32_epi16(v));
    }
    for (; k < n; k++) d[k] = top_half(MRG_F32, a, k);
}

static void pack_a(const float *A, int64_t rs, int64_t ks, int64_t M, int64_t Mp, int64_t K,
                   int64_t Kp, uint16_t *pa) {
    if (ks == 1) {
#pragma omp parallel for if (M * K > CPU_PAR_MIN) schedule(static)
        for (int64_t m = 0; m < Mp; m++) {
            uint16_t *d = pa + m * Kp;
            int64_t k = 0;
            if (m < M) {
                top_halves(A + m * rs, K, d);
                k = K;
            }
            for (; k < Kp; k++) d[k] = 0;
        }
        return;
    }
    /* transposed A: rows of A are k; 64 of op(A)'s rows at a time so that
     * the writes stay in cache, whole 16 × 16 blocks through registers */
#pragma omp parallel for if (M * K > CPU_PAR_MIN) schedule(static)
    for (int64_t m0 = 0; m0 < Mp; m0 += 64) {
        int64_t m1 = m0 + 64 < Mp ? m0 + 64 : Mp;
        for (int64_t mb = m0; mb < m1; mb += 16) {
            int64_t me = mb + 16 < m1 ? mb + 16 : m1, k = 0;
            if (rs == 1 && me - mb == 16 && me <= M)
                for (; k + 16 <= K; k += 16) pack_a_block_t(A + k * ks + mb, ks, pa + mb * Kp + k, Kp);
            for (; k < Kp; k++)
                for (int64_t m = mb; m < me; m++)
                    pa[m * Kp + k] = m < M && k < K ? top_half(MRG_F32, A, m * rs + k * ks) : 0;
        }
    }
}

/* The bf16 pair (B[i], B[i + 1]) as one 32-bit word, first value in the low
 * half (the order vdpbf16ps reads); i + 1 past the end reads as zero. */
static inline uint32_t pair_at(mrg_dtype dt, const void *B, int64_t i, int64_t step, bool second) {
    uint32_t lo = top_half(dt, B, i), hi = second ? top_half(dt, B, i + step) : 0;
    return lo | hi << 16;
}

/* r[0..16) as a 16×16 matrix of 32-bit words, transposed in registers
 * (32-bit, 64-bit and two 128-bit lane interleaves). */
__attribute__((target("avx512f"))) static inline void transpose16(__m512i r[16]) {
    __m512i t[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; i++) {
        r[4 * i] = _mm512_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
        r[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
        r[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
        r[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
    }
    for (int h = 0; h < 2; h++)
        for (int i = 0; i < 4; i++) {
            t[8 * h + i] = _mm512_shuffle_i32x4(r[8 * h + i], r[8 * h + 4 + i], 0x88);
            t[8 * h + 4 + i] = _mm512_shuffle_i32x4(r[8 * h + i], r[8 * h + 4 + i], 0xdd);
        }
    for (int i = 0; i < 8; i++) {
        r[i] = _mm512_shuffle_i32x4(t[i], t[8 + i], 0x88);
        r[8 + i] = _mm512_shuffle_i32x4(t[i], t[8 + i], 0xdd);
    }
}

/* d (16 rows ldd apart, 16 bf16 each) = the top halves of a's 16 × 16 f32
 * block (rows lda apart) transposed: d's row j is a's column j. */
__attribute__((target("avx512f"))) static void pack_a_block_t(const float *a, int64_t lda, uint16_t *d,
                                                                int64_t ldd) {
    __m512i r[16];
    for (int i = 0; i < 16; i++) r[i] = _mm512_loadu_si512(a + i * lda);
    transpose16(r);
    for (int j = 0; j < 16; j++)
        _mm256_storeu_si256((__m256i *)(d + j * ldd), _mm512_cvtepi32_epi16(_mm512_srli_epi32(r[j], 16)));
}

/* 16 columns × 16 k pairs of a transposed B into a tile: column j's values
 * 2·p0 .. 2·p0 + 31 start at element row + j·rs of B; pair p0 + i of the
 * 16 columns goes to the 16 words dst[i·NR ..]. A row's 16 pairs are one
 * zmm (bf16: a plain load; f32: the top halves of 32 values picked by one
 * word permute), and the 16×16 words are transposed in registers, so the
 * stores are whole 64-byte lines instead of one word per 128 bytes. */
__attribute__((target("avx512f,avx512bw"))) static void pack_16x16(mrg_dtype dt, const void *B,
                                                                     int64_t row, int64_t rs,
                                                                     uint32_t *dst) {
    __m512i r[16];
    if (dt == MRG_BF16) {
        for (int j = 0; j < 16; j++) r[j] = _mm512_loadu_si512((const uint16_t *)B + row + j * rs);
    } else {
        /* the top half of float e is 16-bit word 2e + 1 */
        const __m512i odd = _mm512_set_epi16(63, 61, 59, 57, 55, 53, 51, 49, 47, 45, 43, 41, 39, 37, 35,
                                             33, 31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
        for (int j = 0; j < 16; j++) {
            const float *f = (const float *)B + row + j * rs;
            r[j] = _mm512_permutex2var_epi16(_mm512_loadu_si512(f), odd, _mm512_loadu_si512(f + 16));
        }
    }
    transpose16(r);
    for (int i = 0; i < 16; i++) _mm512_storeu_si512(dst + i * NR, r[i]);
}

/* Columns [n0, n0 + nb) of op(B) (element (k, n) at n·rs + k·ks of B) →
 * pb in tiles of NR columns: tile t, pair p holds for each column j the two
 * values (2p, 2p + 1) side by side, the layout vdpbf16ps multiplies:
 * pb[((t·Kp/2 + p)·NR + j)·2 + r], i.e. 32-bit word (t·Kp/2 + p)·NR + j.
 * Zero-padded past nb and K. Whole pairs move as one word; the inner loop
 * follows B's contiguous index (k for a transposed B, n otherwise). This
 * packing is on the prefill's critical path (its B is a weight matrix read
 * once per call for 128 rows of A), so the loops carry no per-element
 * bounds test: element-wise packing took as long as the products. */
static void pack_b(mrg_dtype dt, const void *B, int64_t rs, int64_t ks, int64_t n0, int64_t nb,
                   int64_t K, int64_t Kp, uint16_t *pb) {
    int64_t tiles = (nb + NR - 1) / NR, pairs = Kp / 2, full = K / 2;
#pragma omp parallel for if (nb * K > CPU_PAR_MIN) schedule(static)
    for (int64_t t = 0; t < tiles; t++) {
        uint32_t *tile = (uint32_t *)(void *)(pb + t * pairs * NR * 2);
        int64_t cols = nb - t * NR < NR ? nb - t * NR : NR;
        if (ks == 1) { /* op(B)'s column n is row n0 + n of B: read along it */
            /* whole tiles: 16 × 16 blocks in registers, the rest word by word */
            int64_t done = cols == NR ? full / 16 * 16 : 0;
            for (int64_t p0 = 0; p0 < done; p0 += 16)
                for (int64_t j0 = 0; j0 < NR; j0 += 16)
                    pack_16x16(dt, B, (n0 + t * NR + j0) * rs + 2 * p0, rs, tile + p0 * NR + j0);
            for (int64_t j = 0; j < cols; j++) {
                int64_t row = (n0 + t * NR + j) * rs;
                for (int64_t p = done; p < full; p++) tile[p * NR + j] = pair_at(dt, B, row + 2 * p, 1, true);
                if (full < pairs) tile[full * NR + j] = pair_at(dt, B, row + 2 * full, 1, false);
            }
        } else { /* op(B)'s row k is row k of B: read two of them along n */
            for (int64_t p = 0; p < pairs; p++) {
                int64_t row = 2 * p * ks + (n0 + t * NR) * rs;
                bool second = p < full;
                for (int64_t j = 0; j < cols; j++) tile[p * NR + j] = pair_at(dt, B, row + j * rs, ks, second);
            }
        }
        for (int64_t j = cols; j < NR; j++) /* columns past nb */
            for (int64_t p = 0; p < pairs; p++) tile[p * NR + j] = 0;
    }
}

/* The packing buffer, kept for the thread's next call when it is small:
 * allocating it anew each call costs a page fault per 4 KiB touched, as
 * much as the packing itself for N = 1024. A larger one (a big product,
 * whose arithmetic dwarfs the faults) is freed after its call, so that it
 * does not add to the process's peak memory. */
#define PACK_KEEP_BYTES ((size_t)16 << 20)
static _Thread_local uint16_t *pack_buf;
static _Thread_local size_t pack_cap;

static uint16_t *pack_space(size_t values) {
    size_t bytes = (values * 2 + 63) & ~(size_t)63;
    if (bytes <= pack_cap) return pack_buf;
    free(pack_buf);
    pack_buf = aligned_alloc(64, bytes);
    pack_cap = pack_buf ? bytes : 0;
    return pack_buf;
}

/* The C tile (rows ≤ MR, cols ≤ NR, rows ldc apart) = alpha·(the rows a,
 * MR rows of Kp bf16, times the packed tile b) + beta·C: per k pair, each
 * row's pair is broadcast and multiplied with the tile's NR columns (two
 * zmm) by vdpbf16ps, so no horizontal sum is needed; the sums go to C from
 * the registers, masked past cols (a scalar write-back through a stack
 * tile took a fifth of the kernel's time). The scaling is two products and
 * a sum, each rounded (as the f32 path computes it), never a fused
 * multiply-add: keep() stops the compiler from contracting them. */
__attribute__((target("avx512f,avx512bf16"))) static inline __m512 keep(__m512 v) {
    __asm__("" : "+v"(v));
    return v;
}

__attribute__((target("avx512f,avx512bf16"))) static void micro(const uint16_t *a,
                                                                   const uint16_t *b,
                                                                   int64_t Kp, float *C,
                                                                   int64_t ldc, int rows,
                                                                   int cols, float alpha,
                                                                   float beta) {
    /* the loops over i are unrolled so that the 16 accumulators live in
     * registers (without it GCC keeps c on the stack and every vdpbf16ps
     * waits for a store and a load: 40 % of the kernel's speed) */
    __m512 c[MR][2];
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++) {
        c[i][0] = _mm512_setzero_ps();
        c[i][1] = _mm512_setzero_ps();
    }
    for (int64_t p = 0; p < Kp / 2; p++) {
        __m512bh b0 = (__m512bh)_mm512_loadu_si512(b + p * NR * 2);
        __m512bh b1 = (__m512bh)_mm512_loadu_si512(b + p * NR * 2 + 32);
#pragma GCC unroll 8
        for (int i = 0; i < MR; i++) {
            int32_t pair;
            memcpy(&pair, a + i * Kp + 2 * p, sizeof pair);
            __m512bh av = (__m512bh)_mm512_set1_epi32(pair);
            c[i][0] = _mm512_dpbf16_ps(c[i][0], av, b0);
            c[i][1] = _mm512_dpbf16_ps(c[i][1], av, b1);
        }
    }
    const __mmask16 m0 = cols >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << cols) - 1u);
    const __mmask16 m1 = cols >= 32   ? (__mmask16)0xFFFF
                         : cols <= 16 ? (__mmask16)0
                                      : (__mmask16)((1u << (cols - 16)) - 1u);
    const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++) {
        if (i >= rows) break;
        __m512 r0 = keep(_mm512_mul_ps(va, c[i][0])), r1 = keep(_mm512_mul_ps(va, c[i][1]));
        float *ci = C + i * ldc;
        if (beta != 0.0f) {
            r0 = _mm512_add_ps(r0, keep(_mm512_mul_ps(vb, _mm512_maskz_loadu_ps(m0, ci))));
            r1 = _mm512_add_ps(r1, keep(_mm512_mul_ps(vb, _mm512_maskz_loadu_ps(m1, ci + 16))));
        }
        _mm512_mask_storeu_ps(ci, m0, r0);
        _mm512_mask_storeu_ps(ci + 16, m1, r1);
    }
}

/* One batch item: C (M×N, ldc) = alpha·op(A)·op(B) + beta·C.
 * op(A) is packed whole; op(B) in blocks of NB columns, each processed in
 * parallel as blocks of MB rows of A against tiles of NR columns. (Blocking
 * k as well, with C accumulated per block, measured slower on Zen 4: the
 * extra passes over C cost more than the cache reuse saved.) */
static mrg_status item(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha,
                       const float *A, int64_t lda, const void *B, mrg_dtype bdt, int64_t ldb,
                       float beta, float *C, int64_t ldc) {
    int64_t Kp = (K + 1) / 2 * 2, Mp = (M + MR - 1) / MR * MR;
    int64_t nbw = (N < NB ? N : NB + NR - 1) / NR * NR + NR;
    uint16_t *pa = pack_space((size_t)(Mp + nbw) * (size_t)Kp);
    if (!pa)
        return mrg_error(MRG_ERR_OOM, "cpu gemm_bf16: cannot allocate %lld packed bf16 values",
                         (long long)((Mp + nbw) * Kp));
    uint16_t *pb = pa + Mp * Kp;
    /* op(A)(m, k): A[m·lda + k], or A[k·lda + m] when transposed */
    pack_a(A, ta ? 1 : lda, ta ? lda : 1, M, Mp, K, Kp, pa);
    int64_t mblocks = (Mp + MB - 1) / MB;
    for (int64_t n0 = 0; n0 < N; n0 += NB) {
        int64_t nb = N - n0 < NB ? N - n0 : NB, tiles = (nb + NR - 1) / NR;
        /* op(B)(k, n) = B[n·ldb + k] when transposed, else B[k·ldb + n] */
        pack_b(bdt, B, tb ? ldb : 1, tb ? 1 : ldb, n0, nb, K, Kp, pb);
#pragma omp parallel for schedule(dynamic, 1)
        for (int64_t q = 0; q < mblocks * tiles; q++) {
            /* a block of A rows against one B tile (which stays in L2) */
            int64_t mb = q % mblocks, t = q / mblocks;
            int64_t m_end = (mb + 1) * MB < Mp ? (mb + 1) * MB : Mp;
            int64_t cols = nb - t * NR < NR ? nb - t * NR : NR;
            for (int64_t m = mb * MB; m < m_end && m < M; m += MR)
                micro(pa + m * Kp, pb + t * (Kp / 2) * NR * 2, Kp, C + m * ldc + n0 + t * NR, ldc,
                      (int)(M - m < MR ? M - m : MR), (int)cols, alpha, beta);
        }
    }
    if (pack_cap > PACK_KEEP_BYTES) {
        free(pack_buf);
        pack_buf = NULL;
        pack_cap = 0;
    }
    return MRG_OK;
}
#endif

mrg_status cpu_gemm_bf16(mrg_device *dev, bool trans_a, bool trans_b, int64_t M, int64_t N,
                         int64_t K, float alpha, mrg_ptr A, int64_t lda, int64_t stride_a,
                         mrg_ptr B, int64_t ldb, int64_t stride_b, float beta, mrg_ptr C,
                         int64_t ldc, int64_t stride_c, int64_t batch) {
    bool native = cpu_bf16_native();
    if (!native) notice_converted();
#if CPU_HAVE_BF16_KERNEL
    bool small = (double)M * (double)N * (double)K < CPU_BF16_MIN_MNK || M <= 8 || K < 2;
    if (native && !small && B.dt != MRG_F16 && batch >= 1 && A.dt == MRG_F32 &&
        C.dt == MRG_F32 && M > 0 && N > 0 && K > 0) {
        /* the f32 path's argument checks first (sizes, strides, bounds) */
        int64_t a_rows = trans_a ? K : M, a_cols = trans_a ? M : K;
        int64_t b_rows = trans_b ? N : K, b_cols = trans_b ? K : N;
        if (lda < a_cols || ldb < b_cols || ldc < N || stride_a < 0 || stride_b < 0 ||
            stride_c < 0 || M > INT32_MAX || N > INT32_MAX || K > INT32_MAX)
            return cpu_gemm(dev, trans_a, trans_b, M, N, K, alpha, A, lda, stride_a, B, ldb,
                            stride_b, beta, C, ldc, stride_c, batch); /* it says what is wrong */
        mrg_status st = cpu_check("gemm_bf16", "A", A,
                                  (batch - 1) * stride_a + (a_rows - 1) * lda + a_cols,
                                  CPU_DT(MRG_F32));
        if (st == MRG_OK)
            st = cpu_check("gemm_bf16", "B", B, (batch - 1) * stride_b + (b_rows - 1) * ldb + b_cols,
                           CPU_DT(MRG_F32) | CPU_DT(MRG_BF16));
        if (st == MRG_OK)
            st = cpu_check("gemm_bf16", "C", C, (batch - 1) * stride_c + (M - 1) * ldc + N,
                           CPU_DT(MRG_F32));
        if (st != MRG_OK) return st;
        const float *pa = cpu_f32(A);
        float *pc = cpu_f32(C);
        const char *pbb = cpu_addr(B);
        size_t bes = cpu_dtype_size(B.dt);
        for (int64_t b = 0; b < batch && st == MRG_OK; b++)
            st = item(trans_a, trans_b, M, N, K, alpha, pa + b * stride_a, lda,
                      pbb + (size_t)(b * stride_b) * bes, B.dt, ldb, beta, pc + b * stride_c, ldc);
        return st;
    }
#endif
    return cpu_gemm(dev, trans_a, trans_b, M, N, K, alpha, A, lda, stride_a, B, ldb, stride_b,
                    beta, C, ldc, stride_c, batch);
}

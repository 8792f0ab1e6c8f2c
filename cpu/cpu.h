/* Internal header of the CPU backend: state, pointer and dtype helpers, and
 * the kernel entry points that backend_cpu.c puts into the vtable.
 *
 * Buffers are host memory (aligned_alloc(64, ...)); a mrg_ptr addresses
 * buf->handle + off elements. Kernels run synchronously on the calling
 * thread with OpenMP inside, so sync() is a no-op. */
#ifndef MRG_CPU_H
#define MRG_CPU_H

#include <stdint.h>
#include <string.h>

#include "core/backend.h"

/* Backend state hung off mrg_device.ctx. A device is driven by one host
 * thread at a time (like an in-order OpenCL queue), so the GEMM scratch is
 * not locked. */
typedef struct cpu_ctx {
    int threads;           /* OpenMP threads used by kernels */
    float *scratch;        /* f32 staging for bf16/f16 GEMM operand chunks */
    size_t scratch_floats; /* capacity of scratch */
} cpu_ctx;

/* Bytes of f32 scratch for one converted chunk of a bf16/f16 GEMM operand:
 * bounded so that a 7B model's weights are never expanded to f32. */
#define CPU_GEMM_CHUNK_BYTES ((size_t)4 << 20)

/* Element counts above which a loop is worth an OpenMP team. */
#define CPU_PAR_MIN 16384

static inline cpu_ctx *cpu_ctx_of(mrg_device *dev) { return (cpu_ctx *)dev->ctx; }

static inline size_t cpu_dtype_size(mrg_dtype dt) {
    return (dt == MRG_BF16 || dt == MRG_F16) ? 2 : 4;
}

static inline bool cpu_is_float(mrg_dtype dt) {
    return dt == MRG_F32 || dt == MRG_BF16 || dt == MRG_F16;
}

/* Host address of the element a ptr names. */
static inline void *cpu_addr(mrg_ptr p) {
    return (char *)p.buf->handle + (size_t)p.off * cpu_dtype_size(p.dt);
}
static inline float *cpu_f32(mrg_ptr p) { return (float *)p.buf->handle + p.off; }
static inline int32_t *cpu_i32(mrg_ptr p) { return (int32_t *)p.buf->handle + p.off; }
static inline uint16_t *cpu_u16(mrg_ptr p) { return (uint16_t *)p.buf->handle + p.off; }

/* The bits of an f32 and back (memcpy: no aliasing questions; compiles
 * to nothing, and inside vectorised loops). */
static inline uint32_t cpu_f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}
static inline float cpu_bits_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* bf16 is the upper half of an f32. */
static inline float cpu_bf16_to_f32(uint16_t h) { return cpu_bits_f32((uint32_t)h << 16); }

/* x rounded to the nearest bf16 (ties to even), as f32; NaN and inf stay.
 * A select, not a branch, so that loops over it vectorise. */
static inline float cpu_round_bf16(float x) {
    uint32_t u = cpu_f32_bits(x), r = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
    return cpu_bits_f32((u & 0x7fffffffu) <= 0x7f800000u ? r : u);
}

/* IEEE half → f32 without branches, so loops over it vectorise: shift the
 * exponent and mantissa into f32 position and rescale by 2^(127−15), which
 * also turns half subnormals (f32 subnormals after the shift) into the
 * right normal f32; inf/nan (exponent 31) are patched in with a bit mask.
 * Needs denormals not flushed to zero (the library never sets FTZ/DAZ). */
static inline float cpu_f16_to_f32(uint16_t h) {
    uint32_t mag = (uint32_t)(h & 0x7fffu) << 13;
    uint32_t u = cpu_f32_bits(cpu_bits_f32(mag) * 0x1p112f);
    uint32_t special = (uint32_t)0 - (uint32_t)((h & 0x7c00u) == 0x7c00u); /* all ones or 0 */
    u = (u & ~special) | ((0x7f800000u | mag) & special);
    u |= (uint32_t)(h & 0x8000u) << 16;
    return cpu_bits_f32(u);
}

/* r + Σ_{from <= q < K} a[q]·b[q], b stored as halves of dt, added in order:
 * the scalar tail the GEMV dot products leave after their vector steps */
static inline float cpu_dot_half_tail(mrg_dtype dt, const uint16_t *b, const float *a, int64_t from, int64_t K,
                                      float r) {
    for (int64_t q = from; q < K; q++) r += a[q] * (dt == MRG_BF16 ? cpu_bf16_to_f32(b[q]) : cpu_f16_to_f32(b[q]));
    return r;
}

/* Hot loops get an AVX2+FMA clone picked at load time on x86-64 (the build
 * itself targets baseline x86-64). The CPU kernels build with -O3's
 * vectorisation cost model (CMakeLists.txt); a loop that must vectorise
 * whatever the compiler's cost model says carries `#pragma omp simd`. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define CPU_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define CPU_CLONES
#endif
/* An AVX2 clone without FMA, for loops whose results must not depend on the
 * CPU: with no FMA nothing is contracted, vectorising never reorders a sum
 * (no -fassociative-math), so each element is computed by the same
 * operations in the same order as in the baseline clone, bit for bit. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define CPU_CLONES_EXACT __attribute__((target_clones("avx2", "default")))
#else
#define CPU_CLONES_EXACT
#endif

/* Rows of activations up to which a product with half weights is a GEMV
 * (decoding, beam search) rather than a converted sgemm. */
#define CPU_SMALL_M 8
/* CALL(m) with m the compile-time constant equal to M in 1..CPU_SMALL_M (8
 * for anything larger), so that the GEMV kernels unroll over the rows */
#define CPU_SWITCH_ROWS(M, CALL)                                                                   \
    switch (M) {                                                                                   \
    case 1: CALL(1); break;                                                                        \
    case 2: CALL(2); break;                                                                        \
    case 3: CALL(3); break;                                                                        \
    case 4: CALL(4); break;                                                                        \
    case 5: CALL(5); break;                                                                        \
    case 6: CALL(6); break;                                                                        \
    case 7: CALL(7); break;                                                                        \
    default: CALL(8); break;                                                                       \
    }

/* cpu_activation.c: gelu and silu (MRG_UN_GELU, MRG_UN_SILU) of n floats,
 * forward y = f(x) and backward dx = dy·f'(x), vectorised. */
void cpu_activation_forward(mrg_unop op, const float *x, float *y, int64_t n);
void cpu_activation_backward(mrg_unop op, const float *x, const float *dy, float *dx, int64_t n);

/* cpu_exp.c: y[i] = expf(x[i]) for i < n with the C library's bits, eight
 * at a time on AVX2+FMA CPUs (x and y may be the same array);
 * cpu_sum_exp_shifted: Σ_i expf(x[i] − sub) in double, in the order of i (the
 * bits of that plain loop); cpu_exp_exact: whether the vector path is on
 * (an AVX2+FMA CPU, and it matched this libm's expf in its check). */
void cpu_exp(const float *x, float *y, int64_t n);
double cpu_sum_exp_shifted(const float *x, float sub, int64_t n);
bool cpu_exp_exact(void);

/* cpu_gemv_avx2.c: four stored rows of half weights against 2 to 4 rows of
 * activations (a beam step, a short prompt), on AVX2+FMA+F16C CPUs
 * (cpu_gemv_avx2()); s as cpu_dot4_rows_half_avx512's. */
#if defined(__x86_64__) && defined(__GNUC__)
#define CPU_HAVE_AVX2_GEMV 1
bool cpu_gemv_avx2(void);
void cpu_dot4_rows_half_avx2(mrg_dtype dt, const uint16_t *b, int64_t ldb, int64_t K, const float *a,
                             int64_t lda, int M, float *s);
#else
#define CPU_HAVE_AVX2_GEMV 0
#endif

/* cpu_gemv_avx512.c: those GEMVs' dot products with 16-lane chains, on CPUs
 * with AVX-512 (cpu_gemv_avx512()). s[m] = Σ_k a_m[k]·b[k]
 * for m < M <= CPU_SMALL_M, a_m = a + m·lda, b one stored row of K halves. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define CPU_HAVE_AVX512_GEMV 1
bool cpu_gemv_avx512(void);
void cpu_dot_rows_half_avx512(mrg_dtype dt, const uint16_t *b, int64_t K, const float *a, int64_t lda, int M,
                              float *s);
/* The same for 4 stored rows b_j = b + j·ldb at once (each activation
 * vector loaded once for the 4): s[j·CPU_SMALL_M + m], j < 4. */
void cpu_dot4_rows_half_avx512(mrg_dtype dt, const uint16_t *b, int64_t ldb, int64_t K, const float *a,
                               int64_t lda, int M, float *s);
#else
#define CPU_HAVE_AVX512_GEMV 0
#endif

/* n elements of a float dtype (f32/bf16/f16) starting at src → f32 dst. */
void cpu_to_f32(mrg_dtype dt, const void *src, float *dst, int64_t n);

/* A ptr with buf == NULL is "absent" (optional operand). */
static inline bool cpu_present(mrg_ptr p) { return p.buf != NULL; }

/* MRG_OK when elements [off, off + n) of p lie inside its buffer and p has
 * one of the allowed dtypes (mask of 1 << dtype); otherwise an error naming
 * the kernel and the operand. */
mrg_status cpu_check(const char *kernel, const char *name, mrg_ptr p, int64_t n,
                     unsigned dtypes);
/* The same for a strided operand: the largest element touched is
 * Σ (shape_k − 1)·|stride_k|; negative strides are rejected. */
mrg_status cpu_check_strided(const char *kernel, const char *name, mrg_ptr p, int ndim,
                             const int64_t *shape, const int64_t *stride, unsigned dtypes);

#define CPU_DT(d) (1u << (d))
#define CPU_FLOATS (CPU_DT(MRG_F32) | CPU_DT(MRG_BF16) | CPU_DT(MRG_F16))

/* An operand for cpu_check_f32: its name in messages, the ptr and its
 * element count. */
typedef struct cpu_arg {
    const char *name;
    mrg_ptr p;
    int64_t n;
} cpu_arg;
/* cpu_check of f32 operands in order (the first failure is reported):
 * CPU_CHECK_F32("rmsnorm", {"x", x, n}, {"rstd", rstd, rows}). */
mrg_status cpu_check_f32(const char *kernel, int n_args, const cpu_arg *args);
#define CPU_CHECK_F32(kernel, ...)                                                             \
    cpu_check_f32((kernel), (int)(sizeof((cpu_arg[]){__VA_ARGS__}) / sizeof(cpu_arg)),        \
                  (cpu_arg[]){__VA_ARGS__})

/* ---- op families (one file each; see the table in core/backend.h) -- */

/* cpu_elementwise.c */
mrg_status cpu_fill(mrg_device *dev, mrg_ptr dst, int64_t n, float value);
mrg_status cpu_convert(mrg_device *dev, mrg_ptr src, mrg_ptr dst, int64_t n);
mrg_status cpu_copy_strided(mrg_device *dev, mrg_ptr src, mrg_ptr dst, int ndim,
                            const int64_t *shape, const int64_t *src_stride,
                            const int64_t *dst_stride, bool accumulate);
mrg_status cpu_convert_strided(mrg_device *dev, mrg_ptr src, mrg_ptr dst, int ndim,
                               const int64_t *shape, const int64_t *src_stride,
                               const int64_t *dst_stride);
mrg_status cpu_binary(mrg_device *dev, mrg_binop op, mrg_ptr a, mrg_ptr b, mrg_ptr out,
                      int ndim, const int64_t *shape, const int64_t *a_stride,
                      const int64_t *b_stride);
mrg_status cpu_unary(mrg_device *dev, mrg_unop op, mrg_ptr x, mrg_ptr y, int64_t n,
                     float alpha);
mrg_status cpu_unary_backward(mrg_device *dev, mrg_unop op, mrg_ptr x, mrg_ptr dy, mrg_ptr dx,
                              int64_t n);

/* cpu_matmul.c */
mrg_status cpu_gemm(mrg_device *dev, bool trans_a, bool trans_b, int64_t M, int64_t N,
                    int64_t K, float alpha, mrg_ptr A, int64_t lda, int64_t stride_a,
                    mrg_ptr B, int64_t ldb, int64_t stride_b, float beta, mrg_ptr C,
                    int64_t ldc, int64_t stride_c, int64_t batch);

/* cpu_softmax.c */
/* gemm of bf16 values (core/backend.h gemm_bf16; cpu_gemm_bf16.c). */
mrg_status cpu_gemm_bf16(mrg_device *dev, bool trans_a, bool trans_b, int64_t M, int64_t N,
                         int64_t K, float alpha, mrg_ptr A, int64_t lda, int64_t stride_a,
                         mrg_ptr B, int64_t ldb, int64_t stride_b, float beta, mrg_ptr C,
                         int64_t ldc, int64_t stride_c, int64_t batch);
/* Whether gemm_bf16 runs bf16 instructions here (AVX512-BF16 and not
 * MRG_CPU_BF16=off) rather than the f32 GEMM on the rounded values. */
bool cpu_bf16_native(void);
mrg_status cpu_softmax(mrg_device *dev, mrg_ptr x, mrg_ptr y, int64_t rows, int64_t cols,
                       int64_t causal_tq, bool log);
mrg_status cpu_softmax_backward(mrg_device *dev, mrg_ptr y, mrg_ptr dy, mrg_ptr dx,
                                int64_t rows, int64_t cols, bool log);

/* cpu_select.c */
mrg_status cpu_select_topk(mrg_device *dev, const mrg_select_dims *d, mrg_ptr logits,
                           mrg_ptr hist_in, mrg_ptr src, mrg_ptr tok, mrg_ptr hist_out,
                           mrg_ptr work, mrg_ptr out);

/* cpu_sdpa.c */
mrg_status cpu_sdpa(mrg_device *dev, const mrg_sdpa_dims *d, mrg_ptr q, mrg_ptr k, mrg_ptr v,
                    mrg_ptr mask, mrg_ptr rows, mrg_ptr o, mrg_ptr lse);
mrg_status cpu_sdpa_backward(mrg_device *dev, const mrg_sdpa_dims *d, mrg_ptr q, mrg_ptr k,
                             mrg_ptr v, mrg_ptr mask, mrg_ptr o, mrg_ptr lse, mrg_ptr dout,
                             mrg_ptr dq, mrg_ptr dk, mrg_ptr dv);

/* cpu_cross_entropy.c */
mrg_status cpu_cross_entropy(mrg_device *dev, mrg_ptr logits, mrg_ptr targets, mrg_ptr loss,
                             int64_t rows, int64_t V, int ignore);
mrg_status cpu_cross_entropy_backward(mrg_device *dev, mrg_ptr logits, mrg_ptr targets,
                                      mrg_ptr dloss, mrg_ptr dlogits, int64_t rows, int64_t V,
                                      int ignore);

/* cpu_norm.c */
mrg_status cpu_layernorm(mrg_device *dev, mrg_ptr x, mrg_ptr w, mrg_ptr b, mrg_ptr y,
                         mrg_ptr mean, mrg_ptr rstd, int64_t rows, int64_t cols, float eps);
mrg_status cpu_layernorm_backward(mrg_device *dev, mrg_ptr x, mrg_ptr w, mrg_ptr mean,
                                  mrg_ptr rstd, mrg_ptr dy, mrg_ptr dx, mrg_ptr dw, mrg_ptr db,
                                  int64_t rows, int64_t cols);
mrg_status cpu_rmsnorm(mrg_device *dev, mrg_ptr x, mrg_ptr w, mrg_ptr y, mrg_ptr rstd,
                       int64_t rows, int64_t cols, float eps);
mrg_status cpu_rmsnorm_backward(mrg_device *dev, mrg_ptr x, mrg_ptr w, mrg_ptr rstd, mrg_ptr dy,
                                mrg_ptr dx, mrg_ptr dw, int64_t rows, int64_t cols);
mrg_status cpu_l2norm(mrg_device *dev, mrg_ptr x, mrg_ptr y, mrg_ptr norm, int64_t rows,
                      int64_t cols, float eps);
mrg_status cpu_l2norm_backward(mrg_device *dev, mrg_ptr x, mrg_ptr y, mrg_ptr norm, mrg_ptr dy,
                               mrg_ptr dx, int64_t rows, int64_t cols, float eps);

/* cpu_rope.c */
mrg_status cpu_rope(mrg_device *dev, mrg_ptr x, mrg_ptr y, int64_t outer, int64_t T,
                    int64_t heads, int64_t D, int64_t pos0, float theta, int layout,
                    bool inverse);

/* cpu_embedding.c */
mrg_status cpu_embedding(mrg_device *dev, mrg_ptr w, mrg_ptr ids, mrg_ptr out, int64_t n,
                         int64_t D, int64_t V);
mrg_status cpu_embedding_backward(mrg_device *dev, mrg_ptr dy, mrg_ptr ids, mrg_ptr dw,
                                  int64_t n, int64_t D, int64_t V);

/* cpu_reduce.c */
mrg_status cpu_reduce_sum(mrg_device *dev, mrg_ptr x, mrg_ptr y, int64_t outer, int64_t n,
                          int64_t inner, float scale);

/* cpu_optim.c */
mrg_status cpu_adamw(mrg_device *dev, mrg_ptr p, mrg_ptr g, mrg_ptr m, mrg_ptr v, int64_t n,
                     float lr, float b1, float b2, float eps, float wd, float bc1, float bc2);
mrg_status cpu_sum_squares(mrg_device *dev, mrg_ptr x, int64_t n, mrg_ptr acc);
mrg_status cpu_clip_scale(mrg_device *dev, mrg_ptr sumsq, mrg_ptr x, int64_t n, float max_norm);

#endif

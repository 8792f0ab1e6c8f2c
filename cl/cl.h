/* Internal header of the OpenCL backend (cl/): the backend context, the
 * kernel table and small helpers to set arguments and enqueue kernels.
 *
 * Conventions (DESIGN.md §2): a buffer's handle is a cl_mem; every kernel
 * takes (global T *base, ulong offset) pairs with element offsets, so the
 * arena can suballocate one cl_mem; everything is enqueued on one in-order
 * queue and nothing but download()/sync() waits for the device. */
#ifndef MRG_CL_CL_H
#define MRG_CL_CL_H

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>

#include "core/backend.h"

/* Every kernel of cl/kernels/ (.cl files) that the host calls, in one list. */
#define MRG_CL_KERNEL_LIST(X)                                                    \
    X(fill_f32) X(fill_i32) X(convert_to_f32) X(copy_strided) X(convert_strided) X(binary)         \
    X(unary) X(unary_backward) X(gemm_scale_c) \
    X(softmax_rows) X(softmax_backward_rows) X(layernorm_rows)                  \
    X(layernorm_backward_rows) X(norm_affine_partial) X(rmsnorm_rows)              \
    X(rmsnorm_backward_rows) X(rope) X(embedding) X(embedding_links) X(embedding_backward_partial) \
    X(embedding_backward_finish)         \
    X(colsum_partial) X(colsum_finish) X(reduce_sum_rows) X(l2norm_rows) X(l2norm_backward_rows) \
    X(ce_rows) X(ce_finish) X(ce_count) X(ce_backward_rows) X(adamw)            \
    X(sumsq_partial) X(sumsq_finish) X(clip_scale) X(gemv_fused) X(rope_store_kv)       \
    X(sdpa_decode) X(sdpa_fwd) X(sdpa_bwd_rowdot) X(sdpa_bwd_dkdv) X(sdpa_bwd_dq)         \
    X(select_topk)

typedef enum mrg_cl_kernel_id {
#define MRG_CL_ENUM(name) MRG_CLK_##name,
    MRG_CL_KERNEL_LIST(MRG_CL_ENUM)
#undef MRG_CL_ENUM
        MRG_CLK_COUNT
} mrg_cl_kernel_id;

/* Launch geometry chosen at init from the device limits (the -D options the
 * program was built with). */
typedef struct mrg_cl_tuning {
    size_t wg1d;        /* elementwise work-group size */
    size_t red_wg;      /* reduction work-group size (power of two) */
    size_t gemv_wg;     /* fused decoding GEMV (decode.cl) work-group size (power of two) */
    size_t attn_wg;     /* fused attention: most rows per work-group (power of two) */
} mrg_cl_tuning;

/* Fused attention (cl/kernels/sdpa.cl): rows of the other side per local
 * tile, and output columns per work-item. */
#define MRG_CL_ATT_KT 16
#define MRG_CL_ATT_CH 32

/* The parameters of the tunable GEMM program (cl/kernels/gemm.cl, whose
 * header explains each); `mrg tune` searches them per device. */
typedef struct mrg_cl_gemm_params {
    int tm, tn, tk, wm, wn, vw; /* register-blocked kernel */
    int sm_wg, sm_lanes, sm_kc; /* small-M split-K kernels */
} mrg_cl_gemm_params;

enum { MRG_CL_GK_RB, MRG_CL_GK_SMALLM_T, MRG_CL_GK_SMALLM_N, MRG_CL_GK_FINISH, MRG_CL_GK_COUNT };

/* A built GEMM program and its kernels. */
typedef struct mrg_cl_gemm_prog {
    mrg_cl_gemm_params p;
    cl_program program;
    cl_kernel k[MRG_CL_GK_COUNT];
} mrg_cl_gemm_prog;

/* The largest M of the small-M path (SM_MAXM in gemm.cl). */
#define MRG_CL_SMALL_M 16

typedef struct mrg_cl_ctx {
    cl_platform_id platform;
    cl_device_id device;
    cl_context context;
    cl_command_queue queue;
    cl_program program;
    cl_kernel k[MRG_CLK_COUNT];
    /* device capabilities */
    size_t max_wg;
    cl_ulong local_mem, max_alloc, global_mem;
    /* double precision in the kernels that want it (select.cl's beam
     * scores); MRG_CL_NO_FP64=1 turns it off (the f32 fallback's tests) */
    bool fp64;
    mrg_cl_tuning tune;
    /* CL_DEVICE_MEM_BASE_ADDR_ALIGN in bytes: where a sub-buffer may start */
    size_t base_align;
    /* the largest element index (offset + extent) CLBlast may be handed:
     * INT32_MAX (its kernels take int offsets), lower with MRG_CL_MAX_OFFSET */
    int64_t clblast_max_index;
    /* the GEMM program in use and where its parameters came from
     * ("default", "cache <path>", "tuned") */
    mrg_cl_gemm_prog gemm;
    char gemm_origin[96];
    /* f32 GEMMs with M > 16 go to CLBlast: CPU devices, or MRG_CL_GEMM=clblast
     * (MRG_CL_GEMM=own: never) */
    bool gemm_clblast_first;
    /* how GEMMs were run (mrg_opencl_gemm_counts) */
    uint64_t gemm_clblast, gemm_clblast_subbuffer, gemm_own;
    /* device scratch for two-stage reductions (grown on demand; safe to
     * reuse because the queue is in order) */
    cl_mem scratch;
    size_t scratch_bytes;
    /* host staging of small uploads (token ids while decoding): copied here
     * and enqueued without blocking; a slot is reused only after a blocking
     * download or sync, which the in-order queue completes after them */
    unsigned char *staging;
    size_t staging_used;
} mrg_cl_ctx;

/* Bytes of host staging for non-blocking uploads, and the largest upload
 * that goes through it. */
#define MRG_CL_STAGING_BYTES 65536
#define MRG_CL_STAGED_MAX 4096

static inline mrg_cl_ctx *mrg_cl_of(mrg_device *dev) { return (mrg_cl_ctx *)dev->ctx; }

/* ---- errors (cl_errors.c) ---------------------------------------------- */

/* "CL_OUT_OF_RESOURCES" for a code, "CL_ERROR(-9999)" for unknown ones. */
const char *mrg_cl_error_name(cl_int err);
/* Sets a message "<what>: <CL name>" and returns MRG_ERR_OOM for the
 * allocation-failure codes, else MRG_ERR_DEVICE. */
mrg_status mrg_cl_fail(cl_int err, const char *what);

/* ---- devices (cl_devices.c) ------------------------------------------- */

typedef struct mrg_cl_devref {
    cl_platform_id platform;
    cl_device_id device;
} mrg_cl_devref;

/* Every device of every platform in the global order (platforms in order,
 * devices in order). Returns the count (0 when there is no platform) and
 * stores up to max entries; *default_index gets the index that index -1
 * picks (first GPU, else 0; -1 when there are no devices). */
int mrg_cl_enumerate(mrg_cl_devref *out, int max, int *default_index);
int mrg_cl_device_count(void);
/* OpenCL devices of type GPU (a CPU device such as PoCL is not one). */
int mrg_cl_gpu_count(void);
/* The device index (opencl:N) of GPU k < mrg_cl_gpu_count(); -1 without. */
int mrg_cl_gpu_index(int k);
/* Whether the device computes in double (cl_khr_fp64, or a double FP
 * config on OpenCL 1.2+ devices where it is core). */
bool mrg_cl_device_fp64(cl_device_id d);
/* The `mrg info` section: every platform and device. */
mrg_status mrg_cl_print_devices(FILE *out);

/* ---- init (cl_backend.c) ------------------------------------------------ */

/* Opens device index of the global order (index < 0: the first GPU, else
 * device 0) into dev. */
mrg_status mrg_cl_backend_init(mrg_device *dev, int index);

/* ---- program (cl_program.c) ------------------------------------------- */

/* Every .cl file of cl/kernels/ as a string, generated at build time by
 * cl/embed_kernels.cmake: names (file names without .cl) and sources. */
extern const char *const mrg_cl_kernel_names[];
extern const char *const mrg_cl_kernel_sources[];
extern const int mrg_cl_kernel_count;

/* Chooses the tuning for the device, builds one program from every embedded
 * kernel source with the -D options and creates every kernel. The error
 * message carries the build log on failure. */
mrg_status mrg_cl_build(mrg_cl_ctx *c);
void mrg_cl_release_program(mrg_cl_ctx *c);

/* ---- the tunable GEMM program (cl_gemm_program.c, cl_tune.c) ---------- */

/* The untuned parameters for the device's class (GPU vendor or CPU), fitted
 * to its work-group and local-memory limits. */
mrg_cl_gemm_params mrg_cl_gemm_default(const mrg_cl_ctx *c);
/* MRG_OK when p is in the search space and fits the device's limits
 * (before building; the build checks the compiled kernels' limits too). */
mrg_status mrg_cl_gemm_check(const mrg_cl_ctx *c, const mrg_cl_gemm_params *p);
/* Builds common.cl + gemm.cl with p's -D options into g. */
mrg_status mrg_cl_gemm_build(mrg_cl_ctx *c, const mrg_cl_gemm_params *p, mrg_cl_gemm_prog *g);
void mrg_cl_gemm_release(mrg_cl_gemm_prog *g);
/* At init: the cached winner for this device when there is one that
 * builds, else the default. */
mrg_status mrg_cl_gemm_init(mrg_cl_ctx *c);
/* The cache file ($XDG_CACHE_HOME/mrg, else ~/.cache/mrg), the device's key
 * in it ("name | driver version"). false when no path can be formed. */
bool mrg_cl_tune_cache_path(char *path, size_t n);
void mrg_cl_tune_key(const mrg_cl_ctx *c, char *key, size_t n);
/* Reads the entry of key from the cache file into p (false: none). */
bool mrg_cl_tune_cache_read(const char *path, const char *key, mrg_cl_gemm_params *p);
/* Sets key's entry, keeping the others, written atomically. */
mrg_status mrg_cl_tune_cache_write(const char *path, const char *key,
                                   const mrg_cl_gemm_params *p);
/* Runs a GEMM with program g (any M; the dispatcher's own-kernel path). */
mrg_status mrg_cl_gemm_own(mrg_cl_ctx *c, const mrg_cl_gemm_prog *g, bool ta, bool tb, int64_t M,
                           int64_t N, int64_t K, float alpha, mrg_ptr A, int64_t lda,
                           int64_t sa, mrg_ptr B, int64_t ldb, int64_t sb, float beta, mrg_ptr C,
                           int64_t ldc, int64_t sc, int64_t batch);

/* ---- launching -------------------------------------------------------- */

/* Argument builder: the first failing clSetKernelArg is kept in err. */
typedef struct mrg_cl_args {
    cl_kernel k;
    cl_uint i;
    cl_int err;
} mrg_cl_args;

static inline mrg_cl_args mrg_cl_args_begin(mrg_cl_ctx *c, mrg_cl_kernel_id id) {
    mrg_cl_args a = {c->k[id], 0, CL_SUCCESS};
    return a;
}
static inline void mrg_cl_arg(mrg_cl_args *a, size_t size, const void *value) {
    cl_int e = clSetKernelArg(a->k, a->i++, size, value);
    if (a->err == CL_SUCCESS) a->err = e;
}
/* A (global T *base, ulong offset) pair; a NULL buffer passes a NULL pointer. */
static inline void mrg_cl_arg_ptr(mrg_cl_args *a, mrg_ptr p) {
    cl_mem m = p.buf ? (cl_mem)p.buf->handle : NULL;
    cl_ulong off = (cl_ulong)(p.buf ? p.off : 0);
    mrg_cl_arg(a, sizeof m, &m);
    mrg_cl_arg(a, sizeof off, &off);
}
static inline void mrg_cl_arg_mem(mrg_cl_args *a, cl_mem m) { mrg_cl_arg(a, sizeof m, &m); }
static inline void mrg_cl_arg_int(mrg_cl_args *a, int v) {
    cl_int x = v;
    mrg_cl_arg(a, sizeof x, &x);
}
static inline void mrg_cl_arg_long(mrg_cl_args *a, int64_t v) {
    cl_long x = v;
    mrg_cl_arg(a, sizeof x, &x);
}
static inline void mrg_cl_arg_float(mrg_cl_args *a, float v) {
    cl_float x = v;
    mrg_cl_arg(a, sizeof x, &x);
}
static inline void mrg_cl_arg_local(mrg_cl_args *a, size_t bytes) { mrg_cl_arg(a, bytes, NULL); }

/* Enqueues the kernel of `a` (never waits). global sizes are rounded up to
 * multiples of local when local is given. op names the backend function for
 * messages. */
mrg_status mrg_cl_enqueue(mrg_cl_ctx *c, const mrg_cl_args *a, cl_uint dims,
                          const size_t *global, const size_t *local, const char *op);
/* 1-D launch over n items with grid-stride kernels: the global size is
 * capped, the kernel loops. */
mrg_status mrg_cl_enqueue_1d(mrg_cl_ctx *c, const mrg_cl_args *a, int64_t n, const char *op);
/* One work-group of red_wg items per row (rows work-groups). */
mrg_status mrg_cl_enqueue_rows(mrg_cl_ctx *c, const mrg_cl_args *a, int64_t rows,
                               const char *op);
/* Scratch of at least `bytes` on the device. */
mrg_status mrg_cl_scratch(mrg_cl_ctx *c, size_t bytes, cl_mem *out);
/* MRG_OK when every present operand (buf != NULL) of ps[0..n) is f32;
 * otherwise MRG_ERR_UNSUPPORTED naming op and the operand's index. */
mrg_status mrg_cl_check_f32(const char *op, int n, const mrg_ptr *ps);

/* ---- op families (one file each; see the table in core/backend.h) ------ */

/* cl_elementwise.c */
mrg_status mrg_cl_fill(mrg_device *dev, mrg_ptr dst, int64_t n, float value);
mrg_status mrg_cl_convert(mrg_device *dev, mrg_ptr src, mrg_ptr dst, int64_t n);
mrg_status mrg_cl_copy_strided(mrg_device *dev, mrg_ptr src, mrg_ptr dst, int ndim,
                               const int64_t *shape, const int64_t *src_stride,
                               const int64_t *dst_stride, bool accumulate);
mrg_status mrg_cl_convert_strided(mrg_device *dev, mrg_ptr src, mrg_ptr dst, int ndim,
                                  const int64_t *shape, const int64_t *src_stride,
                                  const int64_t *dst_stride);
mrg_status mrg_cl_binary(mrg_device *dev, mrg_binop op, mrg_ptr a, mrg_ptr b, mrg_ptr out,
                         int ndim, const int64_t *shape, const int64_t *a_stride,
                         const int64_t *b_stride);
mrg_status mrg_cl_unary(mrg_device *dev, mrg_unop op, mrg_ptr x, mrg_ptr y, int64_t n,
                        float alpha);
mrg_status mrg_cl_unary_backward(mrg_device *dev, mrg_unop op, mrg_ptr x, mrg_ptr dy,
                                 mrg_ptr dx, int64_t n);

/* cl_matmul.c */
mrg_status mrg_cl_gemm(mrg_device *dev, bool trans_a, bool trans_b, int64_t M, int64_t N,
                       int64_t K, float alpha, mrg_ptr A, int64_t lda, int64_t stride_a,
                       mrg_ptr B, int64_t ldb, int64_t stride_b, float beta, mrg_ptr C,
                       int64_t ldc, int64_t stride_c, int64_t batch);

/* cl_softmax.c */
mrg_status mrg_cl_softmax(mrg_device *dev, mrg_ptr x, mrg_ptr y, int64_t rows, int64_t cols,
                          int64_t causal_tq, bool log);
mrg_status mrg_cl_softmax_backward(mrg_device *dev, mrg_ptr y, mrg_ptr dy, mrg_ptr dx,
                                   int64_t rows, int64_t cols, bool log);

/* cl_sdpa.c */
mrg_status mrg_cl_sdpa(mrg_device *dev, const mrg_sdpa_dims *d, mrg_ptr q, mrg_ptr k, mrg_ptr v,
                       mrg_ptr mask, mrg_ptr rows, mrg_ptr o, mrg_ptr lse);
mrg_status mrg_cl_sdpa_backward(mrg_device *dev, const mrg_sdpa_dims *d, mrg_ptr q, mrg_ptr k,
                                mrg_ptr v, mrg_ptr mask, mrg_ptr o, mrg_ptr lse, mrg_ptr dout,
                                mrg_ptr dq, mrg_ptr dk, mrg_ptr dv);

/* cl_norm.c */
mrg_status mrg_cl_layernorm(mrg_device *dev, mrg_ptr x, mrg_ptr w, mrg_ptr b, mrg_ptr y,
                            mrg_ptr mean, mrg_ptr rstd, int64_t rows, int64_t cols, float eps);
mrg_status mrg_cl_layernorm_backward(mrg_device *dev, mrg_ptr x, mrg_ptr w, mrg_ptr mean,
                                     mrg_ptr rstd, mrg_ptr dy, mrg_ptr dx, mrg_ptr dw,
                                     mrg_ptr db, int64_t rows, int64_t cols);
mrg_status mrg_cl_rmsnorm(mrg_device *dev, mrg_ptr x, mrg_ptr w, mrg_ptr y, mrg_ptr rstd,
                          int64_t rows, int64_t cols, float eps);
mrg_status mrg_cl_rmsnorm_backward(mrg_device *dev, mrg_ptr x, mrg_ptr w, mrg_ptr rstd,
                                   mrg_ptr dy, mrg_ptr dx, mrg_ptr dw, int64_t rows,
                                   int64_t cols);
mrg_status mrg_cl_l2norm(mrg_device *dev, mrg_ptr x, mrg_ptr y, mrg_ptr norm, int64_t rows,
                         int64_t cols, float eps);
mrg_status mrg_cl_l2norm_backward(mrg_device *dev, mrg_ptr x, mrg_ptr y, mrg_ptr norm,
                                  mrg_ptr dy, mrg_ptr dx, int64_t rows, int64_t cols,
                                  float eps);

/* cl_rope.c */
mrg_status mrg_cl_rope(mrg_device *dev, mrg_ptr x, mrg_ptr y, int64_t outer, int64_t T,
                       int64_t heads, int64_t D, int64_t pos0, float theta, int layout,
                       bool inverse);

/* cl_embedding.c: the backward adds the rows of one id in blocks of
 * MRG_CL_EMB_BLOCK rows, then the blocks in order (deterministic). */
#define MRG_CL_EMB_BLOCK 64
mrg_status mrg_cl_embedding(mrg_device *dev, mrg_ptr w, mrg_ptr ids, mrg_ptr out, int64_t n,
                            int64_t D, int64_t V);
mrg_status mrg_cl_embedding_backward(mrg_device *dev, mrg_ptr dy, mrg_ptr ids, mrg_ptr dw,
                                     int64_t n, int64_t D, int64_t V);

/* cl_reduce.c: column sums in two passes over a partition that depends on
 * MRG_CL_COL_BLOCK alone (deterministic on every device): partial sums of
 * blocks of that many rows, then colsum_finish adds them in block order. */
#define MRG_CL_COL_BLOCK 64
/* The number of row blocks of n rows (1 when one pass is enough). */
int64_t mrg_cl_col_parts(int64_t n);
/* The local size of a launch with one item per column. */
size_t mrg_cl_cols_wg(const mrg_cl_ctx *c, int64_t cols);
/* y[o, i] = scale·Σ_p part[poff + (o·nparts + p)·inner + i], p in order. */
mrg_status mrg_cl_colsum_finish(mrg_cl_ctx *c, cl_mem part, int64_t poff, int64_t nparts,
                                int64_t inner, int64_t outer, float scale, mrg_ptr y,
                                const char *op);

mrg_status mrg_cl_reduce_sum(mrg_device *dev, mrg_ptr x, mrg_ptr y, int64_t outer, int64_t n,
                             int64_t inner, float scale);

/* cl_cross_entropy.c */
mrg_status mrg_cl_cross_entropy(mrg_device *dev, mrg_ptr logits, mrg_ptr targets,
                                mrg_ptr loss, int64_t rows, int64_t V, int ignore);
mrg_status mrg_cl_cross_entropy_backward(mrg_device *dev, mrg_ptr logits, mrg_ptr targets,
                                         mrg_ptr dloss, mrg_ptr dlogits, int64_t rows,
                                         int64_t V, int ignore);

/* cl_optim.c */
mrg_status mrg_cl_adamw(mrg_device *dev, mrg_ptr p, mrg_ptr g, mrg_ptr m, mrg_ptr v, int64_t n,
                        float lr, float b1, float b2, float eps, float wd, float bc1, float bc2);
mrg_status mrg_cl_sum_squares(mrg_device *dev, mrg_ptr x, int64_t n, mrg_ptr acc);
mrg_status mrg_cl_clip_scale(mrg_device *dev, mrg_ptr sumsq, mrg_ptr x, int64_t n,
                             float max_norm);

/* cl_decode.c (fused decoding; optional entries) */
mrg_status mrg_cl_gemv_fused(mrg_device *dev, mrg_ptr x, int64_t M, int64_t K, int n_w,
                             const mrg_ptr *w, const int64_t *N, const mrg_ptr *out, int epilogue,
                             mrg_ptr r);
mrg_status mrg_cl_rope_store_kv(mrg_device *dev, mrg_ptr q, mrg_ptr q_out, mrg_ptr k, mrg_ptr v,
                                mrg_ptr k_cache, mrg_ptr v_cache, const int32_t *rows, int64_t B,
                                int64_t H, int64_t Hkv, int64_t D, int64_t Lmax, int64_t pos,
                                float theta, int layout);
mrg_status mrg_cl_sdpa_decode(mrg_device *dev, mrg_ptr q, mrg_ptr k_cache, mrg_ptr v_cache,
                              mrg_ptr key_mask, mrg_ptr scores, mrg_ptr out, const int32_t *rows,
                              int64_t B, int64_t H, int64_t Hkv, int64_t D, int64_t Dv,
                              int64_t Lmax, int64_t len, float scale);

/* cl_select.c */
mrg_status mrg_cl_select_topk(mrg_device *dev, const mrg_select_dims *d, mrg_ptr logits,
                              mrg_ptr hist_in, mrg_ptr src, mrg_ptr tok, mrg_ptr hist_out,
                              mrg_ptr work, mrg_ptr out);

#endif

/* Helpers shared by the op front ends in lib/ops (not installed): argument
 * checks that set messages, contiguous strides, broadcasting and the
 * reduction of a broadcast gradient back to an input's shape. */
#ifndef MRG_OPS_COMMON_H
#define MRG_OPS_COMMON_H

#include "core/internal.h"
#include "core/registry.h"
#include "mrg/ops.h"

/* A buffer for one mrg_shape_str(). */
typedef struct ops_shape_buf {
    char s[96];
} ops_shape_buf;
#define OPS_SHAPE(t) mrg_shape_str((t), (ops_shape_buf){{0}}.s, sizeof(ops_shape_buf))

/* Sets an MRG_ERR_INVALID_ARG message and returns NULL (for op bodies). */
#define OPS_FAIL(...)                                                        \
    do {                                                                     \
        mrg_error(MRG_ERR_INVALID_ARG, __VA_ARGS__);                         \
        return NULL;                                                         \
    } while (0)

/* In a backward function: a NULL allocation becomes an error status (the
 * allocator has already set the message). */
#define OPS_ALLOC_OR_FAIL(t)                                                 \
    do {                                                                     \
        if (!(t)) return MRG_ERR_OOM;                                        \
    } while (0)

/* Returns false with "op: name must be f32 (got bf16)" unless t is f32. */
bool ops_check_f32(const char *op, const char *name, const mrg_tensor *t);
/* Returns false with a message unless t has a float dtype (f32/bf16/f16). */
bool ops_check_float(const char *op, const char *name, const mrg_tensor *t);
/* ops_check_float for the operand of kernel k that may be stored as bf16 or
 * f16 (a weight), and then whether t's device supports that dtype there
 * (MRG_ERR_UNSUPPORTED otherwise). */
bool ops_check_weight(const char *op, const char *name, const mrg_tensor *t, mrg_kernel k);
/* Returns false with a message unless a and b are on the same device. */
bool ops_check_device(const char *op, int n, mrg_tensor *const *ts);
/* Grouped-query attention: false with "op: q heads H are not a multiple of
 * kv heads Hkv" unless Hkv >= 1 divides H. */
bool ops_check_heads(const char *op, int64_t H, int64_t Hkv);
/* A batch of B in a KV cache of R rows: rows holds each sequence's cache
 * row (NULL: rows 0..B-1). False with a message naming op unless every row
 * lies in [0, R). */
bool ops_check_cache_rows(const char *op, const int32_t *rows, int64_t B, int64_t R);
/* Maps a possibly negative axis into [0, ndim); false with a message when
 * it is out of range. */
bool ops_axis(const char *op, int ndim, int axis, int *out);

/* Row-major contiguous strides (elements) of shape. */
void ops_contig_strides(int ndim, const int64_t *shape, int64_t *stride);

/* Broadcast of a and b (NumPy rules). On success fills out_shape (ndim
 * *out_ndim) and the element strides of a and b over it (0 on broadcast
 * axes); false with a message naming op otherwise. */
bool ops_broadcast(const char *op, const mrg_tensor *a, const mrg_tensor *b, int *out_ndim,
                   int64_t *out_shape, int64_t *a_stride, int64_t *b_stride);

/* out = a op b over their broadcast shape (out contiguous in it; it may be
 * a or b), the kernel of mrg_add / mrg_mul without recording a node: for
 * fused ops and backwards (elementwise.c). */
mrg_status ops_binary_into(const char *name, mrg_binop op, mrg_tensor *a, mrg_tensor *b,
                           mrg_tensor *out);

/* Sums g (contiguous, shape g_shape of rank g_ndim) over the axes along
 * which `like` was broadcast to g's shape, multiplies by scale and returns a
 * new f32 tensor with like's shape. When nothing is summed and scale is 1
 * it returns g itself (a view of like's shape), so callers must not write
 * to the result. */
mrg_tensor *ops_reduce_to(mrg_tensor *g, const mrg_tensor *like, float scale);

/* dst (contiguous, x_shape permuted by perm) = src (contiguous, x_shape)
 * permuted, or with inverse, dst (x_shape) from src (the permuted shape). */
mrg_status ops_permute_copy(mrg_device *dev, mrg_ptr src, mrg_ptr dst, int nd,
                            const int64_t *x_shape, const int *perm, bool inverse);

/* A step tensor of f32 zeros with t's shape. */
mrg_tensor *ops_zeros_like(const mrg_tensor *t);

/* Product of shape[from..to). */
static inline int64_t ops_prod(const int64_t *shape, int from, int to) {
    int64_t p = 1;
    for (int i = from; i < to; i++) p *= shape[i];
    return p;
}

#endif

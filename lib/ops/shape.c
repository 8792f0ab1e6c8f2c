/* Layout ops: reshape (a view), permute/transpose, slice, concat, copy and
 * the in-place copy into a block of another tensor.
 * Every tensor is contiguous, so a layout change other than reshape or a
 * slice of the outermost non-trivial axis is a strided copy kernel. */
#include "ops/ops_common.h"

/* ---- reshape ------------------------------------------------------------ */

static mrg_status reshape_backward(mrg_node *n) {
    mrg_tensor *x = n->in[0];
    mrg_tensor *dx = mrg_tensor_view(n->out->grad, x->ndim, x->shape, 0);
    OPS_ALLOC_OR_FAIL(dx);
    return mrg_accum_grad(x, dx);
}

mrg_tensor *mrg_reshape(mrg_tensor *x, int ndim, const int64_t *shape) {
    MRG_NULL_GUARD(x);
    if (ndim < 0 || ndim > MRG_MAX_DIMS || (ndim > 0 && !shape))
        OPS_FAIL("reshape: rank %d outside 0..%d", ndim, MRG_MAX_DIMS);
    int64_t s[MRG_MAX_DIMS], known = 1;
    int infer = -1;
    for (int i = 0; i < ndim; i++) {
        s[i] = shape[i];
        if (s[i] == -1 && infer < 0) {
            infer = i;
        } else if (s[i] < 0) {
            OPS_FAIL("reshape: bad dim %lld at %d (only one -1 allowed)", (long long)s[i], i);
        } else {
            known *= s[i];
        }
    }
    int64_t numel = mrg_numel(x);
    if (infer >= 0) {
        if (known == 0 || numel % known != 0)
            OPS_FAIL("reshape: cannot infer dim %d of x %s (%lld elements)", infer, OPS_SHAPE(x),
                     (long long)numel);
        s[infer] = numel / known;
        known = numel;
    }
    if (known != numel)
        OPS_FAIL("reshape: x %s has %lld elements, the new shape %lld", OPS_SHAPE(x),
                 (long long)numel, (long long)known);
    mrg_tensor *y = mrg_tensor_view(x, ndim, s, 0);
    if (!y) return NULL;
    mrg_tensor *const ins[1] = {x};
    mrg_record(y, "reshape", reshape_backward, 1, ins);
    return y;
}

/* ---- permute / transpose -------------------------------------------------- */

/* Both directions walk the output (permuted) shape. */
mrg_status ops_permute_copy(mrg_device *dev, mrg_ptr src, mrg_ptr dst, int nd,
                            const int64_t *x_shape, const int *perm, bool inverse) {
    int64_t xs[MRG_MAX_DIMS], ys[MRG_MAX_DIMS], shape[MRG_MAX_DIMS], xperm[MRG_MAX_DIMS];
    ops_contig_strides(nd, x_shape, xs);
    for (int i = 0; i < nd; i++) {
        shape[i] = x_shape[perm[i]];
        xperm[i] = xs[perm[i]]; /* stride in x of output axis i */
    }
    ops_contig_strides(nd, shape, ys);
    if (!inverse) return dev->be->copy_strided(dev, src, dst, nd, shape, xperm, ys, false);
    return dev->be->copy_strided(dev, src, dst, nd, shape, ys, xperm, false);
}

/* i[0..ndim) = perm */
static mrg_status permute_backward(mrg_node *n) {
    mrg_tensor *x = n->in[0], *dy = n->out->grad;
    int perm[MRG_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++) perm[i] = (int)n->i[i];
    mrg_tensor *dx = mrg_tensor_like(x, MRG_F32);
    OPS_ALLOC_OR_FAIL(dx);
    MRG_TRY(ops_permute_copy(x->dev, mrg_ptr_of(dy), mrg_ptr_of(dx), x->ndim, x->shape, perm, true));
    return mrg_accum_grad(x, dx);
}

static mrg_tensor *permute_impl(const char *name, mrg_tensor *x, const int *perm_in) {
    if (x->dtype != MRG_F32 && x->dtype != MRG_I32)
        OPS_FAIL("%s: x must be f32 or i32 (got %s)", name, mrg_dtype_name(x->dtype));
    int nd = x->ndim, perm[MRG_MAX_DIMS];
    bool seen[MRG_MAX_DIMS] = {false};
    for (int i = 0; i < nd; i++) {
        int p = perm_in[i] < 0 ? perm_in[i] + nd : perm_in[i];
        if (p < 0 || p >= nd || seen[p])
            OPS_FAIL("%s: invalid permutation of the %d axes of x %s (entry %d is %d)", name, nd,
                     OPS_SHAPE(x), i, perm_in[i]);
        seen[p] = true;
        perm[i] = p;
    }
    int64_t shape[MRG_MAX_DIMS];
    for (int i = 0; i < nd; i++) shape[i] = x->shape[perm[i]];
    mrg_tensor *y = mrg_tensor_new(x->dev, x->dtype, nd, shape);
    if (!y) return NULL;
    MRG_TRY_NULL(ops_permute_copy(x->dev, mrg_ptr_of(x), mrg_ptr_of(y), nd, x->shape, perm, false));
    mrg_tensor *const ins[1] = {x};
    mrg_node *n = mrg_record(y, name, permute_backward, 1, ins);
    if (n)
        for (int i = 0; i < nd; i++) n->i[i] = perm[i];
    return y;
}

mrg_tensor *mrg_permute(mrg_tensor *x, const int *perm) {
    MRG_NULL_GUARD(x);
    if (!perm && x->ndim > 0) OPS_FAIL("permute: no permutation given");
    return permute_impl("permute", x, perm);
}

mrg_tensor *mrg_transpose(mrg_tensor *x, int axis0, int axis1) {
    MRG_NULL_GUARD(x);
    int a0, a1;
    if (!ops_axis("transpose", x->ndim, axis0, &a0) || !ops_axis("transpose", x->ndim, axis1, &a1))
        return NULL;
    int perm[MRG_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++) perm[i] = i;
    perm[a0] = a1;
    perm[a1] = a0;
    return permute_impl("transpose", x, perm);
}

/* ---- slice -------------------------------------------------------------- */

/* Copies the block (outer, len, inner) between a tensor whose axis has `dim`
 * elements (at element `start` of that axis) and a contiguous block.
 * to_block: big → block (slice forward, concat backward); else block →
 * big (slice backward, concat forward). */
static mrg_status block_copy(mrg_device *dev, mrg_ptr big, mrg_ptr block, int64_t outer,
                             int64_t dim, int64_t start, int64_t len, int64_t inner,
                             bool to_block) {
    int64_t shape[3] = {outer, len, inner};
    int64_t big_stride[3] = {dim * inner, inner, 1};
    int64_t blk_stride[3] = {len * inner, inner, 1};
    big.off += start * inner;
    if (to_block)
        return dev->be->copy_strided(dev, big, block, 3, shape, big_stride, blk_stride, false);
    return dev->be->copy_strided(dev, block, big, 3, shape, blk_stride, big_stride, false);
}

/* i[0] = axis, i[1] = start: dx is zero except for dy's block. */
static mrg_status slice_backward(mrg_node *n) {
    mrg_tensor *x = n->in[0], *dy = n->out->grad;
    int ax = (int)n->i[0];
    mrg_tensor *dx = ops_zeros_like(x);
    OPS_ALLOC_OR_FAIL(dx);
    MRG_TRY(block_copy(x->dev, mrg_ptr_of(dx), mrg_ptr_of(dy), ops_prod(x->shape, 0, ax),
                       x->shape[ax], n->i[1], dy->shape[ax], ops_prod(x->shape, ax + 1, x->ndim),
                       false));
    return mrg_accum_grad(x, dx);
}

mrg_tensor *mrg_slice(mrg_tensor *x, int axis, int64_t start, int64_t len) {
    MRG_NULL_GUARD(x);
    int ax;
    if (!ops_axis("slice", x->ndim, axis, &ax)) return NULL;
    if (len < 1) OPS_FAIL("slice: length %lld must be >= 1", (long long)len);
    if (start < 0 || start > x->shape[ax] - len)
        OPS_FAIL("slice: [%lld, %lld) outside axis %d of x %s", (long long)start,
                 (long long)(start + len), axis, OPS_SHAPE(x));
    int64_t shape[MRG_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++) shape[i] = x->shape[i];
    shape[ax] = len;
    int64_t outer = ops_prod(x->shape, 0, ax), inner = ops_prod(x->shape, ax + 1, x->ndim);
    mrg_tensor *y;
    if (outer == 1) {
        /* one contiguous block: a view */
        y = mrg_tensor_view(x, x->ndim, shape, start * inner);
        if (!y) return NULL;
    } else {
        if (mrg_dtype_size(x->dtype) != 4)
            OPS_FAIL("slice: x %s of dtype %s can only be sliced along its outermost axis",
                     OPS_SHAPE(x), mrg_dtype_name(x->dtype));
        y = mrg_tensor_new(x->dev, x->dtype, x->ndim, shape);
        if (!y) return NULL;
        MRG_TRY_NULL(block_copy(x->dev, mrg_ptr_of(x), mrg_ptr_of(y), outer, x->shape[ax], start,
                                len, inner, true));
    }
    mrg_tensor *const ins[1] = {x};
    mrg_node *n = mrg_record(y, "slice", slice_backward, 1, ins);
    if (n) {
        n->i[0] = ax;
        n->i[1] = start;
    }
    return y;
}

/* ---- concat ------------------------------------------------------------- */

/* One node per group of up to MRG_NODE_MAX_IN inputs (all with the same
 * out): i[0] = axis, i[1 + k] = start of in[k] along the axis. */
static mrg_status concat_backward(mrg_node *n) {
    mrg_tensor *y = n->out, *dy = y->grad;
    int ax = (int)n->i[0];
    int64_t outer = ops_prod(y->shape, 0, ax), inner = ops_prod(y->shape, ax + 1, y->ndim);
    for (int k = 0; k < n->n_in; k++) {
        mrg_tensor *x = n->in[k];
        if (!mrg_wants_grad(x) || x->shape[ax] == 0) continue;
        mrg_tensor *dx = mrg_tensor_like(x, MRG_F32);
        OPS_ALLOC_OR_FAIL(dx);
        MRG_TRY(block_copy(y->dev, mrg_ptr_of(dy), mrg_ptr_of(dx), outer, y->shape[ax],
                           n->i[1 + k], x->shape[ax], inner, true));
        MRG_TRY(mrg_accum_grad(x, dx));
    }
    return MRG_OK;
}

mrg_tensor *mrg_concat(mrg_tensor *const *xs, int n, int axis) {
    if (!xs || n < 1) OPS_FAIL("concat: no inputs");
    for (int k = 0; k < n; k++)
        if (!xs[k]) return NULL;
    mrg_tensor *x0 = xs[0];
    if (!ops_check_device("concat", n, xs)) return NULL;
    int ax;
    if (!ops_axis("concat", x0->ndim, axis, &ax)) return NULL;
    if (x0->dtype != MRG_F32 && x0->dtype != MRG_I32)
        OPS_FAIL("concat: inputs must be f32 or i32 (got %s)", mrg_dtype_name(x0->dtype));
    int64_t shape[MRG_MAX_DIMS];
    for (int i = 0; i < x0->ndim; i++) shape[i] = x0->shape[i];
    shape[ax] = 0;
    for (int k = 0; k < n; k++) {
        mrg_tensor *x = xs[k];
        bool ok = x->ndim == x0->ndim && x->dtype == x0->dtype;
        for (int i = 0; ok && i < x0->ndim; i++) ok = i == ax || x->shape[i] == x0->shape[i];
        if (!ok)
            OPS_FAIL("concat: input %d %s (%s) does not match input 0 %s (%s) outside axis %d", k,
                     OPS_SHAPE(x), mrg_dtype_name(x->dtype), OPS_SHAPE(x0),
                     mrg_dtype_name(x0->dtype), axis);
        shape[ax] += x->shape[ax];
    }
    mrg_tensor *y = mrg_tensor_new(x0->dev, x0->dtype, x0->ndim, shape);
    if (!y) return NULL;
    int64_t outer = ops_prod(shape, 0, ax), inner = ops_prod(shape, ax + 1, x0->ndim);
    int64_t start = 0;
    for (int k = 0; k < n; k++) {
        if (xs[k]->shape[ax] > 0)
            MRG_TRY_NULL(block_copy(y->dev, mrg_ptr_of(y), mrg_ptr_of(xs[k]), outer, shape[ax],
                                    start, xs[k]->shape[ax], inner, false));
        start += xs[k]->shape[ax];
    }
    start = 0;
    for (int k0 = 0; k0 < n; k0 += MRG_NODE_MAX_IN) {
        int m = n - k0 < MRG_NODE_MAX_IN ? n - k0 : MRG_NODE_MAX_IN;
        mrg_node *node = mrg_record(y, "concat", concat_backward, m, xs + k0);
        for (int k = 0; k < m; k++) {
            if (node) node->i[1 + k] = start;
            start += xs[k0 + k]->shape[ax];
        }
        if (node) node->i[0] = ax;
    }
    return y;
}

/* ---- copy --------------------------------------------------------------- */

static mrg_status copy_backward(mrg_node *n) { return mrg_accum_grad(n->in[0], n->out->grad); }

mrg_tensor *mrg_copy(mrg_tensor *x) {
    MRG_NULL_GUARD(x);
    mrg_tensor *y = mrg_tensor_like(x, MRG_F32);
    if (!y) return NULL;
    MRG_TRY_NULL(x->dev->be->convert(x->dev, mrg_ptr_of(x), mrg_ptr_of(y), mrg_numel(x)));
    mrg_tensor *const ins[1] = {x};
    mrg_record(y, "copy", copy_backward, 1, ins);
    return y;
}

/* ---- copy into (in place, not recorded) ------------------------------------ */

mrg_status mrg_copy_into(mrg_tensor *dst, const int64_t *start, const mrg_tensor *src) {
    if (!dst || !src || !start) return mrg_error(MRG_ERR_INVALID_ARG, "copy_into: NULL argument");
    mrg_tensor *const ts[2] = {dst, (mrg_tensor *)src};
    if (!ops_check_device("copy_into", 2, ts)) return MRG_ERR_INVALID_ARG;
    if (src->dtype != dst->dtype || mrg_dtype_size(src->dtype) != 4 || src->ndim != dst->ndim)
        return mrg_error(MRG_ERR_INVALID_ARG,
                         "copy_into: src %s (%s) and dst %s (%s) need one rank and one dtype, "
                         "f32 or i32",
                         OPS_SHAPE(src), mrg_dtype_name(src->dtype), OPS_SHAPE(dst),
                         mrg_dtype_name(dst->dtype));
    int64_t sstride[MRG_MAX_DIMS], dstride[MRG_MAX_DIMS];
    ops_contig_strides(src->ndim, src->shape, sstride);
    ops_contig_strides(dst->ndim, dst->shape, dstride);
    mrg_ptr d = mrg_ptr_of(dst);
    for (int i = 0; i < dst->ndim; i++) {
        if (start[i] < 0 || start[i] > dst->shape[i] - src->shape[i])
            return mrg_error(MRG_ERR_INVALID_ARG,
                             "copy_into: src %s at index %lld of axis %d lies outside dst %s",
                             OPS_SHAPE(src), (long long)start[i], i, OPS_SHAPE(dst));
        d.off += start[i] * dstride[i];
    }
    if (mrg_numel(src) == 0) return MRG_OK;
    return dst->dev->be->copy_strided(dst->dev, mrg_ptr_of(src), d, src->ndim, src->shape,
                                      sstride, dstride, false);
}

/* ---- copy region (in place, not recorded; converts float dtypes) ----------- */

mrg_status mrg_copy_region(mrg_tensor *dst, const int64_t *dst_start, const mrg_tensor *src,
                           const int64_t *src_start, const int64_t *shape) {
    if (!dst || !src || !dst_start || !src_start || !shape)
        return mrg_error(MRG_ERR_INVALID_ARG, "copy_region: NULL argument");
    mrg_tensor *const ts[2] = {dst, (mrg_tensor *)src};
    if (!ops_check_device("copy_region", 2, ts)) return MRG_ERR_INVALID_ARG;
    bool same4 = src->dtype == dst->dtype && mrg_dtype_size(src->dtype) == 4;
    bool floats = src->dtype != MRG_I32 && dst->dtype != MRG_I32;
    if (src->ndim != dst->ndim || (!same4 && !floats))
        return mrg_error(MRG_ERR_INVALID_ARG,
                         "copy_region: src %s (%s) and dst %s (%s) need one rank and one 4-byte "
                         "dtype or float dtypes",
                         OPS_SHAPE(src), mrg_dtype_name(src->dtype), OPS_SHAPE(dst),
                         mrg_dtype_name(dst->dtype));
    int64_t sstride[MRG_MAX_DIMS], dstride[MRG_MAX_DIMS], n = 1;
    ops_contig_strides(src->ndim, src->shape, sstride);
    ops_contig_strides(dst->ndim, dst->shape, dstride);
    mrg_ptr s = mrg_ptr_of(src), d = mrg_ptr_of(dst);
    for (int i = 0; i < dst->ndim; i++) {
        if (shape[i] < 0 || src_start[i] < 0 || src_start[i] > src->shape[i] - shape[i] ||
            dst_start[i] < 0 || dst_start[i] > dst->shape[i] - shape[i])
            return mrg_error(MRG_ERR_INVALID_ARG,
                             "copy_region: %lld elements from %lld of src %s to %lld of dst %s "
                             "(axis %d) lie outside",
                             (long long)shape[i], (long long)src_start[i], OPS_SHAPE(src),
                             (long long)dst_start[i], OPS_SHAPE(dst), i);
        s.off += src_start[i] * sstride[i];
        d.off += dst_start[i] * dstride[i];
        n *= shape[i];
    }
    if (n == 0) return MRG_OK;
    mrg_device *dev = dst->dev;
    if (same4) return dev->be->copy_strided(dev, s, d, src->ndim, shape, sstride, dstride, false);
    return dev->be->convert_strided(dev, s, d, src->ndim, shape, sstride, dstride);
}

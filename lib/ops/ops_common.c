/* Shared argument checks, strides, broadcasting and broadcast reductions. */
#include "ops/ops_common.h"

bool ops_check_f32(const char *op, const char *name, const mrg_tensor *t) {
    if (t->dtype == MRG_F32) return true;
    mrg_error(MRG_ERR_INVALID_ARG, "%s: %s must be f32 (got %s)", op, name,
              mrg_dtype_name(t->dtype));
    return false;
}

bool ops_check_heads(const char *op, int64_t H, int64_t Hkv) {
    if (Hkv >= 1 && H % Hkv == 0) return true;
    mrg_error(MRG_ERR_INVALID_ARG, "%s: q heads %lld are not a multiple of kv heads %lld", op,
              (long long)H, (long long)Hkv);
    return false;
}

bool ops_check_cache_rows(const char *op, const int32_t *rows, int64_t B, int64_t R) {
    if (!rows && B > R) {
        mrg_error(MRG_ERR_INVALID_ARG, "%s: batch %lld > %lld cache rows", op, (long long)B,
                  (long long)R);
        return false;
    }
    for (int64_t b = 0; rows && b < B; b++)
        if (rows[b] < 0 || rows[b] >= R) {
            mrg_error(MRG_ERR_INVALID_ARG, "%s: row %d outside the cache's [0, %lld)", op,
                      (int)rows[b], (long long)R);
            return false;
        }
    return true;
}

bool ops_check_float(const char *op, const char *name, const mrg_tensor *t) {
    if (t->dtype == MRG_F32 || t->dtype == MRG_BF16 || t->dtype == MRG_F16) return true;
    mrg_error(MRG_ERR_INVALID_ARG, "%s: %s must be f32, bf16 or f16 (got %s)", op, name,
              mrg_dtype_name(t->dtype));
    return false;
}

bool ops_check_weight(const char *op, const char *name, const mrg_tensor *t, mrg_kernel k) {
    if (!ops_check_float(op, name, t)) return false;
    if (mrg_device_supports(t->dev, k, t->dtype)) return true;
    mrg_error(MRG_ERR_UNSUPPORTED, "%s: device %s does not support %s of dtype %s", op,
              t->dev->name, name, mrg_dtype_name(t->dtype));
    return false;
}

bool ops_check_device(const char *op, int n, mrg_tensor *const *ts) {
    return mrg_check_same_device(op, n, ts) == MRG_OK;
}

bool ops_axis(const char *op, int ndim, int axis, int *out) {
    int a = axis < 0 ? axis + ndim : axis;
    if (a < 0 || a >= ndim) {
        mrg_error(MRG_ERR_INVALID_ARG, "%s: axis %d out of range for a tensor of rank %d", op,
                  axis, ndim);
        return false;
    }
    *out = a;
    return true;
}

void ops_contig_strides(int ndim, const int64_t *shape, int64_t *stride) {
    int64_t s = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        stride[i] = s;
        s *= shape[i];
    }
}

bool ops_broadcast(const char *op, const mrg_tensor *a, const mrg_tensor *b, int *out_ndim,
                   int64_t *out_shape, int64_t *a_stride, int64_t *b_stride) {
    int nd = a->ndim > b->ndim ? a->ndim : b->ndim;
    int64_t as[MRG_MAX_DIMS], bs[MRG_MAX_DIMS];
    ops_contig_strides(a->ndim, a->shape, as);
    ops_contig_strides(b->ndim, b->shape, bs);
    for (int i = 0; i < nd; i++) {
        /* axis i of the output is axis i − (nd − ndim) of an input */
        int ia = i - (nd - a->ndim), ib = i - (nd - b->ndim);
        int64_t da = ia >= 0 ? a->shape[ia] : 1, db = ib >= 0 ? b->shape[ib] : 1;
        if (da != db && da != 1 && db != 1) {
            mrg_error(MRG_ERR_INVALID_ARG, "%s: shapes %s and %s cannot be broadcast", op,
                      OPS_SHAPE(a), OPS_SHAPE(b));
            return false;
        }
        int64_t d = da == 1 ? db : da;
        out_shape[i] = d;
        a_stride[i] = (ia >= 0 && da == d && d != 1) ? as[ia] : 0;
        b_stride[i] = (ib >= 0 && db == d && d != 1) ? bs[ib] : 0;
    }
    *out_ndim = nd;
    return true;
}

mrg_tensor *ops_reduce_to(mrg_tensor *g, const mrg_tensor *like, float scale) {
    mrg_device *dev = g->dev;
    int nd = g->ndim;
    int64_t cur[MRG_MAX_DIMS]; /* shape of the partially reduced gradient */
    for (int i = 0; i < nd; i++) cur[i] = g->shape[i];
    mrg_tensor *t = g;
    bool reduced = false;
    int i = 0;
    while (i < nd) {
        int il = i - (nd - like->ndim);
        int64_t dl = il >= 0 ? like->shape[il] : 1;
        if (!(dl == 1 && cur[i] != 1)) {
            i++;
            continue;
        }
        /* a run of consecutive broadcast axes [i, j) is summed in one pass */
        int j = i + 1;
        while (j < nd) {
            int jl = j - (nd - like->ndim);
            int64_t dj = jl >= 0 ? like->shape[jl] : 1;
            if (dj != 1) break;
            j++;
        }
        int64_t outer = ops_prod(cur, 0, i), n = ops_prod(cur, i, j), inner = ops_prod(cur, j, nd);
        for (int k = i; k < j; k++) cur[k] = 1;
        mrg_tensor *r = mrg_tensor_new(dev, MRG_F32, nd, cur);
        if (!r) return NULL;
        /* the scale is applied once, in the first pass */
        if (dev->be->reduce_sum(dev, mrg_ptr_of(t), mrg_ptr_of(r), outer, n, inner,
                                reduced ? 1.0f : scale) != MRG_OK)
            return NULL;
        t = r;
        reduced = true;
        i = j;
    }
    if (!reduced && scale != 1.0f) {
        mrg_tensor *r = mrg_tensor_new(dev, MRG_F32, nd, cur);
        if (!r) return NULL;
        if (dev->be->unary(dev, MRG_UN_SCALE, mrg_ptr_of(t), mrg_ptr_of(r), mrg_numel(t),
                           scale) != MRG_OK)
            return NULL;
        t = r;
    }
    return mrg_tensor_view(t, like->ndim, like->shape, 0);
}

mrg_tensor *ops_zeros_like(const mrg_tensor *t) {
    return mrg_tensor_zeros(t->dev, MRG_F32, t->ndim, t->shape);
}

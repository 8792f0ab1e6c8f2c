/* Embedding lookup: rows of w (V, D) gathered by I32 ids. */
#include "ops/ops_common.h"

/* in: w, ids. dw (V, D) starts at zero and accumulates dy's rows at ids. */
static mrg_status embedding_backward(mrg_node *n) {
    mrg_tensor *w = n->in[0], *ids = n->in[1], *dy = n->out->grad;
    if (!mrg_wants_grad(w)) return MRG_OK;
    mrg_tensor *dw = ops_zeros_like(w);
    OPS_ALLOC_OR_FAIL(dw);
    MRG_TRY(w->dev->be->embedding_backward(w->dev, mrg_ptr_of(dy), mrg_ptr_of(ids), mrg_ptr_of(dw),
                                           mrg_numel(ids), w->shape[1], w->shape[0]));
    return mrg_accum_grad(w, dw);
}

mrg_tensor *mrg_embedding(mrg_tensor *w, mrg_tensor *ids) {
    MRG_NULL_GUARD(w, ids);
    mrg_tensor *const ins[2] = {w, ids};
    if (!ops_check_device("embedding", 2, ins)) return NULL;
    if (!ops_check_weight("embedding", "w", w, MRG_KERNEL_EMBEDDING)) return NULL;
    if (w->ndim != 2) OPS_FAIL("embedding: w must be (V, D), got %s", OPS_SHAPE(w));
    if (ids->dtype != MRG_I32)
        OPS_FAIL("embedding: ids must be i32 (got %s)", mrg_dtype_name(ids->dtype));
    if (ids->ndim + 1 > MRG_MAX_DIMS)
        OPS_FAIL("embedding: ids %s have too many dims", OPS_SHAPE(ids));
    if (ids->id_range_known && (ids->id_min < 0 || ids->id_max >= w->shape[0]))
        OPS_FAIL("embedding: id %d outside the table of %lld rows",
                 ids->id_min < 0 ? ids->id_min : ids->id_max, (long long)w->shape[0]);
    int64_t shape[MRG_MAX_DIMS];
    for (int i = 0; i < ids->ndim; i++) shape[i] = ids->shape[i];
    shape[ids->ndim] = w->shape[1];
    mrg_tensor *y = mrg_tensor_new(w->dev, MRG_F32, ids->ndim + 1, shape); /* (..., D) */
    if (!y) return NULL;
    MRG_TRY_NULL(w->dev->be->embedding(w->dev, mrg_ptr_of(w), mrg_ptr_of(ids), mrg_ptr_of(y),
                                       mrg_numel(ids), w->shape[1], w->shape[0]));
    mrg_record(y, "embedding", embedding_backward, 2, ins);
    return y;
}

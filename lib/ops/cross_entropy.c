/* Cross-entropy over rows of logits with an ignore index (mean reduction,
 * like torch.nn.functional.cross_entropy). */
#include "ops/ops_common.h"

/* in: logits, targets; i[0] = ignore_index. The loss gradient stays on
 * the device: the kernel reads dloss[0] itself. */
static mrg_status cross_entropy_backward(mrg_node *n) {
    mrg_tensor *logits = n->in[0], *targets = n->in[1], *dloss = n->out->grad;
    mrg_tensor *dlogits = mrg_tensor_like(logits, MRG_F32);
    OPS_ALLOC_OR_FAIL(dlogits);
    MRG_TRY(logits->dev->be->cross_entropy_backward(
        logits->dev, mrg_ptr_of(logits), mrg_ptr_of(targets), mrg_ptr_of(dloss),
        mrg_ptr_of(dlogits), logits->shape[0], logits->shape[1], (int)n->i[0]));
    return mrg_accum_grad(logits, dlogits);
}

mrg_tensor *mrg_cross_entropy(mrg_tensor *logits, mrg_tensor *targets, int ignore_index) {
    MRG_NULL_GUARD(logits, targets);
    mrg_tensor *const ins[2] = {logits, targets};
    if (!ops_check_device("cross_entropy", 2, ins)) return NULL;
    if (!ops_check_f32("cross_entropy", "logits", logits)) return NULL;
    if (targets->dtype != MRG_I32)
        OPS_FAIL("cross_entropy: targets must be i32 (got %s)", mrg_dtype_name(targets->dtype));
    if (logits->ndim != 2 || logits->shape[1] < 1 || targets->ndim != 1 ||
        targets->shape[0] != logits->shape[0])
        OPS_FAIL("cross_entropy: logits %s and targets %s: expected (N, V) and (N,)",
                 OPS_SHAPE(logits), OPS_SHAPE(targets));
    mrg_tensor *loss = mrg_tensor_new(logits->dev, MRG_F32, MRG_SHAPE(1));
    if (!loss) return NULL;
    MRG_TRY_NULL(logits->dev->be->cross_entropy(logits->dev, mrg_ptr_of(logits),
                                                mrg_ptr_of(targets), mrg_ptr_of(loss),
                                                logits->shape[0], logits->shape[1],
                                                ignore_index));
    mrg_node *n = mrg_record(loss, "cross_entropy", cross_entropy_backward, 2, ins);
    if (n) n->i[0] = ignore_index;
    return loss;
}

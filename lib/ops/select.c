/* Decoding's choice of the next tokens on the device (mrg_select_topk):
 * the repetition penalty over each row's history, the EOS mask and the
 * top-k of the row's scores (logits for greedy search, log-softmax for
 * beam search), so that a decoding step reads back R·k·12 bytes instead of
 * R·V·4. The rows' histories live in device tensors that each call copies
 * (from the source row a beam continues) and extends by the new token. */
#include <math.h>
#include <string.h>

#include "ops/ops_common.h"

/* t is i32 of rank ndim (−1: any rank). */
static bool check_i32(const char *name, const mrg_tensor *t, int ndim) {
    if (t->dtype != MRG_I32 || (ndim >= 0 && t->ndim != ndim)) {
        mrg_error(MRG_ERR_INVALID_ARG, "select_topk: %s %s %s must be i32%s", name,
                  mrg_dtype_name(t->dtype), OPS_SHAPE(t), ndim == 2 ? " (rows, L)" : "");
        return false;
    }
    return true;
}

mrg_tensor *mrg_select_topk(mrg_tensor *logits, mrg_tensor *hist_in, int64_t n_hist,
                            mrg_tensor *src, mrg_tensor *tok, mrg_tensor *hist_out, int k,
                            bool log_softmax, float penalty, int eos) {
    MRG_NULL_GUARD(logits);
    mrg_tensor *const ins[5] = {logits, hist_out ? hist_out : logits, hist_in ? hist_in : logits,
                                src ? src : logits, tok ? tok : logits};
    if (!ops_check_device("select_topk", 5, ins) || !ops_check_f32("select_topk", "logits", logits))
        return NULL;
    if (logits->ndim != 2 || logits->shape[0] < 1 || logits->shape[1] < 1)
        OPS_FAIL("select_topk: logits %s: expected (R, V) with R, V >= 1", OPS_SHAPE(logits));
    int64_t R = logits->shape[0], V = logits->shape[1];
    if (V > INT32_MAX) OPS_FAIL("select_topk: vocabulary %lld above 2^31", (long long)V);
    if (!hist_out && (n_hist > 0 || tok))
        OPS_FAIL("select_topk: a history (%lld entries%s) needs hist_out", (long long)n_hist,
                 tok ? " and a token" : "");
    if ((hist_out && !check_i32("hist_out", hist_out, 2)) ||
        (hist_in && !check_i32("hist_in", hist_in, 2)) || (src && !check_i32("src", src, -1)) ||
        (tok && !check_i32("tok", tok, -1)))
        return NULL;
    int64_t L = hist_out ? hist_out->shape[1] : 0;
    if (hist_out && hist_out->shape[0] < R)
        OPS_FAIL("select_topk: hist_out %s has fewer than R = %lld rows", OPS_SHAPE(hist_out),
                 (long long)R);
    if (n_hist < 0 || n_hist + (tok != NULL) > L)
        OPS_FAIL("select_topk: %lld + %d history entries do not fit rows of %lld",
                 (long long)n_hist, tok != NULL, (long long)L);
    if (n_hist > 0 && (!hist_in || hist_in->shape[1] != L))
        OPS_FAIL("select_topk: %lld history entries need hist_in (rows, %lld), got %s",
                 (long long)n_hist, (long long)L, hist_in ? OPS_SHAPE(hist_in) : "none");
    if ((src && mrg_numel(src) != R) || (tok && mrg_numel(tok) != R))
        OPS_FAIL("select_topk: src %s and tok %s must hold R = %lld ids",
                 src ? OPS_SHAPE(src) : "none", tok ? OPS_SHAPE(tok) : "none", (long long)R);
    if (hist_in == hist_out && n_hist > 0)
        OPS_FAIL("select_topk: hist_in and hist_out must be different tensors");
    if (k < 1 || k > MRG_SELECT_MAX_K)
        OPS_FAIL("select_topk: k %d outside [1, %d]", k, MRG_SELECT_MAX_K);
    if (!(penalty > 0) || penalty == INFINITY)
        OPS_FAIL("select_topk: repetition penalty %g must be positive and finite",
                 (double)penalty);
    if (eos < -1 || eos >= V)
        OPS_FAIL("select_topk: eos id %d outside [-1, %lld)", eos, (long long)V);
    /* src lives on the device: reading it here would cost the transfer
     * this op exists to avoid; the kernels give a row whose source lies
     * outside hist_in an empty history (ids −1) */
    mrg_device *dev = logits->dev;
    if (!dev->be->select_topk) {
        mrg_error(MRG_ERR_UNSUPPORTED, "select_topk: not implemented by %s", dev->be->kind);
        return NULL;
    }
    mrg_select_dims d = {R, V, L, n_hist > 0 ? hist_in->shape[0] : 0, n_hist, k, log_softmax,
                         penalty, eos};
    mrg_tensor *out = mrg_tensor_new(dev, MRG_I32, MRG_SHAPE(R, k, 3));
    mrg_tensor *work = mrg_tensor_new(dev, MRG_I32, MRG_SHAPE(R, V, 2)); /* scratch */
    if (!out || !work) return NULL;
    mrg_ptr none = mrg_ptr_null();
    if (dev->be->select_topk(dev, &d, mrg_ptr_of(logits), n_hist > 0 ? mrg_ptr_of(hist_in) : none,
                             src ? mrg_ptr_of(src) : none, tok ? mrg_ptr_of(tok) : none,
                             hist_out ? mrg_ptr_of(hist_out) : none, mrg_ptr_of(work),
                             mrg_ptr_of(out)) != MRG_OK)
        return NULL;
    return out;
}

void mrg_select_unpack(const int32_t *packed, int64_t n, int32_t *ids, double *scores) {
    for (int64_t i = 0; i < n; i++) {
        ids[i] = packed[3 * i];
        memcpy(&scores[i], &packed[3 * i + 1], sizeof(double));
    }
}

/* The optimizer set-up and the plain update step of the pretraining loops
 * (see train_internal.h). */
#include "train/train_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "mrg/autograd.h"

mrg_status train_adamw(mrg_tensor **params, int np, float lr, float weight_decay, mrg_adamw **out) {
    mrg_adamw_opts ao = mrg_adamw_defaults();
    ao.lr = lr;
    ao.weight_decay = weight_decay;
    *out = mrg_adamw_create(params, np, &ao);
    if (!*out) return MRG_ERR_OOM;
    return mrg_zero_grad(params, np);
}

mrg_status train_update(mrg_device *dev, mrg_tensor *loss, const char *what, mrg_tensor **params,
                        int np, mrg_adamw *opt, float lr, float clip, float *loss_out,
                        float *grad_norm) {
    mrg_status st = loss ? MRG_OK : mrg_error_context(MRG_ERR_DEVICE, "%s: forward", what);
    if (!st) st = mrg_tensor_item(loss, loss_out);
    *grad_norm = NAN;
    bool finite_loss = !st && isfinite(*loss_out);
    if (finite_loss) st = mrg_backward(loss);
    mrg_tensor *norm = NULL;
    if (!st && finite_loss) st = mrg_clip_grad_norm(params, np, clip, &norm);
    if (!st && norm) st = mrg_tensor_item(norm, grad_norm);
    if (!st && (!finite_loss || !isfinite(*grad_norm))) {
        /* never apply a non-finite update */
        st = mrg_zero_grad(params, np);
        if (!st)
            st = mrg_error(MRG_ERR_NONFINITE, "%s: the %s is %g; the update was not applied", what,
                           finite_loss ? "gradient norm" : "loss", finite_loss ? (double)*grad_norm : (double)*loss_out);
    } else {
        if (!st) st = mrg_adamw_step(opt, lr);
        if (!st) st = mrg_zero_grad(params, np);
    }
    mrg_step_reset(dev);
    return st;
}

mrg_status train_check_finite(mrg_tensor *const *ts, const char *const *names, int n, const char *what) {
    float *buf = NULL;
    int64_t cap = 0;
    mrg_status st = MRG_OK;
    for (int i = 0; i < n && !st; i++) {
        int64_t k = mrg_numel(ts[i]);
        if (k > cap) {
            float *nb = realloc(buf, sizeof(float) * (size_t)k);
            if (!nb) { st = mrg_error(MRG_ERR_OOM, "checking %s: out of memory", what); break; }
            buf = nb;
            cap = k;
        }
        const char *name = names ? names[i] : ts[i]->name;
        if ((st = mrg_tensor_to_f32(ts[i], buf))) break;
        int64_t bad = 0, first = -1;
        for (int64_t j = 0; j < k; j++)
            if (!isfinite(buf[j])) { bad++; if (first < 0) first = j; }
        if (bad)
            st = mrg_error(MRG_ERR_NONFINITE, "%s %s has %lld non-finite values (the first, element %lld, is %g)",
                           what, name, (long long)bad, (long long)first, (double)buf[first]);
    }
    free(buf);
    return st;
}

void train_log_skip(mrg_progress *prog, int64_t step, int epoch, int batch, int64_t skipped) {
    char json[1024], text[700], reason[512], at_batch[32] = "";
    snprintf(reason, sizeof reason, "%s", mrg_last_error());
    for (char *c = reason; *c; c++) /* keep the JSON string plain */
        if (*c == '"' || *c == '\\' || (unsigned char)*c < 32) *c = '\'';
    if (batch >= 0) snprintf(at_batch, sizeof at_batch, ",\"batch\":%d", batch);
    snprintf(json, sizeof json, "{\"type\":\"skip\",\"step\":%lld,\"epoch\":%d%s,\"skipped\":%lld,\"reason\":\"%s\"}",
             (long long)step, epoch, at_batch, (long long)skipped, reason);
    snprintf(text, sizeof text, "skipped update %lld (%lld so far): %s", (long long)step, (long long)skipped, reason);
    mrg_progress_record(prog, json, text);
    mrg_clear_error();
}

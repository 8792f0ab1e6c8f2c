/* Scoring a token sequence with a LLaMA: the negative log-likelihood that
 * perplexity is made of (`mrg lm --perplexity`). One forward of the whole
 * sequence, then a log-softmax per position on the host in double, so the
 * sum over a corpus does not depend on the device's summation order. */
#include <math.h>
#include <stdlib.h>

#include "mrg/autograd.h"
#include "models/llama_internal.h"

mrg_status mrg_llama_nll(mrg_llama *m, const int32_t *ids, int n, int first, double *nll) {
    if (!m || !ids || !nll) return mrg_error(MRG_ERR_INVALID_ARG, "llama nll: NULL argument");
    const mrg_llama_config *c = &m->cfg;
    if (n < 2 || first < 1 || first >= n)
        return mrg_error(MRG_ERR_INVALID_ARG, "llama nll: need 1 <= first (%d) < n (%d)", first, n);
    /* the last token is only predicted: n - 1 positions are fed */
    if (n - 1 > c->max_seq)
        return mrg_error(MRG_ERR_INVALID_ARG,
                         "llama nll: %d tokens need %d positions, the model has %d", n, n - 1,
                         c->max_seq);
    for (int i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= c->vocab_size)
            return mrg_error(MRG_ERR_INVALID_ARG, "llama nll: id %d is outside the vocabulary (%d)",
                             ids[i], c->vocab_size);
    const int T = n - 1, V = c->vocab_size;
    float *logits = malloc(sizeof(float) * (size_t)T * (size_t)V);
    if (!logits) return mrg_error(MRG_ERR_OOM, "llama nll: out of host memory");
    bool prev = mrg_grad_set_enabled(m->dev, false);
    mrg_tensor *in = mrg_tensor_from_i32(m->dev, MRG_SHAPE(1, T), ids);
    mrg_tensor *lg = in ? mrg_llama_forward_ids(m, in, NULL, NULL, false) : NULL; /* (1, T, V) */
    mrg_status st = lg ? mrg_tensor_to_f32(lg, logits) : mrg_error_context(MRG_ERR_DEVICE, "llama nll: forward");
    mrg_grad_set_enabled(m->dev, prev);
    mrg_step_reset(m->dev);
    double sum = 0;
    /* row t predicts ids[t + 1]: -log softmax(row)[target] */
    for (int t = first - 1; !st && t < T; t++) {
        const float *row = logits + (size_t)t * V;
        double mx = row[0];
        for (int v = 1; v < V; v++)
            if (row[v] > mx) mx = row[v];
        double z = 0;
        for (int v = 0; v < V; v++) z += exp((double)row[v] - mx);
        sum += mx + log(z) - (double)row[ids[t + 1]];
    }
    free(logits);
    if (!st && !isfinite(sum)) st = mrg_error(MRG_ERR_NONFINITE, "llama nll: the log-likelihood is not finite");
    if (!st) *nll = sum;
    return st;
}

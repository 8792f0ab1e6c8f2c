/* Tensors between ranks: the initial weights broadcast from one rank and the
 * gradient sum of a data-parallel update, both through host buffers (an
 * MPI library reads host memory; a device-aware MPI is not assumed).
 *
 * Gradients go in buckets: consecutive parameters are packed into one host
 * buffer of up to MRG_DIST_BUCKET floats and summed by one MPI_Allreduce, so
 * a model of hundreds of small tensors costs a few large messages instead
 * of one latency per tensor. The sum runs after the whole backward (the
 * tape records parameter gradients in one pass, with no hook where a
 * finished bucket could be sent while the backward goes on). */
#include <stdlib.h>
#include <string.h>

#include "mrg/dist.h"

/* ts[first..end) through one host buffer: download, op, upload back. */
typedef mrg_status (*host_op)(float *buf, int64_t n, int root);

static mrg_status op_sum(float *buf, int64_t n, int root) {
    (void)root;
    return mrg_dist_sum_f32(buf, n);
}

static mrg_status op_bcast(float *buf, int64_t n, int root) {
    return mrg_dist_bcast(buf, (size_t)n * sizeof(float), root);
}

/* The tensor that travels for parameter p: its gradient (sum) or itself. */
static mrg_tensor *payload(mrg_tensor *p, bool grads) { return grads ? p->grad : p; }

static mrg_status in_buckets(mrg_tensor *const *ts, int n, bool grads, host_op op, int root,
                             int64_t *bytes) {
    if (bytes) *bytes = 0;
    if (n < 0 || (n > 0 && !ts)) return mrg_error(MRG_ERR_INVALID_ARG, "dist: no tensors");
    float *buf = NULL;
    int64_t cap = 0;
    mrg_status st = MRG_OK;
    int i = 0;
    while (i < n && !st) {
        /* the bucket: parameters i..j (at least one, even when larger) */
        int64_t used = 0;
        int j = i;
        while (j < n) {
            mrg_tensor *t = ts[j] ? payload(ts[j], grads) : NULL;
            int64_t k = t ? mrg_numel(t) : 0;
            if (j > i && used + k > MRG_DIST_BUCKET) break;
            used += k;
            j++;
        }
        if (used > cap) {
            float *nb = realloc(buf, sizeof(float) * (size_t)used);
            if (!nb) { st = mrg_error(MRG_ERR_OOM, "dist: out of host memory for a %lld-float bucket", (long long)used); break; }
            buf = nb;
            cap = used;
        }
        int64_t off = 0;
        for (int k = i; k < j && !st; k++) {
            mrg_tensor *t = ts[k] ? payload(ts[k], grads) : NULL;
            if (!t) continue;
            st = mrg_tensor_to_f32(t, buf + off);
            off += mrg_numel(t);
        }
        if (!st && used > 0) st = op(buf, used, root);
        if (!st && bytes) *bytes += used * (int64_t)sizeof(float);
        off = 0;
        for (int k = i; k < j && !st; k++) {
            mrg_tensor *t = ts[k] ? payload(ts[k], grads) : NULL;
            if (!t) continue;
            st = mrg_tensor_upload_f32(t, buf + off); /* bf16/f16 round-trip f32 exactly */
            off += mrg_numel(t);
        }
        i = j;
    }
    free(buf);
    return st;
}

mrg_status mrg_dist_bcast_tensors(mrg_tensor *const *ts, int n, int root) {
    if (mrg_dist_size() <= 1) return MRG_OK;
    mrg_status st = in_buckets(ts, n, false, op_bcast, root, NULL);
    return st ? mrg_error_context(st, "broadcasting the initial weights from rank %d", root) : MRG_OK;
}

mrg_status mrg_dist_sum_grads(mrg_tensor *const *params, int n, int64_t *bytes) {
    if (bytes) *bytes = 0;
    if (mrg_dist_size() <= 1) return MRG_OK;
    mrg_status st = in_buckets(params, n, true, op_sum, 0, bytes);
    return st ? mrg_error_context(st, "summing the gradients over %d ranks", mrg_dist_size()) : MRG_OK;
}

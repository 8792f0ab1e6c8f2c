/* Tensors between ranks: the initial weights broadcast from one rank and the
 * gradient sum of a data-parallel update, both through host buffers (an
 * MPI library reads host memory; a device-aware MPI is not assumed).
 *
 * Gradients go in buckets: consecutive parameters are packed into one host
 * buffer of up to MRG_DIST_BUCKET floats and summed by one MPI_Allreduce, so
 * a model of hundreds of small tensors costs a few large messages instead
 * of one latency per tensor. mrg_grad_sync sends each bucket as soon as
 * the backward has completed its gradients (mrg_backward_watched), so the
 * sums overlap the rest of the backward; mrg_dist_sum_grads sends them all
 * after a backward, through the same buckets. */
#include <stdlib.h>
#include <string.h>

#include "mrg/dist.h"

/* Rank root's values of ts in buckets of consecutive tensors (up to
 * MRG_DIST_BUCKET floats, at least one tensor each), each through one host
 * buffer: download, broadcast, upload. */
static mrg_status bcast_in_buckets(mrg_tensor *const *ts, int n, int root) {
    if (n < 0 || (n > 0 && !ts)) return mrg_error(MRG_ERR_INVALID_ARG, "dist: no tensors");
    float *buf = NULL;
    int64_t cap = 0;
    mrg_status st = MRG_OK;
    int i = 0;
    while (i < n && !st) {
        /* the bucket: tensors i..j (at least one, even when larger) */
        int64_t used = 0;
        int j = i;
        while (j < n) {
            int64_t k = ts[j] ? mrg_numel(ts[j]) : 0;
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
            if (!ts[k]) continue;
            st = mrg_tensor_to_f32(ts[k], buf + off);
            off += mrg_numel(ts[k]);
        }
        if (!st && used > 0) st = mrg_dist_bcast(buf, (size_t)used * sizeof(float), root);
        off = 0;
        for (int k = i; k < j && !st; k++) {
            if (!ts[k]) continue;
            st = mrg_tensor_upload_f32(ts[k], buf + off); /* bf16/f16 round-trip f32 exactly */
            off += mrg_numel(ts[k]);
        }
        i = j;
    }
    free(buf);
    return st;
}

mrg_status mrg_dist_bcast_tensors(mrg_tensor *const *ts, int n, int root) {
    if (mrg_dist_size() <= 1) return MRG_OK;
    mrg_status st = bcast_in_buckets(ts, n, root);
    return st ? mrg_error_context(st, "broadcasting the initial weights from rank %d", root) : MRG_OK;
}

/* ---- sums overlapped with the backward ------------------------------------ */

struct mrg_grad_sync {
    mrg_tensor *const *params;
    int n, buckets;
    int *bucket_of;    /* parameter → bucket */
    int *first;        /* bucket b: parameters first[b] .. first[b + 1] - 1 */
    int *missing;      /* per bucket: parameters whose gradient is not complete */
    int64_t *floats;   /* per bucket */
    float **buf;       /* per bucket, once sent: the host values being summed */
    int next;          /* the next bucket to send: the last first, down to 0 */
    int64_t bytes;
};

/* The floats parameter p adds to its bucket: frozen ones send nothing. */
static int64_t travels(const mrg_tensor *p) { return p && p->requires_grad ? mrg_numel(p) : 0; }

/* Parameters in list order, consecutive ones into buckets of up to
 * MRG_DIST_BUCKET floats (at least one parameter each), counted on the
 * parameters themselves so that every rank makes the same buckets. */
mrg_grad_sync *mrg_grad_sync_begin(mrg_tensor *const *params, int n) {
    if (n < 0 || (n > 0 && !params)) {
        mrg_error(MRG_ERR_INVALID_ARG, "dist: no tensors");
        return NULL;
    }
    mrg_grad_sync *s = calloc(1, sizeof *s);
    size_t m = (size_t)(n > 0 ? n : 1);
    if (s) {
        s->bucket_of = malloc(sizeof(int) * m);
        s->first = malloc(sizeof(int) * (m + 1));
        s->missing = calloc(m, sizeof(int));
        s->floats = calloc(m, sizeof(int64_t));
        s->buf = calloc(m, sizeof(float *));
    }
    if (!s || !s->bucket_of || !s->first || !s->missing || !s->floats || !s->buf) {
        mrg_grad_sync_free(s);
        mrg_error(MRG_ERR_OOM, "dist: out of memory");
        return NULL;
    }
    s->params = params;
    s->n = n;
    for (int i = 0; i < n;) {
        int b = s->buckets++;
        s->first[b] = i;
        do {
            s->floats[b] += travels(params[i]);
            s->missing[b]++;
            s->bucket_of[i++] = b;
        } while (i < n && s->floats[b] + travels(params[i]) <= MRG_DIST_BUCKET);
    }
    s->first[s->buckets] = n;
    s->next = s->buckets - 1;
    return s;
}

/* Bucket b's gradients into a host buffer, and its sum started. */
static mrg_status send_bucket(mrg_grad_sync *s, int b) {
    float *buf = malloc(sizeof(float) * (size_t)(s->floats[b] > 0 ? s->floats[b] : 1));
    if (!buf) return mrg_error(MRG_ERR_OOM, "dist: out of host memory for a %lld-float bucket", (long long)s->floats[b]);
    s->buf[b] = buf;
    int64_t off = 0;
    mrg_status st = MRG_OK;
    for (int i = s->first[b]; i < s->first[b + 1] && !st; i++) {
        mrg_tensor *p = s->params[i];
        int64_t k = travels(p);
        if (!k) continue;
        /* a parameter no backward has reached yet has no gradient: zeros
         * (the same on every rank, and nothing is written back) */
        if (p->grad) st = mrg_tensor_to_f32(p->grad, buf + off);
        else memset(buf + off, 0, sizeof(float) * (size_t)k);
        off += k;
    }
    if (!st && s->floats[b] > 0) st = mrg_dist_sum_f32_start(buf, s->floats[b]);
    if (!st) s->bytes += s->floats[b] * (int64_t)sizeof(float);
    return st;
}

/* Sends, in order from the last bucket down, every bucket now complete:
 * the order is fixed, so every rank starts the same sums in the same order
 * whatever order its gradients completed in. */
static mrg_status send_ready(mrg_grad_sync *s) {
    mrg_status st = MRG_OK;
    while (!st && s->next >= 0 && s->missing[s->next] == 0) st = send_bucket(s, s->next--);
    return st;
}

static mrg_status on_complete(void *ctx, int i) {
    mrg_grad_sync *s = ctx;
    if (i < 0 || i >= s->n) return mrg_error(MRG_ERR_INVALID_ARG, "dist: no parameter %d", i);
    s->missing[s->bucket_of[i]]--;
    return send_ready(s);
}

static mrg_status on_tick(void *ctx) {
    (void)ctx;
    return mrg_dist_progress();
}

mrg_grad_watch mrg_grad_sync_watch(mrg_grad_sync *s) {
    return (mrg_grad_watch){s->params, s->n, on_complete, on_tick, s};
}

mrg_status mrg_grad_sync_finish(mrg_grad_sync *s, int64_t *bytes) {
    if (bytes) *bytes = 0;
    /* buckets still unsent (a backward that did not complete them all:
     * only after an error) go now, so that every rank ends the same sums */
    for (int b = 0; b < s->buckets; b++) s->missing[b] = 0;
    mrg_status st = send_ready(s);
    mrg_status wst = mrg_dist_sum_wait_all();
    if (!st) st = wst;
    for (int b = s->buckets - 1; b >= 0 && !st; b--) {
        int64_t off = 0;
        for (int i = s->first[b]; i < s->first[b + 1] && !st; i++) {
            mrg_tensor *p = s->params[i];
            int64_t k = travels(p);
            if (!k) continue;
            /* bf16/f16 round-trip f32 exactly */
            if (p->grad) st = mrg_tensor_upload_f32(p->grad, s->buf[b] + off);
            off += k;
        }
    }
    if (bytes) *bytes = s->bytes;
    return st ? mrg_error_context(st, "summing the gradients over %d ranks", mrg_dist_size()) : MRG_OK;
}

void mrg_grad_sync_free(mrg_grad_sync *s) {
    if (!s) return;
    for (int b = 0; s->buf && b < s->buckets; b++) free(s->buf[b]);
    free(s->buf);
    free(s->bucket_of);
    free(s->first);
    free(s->missing);
    free(s->floats);
    free(s);
}

/* After a backward: every bucket at once, through the same buckets. */
mrg_status mrg_dist_sum_grads(mrg_tensor *const *params, int n, int64_t *bytes) {
    if (bytes) *bytes = 0;
    if (mrg_dist_size() <= 1) return MRG_OK;
    mrg_grad_sync *s = mrg_grad_sync_begin(params, n);
    if (!s) return mrg_error_context(MRG_ERR_OOM, "summing the gradients over %d ranks", mrg_dist_size());
    mrg_status st = mrg_grad_sync_finish(s, bytes); /* sends what was not sent: all */
    mrg_grad_sync_free(s);
    return st;
}

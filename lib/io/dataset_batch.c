/* Dataset batches: the seeded per-epoch order and the assembly of one batch
 * (images decoded, resized and normalised; report ids padded with -1). */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "dataset_internal.h"
#include "mrg/image.h"

/* splitmix64: a small, well-mixed generator; used instead of rand() so the
 * order is the same on every platform and reproducible from (seed, epoch). */
static uint64_t splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in [0, bound) without modulo bias (rejects the short tail). */
static uint64_t bounded(uint64_t *s, uint64_t bound) {
    uint64_t threshold = (0 - bound) % bound;
    for (;;) {
        uint64_t r = splitmix64(s);
        if (r >= threshold) return r % bound;
    }
}

void mrg_ds_epoch_order(const mrg_dataset *ds, int epoch, int *perm) {
    for (int i = 0; i < ds->n; i++) perm[i] = i;
    if (!ds->opts.shuffle || ds->n < 2) return;
    /* the state depends only on (seed, epoch): a restart at any epoch
     * reproduces its order without replaying the earlier ones */
    uint64_t s = ds->opts.seed;
    uint64_t mix = splitmix64(&s);
    s = mix ^ ((uint64_t)(uint32_t)epoch * 0xD1B54A32D192ED03ull);
    (void)splitmix64(&s);
    for (int i = ds->n - 1; i > 0; i--) { /* Fisher–Yates */
        int j = (int)bounded(&s, (uint64_t)i + 1);
        int t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}

void mrg_batch_free(mrg_batch *b) {
    if (!b) return;
    if (b->ids)
        for (int i = 0; i < b->B; i++) free(b->ids[i]);
    if (b->reports)
        for (int i = 0; i < b->B; i++) free(b->reports[i]);
    free(b->ids);
    free(b->reports);
    free(b->images);
    free(b->report_ids);
    free(b->report_len);
    memset(b, 0, sizeof *b);
}

/* MRG_OK when path, with every symbolic link followed, lies inside the
 * dataset's images directory (or does not resolve: loading then says the
 * file is missing). Refuses a link that leads out of the dataset. */
static mrg_status check_inside(const mrg_dataset *ds, const char *path) {
    if (!ds->images_dir) return MRG_OK;
    char *real = realpath(path, NULL);
    if (!real) return MRG_OK;
    size_t n = strlen(ds->images_dir);
    bool inside = strncmp(real, ds->images_dir, n) == 0 && real[n] == '/';
    mrg_status st = inside ? MRG_OK
                           : mrg_error(MRG_ERR_FORMAT,
                                       "%s leads to %s, outside the dataset's images directory %s "
                                       "(a symbolic link out of the dataset is refused)",
                                       path, real, ds->images_dir);
    free(real);
    return st;
}

/* Decodes the B·V views of a batch into b->images (B, V, 3, S, S). On
 * failure the error of the first failing view (in batch order, so the
 * message does not depend on thread timing) names its study and file. */
static mrg_status load_images(const mrg_dataset *ds, const int *idx, bool parallel,
                              mrg_batch *b) {
    const int V = b->V, S = b->S, jobs = b->B * V;
    const size_t plane = (size_t)3 * S * S;
    b->images = malloc((size_t)jobs * plane * sizeof(float));
    mrg_status *st = calloc((size_t)jobs, sizeof *st);
    char **msg = calloc((size_t)jobs, sizeof *msg);
    if (!b->images || !st || !msg) {
        free(st);
        free(msg);
        return mrg_error(MRG_ERR_OOM, "dataset: cannot allocate a batch of %d images of %dx%d",
                         jobs, S, S);
    }
    const float *mean = ds->opts.mean, *std = ds->opts.std;
#pragma omp parallel for schedule(dynamic) if (parallel && jobs > 1)
    for (int j = 0; j < jobs; j++) {
        const mrg_study *sd = &ds->studies[idx[j / V]];
        mrg_image img;
        st[j] = check_inside(ds, sd->paths[j % V]);
        if (st[j] == MRG_OK)
            st[j] = mrg_image_load_for_model(sd->paths[j % V], S, S, mean, std, &img);
        if (st[j] != MRG_OK) {
            msg[j] = strdup(mrg_last_error()); /* the message is per thread */
            continue;
        }
        memcpy(b->images + (size_t)j * plane, img.data, plane * sizeof(float));
        mrg_image_free(&img);
    }
    mrg_status ret = MRG_OK;
    for (int j = 0; j < jobs; j++) {
        if (st[j] != MRG_OK && ret == MRG_OK)
            ret = mrg_error(st[j], "study \"%s\" (%s split), view %d: %s",
                            ds->studies[idx[j / V]].id, mrg_split_name(ds->split), j % V,
                            msg[j] ? msg[j] : "cannot load the image");
        free(msg[j]);
    }
    free(st);
    free(msg);
    return ret;
}

mrg_status mrg_ds_build_batch(const mrg_dataset *ds, const int *perm, int bi, bool parallel,
                              mrg_batch *out) {
    memset(out, 0, sizeof *out);
    const int bs = ds->opts.batch_size;
    int first = bi * bs;
    int B = ds->n - first < bs ? ds->n - first : bs;
    if (ds->opts.shard_count > 1) { /* this rank's contiguous share */
        const int r = ds->opts.shard_rank, n = ds->opts.shard_count;
        const int lo = (int)((int64_t)B * r / n), hi = (int)((int64_t)B * (r + 1) / n);
        first += lo;
        B = hi - lo;
    }
    const int *idx = perm + first;
    mrg_batch b = {.B = B, .V = ds->opts.n_views, .S = ds->opts.image_size};
    b.ids = calloc((size_t)B, sizeof *b.ids);
    b.reports = calloc((size_t)B, sizeof *b.reports);
    if (!b.ids || !b.reports) goto oom;
    for (int i = 0; i < B; i++) {
        b.ids[i] = strdup(ds->studies[idx[i]].id);
        b.reports[i] = strdup(ds->studies[idx[i]].report);
        if (!b.ids[i] || !b.reports[i]) goto oom;
    }
    if (ds->opts.tok) {
        for (int i = 0; i < B; i++)
            if (ds->studies[idx[i]].n_ids > b.T) b.T = ds->studies[idx[i]].n_ids;
        b.report_ids = malloc((size_t)B * b.T * sizeof *b.report_ids);
        b.report_len = malloc((size_t)B * sizeof *b.report_len);
        if (!b.report_ids || !b.report_len) goto oom;
        for (int i = 0; i < B; i++) { /* (B, T) row i: ids then -1 */
            const mrg_study *sd = &ds->studies[idx[i]];
            int32_t *row = b.report_ids + (size_t)i * b.T;
            memcpy(row, sd->ids, (size_t)sd->n_ids * sizeof *row);
            for (int t = sd->n_ids; t < b.T; t++) row[t] = -1;
            b.report_len[i] = sd->n_ids;
        }
    }
    if (ds->opts.load_images) {
        mrg_status st = load_images(ds, idx, parallel, &b);
        if (st != MRG_OK) {
            mrg_batch_free(&b);
            return st;
        }
    }
    *out = b;
    return MRG_OK;
oom:
    mrg_batch_free(&b);
    return mrg_error(MRG_ERR_OOM, "dataset: out of memory building a batch of %d studies", B);
}

void mrg_ds_build_item(const mrg_dataset *ds, const int *perm, int batch, bool parallel,
                       mrg_ds_item *it) {
    memset(it, 0, sizeof *it);
    if (batch >= ds->n_batches) {
        it->st = MRG_END;
        return;
    }
    it->st = mrg_ds_build_batch(ds, perm, batch, parallel, &it->batch);
    if (it->st != MRG_OK) it->msg = strdup(mrg_last_error());
}

void mrg_ds_item_clear(mrg_ds_item *it) {
    mrg_batch_free(&it->batch);
    free(it->msg);
    memset(it, 0, sizeof *it);
}

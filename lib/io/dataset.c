/* Datasets in the R2Gen layout: parsing DIR/annotation.json, cleaning and
 * tokenizing the reports once at open, and handing out batches in a seeded
 * order (synchronously or from the prefetch thread, dataset_thread.c).
 * Images are decoded lazily when a batch is built (dataset_batch.c). */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/files.h"
#include "dataset_internal.h"
#include "mrg/limits.h"
#include "mrg/text.h"

/* The documented JSON depth limit is the one cJSON enforces. */
_Static_assert(CJSON_NESTING_LIMIT == MRG_MAX_JSON_DEPTH,
               "MRG_MAX_JSON_DEPTH must equal cJSON's CJSON_NESTING_LIMIT");

static const char *const split_names[] = {"train", "val", "test"};

const char *mrg_split_name(mrg_split s) {
    return (int)s >= 0 && (int)s < 3 ? split_names[s] : NULL;
}

mrg_status mrg_split_parse(const char *name, mrg_split *out) {
    for (int i = 0; i < 3; i++)
        if (name && strcmp(name, split_names[i]) == 0) {
            *out = (mrg_split)i;
            return MRG_OK;
        }
    return mrg_error(MRG_ERR_INVALID_ARG, "unknown split \"%s\" (expected train, val or test)",
                     name ? name : "(null)");
}

mrg_dataset_opts mrg_dataset_defaults(void) {
    mrg_dataset_opts o = {
        .image_size = 224,
        .mean = {0.5f, 0.5f, 0.5f}, /* timm's ViT default (mrg_vit_config) */
        .std = {0.5f, 0.5f, 0.5f},
        .n_views = 2,
        .max_report_tokens = 60,
        .tok = NULL,
        .clean = true,
        .batch_size = 8,
        .shuffle = true,
        .seed = 42,
        .drop_last = false,
        .prefetch = 2,
        .load_images = true,
    };
    return o;
}

static mrg_status check_opts(const mrg_dataset_opts *o) {
    if (o->batch_size < 1)
        return mrg_error(MRG_ERR_INVALID_ARG, "dataset: batch_size must be >= 1 (got %d)",
                         o->batch_size);
    if (o->prefetch < 0)
        return mrg_error(MRG_ERR_INVALID_ARG, "dataset: prefetch must be >= 0 (got %d)",
                         o->prefetch);
    if (o->tok && o->max_report_tokens < 1)
        return mrg_error(MRG_ERR_INVALID_ARG, "dataset: max_report_tokens must be >= 1 (got %d)",
                         o->max_report_tokens);
    if (o->tok && mrg_tokenizer_eos(o->tok) < 0)
        return mrg_error(MRG_ERR_INVALID_ARG, "dataset: the tokenizer has no </s> token");
    if (o->shard_count < 0 || (o->shard_count > 1 && (o->shard_rank < 0 || o->shard_rank >= o->shard_count)))
        return mrg_error(MRG_ERR_INVALID_ARG, "dataset: shard %d of %d", o->shard_rank, o->shard_count);
    if (!o->load_images) return MRG_OK;
    if (o->image_size < 1 || o->n_views < 1)
        return mrg_error(MRG_ERR_INVALID_ARG,
                         "dataset: image_size and n_views must be >= 1 (got %d, %d)",
                         o->image_size, o->n_views);
    for (int c = 0; c < 3; c++)
        if (!(o->std[c] != 0.0f))
            return mrg_error(MRG_ERR_INVALID_ARG, "dataset: std[%d] must be non-zero", c);
    return MRG_OK;
}

static char *join3(const char *a, const char *b, const char *c) {
    size_t n = strlen(a) + strlen(b) + strlen(c) + 1;
    char *s = malloc(n);
    if (s) snprintf(s, n, "%s%s%s", a, b, c);
    return s;
}

static void study_clear(mrg_study *s) {
    free(s->id);
    free(s->report);
    for (int i = 0; i < s->n_paths; i++) free(s->paths[i]);
    free(s->paths);
    free(s->ids);
}

/* Tokens of the report truncated to max_report_tokens, then </s>. */
static mrg_status tokenize(const mrg_dataset_opts *o, mrg_study *s) {
    int32_t *ids;
    int n;
    mrg_status st = mrg_tokenizer_encode(o->tok, s->report, false, &ids, &n);
    if (st != MRG_OK) return mrg_error_context(st, "tokenizing the report of study \"%s\"", s->id);
    if (n > o->max_report_tokens) n = o->max_report_tokens;
    int32_t *grown = realloc(ids, (size_t)(n + 1) * sizeof *ids);
    if (!grown) {
        free(ids);
        return mrg_error(MRG_ERR_OOM, "out of memory tokenizing study \"%s\"", s->id);
    }
    grown[n] = mrg_tokenizer_eos(o->tok);
    s->ids = grown;
    s->n_ids = n + 1;
    return MRG_OK;
}

/* An image_path must name a file under DIR/images: no absolute path and no
 * ".." component (symbolic links that lead out are refused when the image
 * is read, dataset_batch.c). */
static bool path_stays_inside(const char *p) {
    if (p[0] == '/') return false;
    for (const char *c = p; *c;) {
        const char *e = strchr(c, '/');
        size_t n = e ? (size_t)(e - c) : strlen(c);
        if (n == 2 && c[0] == '.' && c[1] == '.') return false;
        c += n + (e != NULL);
    }
    return true;
}

/* One entry of the split list → *s. where = "annotation.json: train[3]". */
static mrg_status parse_study(const cJSON *e, const char *dir, const mrg_dataset_opts *o,
                              const char *where, mrg_study *s) {
    if (!cJSON_IsObject(e)) return mrg_error(MRG_ERR_FORMAT, "%s: not an object", where);
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(e, "id");
    if (!cJSON_IsString(id) || !id->valuestring[0])
        return mrg_error(MRG_ERR_FORMAT, "%s: missing or non-string \"id\"", where);
    s->id = strdup(id->valuestring);
    if (!s->id) return mrg_error(MRG_ERR_OOM, "out of memory");
    const cJSON *rep = cJSON_GetObjectItemCaseSensitive(e, "report");
    if (!cJSON_IsString(rep))
        return mrg_error(MRG_ERR_FORMAT, "%s (study \"%s\"): missing or non-string \"report\"",
                         where, s->id);
    size_t rlen = strlen(rep->valuestring);
    if (rlen > MRG_MAX_REPORT_BYTES)
        return mrg_error(MRG_ERR_FORMAT,
                         "%s (study \"%s\"): the report has %zu bytes; the limit is %d "
                         "(MRG_MAX_REPORT_BYTES)",
                         where, s->id, rlen, MRG_MAX_REPORT_BYTES);
    s->report = o->clean ? mrg_clean_report_iu(rep->valuestring) : strdup(rep->valuestring);
    if (!s->report)
        return o->clean ? mrg_error_context(MRG_ERR_FORMAT, "cleaning the report of study \"%s\"",
                                            s->id)
                        : mrg_error(MRG_ERR_OOM, "out of memory");

    const cJSON *paths = cJSON_GetObjectItemCaseSensitive(e, "image_path");
    int np = cJSON_IsArray(paths) ? cJSON_GetArraySize(paths) : 0;
    if (paths && !cJSON_IsArray(paths))
        return mrg_error(MRG_ERR_FORMAT, "%s (study \"%s\"): \"image_path\" is not a list", where,
                         s->id);
    if (np > MRG_MAX_IMAGES_PER_STUDY)
        return mrg_error(MRG_ERR_FORMAT,
                         "%s (study \"%s\"): %d \"image_path\" entries; the limit is %d "
                         "(MRG_MAX_IMAGES_PER_STUDY)",
                         where, s->id, np, MRG_MAX_IMAGES_PER_STUDY);
    for (int k = 0; k < np; k++) {
        const cJSON *p = cJSON_GetArrayItem(paths, k);
        if (!cJSON_IsString(p) || !p->valuestring[0])
            return mrg_error(MRG_ERR_FORMAT,
                             "%s (study \"%s\"): \"image_path\"[%d] is not a non-empty string",
                             where, s->id, k);
        if (!path_stays_inside(p->valuestring))
            return mrg_error(MRG_ERR_FORMAT,
                             "%s (study \"%s\"): \"image_path\"[%d] \"%s\" leaves the dataset's "
                             "images directory (absolute or with \"..\"); paths are relative to "
                             "%s/images",
                             where, s->id, k, p->valuestring, dir);
    }
    if (o->load_images && np == 0)
        return mrg_error(MRG_ERR_FORMAT, "%s (study \"%s\"): no \"image_path\" entries", where,
                         s->id);
    if (o->load_images || np > 0) {
        /* n_views views: the last is repeated when the study has fewer,
         * extra ones are dropped (views keep their annotation order);
         * report-only datasets without n_views keep them all */
        int nv = o->load_images || o->n_views >= 1 ? o->n_views : np;
        s->paths = calloc((size_t)nv, sizeof *s->paths);
        if (!s->paths) return mrg_error(MRG_ERR_OOM, "out of memory");
        s->n_paths = nv;
        char *base = join3(dir, "/images/", "");
        if (!base) return mrg_error(MRG_ERR_OOM, "out of memory");
        for (int k = 0; k < nv; k++) {
            const cJSON *p = cJSON_GetArrayItem(paths, k < np ? k : np - 1);
            s->paths[k] = join3(base, "", p->valuestring);
            if (!s->paths[k]) {
                free(base);
                return mrg_error(MRG_ERR_OOM, "out of memory");
            }
        }
        free(base);
    }
    return o->tok ? tokenize(o, s) : MRG_OK;
}

/* Open [ and { before byte off of a JSON text (outside strings): tells a
 * document cJSON refused for its depth from a malformed one. */
static int json_depth_at(const char *text, size_t off) {
    int depth = 0;
    bool in_str = false;
    for (size_t i = 0; i < off && text[i]; i++) {
        char c = text[i];
        if (in_str) {
            if (c == '\\' && text[i + 1]) i++;
            else if (c == '"') in_str = false;
        } else if (c == '"') {
            in_str = true;
        } else if (c == '[' || c == '{') {
            depth++;
        } else if ((c == ']' || c == '}') && depth > 0) {
            depth--;
        }
    }
    return depth;
}

/* Parses the split of DIR/annotation.json into ds->studies. */
static mrg_status load_annotation(mrg_dataset *ds, const char *dir) {
    char *path = join3(dir, "/annotation.json", "");
    if (!path) return mrg_error(MRG_ERR_OOM, "out of memory");
    char *text = NULL;
    mrg_status rs = mrg_read_file(path, (size_t)MRG_MAX_ANNOTATION_BYTES, "MRG_MAX_ANNOTATION_BYTES",
                                  &text, NULL);
    if (rs != MRG_OK) {
        free(path);
        return mrg_error_context(rs, "opening the dataset in %s", dir);
    }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(text, &end, 0);
    mrg_status st = MRG_OK;
    if (!root) {
        size_t off = end && end >= text ? (size_t)(end - text) : 0;
        int line = 1;
        for (size_t i = 0; i < off && text[i]; i++) line += text[i] == '\n';
        if (json_depth_at(text, off) >= MRG_MAX_JSON_DEPTH)
            st = mrg_error(MRG_ERR_FORMAT,
                           "%s: JSON nested deeper than %d levels near line %d (MRG_MAX_JSON_DEPTH)",
                           path, MRG_MAX_JSON_DEPTH, line);
        else
            st = mrg_error(MRG_ERR_FORMAT, "%s: malformed JSON near line %d (byte %zu)", path,
                           line, off);
        goto done;
    }
    const char *name = mrg_split_name(ds->split);
    if (!cJSON_IsObject(root)) {
        st = mrg_error(MRG_ERR_FORMAT, "%s: the top level is not an object", path);
        goto done;
    }
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(root, name);
    if (!list) {
        st = mrg_error(MRG_ERR_FORMAT, "%s: no \"%s\" split", path, name);
        goto done;
    }
    if (!cJSON_IsArray(list)) {
        st = mrg_error(MRG_ERR_FORMAT, "%s: \"%s\" is not a list", path, name);
        goto done;
    }
    int n = cJSON_GetArraySize(list);
    if (n > MRG_MAX_STUDIES) {
        st = mrg_error(MRG_ERR_FORMAT, "%s: the \"%s\" split has %d studies; the limit is %d (MRG_MAX_STUDIES)",
                       path, name, n, MRG_MAX_STUDIES);
        goto done;
    }
    ds->studies = calloc((size_t)(n > 0 ? n : 1), sizeof *ds->studies);
    if (!ds->studies) {
        st = mrg_error(MRG_ERR_OOM, "out of memory");
        goto done;
    }
    int i = 0;
    for (const cJSON *e = list->child; e; e = e->next, i++) {
        char where[4400];
        snprintf(where, sizeof where, "%s: %s[%d]", path, name, i);
        ds->n = i + 1; /* counts the partly filled entry so free() clears it */
        st = parse_study(e, dir, &ds->opts, where, &ds->studies[i]);
        if (st != MRG_OK) goto done;
    }
    ds->n = i;
done:
    cJSON_Delete(root);
    free(text);
    free(path);
    return st;
}

mrg_dataset *mrg_dataset_open(const char *dir, mrg_split split, const mrg_dataset_opts *opts) {
    if (!dir || !mrg_split_name(split)) {
        mrg_error(MRG_ERR_INVALID_ARG, "mrg_dataset_open: no directory or bad split");
        return NULL;
    }
    mrg_dataset_opts o = opts ? *opts : mrg_dataset_defaults();
    if (check_opts(&o) != MRG_OK) return NULL;
    mrg_dataset *ds = calloc(1, sizeof *ds);
    if (!ds) {
        mrg_error(MRG_ERR_OOM, "out of memory");
        return NULL;
    }
    ds->opts = o;
    ds->split = split;
    ds->perm_epoch = -1;
    pthread_mutex_init(&ds->mu, NULL);
    pthread_cond_init(&ds->not_empty, NULL);
    pthread_cond_init(&ds->not_full, NULL);
    if (load_annotation(ds, dir) != MRG_OK) {
        mrg_dataset_free(ds);
        return NULL;
    }
    if (o.load_images) {
        char *images = join3(dir, "/images", "");
        ds->images_dir = images ? realpath(images, NULL) : NULL;
        free(images);
    }
    int bs = o.batch_size;
    ds->n_batches = o.drop_last ? ds->n / bs : (ds->n + bs - 1) / bs;
    ds->perm = malloc((size_t)(ds->n > 0 ? ds->n : 1) * sizeof *ds->perm);
    ds->ring = o.prefetch > 0 ? calloc((size_t)o.prefetch, sizeof *ds->ring) : NULL;
    if (!ds->perm || (o.prefetch > 0 && !ds->ring)) {
        mrg_error(MRG_ERR_OOM, "out of memory");
        mrg_dataset_free(ds);
        return NULL;
    }
    return ds;
}

void mrg_dataset_free(mrg_dataset *ds) {
    if (!ds) return;
    mrg_ds_thread_stop(ds);
    for (int i = 0; i < ds->n; i++) study_clear(&ds->studies[i]);
    free(ds->studies);
    free(ds->images_dir);
    free(ds->perm);
    free(ds->ring);
    pthread_mutex_destroy(&ds->mu);
    pthread_cond_destroy(&ds->not_empty);
    pthread_cond_destroy(&ds->not_full);
    free(ds);
}

int mrg_dataset_size(const mrg_dataset *ds) { return ds ? ds->n : 0; }
int mrg_dataset_batches_per_epoch(const mrg_dataset *ds) { return ds ? ds->n_batches : 0; }
int mrg_dataset_batch_size(const mrg_dataset *ds) { return ds ? ds->opts.batch_size : 0; }

const char *mrg_dataset_id(const mrg_dataset *ds, int i) {
    return ds && i >= 0 && i < ds->n ? ds->studies[i].id : NULL;
}

const char *mrg_dataset_report(const mrg_dataset *ds, int i) {
    return ds && i >= 0 && i < ds->n ? ds->studies[i].report : NULL;
}

const char *const *mrg_dataset_image_paths(const mrg_dataset *ds, int i, int *n) {
    if (!ds || i < 0 || i >= ds->n) {
        if (n) *n = 0;
        return NULL;
    }
    if (n) *n = ds->studies[i].n_paths;
    return (const char *const *)ds->studies[i].paths;
}

mrg_status mrg_dataset_next(mrg_dataset *ds, mrg_batch *out) {
    if (!ds || !out) return mrg_error(MRG_ERR_INVALID_ARG, "mrg_dataset_next: NULL argument");
    memset(out, 0, sizeof *out);
    if (ds->opts.prefetch == 0) {
        if (ds->batch >= ds->n_batches) {
            ds->epoch++;
            ds->batch = 0;
            return MRG_END;
        }
        if (ds->perm_epoch != ds->epoch) {
            mrg_ds_epoch_order(ds, ds->epoch, ds->perm);
            ds->perm_epoch = ds->epoch;
        }
        /* the caller waits anyway: decode the views in parallel */
        mrg_status st = mrg_ds_build_batch(ds, ds->perm, ds->batch, true, out);
        if (st == MRG_OK) ds->batch++;
        return st;
    }
    mrg_status st = mrg_ds_thread_start(ds);
    if (st != MRG_OK) return st;
    mrg_ds_item it;
    mrg_ds_thread_take(ds, &it);
    if (it.st == MRG_OK) {
        *out = it.batch;
        ds->batch++;
        return MRG_OK;
    }
    if (it.st == MRG_END) {
        ds->epoch++;
        ds->batch = 0;
        return MRG_END;
    }
    /* the producer has stopped after the error; the position stays at the
     * failed batch, as without prefetch, and the next call retries it */
    mrg_ds_thread_stop(ds);
    st = mrg_error(it.st, "%s", it.msg ? it.msg : "dataset: cannot build a batch");
    mrg_ds_item_clear(&it);
    return st;
}

void mrg_dataset_position(const mrg_dataset *ds, int *epoch, int *batch) {
    if (epoch) *epoch = ds ? ds->epoch : 0;
    if (batch) *batch = ds ? ds->batch : 0;
}

mrg_status mrg_dataset_seek(mrg_dataset *ds, int epoch, int batch) {
    if (!ds) return mrg_error(MRG_ERR_INVALID_ARG, "mrg_dataset_seek: NULL dataset");
    if (epoch < 0 || batch < 0 || batch > ds->n_batches)
        return mrg_error(MRG_ERR_INVALID_ARG,
                         "dataset: cannot seek to epoch %d batch %d (%d batches per epoch)", epoch,
                         batch, ds->n_batches);
    if (ds->running && epoch == ds->epoch + 1 && batch == 0 && ds->batch == ds->n_batches) {
        /* a loop that counts its batches seeks to the next epoch instead of
         * reading the end mark: take the mark and keep what is prefetched */
        mrg_ds_item it;
        mrg_ds_thread_take(ds, &it);
        bool end = it.st == MRG_END;
        mrg_ds_item_clear(&it);
        if (end) {
            ds->epoch = epoch;
            ds->batch = 0;
            return MRG_OK;
        }
    }
    /* the ring holds the stream from the current position: keep it when the
     * position does not change (a loop that seeks at every epoch start) */
    if (ds->running && epoch == ds->epoch && batch == ds->batch) return MRG_OK;
    mrg_ds_thread_stop(ds);
    ds->epoch = epoch;
    ds->batch = batch;
    return MRG_OK;
}

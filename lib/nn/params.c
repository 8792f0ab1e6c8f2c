/* mrg_params: the owning list of a model's parameters, and the operations
 * every model needs on it (find, count, freeze, load, save). */
#include <stdlib.h>
#include <string.h>

#include "mrg/nn.h"

void mrg_params_init(mrg_params *p) { memset(p, 0, sizeof *p); }

mrg_status mrg_params_add(mrg_params *p, mrg_tensor *t) {
    if (!t) return mrg_error(MRG_ERR_INVALID_ARG, "mrg_params_add: no tensor");
    if (!t->persistent)
        return mrg_error(MRG_ERR_INVALID_ARG, "parameter %s is not a persistent tensor", t->name);
    if (mrg_params_find(p, t->name))
        return mrg_error(MRG_ERR_INVALID_ARG, "duplicate parameter name '%s'", t->name);
    if (p->n == p->cap) {
        int cap = p->cap ? 2 * p->cap : 64;
        mrg_tensor **nt = realloc(p->t, sizeof *nt * (size_t)cap);
        if (!nt) return mrg_error(MRG_ERR_OOM, "parameter list of %d entries", cap);
        p->t = nt;
        p->cap = cap;
    }
    p->t[p->n++] = t;
    return MRG_OK;
}

void mrg_params_free(mrg_params *p) {
    if (!p) return;
    for (int i = 0; i < p->n; i++) mrg_tensor_free(p->t[i]);
    free(p->t);
    memset(p, 0, sizeof *p);
}

mrg_tensor *mrg_params_find(const mrg_params *p, const char *name) {
    for (int i = 0; i < p->n; i++)
        if (!strcmp(p->t[i]->name, name)) return p->t[i];
    return NULL;
}

int64_t mrg_params_numel(const mrg_params *p) {
    int64_t n = 0;
    for (int i = 0; i < p->n; i++) n += mrg_numel(p->t[i]);
    return n;
}

int mrg_params_trainable(const mrg_params *p, mrg_tensor **out) {
    int k = 0;
    for (int i = 0; i < p->n; i++)
        if (p->t[i]->trainable) {
            if (out) out[k] = p->t[i];
            k++;
        }
    return k;
}

static bool has_prefix(const char *s, const char *prefix) {
    return !prefix || !strncmp(s, prefix, strlen(prefix));
}

mrg_status mrg_params_set_trainable(mrg_params *p, const char *prefix, bool trainable) {
    for (int i = 0; i < p->n; i++) {
        mrg_tensor *t = p->t[i];
        if (!has_prefix(t->name, prefix) || t->trainable == trainable) continue;
        if (trainable) {
            if (t->dtype != MRG_F32)
                return mrg_error(MRG_ERR_INVALID_ARG,
                                 "parameter %s is stored as %s; only f32 parameters can be trained",
                                 t->name, mrg_dtype_name(t->dtype));
            mrg_tensor *g = mrg_tensor_new_persistent(t->dev, MRG_F32, t->ndim, t->shape);
            if (!g) return mrg_error_context(MRG_ERR_OOM, "gradient of %s", t->name);
            t->grad = g;
            t->trainable = t->requires_grad = true;
        } else {
            if (t->grad && t->grad->persistent) mrg_tensor_free(t->grad);
            t->grad = NULL;
            t->trainable = t->requires_grad = false;
        }
    }
    return MRG_OK;
}

mrg_status mrg_params_load(mrg_params *p, const mrg_st_file *f, const char *strip_prefix) {
    size_t skip = strip_prefix ? strlen(strip_prefix) : 0;
    for (int i = 0; i < p->n; i++) {
        mrg_tensor *t = p->t[i];
        if (!has_prefix(t->name, strip_prefix)) continue;
        /* absent → NOT_FOUND, wrong shape → FORMAT; the reader's message
         * names the file and the shapes */
        mrg_status miss = mrg_st_find(f, t->name + skip) ? MRG_ERR_FORMAT : MRG_ERR_NOT_FOUND;
        const mrg_st_tensor *st = mrg_st_require(f, t->name + skip, t->ndim, t->shape);
        if (!st) return mrg_error_context(miss, "loading parameter %s", t->name);
        mrg_status s = mrg_st_load_into(st, t);
        if (s != MRG_OK) return mrg_error_context(s, "loading parameter %s", t->name);
    }
    return MRG_OK;
}

mrg_status mrg_params_save(const mrg_params *p, mrg_st_writer *w) {
    for (int i = 0; i < p->n; i++) {
        mrg_status s = mrg_st_writer_add_tensor(w, p->t[i]->name, p->t[i]);
        if (s != MRG_OK) return mrg_error_context(s, "saving parameter %s", p->t[i]->name);
    }
    return MRG_OK;
}

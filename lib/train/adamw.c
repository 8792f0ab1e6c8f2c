/* AdamW (PyTorch semantics) with first and second moments kept in
 * persistent device tensors; each update is one device kernel per
 * parameter (mrg_adamw_update). Bias corrections are computed on the host in double. */
#include <math.h>
#include <stdlib.h>

#include "mrg/ops.h"
#include "mrg/optim.h"

struct mrg_adamw {
    mrg_adamw_opts opts;
    int n;
    mrg_tensor **params;
    mrg_tensor **m, **v; /* NULL for frozen parameters */
    int64_t steps;
};

mrg_adamw_opts mrg_adamw_defaults(void) {
    mrg_adamw_opts o = {1e-4f, 0.9f, 0.999f, 1e-8f, 1e-6f};
    return o;
}

static mrg_status check_opts(const mrg_adamw_opts *o) {
    if (!(o->lr >= 0.0f))
        return mrg_error(MRG_ERR_INVALID_ARG, "adamw: lr %g must be >= 0", (double)o->lr);
    if (!(o->beta1 >= 0.0f && o->beta1 < 1.0f) || !(o->beta2 >= 0.0f && o->beta2 < 1.0f))
        return mrg_error(MRG_ERR_INVALID_ARG, "adamw: betas (%g, %g) must lie in [0, 1)",
                         (double)o->beta1, (double)o->beta2);
    if (!(o->eps >= 0.0f))
        return mrg_error(MRG_ERR_INVALID_ARG, "adamw: eps %g must be >= 0", (double)o->eps);
    if (!(o->weight_decay >= 0.0f))
        return mrg_error(MRG_ERR_INVALID_ARG, "adamw: weight decay %g must be >= 0",
                         (double)o->weight_decay);
    return MRG_OK;
}

mrg_adamw *mrg_adamw_create(mrg_tensor *const *params, int n, const mrg_adamw_opts *opts) {
    if (n < 0 || (n > 0 && !params)) {
        mrg_error(MRG_ERR_INVALID_ARG, "adamw: no parameters");
        return NULL;
    }
    mrg_adamw_opts o = opts ? *opts : mrg_adamw_defaults();
    if (check_opts(&o) != MRG_OK) return NULL;
    for (int i = 0; i < n; i++) {
        if (!params[i]) {
            mrg_error(MRG_ERR_INVALID_ARG, "adamw: parameter %d is NULL", i);
            return NULL;
        }
        if (params[i]->trainable && params[i]->dtype != MRG_F32) {
            mrg_error(MRG_ERR_INVALID_ARG, "adamw: trainable parameter %d (%s) must be f32", i,
                      params[i]->name);
            return NULL;
        }
    }
    mrg_adamw *opt = calloc(1, sizeof *opt);
    size_t cnt = n > 0 ? (size_t)n : 1;
    if (opt) {
        opt->params = calloc(cnt, sizeof *opt->params);
        opt->m = calloc(cnt, sizeof *opt->m);
        opt->v = calloc(cnt, sizeof *opt->v);
    }
    if (!opt || !opt->params || !opt->m || !opt->v) {
        mrg_adamw_free(opt);
        mrg_error(MRG_ERR_OOM, "adamw: out of host memory");
        return NULL;
    }
    opt->opts = o;
    opt->n = n;
    for (int i = 0; i < n; i++) {
        mrg_tensor *p = params[i];
        opt->params[i] = p;
        if (!p->trainable) continue;
        /* zero-filled persistent moments with the parameter's shape */
        opt->m[i] = mrg_tensor_new_persistent(p->dev, MRG_F32, p->ndim, p->shape);
        opt->v[i] = opt->m[i] ? mrg_tensor_new_persistent(p->dev, MRG_F32, p->ndim, p->shape)
                              : NULL;
        if (!opt->v[i]) {
            mrg_error_context(MRG_ERR_OOM, "adamw: moments of parameter %d (%s)", i, p->name);
            mrg_adamw_free(opt);
            return NULL;
        }
    }
    return opt;
}

void mrg_adamw_free(mrg_adamw *opt) {
    if (!opt) return;
    for (int i = 0; i < opt->n; i++) {
        if (opt->m) mrg_tensor_free(opt->m[i]);
        if (opt->v) mrg_tensor_free(opt->v[i]);
    }
    free(opt->params);
    free(opt->m);
    free(opt->v);
    free(opt);
}

mrg_status mrg_adamw_step(mrg_adamw *opt, float lr) {
    if (!opt) return mrg_error(MRG_ERR_INVALID_ARG, "adamw: no optimizer");
    if (!(lr >= 0.0f)) return mrg_error(MRG_ERR_INVALID_ARG, "adamw: lr %g must be >= 0", (double)lr);
    const mrg_adamw_opts *o = &opt->opts;
    double t = (double)(opt->steps + 1);
    float bc1 = (float)(1.0 - pow((double)o->beta1, t));
    float bc2 = (float)(1.0 - pow((double)o->beta2, t));
    for (int i = 0; i < opt->n; i++) {
        mrg_tensor *p = opt->params[i];
        /* frozen parameters (also ones frozen after creation) are skipped;
         * a missing gradient skips the parameter, as PyTorch does for None */
        if (!opt->m[i] || !p->trainable || !p->grad) continue;
        mrg_status st = mrg_adamw_update(p, p->grad, opt->m[i], opt->v[i], lr, o->beta1,
                                         o->beta2, o->eps, o->weight_decay, bc1, bc2);
        if (st != MRG_OK) return mrg_error_context(st, "adamw: parameter %d (%s)", i, p->name);
    }
    opt->steps++;
    return MRG_OK;
}

int64_t mrg_adamw_steps(const mrg_adamw *opt) { return opt ? opt->steps : 0; }

mrg_tensor *mrg_adamw_moment(mrg_adamw *opt, int i, int which) {
    if (!opt || i < 0 || i >= opt->n || (which != 0 && which != 1)) {
        mrg_error(MRG_ERR_INVALID_ARG, "adamw: no moment %d of parameter %d", which, i);
        return NULL;
    }
    mrg_tensor *t = which == 0 ? opt->m[i] : opt->v[i];
    if (!t)
        mrg_error(MRG_ERR_NOT_FOUND, "adamw: parameter %d (%s) is frozen and has no moments", i,
                  opt->params[i]->name);
    return t;
}

mrg_status mrg_adamw_set_steps(mrg_adamw *opt, int64_t steps) {
    if (!opt) return mrg_error(MRG_ERR_INVALID_ARG, "adamw: no optimizer");
    if (steps < 0)
        return mrg_error(MRG_ERR_INVALID_ARG, "adamw: step count %lld must be >= 0",
                         (long long)steps);
    opt->steps = steps;
    return MRG_OK;
}

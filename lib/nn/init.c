/* Parameter construction: the context that names, initialises and collects
 * parameters, and the seeded random numbers behind the initialisers. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn_internal.h"

mrg_nn_ctx mrg_nn_ctx_make(mrg_device *dev, mrg_params *params, uint64_t seed, bool trainable) {
    mrg_nn_ctx c;
    memset(&c, 0, sizeof c);
    c.dev = dev;
    c.params = params;
    c.rng = seed;
    c.trainable = trainable;
    c.frozen_weight_dtype = MRG_F32;
    return c;
}

/* splitmix64 (Steele, Lea, Flood 2014): a full-period 64-bit generator whose
 * every seed, including 0, gives a good stream. */
uint64_t mrg_nn_rand_u64(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

float mrg_nn_rand_uniform(uint64_t *state) {
    return (float)(mrg_nn_rand_u64(state) >> 40) * (1.0f / 16777216.0f); /* 24 bits */
}

float mrg_nn_rand_normal(uint64_t *state) {
    /* Box-Muller; u1 in (0, 1] keeps the log finite */
    double u1 = ((double)(mrg_nn_rand_u64(state) >> 11) + 1.0) * (1.0 / 9007199254740992.0);
    double u2 = (double)(mrg_nn_rand_u64(state) >> 11) * (1.0 / 9007199254740992.0);
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

/* Two independent N(0, 1) samples from one Box-Muller draw (float math:
 * plenty for initialisation, and fast for 100M-parameter models). */
static void normal_pair(uint64_t *rng, float *a, float *b) {
    uint64_t r = mrg_nn_rand_u64(rng);
    float u1 = ((float)(r >> 40) + 1.0f) * (1.0f / 16777216.0f); /* (0, 1] */
    float u2 = (float)(r & 0xFFFFFF) * (1.0f / 16777216.0f);     /* [0, 1) */
    float rad = sqrtf(-2.0f * logf(u1)), th = 6.2831853f * u2;
    *a = rad * cosf(th);
    *b = rad * sinf(th);
}

static void fill_host(float *x, int64_t n, mrg_nn_fill fill, float std, uint64_t *rng) {
    if (fill == MRG_NN_ZEROS || fill == MRG_NN_ONES) {
        for (int64_t i = 0; i < n; i++) x[i] = fill == MRG_NN_ONES ? 1.0f : 0.0f;
        return;
    }
    float z[2];
    int have = 0;
    for (int64_t i = 0; i < n; i++) {
        for (;;) {
            if (!have) {
                normal_pair(rng, &z[0], &z[1]);
                have = 2;
            }
            float v = z[--have];
            /* trunc-normal: resample outside ±2σ */
            if (fill == MRG_NN_NORMAL || fabsf(v) <= 2.0f) {
                x[i] = std * v;
                break;
            }
        }
    }
}

mrg_status mrg_nn_param_st(mrg_nn_ctx *ctx, const char *name, mrg_dtype dt, int ndim,
                           const int64_t *shape, mrg_nn_fill fill, float std, mrg_tensor **out) {
    *out = NULL;
    if (!ctx || !ctx->dev || !ctx->params || !name)
        return mrg_error(MRG_ERR_INVALID_ARG, "mrg_nn_param: incomplete context");
    char full[64];
    int len = snprintf(full, sizeof full, "%s%s", ctx->prefix, name);
    if (len < 0 || len >= (int)sizeof full)
        return mrg_error(MRG_ERR_INVALID_ARG, "parameter name '%s%s' is longer than %d characters",
                         ctx->prefix, name, (int)sizeof full - 1);
    if (ctx->trainable) dt = MRG_F32;
    mrg_tensor *t = mrg_param_new(ctx->dev, dt, ndim, shape, ctx->trainable, full);
    if (!t) return mrg_error_context(MRG_ERR_OOM, "creating parameter %s", full);
    /* persistent tensors start zeroed, so zeros and skip_init need no upload */
    if (!ctx->skip_init && fill != MRG_NN_ZEROS) {
        int64_t n = mrg_numel(t);
        float *host = malloc(sizeof(float) * (size_t)(n ? n : 1));
        if (!host) {
            mrg_tensor_free(t);
            return mrg_error(MRG_ERR_OOM, "initialising parameter %s", full);
        }
        fill_host(host, n, fill, std, &ctx->rng);
        mrg_status st = mrg_tensor_upload_f32(t, host);
        free(host);
        if (st != MRG_OK) {
            mrg_tensor_free(t);
            return mrg_error_context(st, "initialising parameter %s", full);
        }
    }
    mrg_status st = mrg_params_add(ctx->params, t);
    if (st != MRG_OK) {
        mrg_tensor_free(t);
        return st;
    }
    *out = t;
    return MRG_OK;
}

mrg_tensor *mrg_nn_param(mrg_nn_ctx *ctx, const char *name, mrg_dtype dt, int ndim,
                         const int64_t *shape, mrg_nn_fill fill, float std) {
    mrg_tensor *t;
    mrg_nn_param_st(ctx, name, dt, ndim, shape, fill, std, &t);
    return t;
}

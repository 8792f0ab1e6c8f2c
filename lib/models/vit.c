/* The ViT model: construction, checkpoint loading/saving and the forward. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mrg/ops.h"
#include "mrg/vit.h"

struct mrg_vit {
    mrg_vit_config cfg;
    mrg_device *dev;
    mrg_params params; /* owns every tensor below */
    char prefix[48];
    mrg_tensor *patch_w;   /* (D, C, P, P) */
    mrg_tensor *patch_b;   /* (D) */
    mrg_tensor *cls_token; /* (1, 1, D) */
    mrg_tensor *pos_embed; /* (1, N+1, D) */
    mrg_nn_block *blocks;  /* depth */
    mrg_nn_layernorm norm;
    mrg_nn_linear head; /* (C, D); unused when num_classes = 0 */
};

static mrg_status build(mrg_vit *v, const mrg_vit_opts *o, bool skip_init) {
    const mrg_vit_config *c = &v->cfg;
    mrg_nn_ctx ctx = mrg_nn_ctx_make(v->dev, &v->params, o->seed, o->trainable);
    ctx.skip_init = skip_init;
    snprintf(ctx.prefix, sizeof ctx.prefix, "%s", v->prefix);
    int64_t D = c->dim, P = c->patch_size, grid = c->image_size / c->patch_size;
    /* timm: patch/pos/cls init trunc-normal 0.02 (cls 1e-6), linears 0.02 */
    v->patch_w = mrg_nn_param(&ctx, "patch_embed.proj.weight", MRG_F32,
                              MRG_SHAPE(D, c->in_chans, P, P), MRG_NN_TRUNC_NORMAL, 0.02f);
    if (!v->patch_w) return MRG_ERR_OOM;
    v->patch_b =
        mrg_nn_param(&ctx, "patch_embed.proj.bias", MRG_F32, MRG_SHAPE(D), MRG_NN_ZEROS, 0);
    if (!v->patch_b) return MRG_ERR_OOM;
    v->cls_token =
        mrg_nn_param(&ctx, "cls_token", MRG_F32, MRG_SHAPE(1, 1, D), MRG_NN_NORMAL, 1e-6f);
    if (!v->cls_token) return MRG_ERR_OOM;
    v->pos_embed = mrg_nn_param(&ctx, "pos_embed", MRG_F32, MRG_SHAPE(1, grid * grid + 1, D),
                                MRG_NN_TRUNC_NORMAL, 0.02f);
    if (!v->pos_embed) return MRG_ERR_OOM;
    v->blocks = calloc((size_t)c->depth, sizeof *v->blocks);
    if (!v->blocks) return mrg_error(MRG_ERR_OOM, "ViT blocks");
    for (int i = 0; i < c->depth; i++) {
        char name[32];
        snprintf(name, sizeof name, "blocks.%d", i);
        mrg_status st =
            mrg_nn_block_init(&v->blocks[i], &ctx, name, D, c->heads, c->mlp_hidden, c->eps);
        if (st != MRG_OK) return st;
    }
    mrg_status st = mrg_nn_layernorm_init(&v->norm, &ctx, "norm", D, c->eps);
    if (st == MRG_OK && c->num_classes > 0)
        st = mrg_nn_linear_init(&v->head, &ctx, "head", D, c->num_classes, true);
    return st;
}

static mrg_vit *vit_new(mrg_device *dev, const mrg_vit_config *cfg, const mrg_vit_opts *opts,
                        bool skip_init) {
    mrg_vit_opts o = {.trainable = false, .seed = 0, .prefix = NULL};
    if (opts) o = *opts;
    if (!dev) {
        mrg_error(MRG_ERR_INVALID_ARG, "ViT: no device");
        return NULL;
    }
    if (mrg_vit_config_check(cfg) != MRG_OK) return NULL;
    if (o.prefix && strlen(o.prefix) >= sizeof(((mrg_vit *)0)->prefix)) {
        mrg_error(MRG_ERR_INVALID_ARG, "ViT: parameter prefix '%s' is too long", o.prefix);
        return NULL;
    }
    mrg_vit *v = calloc(1, sizeof *v);
    if (!v) {
        mrg_error(MRG_ERR_OOM, "ViT");
        return NULL;
    }
    v->cfg = *cfg;
    v->dev = dev;
    mrg_params_init(&v->params);
    snprintf(v->prefix, sizeof v->prefix, "%s", o.prefix ? o.prefix : "");
    if (build(v, &o, skip_init) != MRG_OK) {
        mrg_error_context(MRG_ERR_OOM, "creating the ViT");
        mrg_vit_free(v);
        return NULL;
    }
    return v;
}

mrg_vit *mrg_vit_create(mrg_device *dev, const mrg_vit_config *cfg, const mrg_vit_opts *opts) {
    return vit_new(dev, cfg, opts, false);
}

void mrg_vit_free(mrg_vit *v) {
    if (!v) return;
    mrg_params_free(&v->params);
    free(v->blocks);
    free(v);
}

mrg_status mrg_vit_load_weights(mrg_vit *v, const mrg_st_file *f) {
    size_t plen = strlen(v->prefix);
    /* every stored tensor must be one of ours: a variant with extra parts
     * (register tokens, layer scale, fc_norm...) would otherwise load and
     * silently compute something else */
    for (int i = 0; i < mrg_st_count(f); i++) {
        const char *name = mrg_st_get(f, i)->name;
        char full[128];
        snprintf(full, sizeof full, "%s%s", v->prefix, name);
        if (!mrg_params_find(&v->params, full))
            return mrg_error(MRG_ERR_UNSUPPORTED,
                             "ViT checkpoint holds tensor '%s', which this ViT (timm "
                             "VisionTransformer with a class token, %s) does not have",
                             name, v->cfg.num_classes ? "a head" : "no head");
    }
    return mrg_params_load(&v->params, f, plen ? v->prefix : NULL);
}

mrg_vit *mrg_vit_load_files(const char *config_path, const char *weights_path, mrg_device *dev,
                            const mrg_vit_opts *opts) {
    mrg_st_file *f = mrg_st_open(weights_path);
    if (!f) return NULL;
    mrg_vit_config cfg;
    mrg_vit *v = NULL;
    if (mrg_vit_config_read(config_path, f, &cfg) == MRG_OK) v = vit_new(dev, &cfg, opts, true);
    if (v && mrg_vit_load_weights(v, f) != MRG_OK) {
        mrg_error_context(MRG_ERR_FORMAT, "%s", weights_path);
        mrg_vit_free(v);
        v = NULL;
    }
    mrg_st_close(f);
    return v;
}

mrg_vit *mrg_vit_load(const char *dir, mrg_device *dev, const mrg_vit_opts *opts) {
    char cfg_path[4096];
    if (snprintf(cfg_path, sizeof cfg_path, "%s/config.json", dir) >= (int)sizeof cfg_path) {
        mrg_error(MRG_ERR_INVALID_ARG, "path too long: %s", dir);
        return NULL;
    }
    mrg_st_file *f = mrg_st_open_dir(dir);
    if (!f) return NULL;
    mrg_vit_config cfg;
    mrg_vit *v = NULL;
    if (mrg_vit_config_read(cfg_path, f, &cfg) == MRG_OK) v = vit_new(dev, &cfg, opts, true);
    if (v && mrg_vit_load_weights(v, f) != MRG_OK) {
        mrg_error_context(MRG_ERR_FORMAT, "%s", dir);
        mrg_vit_free(v);
        v = NULL;
    }
    mrg_st_close(f);
    return v;
}

mrg_status mrg_vit_save(const mrg_vit *v, const char *dir) {
    char path[4096];
    if (snprintf(path, sizeof path, "%s/model.safetensors", dir) >= (int)sizeof path)
        return mrg_error(MRG_ERR_INVALID_ARG, "path too long: %s", dir);
    mrg_st_writer *w = mrg_st_writer_new();
    if (!w) return mrg_error(MRG_ERR_OOM, "safetensors writer");
    size_t plen = strlen(v->prefix);
    mrg_status st = MRG_OK;
    for (int i = 0; i < v->params.n && st == MRG_OK; i++) /* timm names: without our prefix */
        st = mrg_st_writer_add_tensor(w, v->params.t[i]->name + plen, v->params.t[i]);
    if (st == MRG_OK) st = mrg_st_writer_save(w, path);
    mrg_st_writer_free(w);
    if (st != MRG_OK) return st;
    snprintf(path, sizeof path, "%s/config.json", dir);
    return mrg_vit_config_write(&v->cfg, path);
}

const mrg_vit_config *mrg_vit_get_config(const mrg_vit *v) { return &v->cfg; }
mrg_params *mrg_vit_params(mrg_vit *v) { return &v->params; }
int64_t mrg_vit_tokens(const mrg_vit *v) {
    int64_t g = v->cfg.image_size / v->cfg.patch_size;
    return g * g + 1;
}

mrg_status mrg_vit_forward(mrg_vit *v, mrg_tensor *images, mrg_tensor **features,
                           mrg_tensor **logits) {
    if (features) *features = NULL;
    if (logits) *logits = NULL;
    const mrg_vit_config *c = &v->cfg;
    if (!images || images->ndim != 4 || images->shape[1] != c->in_chans ||
        images->shape[2] != c->image_size || images->shape[3] != c->image_size) {
        char s[96] = "NULL";
        if (images) mrg_shape_str(images, s, sizeof s);
        return mrg_error(MRG_ERR_INVALID_ARG, "ViT: images %s, expected (B, %d, %d, %d)", s,
                         c->in_chans, c->image_size, c->image_size);
    }
    int64_t B = images->shape[0], D = c->dim;
    mrg_tensor *x = mrg_patch_embed(images, v->patch_w, v->patch_b); /* (B, N, D) */
    /* the class token broadcast over the batch: zeros (B, 1, D) + (1, 1, D),
     * so its gradient sums over the batch */
    mrg_tensor *cls = mrg_add(mrg_tensor_zeros(v->dev, MRG_F32, MRG_SHAPE(B, 1, D)), v->cls_token);
    mrg_tensor *parts[2] = {cls, x};
    x = mrg_concat(parts, 2, 1);  /* (B, N+1, D) */
    x = mrg_add(x, v->pos_embed); /* + (1, N+1, D) */
    for (int i = 0; i < c->depth; i++) x = mrg_nn_block_forward(&v->blocks[i], x, NULL);
    x = mrg_nn_layernorm_forward(&v->norm, x); /* (B, N+1, D) */
    if (!x) return mrg_error_context(MRG_ERR_DEVICE, "ViT forward");
    if (logits && c->num_classes > 0) {
        mrg_tensor *t0 = mrg_reshape(mrg_slice(x, 1, 0, 1), MRG_SHAPE(B, D)); /* CLS (B, D) */
        *logits = mrg_nn_linear_forward(&v->head, t0);                        /* (B, C) */
        if (!*logits) return mrg_error_context(MRG_ERR_DEVICE, "ViT head");
    }
    if (features) *features = x;
    return MRG_OK;
}

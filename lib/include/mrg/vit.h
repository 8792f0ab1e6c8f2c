/* Vision Transformer (ViT) in timm's layout, loadable from timm checkpoints.
 *
 *   images (B, 3, S, S), normalised with the model's mean/std
 *   → patch embedding (a P×P stride-P convolution)   (B, N, D), N = (S/P)²
 *   → [cls_token; patches] + pos_embed                (B, N+1, D)
 *   → depth × pre-LN blocks (self-attention, GELU MLP; LayerNorm eps 1e-6)
 *   → final LayerNorm "norm"                          features (B, N+1, D)
 *   → head on the CLS token (features[:, 0])          logits (B, C)
 *
 * Parameter names are timm's: patch_embed.proj.{weight,bias}, cls_token
 * (1, 1, D), pos_embed (1, N+1, D), blocks.K.{norm1, attn.qkv, attn.proj,
 * norm2, mlp.fc1, mlp.fc2}.{weight,bias}, norm.{weight,bias} and
 * head.{weight,bias} (absent when num_classes = 0).
 *
 * A model directory holds model.safetensors and config.json, either ours
 *   {"image_size": 224, "patch_size": 16, "dim": 768, "depth": 12,
 *    "heads": 12, "num_classes": 1000, "mean": [3], "std": [3]}
 * (optional "mlp_hidden", default 4·dim) or timm's own
 *   {"architecture": "vit_base_patch16_224", "num_classes": 1000,
 *    "pretrained_cfg": {"input_size": [3, 224, 224], "mean": [..], "std": [..]},
 *    "model_args": {..}}.
 * Sizes are taken from the tensor shapes (patch_embed → dim and patch size,
 * pos_embed → image size, blocks.K → depth, mlp.fc1 → MLP width, head →
 * classes); the number of heads, which shapes cannot tell, comes from
 * "heads", model_args.num_heads, or the size in the architecture name (tiny
 * 3, small 6, base 12, large 16, huge 16, giant 16). A number stated
 * explicitly in config.json that contradicts the weights is an error; a file
 * holding tensors this ViT does not use (register tokens, layer scale, ...)
 * is rejected with the tensor's name. */
#ifndef MRG_VIT_H
#define MRG_VIT_H

#include <stdbool.h>
#include <stdint.h>

#include "mrg/nn.h"
#include "mrg/safetensors.h"
#include "mrg/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mrg_vit_config {
    int image_size;        /* square input side S, pixels */
    int patch_size;        /* P; S must be a multiple */
    int in_chans;          /* 3 */
    int dim;               /* D */
    int depth;             /* number of blocks */
    int heads;             /* D must be a multiple */
    int mlp_hidden;        /* width of the MLP, usually 4·D */
    int num_classes;       /* 0: no head */
    float eps;             /* LayerNorm epsilon, 1e-6 */
    float mean[3], std[3]; /* input normalisation, per channel */
} mrg_vit_config;

/* ViT-B/16 at 224 with 1000 classes and timm's default mean = std = 0.5. */
mrg_vit_config mrg_vit_config_base16(void);
/* Checks sizes for consistency; MRG_ERR_INVALID_ARG with a message. */
mrg_status mrg_vit_config_check(const mrg_vit_config *cfg);
/* Reads config.json (either style). weights may be NULL; when given, sizes
 * are inferred from its tensor shapes as described above. */
mrg_status mrg_vit_config_read(const char *config_path, const mrg_st_file *weights,
                               mrg_vit_config *cfg);
/* Writes our config.json style. */
mrg_status mrg_vit_config_write(const mrg_vit_config *cfg, const char *path);

typedef struct mrg_vit_opts {
    bool trainable;     /* parameters receive gradients (else frozen) */
    uint64_t seed;      /* random initialisation of mrg_vit_create */
    const char *prefix; /* prepended to parameter names ("vit."), NULL = none */
} mrg_vit_opts;

typedef struct mrg_vit mrg_vit;

/* A randomly initialised ViT (timm's init: trunc-normal 0.02 weights,
 * zero biases, unit norms). opts may be NULL (frozen, seed 0). */
mrg_vit *mrg_vit_create(mrg_device *dev, const mrg_vit_config *cfg, const mrg_vit_opts *opts);
/* A model directory (model.safetensors + config.json). */
mrg_vit *mrg_vit_load(const char *dir, mrg_device *dev, const mrg_vit_opts *opts);
/* The same from explicit paths (the weights file may be sharded: see
 * mrg_st_open_dir for directories). */
mrg_vit *mrg_vit_load_files(const char *config_path, const char *weights_path, mrg_device *dev,
                            const mrg_vit_opts *opts);
/* Loads the weights of an open file into an existing model (timm names,
 * without the model's prefix); every tensor of the file must be used. */
mrg_status mrg_vit_load_weights(mrg_vit *vit, const mrg_st_file *f);
/* Writes model.safetensors (timm names) and config.json (ours) into dir,
 * which must exist. */
mrg_status mrg_vit_save(const mrg_vit *vit, const char *dir);
void mrg_vit_free(mrg_vit *vit);

const mrg_vit_config *mrg_vit_get_config(const mrg_vit *vit);
/* The parameters (owned by the model): for optimizers, checkpoints and
 * mrg_params_set_trainable. */
mrg_params *mrg_vit_params(mrg_vit *vit);
/* N + 1: tokens per image in the features. */
int64_t mrg_vit_tokens(const mrg_vit *vit);

/* images (B, in_chans, S, S) f32, already normalised →
 *   *features (B, N+1, D): every token after the final norm (may be NULL),
 *   *logits (B, C): the head on the CLS token, NULL when num_classes = 0
 *   (logits may be NULL).
 * Differentiable; outputs are step tensors. */
mrg_status mrg_vit_forward(mrg_vit *vit, mrg_tensor *images, mrg_tensor **features,
                           mrg_tensor **logits);

#ifdef __cplusplus
}
#endif
#endif

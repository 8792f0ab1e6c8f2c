/* Layers with parameters: linear, layer norm, MLP, multi-head self- and
 * cross-attention, and pre-LN transformer blocks built from them.
 *
 * Every layer is a plain struct of mrg_tensor* parameters with an _init and a
 * _forward. Parameters are created through an mrg_nn_ctx, which names them
 * (prefix + layer name + ".weight"), initialises them from a seeded RNG,
 * makes them trainable or frozen, and appends them to an mrg_params list.
 * The list owns the tensors: it is what a model frees, saves, loads from a
 * checkpoint and hands to the optimizer. Layer structs only borrow.
 *
 *     mrg_params ps; mrg_params_init(&ps);
 *     mrg_nn_ctx ctx = mrg_nn_ctx_make(dev, &ps, seed, true);
 *     mrg_nn_block blk;
 *     mrg_nn_block_init(&blk, &ctx, "blocks.0", 768, 12, 3072, 1e-6f);
 *     mrg_tensor *y = mrg_nn_block_forward(&blk, x, NULL);   (B, T, 768)
 *     ...
 *     mrg_params_free(&ps);
 *
 * Forwards are compositions of the ops in ops.h, so they are differentiable
 * and run on every device. Like the ops they return NULL with a message on
 * failure and propagate NULL inputs. */
#ifndef MRG_NN_H
#define MRG_NN_H

#include <stdbool.h>
#include <stdint.h>

#include "mrg/safetensors.h"
#include "mrg/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- parameter lists ---------------------------------------------------- */

/* An ordered, owning list of persistent parameter tensors; each tensor's
 * name (t->name) is its checkpoint name. */
typedef struct mrg_params {
    mrg_tensor **t;
    int n, cap;
} mrg_params;

void mrg_params_init(mrg_params *p);
/* Takes ownership of t (freed by mrg_params_free). Names must be unique. */
mrg_status mrg_params_add(mrg_params *p, mrg_tensor *t);
/* Frees every tensor and the list itself; p is left empty and reusable. */
void mrg_params_free(mrg_params *p);
/* NULL when absent (no message). */
mrg_tensor *mrg_params_find(const mrg_params *p, const char *name);
/* Total number of elements. */
int64_t mrg_params_numel(const mrg_params *p);
/* Writes the trainable parameters into out (when not NULL, room for p->n)
 * and returns how many there are: the list for mrg_adamw_create,
 * mrg_zero_grad and mrg_clip_grad_norm. */
int mrg_params_trainable(const mrg_params *p, mrg_tensor **out);
/* Makes every parameter whose name starts with prefix ("" = all) trainable
 * (allocating its gradient) or frozen (freeing it). Trainable parameters
 * must be f32. */
mrg_status mrg_params_set_trainable(mrg_params *p, const char *prefix, bool trainable);

/* Loads every parameter from f. The stored name of a parameter is its own
 * name with strip_prefix removed from the front (strip_prefix may be NULL);
 * parameters not starting with strip_prefix are skipped. Shapes must match;
 * dtypes are converted. A missing tensor is an error naming it. */
mrg_status mrg_params_load(mrg_params *p, const mrg_st_file *f, const char *strip_prefix);
/* Adds every parameter to w under its own name. */
mrg_status mrg_params_save(const mrg_params *p, mrg_st_writer *w);

/* ---- construction context ------------------------------------------------ */

typedef struct mrg_nn_ctx {
    mrg_device *dev;
    mrg_params *params; /* receives every parameter created */
    uint64_t rng;       /* splitmix64 state of the initialiser */
    bool trainable;     /* new parameters receive gradients */
    /* Leave parameters zero instead of drawing random values: for models
     * whose values come from a checkpoint right after construction. */
    bool skip_init;
    /* Storage dtype of linear weight matrices when frozen (f32, bf16, f16);
     * biases and norms are always f32. Ignored for trainable parameters. */
    mrg_dtype frozen_weight_dtype;
    char prefix[48]; /* prepended to every parameter name, e.g. "vit." */
} mrg_nn_ctx;

/* A context with f32 weights, random init and no prefix. */
mrg_nn_ctx mrg_nn_ctx_make(mrg_device *dev, mrg_params *params, uint64_t seed, bool trainable);

/* Seeded random numbers (splitmix64), used by the initialisers and exposed
 * for models that draw their own (e.g. learned queries). */
uint64_t mrg_nn_rand_u64(uint64_t *state);
float mrg_nn_rand_uniform(uint64_t *state); /* [0, 1) */
float mrg_nn_rand_normal(uint64_t *state);  /* N(0, 1), Box-Muller */

/* How a new parameter is filled. */
typedef enum mrg_nn_fill {
    MRG_NN_ZEROS,
    MRG_NN_ONES,
    MRG_NN_TRUNC_NORMAL, /* N(0, std²) truncated at ±2·std (timm's trunc_normal_) */
    MRG_NN_NORMAL,       /* N(0, std²) */
} mrg_nn_fill;

/* Creates a parameter named ctx->prefix + name, filled as asked (unless
 * ctx->skip_init), and appends it to ctx->params. dt is the storage dtype
 * (a trainable parameter is always f32). NULL with a message on failure. */
mrg_tensor *mrg_nn_param(mrg_nn_ctx *ctx, const char *name, mrg_dtype dt, int ndim,
                         const int64_t *shape, mrg_nn_fill fill, float std);

/* ---- layers --------------------------------------------------------------
 * Names passed to the _init functions are the layer's path ("blocks.0.attn");
 * the parameters get ".weight" / ".bias" and sub-layer names appended, in
 * the timm / PyTorch naming. */

/* y = x·Wᵀ + b. weight (out, in), bias (out) or NULL.
 * Init: weight trunc-normal std 0.02, bias zero (timm's ViT init). */
typedef struct mrg_nn_linear {
    mrg_tensor *weight, *bias;
    int64_t in, out;
} mrg_nn_linear;
mrg_status mrg_nn_linear_init(mrg_nn_linear *l, mrg_nn_ctx *ctx, const char *name, int64_t in,
                              int64_t out, bool bias);
/* x (..., in) → (..., out) */
mrg_tensor *mrg_nn_linear_forward(const mrg_nn_linear *l, mrg_tensor *x);

/* LayerNorm over the last axis with affine weight (ones) and bias (zeros). */
typedef struct mrg_nn_layernorm {
    mrg_tensor *weight, *bias;
    float eps;
} mrg_nn_layernorm;
mrg_status mrg_nn_layernorm_init(mrg_nn_layernorm *l, mrg_nn_ctx *ctx, const char *name,
                                 int64_t dim, float eps);
/* x (..., dim) → (..., dim) */
mrg_tensor *mrg_nn_layernorm_forward(const mrg_nn_layernorm *l, mrg_tensor *x);

/* fc2(GELU(fc1(x))), exact GELU. Parameters: name.fc1.*, name.fc2.* */
typedef struct mrg_nn_mlp {
    mrg_nn_linear fc1, fc2;
} mrg_nn_mlp;
mrg_status mrg_nn_mlp_init(mrg_nn_mlp *m, mrg_nn_ctx *ctx, const char *name, int64_t dim,
                           int64_t hidden);
/* x (..., dim) → (..., dim) */
mrg_tensor *mrg_nn_mlp_forward(const mrg_nn_mlp *m, mrg_tensor *x);

/* Multi-head self-attention in timm's layout: one fused qkv projection
 * (3·dim, dim) whose output splits as (3, heads, head_dim), then scaled dot
 * product attention per head and an output projection.
 * Parameters: name.qkv.*, name.proj.* */
typedef struct mrg_nn_attention {
    mrg_nn_linear qkv, proj;
    int heads;
    int64_t dim;
} mrg_nn_attention;
mrg_status mrg_nn_attention_init(mrg_nn_attention *a, mrg_nn_ctx *ctx, const char *name,
                                 int64_t dim, int heads);
/* x (B, T, dim), key_mask (B, T) additive (0 keep, large negative drop) or
 * NULL → (B, T, dim) */
mrg_tensor *mrg_nn_attention_forward(const mrg_nn_attention *a, mrg_tensor *x,
                                     mrg_tensor *key_mask);

/* Multi-head cross-attention: queries from x, keys and values from a
 * context of another length (and possibly another width).
 * Parameters: name.q (dim ← dim), name.k and name.v (dim ← ctx_dim),
 * name.proj (dim ← dim). */
typedef struct mrg_nn_cross_attention {
    mrg_nn_linear q, k, v, proj;
    int heads;
    int64_t dim, ctx_dim;
} mrg_nn_cross_attention;
mrg_status mrg_nn_cross_attention_init(mrg_nn_cross_attention *a, mrg_nn_ctx *ctx, const char *name,
                                       int64_t dim, int64_t ctx_dim, int heads);
/* x (B, Tq, dim), context (B, Tk, ctx_dim), key_mask (B, Tk) or NULL →
 * (B, Tq, dim) */
mrg_tensor *mrg_nn_cross_attention_forward(const mrg_nn_cross_attention *a, mrg_tensor *x,
                                           mrg_tensor *context, mrg_tensor *key_mask);

/* Pre-LN transformer block (timm's ViT Block):
 *   x = x + attn(norm1(x));  x = x + mlp(norm2(x))
 * Parameters: name.norm1, name.attn.{qkv,proj}, name.norm2, name.mlp.{fc1,fc2} */
typedef struct mrg_nn_block {
    mrg_nn_layernorm norm1, norm2;
    mrg_nn_attention attn;
    mrg_nn_mlp mlp;
} mrg_nn_block;
mrg_status mrg_nn_block_init(mrg_nn_block *b, mrg_nn_ctx *ctx, const char *name, int64_t dim,
                             int heads, int64_t mlp_hidden, float eps);
/* x (B, T, dim), key_mask (B, T) or NULL → (B, T, dim) */
mrg_tensor *mrg_nn_block_forward(const mrg_nn_block *b, mrg_tensor *x, mrg_tensor *key_mask);

/* Pre-LN cross-attention block: queries attend to a normalised context.
 *   x = x + attn(norm1(x), norm_ctx(context));  x = x + mlp(norm2(x))
 * Parameters: name.norm1, name.norm_ctx, name.attn.{q,k,v,proj}, name.norm2,
 * name.mlp.{fc1,fc2} */
typedef struct mrg_nn_cross_block {
    mrg_nn_layernorm norm1, norm_ctx, norm2;
    mrg_nn_cross_attention attn;
    mrg_nn_mlp mlp;
} mrg_nn_cross_block;
mrg_status mrg_nn_cross_block_init(mrg_nn_cross_block *b, mrg_nn_ctx *ctx, const char *name,
                                   int64_t dim, int64_t ctx_dim, int heads, int64_t mlp_hidden,
                                   float eps);
/* x (B, Tq, dim), context (B, Tk, ctx_dim), key_mask (B, Tk) or NULL →
 * (B, Tq, dim) */
mrg_tensor *mrg_nn_cross_block_forward(const mrg_nn_cross_block *b, mrg_tensor *x,
                                       mrg_tensor *context, mrg_tensor *key_mask);

/* ---- losses ------------------------------------------------------------- */

/* Symmetric InfoNCE of paired rows: za, zb (B, D), each row L2-normalized
 * here; logits za·zbᵀ / temperature (B, B), row i's positive is column i;
 * the mean of the two directions' cross-entropies (scalar). The report
 * generator's contrastive loss and pretrain-lm's finding-code term. */
mrg_tensor *mrg_nn_info_nce(mrg_tensor *za, mrg_tensor *zb, float temperature);

#ifdef __cplusplus
}
#endif
#endif

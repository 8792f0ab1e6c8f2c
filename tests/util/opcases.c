/* The op case table (see opcases.h). Arguments mirror tools/ref/ops_ref.py. */
#include "opcases.h"

#include <string.h>

/* ---- run functions: in[] in table order --------------------------------- */

/* ia[0] trans_a, ia[1] trans_b */
static mrg_tensor *run_matmul(mrg_tensor *const *in, const op_case *c) {
    return mrg_matmul(in[0], in[1], c->ia[0], c->ia[1]);
}
/* x, w[, bias] */
static mrg_tensor *run_linear(mrg_tensor *const *in, const op_case *c) {
    return mrg_linear(in[0], in[1], c->n_in > 2 ? in[2] : NULL);
}
static mrg_tensor *run_add(mrg_tensor *const *in, const op_case *c) {
    (void)c;
    return mrg_add(in[0], in[1]);
}
static mrg_tensor *run_sub(mrg_tensor *const *in, const op_case *c) {
    (void)c;
    return mrg_sub(in[0], in[1]);
}
static mrg_tensor *run_mul(mrg_tensor *const *in, const op_case *c) {
    (void)c;
    return mrg_mul(in[0], in[1]);
}
/* fa[0] factor */
static mrg_tensor *run_scale(mrg_tensor *const *in, const op_case *c) {
    return mrg_scale(in[0], c->fa[0]);
}
static mrg_tensor *run_gelu(mrg_tensor *const *in, const op_case *c) {
    (void)c;
    return mrg_gelu(in[0]);
}
static mrg_tensor *run_silu(mrg_tensor *const *in, const op_case *c) {
    (void)c;
    return mrg_silu(in[0]);
}
/* ia[0] causal */
static mrg_tensor *run_softmax(mrg_tensor *const *in, const op_case *c) {
    return mrg_softmax(in[0], c->ia[0]);
}
static mrg_tensor *run_log_softmax(mrg_tensor *const *in, const op_case *c) {
    (void)c;
    return mrg_log_softmax(in[0]);
}
/* x[, w, b]; fa[0] eps */
static mrg_tensor *run_layernorm(mrg_tensor *const *in, const op_case *c) {
    return mrg_layernorm(in[0], c->n_in > 1 ? in[1] : NULL, c->n_in > 2 ? in[2] : NULL,
                         c->fa[0]);
}
/* x, w; fa[0] eps */
static mrg_tensor *run_rmsnorm(mrg_tensor *const *in, const op_case *c) {
    return mrg_rmsnorm(in[0], in[1], c->fa[0]);
}
/* fa[0] eps */
static mrg_tensor *run_l2(mrg_tensor *const *in, const op_case *c) {
    return mrg_l2_normalize(in[0], c->fa[0]);
}
/* ia[0] pos0, ia[1] layout, fa[0] theta */
static mrg_tensor *run_rope(mrg_tensor *const *in, const op_case *c) {
    return mrg_rope(in[0], c->ia[0], c->fa[0], (mrg_rope_layout)c->ia[1]);
}
/* w, ids */
static mrg_tensor *run_embedding(mrg_tensor *const *in, const op_case *c) {
    (void)c;
    return mrg_embedding(in[0], in[1]);
}
/* ia[0] axis, ia[1] keepdim */
static mrg_tensor *run_sum(mrg_tensor *const *in, const op_case *c) {
    return mrg_sum(in[0], c->ia[0], c->ia[1]);
}
static mrg_tensor *run_mean(mrg_tensor *const *in, const op_case *c) {
    return mrg_mean(in[0], c->ia[0], c->ia[1]);
}
/* ia[] perm (rank of the input) */
static mrg_tensor *run_permute(mrg_tensor *const *in, const op_case *c) {
    return mrg_permute(in[0], c->ia);
}
/* ia[0], ia[1] axes */
static mrg_tensor *run_transpose(mrg_tensor *const *in, const op_case *c) {
    return mrg_transpose(in[0], c->ia[0], c->ia[1]);
}
/* all inputs; ia[0] axis */
static mrg_tensor *run_concat(mrg_tensor *const *in, const op_case *c) {
    return mrg_concat(in, c->n_in, c->ia[0]);
}
/* ia[0] axis, ia[1] start, ia[2] len */
static mrg_tensor *run_slice(mrg_tensor *const *in, const op_case *c) {
    return mrg_slice(in[0], c->ia[0], c->ia[1], c->ia[2]);
}
/* ia[0] ndim, ia[1..] shape (−1 inferred) */
static mrg_tensor *run_reshape(mrg_tensor *const *in, const op_case *c) {
    int64_t shape[MRG_MAX_DIMS];
    for (int i = 0; i < c->ia[0]; i++) shape[i] = c->ia[1 + i];
    return mrg_reshape(in[0], c->ia[0], shape);
}
static mrg_tensor *run_copy(mrg_tensor *const *in, const op_case *c) {
    (void)c;
    return mrg_copy(in[0]);
}
/* logits, targets; ignore index −100 */
static mrg_tensor *run_cross_entropy(mrg_tensor *const *in, const op_case *c) {
    (void)c;
    return mrg_cross_entropy(in[0], in[1], -100);
}
/* q, k, v[, mask]; ia[0] causal; scale 1/√D */
static mrg_tensor *run_sdpa(mrg_tensor *const *in, const op_case *c) {
    if (!in[0]) return NULL;
    float scale = 1.0f / sqrtf((float)in[0]->shape[in[0]->ndim - 1]);
    return mrg_sdpa(in[0], in[1], in[2], c->n_in > 3 ? in[3] : NULL, c->ia[0], scale);
}
/* img, w[, bias] */
static mrg_tensor *run_patch_embed(mrg_tensor *const *in, const op_case *c) {
    return mrg_patch_embed(in[0], in[1], c->n_in > 2 ? in[2] : NULL);
}

/* ---- the table ------------------------------------------------------------ */

#define W(n, k) {n, k}
#define P(n) W(n, IN_PARAM)
#define IN1(a) 1, {a}
#define IN2(a, b) 2, {a, b}
#define IN3(a, b, c) 3, {a, b, c}
#define IN4(a, b, c, d) 4, {a, b, c, d}

#define BIN_CASES(grp, fn)                                                       \
    {grp, "same", fn, IN2(P("a"), P("b")), {0}, {0}},                            \
    {grp, "row", fn, IN2(P("a"), P("b")), {0}, {0}},                             \
    {grp, "col", fn, IN2(P("a"), P("b")), {0}, {0}},                             \
    {grp, "both", fn, IN2(P("a"), P("b")), {0}, {0}},                            \
    {grp, "scalar", fn, IN2(P("a"), P("b")), {0}, {0}},                          \
    {grp, "mid", fn, IN2(P("a"), P("b")), {0}, {0}},                             \
    {grp, "left", fn, IN2(P("a"), P("b")), {0}, {0}}

#define REDUCE_CASES(grp, fn)                                                    \
    {grp, "ax0_k0", fn, IN1(P("x")), {0, 0}, {0}},                               \
    {grp, "ax0_k1", fn, IN1(P("x")), {0, 1}, {0}},                               \
    {grp, "ax1_k0", fn, IN1(P("x")), {1, 0}, {0}},                               \
    {grp, "ax1_k1", fn, IN1(P("x")), {1, 1}, {0}},                               \
    {grp, "ax2_k0", fn, IN1(P("x")), {2, 0}, {0}},                               \
    {grp, "ax2_k1", fn, IN1(P("x")), {2, 1}, {0}}

const op_case op_cases[] = {
    {"matmul", "b3_t00", run_matmul, IN2(P("a"), P("b")), {0, 0}, {0}},
    {"matmul", "b3_t01", run_matmul, IN2(P("a"), P("b")), {0, 1}, {0}},
    {"matmul", "b3_t10", run_matmul, IN2(P("a"), P("b")), {1, 0}, {0}},
    {"matmul", "b3_t11", run_matmul, IN2(P("a"), P("b")), {1, 1}, {0}},
    {"matmul", "plain", run_matmul, IN2(P("a"), P("b")), {0, 0}, {0}},
    {"matmul", "batch4d", run_matmul, IN2(P("a"), P("b")), {0, 0}, {0}},
    {"matmul", "shared_t00", run_matmul, IN2(P("a"), P("b")), {0, 0}, {0}},
    {"matmul", "shared_t01", run_matmul, IN2(P("a"), P("b")), {0, 1}, {0}},
    {"matmul", "shared_t10", run_matmul, IN2(P("a"), P("b")), {1, 0}, {0}},
    {"matmul", "bf16_t00", run_matmul, IN2(P("a"), W("b", IN_BF16)), {0, 0}, {0}},
    {"matmul", "bf16_t01", run_matmul, IN2(P("a"), W("b", IN_BF16)), {0, 1}, {0}},
    {"matmul", "bf16_gemv", run_matmul, IN2(P("a"), W("b", IN_BF16)), {0, 1}, {0}},
    {"matmul", "bf16_batched", run_matmul, IN2(P("a"), W("b", IN_BF16)), {0, 0}, {0}},
    {"matmul", "f16_t00", run_matmul, IN2(P("a"), W("b", IN_F16)), {0, 0}, {0}},
    {"matmul", "f16_t01", run_matmul, IN2(P("a"), W("b", IN_F16)), {0, 1}, {0}},
    {"matmul", "f16_gemv", run_matmul, IN2(P("a"), W("b", IN_F16)), {0, 1}, {0}},
    {"matmul", "f16_batched", run_matmul, IN2(P("a"), W("b", IN_F16)), {0, 0}, {0}},

    {"linear", "bias", run_linear, IN3(P("x"), P("w"), P("bias")), {0}, {0}},
    {"linear", "nobias", run_linear, IN2(P("x"), P("w")), {0}, {0}},
    {"linear", "bf16_bias", run_linear, IN3(P("x"), W("w", IN_BF16), P("bias")), {0}, {0}},
    {"linear", "f16_bias", run_linear, IN3(P("x"), W("w", IN_F16), P("bias")), {0}, {0}},

    BIN_CASES("add", run_add),
    BIN_CASES("sub", run_sub),
    BIN_CASES("mul", run_mul),

    {"scale", "neg", run_scale, IN1(P("x")), {0}, {-0.75f}},
    {"scale", "big", run_scale, IN1(P("x")), {0}, {3.5f}},
    {"gelu", "wide", run_gelu, IN1(P("x")), {0}, {0}},
    {"silu", "wide", run_silu, IN1(P("x")), {0}, {0}},

    {"softmax", "plain", run_softmax, IN1(P("x")), {0}, {0}},
    {"softmax", "causal_sq", run_softmax, IN1(P("x")), {1}, {0}},
    {"softmax", "causal_rect", run_softmax, IN1(P("x")), {1}, {0}},
    {"log_softmax", "plain", run_log_softmax, IN1(P("x")), {0}, {0}},
    {"log_softmax", "wide", run_log_softmax, IN1(P("x")), {0}, {0}},

    {"layernorm", "affine", run_layernorm, IN3(P("x"), P("w"), P("b")), {0}, {1e-5f}},
    {"layernorm", "plain", run_layernorm, IN1(P("x")), {0}, {1e-5f}},
    {"rmsnorm", "f32", run_rmsnorm, IN2(P("x"), P("w")), {0}, {1e-6f}},
    {"rmsnorm", "bf16", run_rmsnorm, IN2(P("x"), W("w", IN_BF16)), {0}, {1e-5f}},
    {"l2_normalize", "plain", run_l2, IN1(P("x")), {0}, {1e-12f}},
    {"l2_normalize", "eps", run_l2, IN1(P("x")), {0}, {0.5f}},

    {"rope", "half_10000_0", run_rope, IN1(P("x")), {0, MRG_ROPE_HALF}, {10000.0f}},
    {"rope", "half_10000_5", run_rope, IN1(P("x")), {5, MRG_ROPE_HALF}, {10000.0f}},
    {"rope", "half_500000_37", run_rope, IN1(P("x")), {37, MRG_ROPE_HALF}, {500000.0f}},
    {"rope", "inter_10000_0", run_rope, IN1(P("x")), {0, MRG_ROPE_INTERLEAVED}, {10000.0f}},
    {"rope", "inter_10000_5", run_rope, IN1(P("x")), {5, MRG_ROPE_INTERLEAVED}, {10000.0f}},
    {"rope", "inter_500000_37", run_rope, IN1(P("x")), {37, MRG_ROPE_INTERLEAVED},
     {500000.0f}},

    {"embedding", "f32", run_embedding, IN2(P("w"), W("ids", IN_IDS)), {0}, {0}},
    {"embedding", "bf16", run_embedding, IN2(W("w", IN_BF16), W("ids", IN_IDS)), {0}, {0}},

    REDUCE_CASES("sum", run_sum),
    REDUCE_CASES("mean", run_mean),

    {"permute", "p201", run_permute, IN1(P("x")), {2, 0, 1}, {0}},
    {"permute", "p0213", run_permute, IN1(P("x")), {0, 2, 1, 3}, {0}},
    {"permute", "p3120", run_permute, IN1(P("x")), {3, 1, 2, 0}, {0}},
    {"transpose", "t02", run_transpose, IN1(P("x")), {0, 2}, {0}},
    {"transpose", "t12", run_transpose, IN1(P("x")), {1, 2}, {0}},
    {"concat", "ax0", run_concat, IN3(P("x0"), P("x1"), P("x2")), {0}, {0}},
    {"concat", "ax1", run_concat, IN3(P("x0"), P("x1"), P("x2")), {1}, {0}},
    {"concat", "ax2", run_concat, IN2(P("x0"), P("x1")), {2}, {0}},
    {"slice", "ax0", run_slice, IN1(P("x")), {0, 1, 2}, {0}},
    {"slice", "ax1", run_slice, IN1(P("x")), {1, 1, 3}, {0}},
    {"slice", "neg", run_slice, IN1(P("x")), {-1, 2, 3}, {0}},
    {"reshape", "infer", run_reshape, IN1(P("x")), {2, 4, -1}, {0}},
    {"reshape", "split", run_reshape, IN1(P("x")), {4, 2, 3, 2, 2}, {0}},
    {"copy", "f32", run_copy, IN1(P("x")), {0}, {0}},
    {"copy", "bf16", run_copy, IN1(W("x", IN_BF16)), {0}, {0}},

    {"cross_entropy", "ignore", run_cross_entropy, IN2(P("logits"), W("targets", IN_TARGETS)),
     {0}, {0}},
    {"cross_entropy", "all", run_cross_entropy, IN2(P("logits"), W("targets", IN_TARGETS)), {0},
     {0}},
    {"cross_entropy", "none", run_cross_entropy, IN2(P("logits"), W("targets", IN_TARGETS)),
     {0}, {0}},

    {"sdpa", "full", run_sdpa, IN3(P("q"), P("k"), P("v")), {0}, {0}},
    {"sdpa", "causal", run_sdpa, IN3(P("q"), P("k"), P("v")), {1}, {0}},
    {"sdpa", "gqa", run_sdpa, IN3(P("q"), P("k"), P("v")), {0}, {0}},
    {"sdpa", "gqa_causal_rect", run_sdpa, IN3(P("q"), P("k"), P("v")), {1}, {0}},
    {"sdpa", "mask", run_sdpa, IN4(P("q"), P("k"), P("v"), W("mask", IN_MASK)), {0}, {0}},
    {"sdpa", "mask_causal", run_sdpa, IN4(P("q"), P("k"), P("v"), W("mask", IN_MASK)), {1},
     {0}},
    {"sdpa", "tiles", run_sdpa, IN4(P("q"), P("k"), P("v"), W("mask", IN_MASK)), {1}, {0}},

    {"patch_embed", "bias", run_patch_embed, IN3(P("img"), P("w"), P("bias")), {0}, {0}},
    {"patch_embed", "nobias", run_patch_embed, IN2(P("img"), P("w")), {0}, {0}},
};

const int op_case_count = (int)(sizeof op_cases / sizeof op_cases[0]);

const op_case *op_case_find(const char *group, const char *name) {
    for (int i = 0; i < op_case_count; i++)
        if (!strcmp(op_cases[i].group, group) && !strcmp(op_cases[i].name, name))
            return &op_cases[i];
    return NULL;
}

mrg_dtype op_input_dtype(char kind) {
    switch (kind) {
    case IN_BF16: return MRG_BF16;
    case IN_F16: return MRG_F16;
    case IN_IDS:
    case IN_TARGETS: return MRG_I32;
    default: return MRG_F32;
    }
}

bool op_input_trainable(char kind) { return kind == IN_PARAM; }

mrg_st_file *op_case_open(const op_case *c) {
    char file[256];
    snprintf(file, sizeof file, "ops/%s.safetensors", c->group);
    mrg_st_file *f = mrg_st_open(test_golden_path(file));
    if (!f) {
        fprintf(stderr, "  cannot open %s: %s\n", test_golden_path(file), mrg_last_error());
        CHECK(f != NULL);
    }
    return f;
}

const char *op_case_key(const op_case *c, const char *role) {
    static char key[256];
    snprintf(key, sizeof key, "%s/%s", c->name, role);
    return key;
}

bool op_case_load_inputs(mrg_device *dev, const op_case *c, const mrg_st_file *f,
                         mrg_tensor **in) {
    bool ok = true;
    for (int i = 0; i < c->n_in; i++) {
        char kind = c->in[i].kind;
        in[i] = test_param(dev, f, op_case_key(c, c->in[i].name), op_input_dtype(kind),
                           op_input_trainable(kind));
        if (!in[i]) ok = false;
    }
    return ok;
}

void op_case_free_inputs(const op_case *c, mrg_tensor **in) {
    for (int i = 0; i < c->n_in; i++) {
        mrg_tensor_free(in[i]);
        in[i] = NULL;
    }
}

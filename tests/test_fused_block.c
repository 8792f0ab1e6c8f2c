/* The fused linear and block ops (lib/ops/linear_fused.c, block_fused.c),
 * on every device, under f32 and bf16-mixed:
 *   - the output and the gradient of every input equal the composition's
 *     in mrg/ops.h bit for bit (the fused ops recompute what they do not
 *     keep with the same kernels on the same values, and sum the
 *     gradients in the composition's order);
 *   - after the forward the step keeps fewer arena bytes than the
 *     composition (what the ops are for), and a product under bf16-mixed
 *     keeps exactly the bytes of f32 (its rounded operands are
 *     temporaries);
 *   - malformed arguments still fail with a message (through the
 *     composition).
 * Shapes are large enough (80 rows, 64 wide) for the CPU's bf16 GEMM
 * kernel; one case has bf16 weights (the frozen LLaMA). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/backend.h"
#include "mrg/autograd.h"
#include "mrg/ops.h"
#include "testutil.h"

enum { B = 2, T = 40, D = 64, F = 128, HEADS = 4, HD = D / HEADS, MAX_IN = 8 };

typedef struct inputs {
    mrg_tensor *t[MAX_IN];
    int n;
} inputs;

/* The shape of one input. */
typedef struct spec {
    int ndim;
    int64_t shape[4];
} spec;

/* A case: the fused op and its composition over the same inputs. */
typedef struct fcase {
    const char *name;
    mrg_tensor *(*fused)(const inputs *in);
    mrg_tensor *(*composed)(const inputs *in);
    int n; /* inputs */
    spec in[MAX_IN];
    bool trainable[MAX_IN]; /* all false: every input trainable */
    mrg_dtype dt[MAX_IN];   /* 0: f32 */
} fcase;

static const int heads_perm[4] = {0, 2, 1, 3};
static const int qkv_perm[5] = {2, 0, 3, 1, 4};
#define QKV_VIEW 5, (const int64_t[]){B, T, 3, HEADS, HD}

static mrg_tensor *linear_add_f(const inputs *in) {
    return mrg_linear_add(in->t[0], in->t[1], in->t[2], in->t[3]);
}
static mrg_tensor *linear_add_c(const inputs *in) {
    return mrg_add(in->t[3], mrg_linear(in->t[0], in->t[1], in->t[2]));
}
static mrg_tensor *linear_permute_f(const inputs *in) {
    return mrg_linear_permute(in->t[0], in->t[1], in->t[2], QKV_VIEW, qkv_perm);
}
static mrg_tensor *linear_permute_c(const inputs *in) {
    return mrg_permute(mrg_reshape(mrg_linear(in->t[0], in->t[1], in->t[2]), QKV_VIEW), qkv_perm);
}
static mrg_tensor *rope_heads(const inputs *in, bool fused, mrg_rope_layout layout) {
    if (fused) return mrg_linear_rope_heads(in->t[0], in->t[1], HEADS, 3, 10000.0f, layout);
    mrg_tensor *y = mrg_reshape(mrg_linear(in->t[0], in->t[1], NULL), MRG_SHAPE(B, T, HEADS, HD));
    return mrg_permute(mrg_rope(y, 3, 10000.0f, layout), heads_perm);
}
static mrg_tensor *rope_half_f(const inputs *in) { return rope_heads(in, true, MRG_ROPE_HALF); }
static mrg_tensor *rope_half_c(const inputs *in) { return rope_heads(in, false, MRG_ROPE_HALF); }
static mrg_tensor *rope_il_f(const inputs *in) {
    return rope_heads(in, true, MRG_ROPE_INTERLEAVED);
}
static mrg_tensor *rope_il_c(const inputs *in) {
    return rope_heads(in, false, MRG_ROPE_INTERLEAVED);
}
static mrg_tensor *permute_linear_add_f(const inputs *in) {
    return mrg_permute_linear_add(in->t[0], heads_perm, in->t[1], in->t[2], in->t[3]);
}
static mrg_tensor *permute_linear_add_c(const inputs *in) {
    mrg_tensor *m = mrg_reshape(mrg_permute(in->t[0], heads_perm), MRG_SHAPE(B, T, D));
    return mrg_add(in->t[3], mrg_linear(m, in->t[1], in->t[2]));
}
static mrg_tensor *ln_permute_f(const inputs *in) {
    return mrg_layernorm_linear_permute(in->t[0], in->t[1], in->t[2], 1e-6f, in->t[3], in->t[4],
                                        QKV_VIEW, qkv_perm);
}
static mrg_tensor *ln_permute_c(const inputs *in) {
    mrg_tensor *n = mrg_layernorm(in->t[0], in->t[1], in->t[2], 1e-6f);
    return mrg_permute(mrg_reshape(mrg_linear(n, in->t[3], in->t[4]), QKV_VIEW), qkv_perm);
}
static mrg_tensor *mlp_f(const inputs *in) {
    return mrg_layernorm_mlp_add(in->t[0], in->t[1], in->t[2], 1e-6f, in->t[3], in->t[4],
                                 in->t[5], in->t[6]);
}
static mrg_tensor *mlp_c(const inputs *in) {
    mrg_tensor *n = mrg_layernorm(in->t[0], in->t[1], in->t[2], 1e-6f);
    mrg_tensor *h = mrg_gelu(mrg_linear(n, in->t[3], in->t[4]));
    return mrg_add(in->t[0], mrg_linear(h, in->t[5], in->t[6]));
}
static mrg_tensor *swiglu_f(const inputs *in) {
    return mrg_rmsnorm_swiglu_add(in->t[0], in->t[1], 1e-5f, in->t[2], in->t[3], in->t[4]);
}
static mrg_tensor *swiglu_c(const inputs *in) {
    mrg_tensor *n = mrg_rmsnorm(in->t[0], in->t[1], 1e-5f);
    mrg_tensor *g = mrg_silu(mrg_linear(n, in->t[2], NULL)), *u = mrg_linear(n, in->t[3], NULL);
    return mrg_add(in->t[0], mrg_linear(mrg_mul(g, u), in->t[4], NULL));
}

#define X3 {3, {B, T, D}}
#define VEC(n) {1, {n}}
#define MAT(r, c) {2, {r, c}}
#define CASE(nm, f, c, count, ...) \
    {.name = nm, .fused = f, .composed = c, .n = count, .in = {__VA_ARGS__}}
static const fcase cases[] = {
    CASE("linear_add", linear_add_f, linear_add_c, 4, X3, MAT(D, D), VEC(D), X3),
    CASE("linear_permute", linear_permute_f, linear_permute_c, 3, X3, MAT(3 * D, D), VEC(3 * D)),
    CASE("linear_rope_heads half", rope_half_f, rope_half_c, 2, X3, MAT(D, D)),
    CASE("linear_rope_heads interleaved", rope_il_f, rope_il_c, 2, X3, MAT(D, D)),
    CASE("permute_linear_add", permute_linear_add_f, permute_linear_add_c, 4,
         {4, {B, HEADS, T, HD}}, MAT(D, D), VEC(D), X3),
    CASE("layernorm_linear_permute", ln_permute_f, ln_permute_c, 5, X3, VEC(D), VEC(D),
         MAT(3 * D, D), VEC(3 * D)),
    CASE("layernorm_mlp_add", mlp_f, mlp_c, 7, X3, VEC(D), VEC(D), MAT(F, D), VEC(F), MAT(D, F),
         VEC(D)),
    CASE("rmsnorm_swiglu_add", swiglu_f, swiglu_c, 5, X3, VEC(D), MAT(F, D), MAT(F, D),
         MAT(D, F)),
    /* the frozen LLaMA's: bf16 weights without gradients */
    {.name = "rmsnorm_swiglu_add bf16 frozen",
     .fused = swiglu_f,
     .composed = swiglu_c,
     .n = 5,
     .in = {X3, VEC(D), MAT(F, D), MAT(F, D), MAT(D, F)},
     .trainable = {true, false, false, false, false},
     .dt = {MRG_F32, MRG_BF16, MRG_BF16, MRG_BF16, MRG_BF16}},
};

/* The case's inputs as persistent tensors (trainable ones get a .grad):
 * every input trainable unless the case says which. */
static bool make_inputs(mrg_device *dev, const fcase *c, inputs *in) {
    bool any_listed = false;
    for (int i = 0; i < c->n; i++) any_listed |= c->trainable[i];
    in->n = c->n;
    for (int i = 0; i < c->n; i++) {
        int64_t n = 1;
        for (int d = 0; d < c->in[i].ndim; d++) n *= c->in[i].shape[d];
        float *h = malloc((size_t)n * sizeof *h);
        test_fill_uniform(h, n, 100 + (unsigned)i, -1.0f, 1.0f);
        /* LayerNorm/RMSNorm weights near 1 */
        if (c->in[i].ndim == 1 && i == 1)
            for (int64_t k = 0; k < n; k++) h[k] = 1.0f + 0.25f * h[k];
        mrg_dtype dt = c->dt[i] ? c->dt[i] : MRG_F32;
        bool train = any_listed ? c->trainable[i] : true;
        in->t[i] = test_param_f32(dev, dt, c->in[i].ndim, c->in[i].shape, h, train, c->name);
        free(h);
        if (!in->t[i]) return false;
    }
    return true;
}

/* Output and gradients (host copies) of one way of computing the case,
 * and the arena bytes the forward left behind. */
typedef struct result {
    float *out, *grad[MAX_IN];
    int64_t n_out;
    size_t kept;
} result;

static bool run(mrg_device *dev, const fcase *c, const inputs *in, bool fused, result *r) {
    memset(r, 0, sizeof *r);
    mrg_tensor *ts[MAX_IN];
    for (int i = 0; i < in->n; i++) ts[i] = in->t[i];
    if (mrg_zero_grad(ts, in->n) != MRG_OK) return false;
    mrg_step_reset(dev);
    size_t before = dev->arena_used;
    mrg_tensor *y = fused ? c->fused(in) : c->composed(in);
    if (!y) {
        printf("  %s: %s\n", c->name, mrg_last_error());
        return false;
    }
    r->kept = dev->arena_used - before;
    r->n_out = mrg_numel(y);
    r->out = test_download(y);
    /* upstream gradient: fixed random values */
    float *gh = malloc((size_t)r->n_out * sizeof *gh);
    test_fill_uniform(gh, r->n_out, 7, -1.0f, 1.0f);
    mrg_tensor *g = mrg_tensor_new(dev, MRG_F32, y->ndim, y->shape);
    bool ok = g && mrg_tensor_upload(g, gh) == MRG_OK;
    free(gh);
    mrg_tensor *loss = ok ? test_dot_loss(y, g) : NULL;
    ok = loss && mrg_backward(loss) == MRG_OK;
    for (int i = 0; ok && i < in->n; i++)
        if (in->t[i]->grad) ok = (r->grad[i] = test_download(in->t[i]->grad)) != NULL;
    mrg_step_reset(dev);
    return ok && r->out;
}

static void result_free(result *r) {
    free(r->out);
    for (int i = 0; i < MAX_IN; i++) free(r->grad[i]);
}

static bool same_bits(const char *what, const float *a, const float *b, int64_t n) {
    if (!a || !b) return a == b;
    if (!memcmp(a, b, (size_t)n * sizeof *a)) return true;
    for (int64_t i = 0; i < n; i++)
        if (memcmp(&a[i], &b[i], sizeof *a)) {
            printf("  %s: element %lld: fused %.9g, composed %.9g\n", what, (long long)i, a[i],
                   b[i]);
            break;
        }
    return false;
}

static void test_case(mrg_device *dev, const fcase *c) {
    inputs in = {0};
    result f32_fused = {0};
    CHECK(make_inputs(dev, c, &in));
    for (int p = 0; p < 2 && in.n; p++) {
        mrg_precision prec = p ? MRG_PRECISION_BF16_MIXED : MRG_PRECISION_F32;
        mrg_set_precision(dev, prec);
        result fu, co;
        bool ok = run(dev, c, &in, true, &fu) && run(dev, c, &in, false, &co);
        CHECK(ok);
        char what[160];
        snprintf(what, sizeof what, "%s %s output", c->name, mrg_precision_name(prec));
        CHECK(ok && same_bits(what, fu.out, co.out, fu.n_out));
        for (int i = 0; ok && i < in.n; i++) {
            snprintf(what, sizeof what, "%s %s gradient of input %d", c->name,
                     mrg_precision_name(prec), i);
            CHECK(same_bits(what, fu.grad[i], co.grad[i], mrg_numel(in.t[i])));
        }
        /* what the fused op is for */
        if (ok && fu.kept >= co.kept)
            printf("  %s %s: the fused op keeps %zu bytes, the composition %zu\n", c->name,
                   mrg_precision_name(prec), fu.kept, co.kept);
        CHECK(ok && fu.kept < co.kept);
        /* bf16-mixed keeps what f32 keeps */
        if (p == 0) {
            f32_fused = fu;
        } else {
            if (ok && fu.kept != f32_fused.kept)
                printf("  %s: bf16-mixed keeps %zu bytes, f32 %zu\n", c->name, fu.kept,
                       f32_fused.kept);
            CHECK(ok && fu.kept == f32_fused.kept);
            result_free(&fu);
            result_free(&f32_fused);
        }
        result_free(&co);
    }
    mrg_set_precision(dev, MRG_PRECISION_F32);
    for (int i = 0; i < in.n; i++) mrg_tensor_free(in.t[i]);
}

/* Malformed arguments fail with the composition's message. */
static void test_refusals(mrg_device *dev) {
    int64_t xs[3] = {2, 3, 8}, ws[2] = {6, 7}, rs[3] = {2, 3, 5};
    float z[64] = {0};
    mrg_tensor *x = test_param_f32(dev, MRG_F32, 3, xs, z, false, "x");
    mrg_tensor *w = test_param_f32(dev, MRG_F32, 2, ws, z, false, "w");
    mrg_tensor *r = test_param_f32(dev, MRG_F32, 3, rs, z, false, "r");
    CHECK(x && w && r);
    mrg_clear_error();
    CHECK(!mrg_linear_add(x, w, NULL, r) && strstr(mrg_last_error(), "linear_add"));
    CHECK(!mrg_linear_permute(x, w, NULL, QKV_VIEW, qkv_perm));
    CHECK(!mrg_linear_rope_heads(x, w, 2, 0, 10000.0f, MRG_ROPE_HALF));
    CHECK(!mrg_permute_linear_add(x, heads_perm, w, NULL, r));
    CHECK(!mrg_layernorm_mlp_add(x, NULL, NULL, 1e-6f, w, NULL, w, NULL));
    CHECK(!mrg_rmsnorm_swiglu_add(x, NULL, 1e-5f, w, w, w));
    CHECK(strlen(mrg_last_error()) > 0);
    mrg_step_reset(dev);
    mrg_tensor_free(x), mrg_tensor_free(w), mrg_tensor_free(r);
}

int main(void) {
    for (test_device_iter it = {0}; test_next_device(&it);) {
        printf("%s\n", it.name);
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) test_case(it.dev, &cases[i]);
        test_refusals(it.dev);
    }
    return test_finish("fused_block");
}

/* Every op gives the same forward and gradients on every device as on the
 * CPU, on random inputs larger than the golden ones (non-power-of-two sizes,
 * to exercise tiling and reduction widths), including bf16/f16 GEMM and GEMV
 * (M = 1); plus AdamW steps and gradient clipping. Skipped (77) when only
 * one device is available.
 *
 * Tolerance: 1e-4 relative per element with a floor of 1e-5 × the largest
 * magnitude of the CPU result (elements near zero by cancellation). */
#include <string.h>

#include "opcases.h"

#define RTOL 1e-4
#define ATOL_REL 1e-5

/* One case: a golden case (for the op, its arguments and input kinds) with
 * larger shapes; shape lists are {ndim, d0, d1, ...}. */
typedef struct agree_case {
    const char *group, *name;
    int64_t shape[OPC_MAX_IN][MRG_MAX_DIMS + 1];
    float lo, hi; /* input range; 0, 0 → [−1, 1) */
} agree_case;

static const agree_case CASES[] = {
    {"matmul", "b3_t00", {{3, 3, 64, 96}, {3, 3, 96, 80}}, 0, 0},
    {"matmul", "b3_t01", {{3, 2, 65, 97}, {3, 2, 33, 97}}, 0, 0},
    {"matmul", "b3_t10", {{3, 2, 97, 65}, {3, 2, 97, 33}}, 0, 0},
    {"matmul", "b3_t11", {{3, 3, 96, 64}, {3, 3, 80, 96}}, 0, 0},
    {"matmul", "plain", {{2, 130, 70}, {2, 70, 129}}, 0, 0},
    {"matmul", "shared_t01", {{3, 2, 37, 96}, {2, 130, 96}}, 0, 0},
    {"matmul", "shared_t10", {{3, 2, 96, 37}, {2, 96, 130}}, 0, 0},
    {"matmul", "bf16_t00", {{2, 5, 96}, {2, 96, 70}}, 0, 0},
    {"matmul", "bf16_t01", {{3, 2, 33, 96}, {2, 130, 96}}, 0, 0},
    {"matmul", "bf16_gemv", {{2, 1, 96}, {2, 257, 96}}, 0, 0},
    {"matmul", "bf16_gemv", {{2, 1, 1000}, {2, 67, 1000}}, 0, 0},
    {"matmul", "bf16_batched", {{3, 3, 17, 40}, {3, 3, 40, 23}}, 0, 0},
    {"matmul", "f16_t01", {{2, 40, 64}, {2, 50, 64}}, 0, 0},
    {"matmul", "f16_gemv", {{2, 1, 200}, {2, 129, 200}}, 0, 0},
    {"linear", "bias", {{2, 64, 96}, {2, 80, 96}, {1, 80}}, 0, 0},
    {"linear", "bf16_bias", {{2, 1, 96}, {2, 130, 96}, {1, 130}}, 0, 0},
    {"linear", "f16_bias", {{3, 2, 9, 96}, {2, 31, 96}, {1, 31}}, 0, 0},
    {"add", "same", {{2, 64, 97}, {2, 64, 97}}, 0, 0},
    {"add", "row", {{2, 64, 96}, {1, 96}}, 0, 0},
    {"sub", "col", {{3, 4, 64, 96}, {2, 64, 1}}, 0, 0},
    {"mul", "both", {{3, 7, 1, 96}, {2, 64, 1}}, 0, 0},
    {"mul", "mid", {{3, 5, 33, 96}, {3, 5, 1, 96}}, 0, 0},
    {"scale", "neg", {{2, 64, 96}}, 0, 0},
    {"gelu", "wide", {{2, 64, 96}}, -5, 5},
    {"silu", "wide", {{2, 64, 96}}, -6, 6},
    {"softmax", "plain", {{2, 64, 97}}, -4, 4},
    {"softmax", "causal_rect", {{4, 2, 3, 33, 97}}, -4, 4},
    {"log_softmax", "plain", {{2, 64, 1000}}, -6, 6},
    {"layernorm", "affine", {{2, 64, 96}, {1, 96}, {1, 96}}, -2, 2},
    {"layernorm", "plain", {{2, 5, 768}}, -2, 2},
    {"rmsnorm", "f32", {{2, 64, 96}, {1, 96}}, -2, 2},
    {"rmsnorm", "bf16", {{2, 7, 4096}, {1, 4096}}, -2, 2},
    {"l2_normalize", "plain", {{2, 64, 96}}, 0, 0},
    {"rope", "half_10000_5", {{4, 2, 17, 4, 64}}, 0, 0},
    {"rope", "inter_500000_37", {{4, 2, 17, 4, 64}}, 0, 0},
    {"embedding", "f32", {{2, 1000, 96}, {1, 64}}, 0, 0},
    {"embedding", "bf16", {{2, 500, 64}, {2, 3, 40}}, 0, 0},
    {"sum", "ax1_k0", {{3, 8, 64, 96}}, 0, 0},
    {"sum", "ax2_k1", {{3, 8, 64, 96}}, 0, 0},
    {"mean", "ax0_k1", {{3, 8, 64, 96}}, 0, 0},
    {"permute", "p0213", {{4, 4, 33, 8, 16}}, 0, 0},
    {"transpose", "t12", {{3, 4, 33, 65}}, 0, 0},
    {"concat", "ax1", {{3, 2, 33, 8}, {3, 2, 1, 8}, {3, 2, 30, 8}}, 0, 0},
    {"slice", "ax1", {{3, 8, 64, 96}}, 0, 0},
    {"reshape", "infer", {{3, 8, 12, 5}}, 0, 0},
    {"cross_entropy", "ignore", {{2, 64, 1000}, {1, 64}}, -4, 4},
    {"sdpa", "full", {{4, 2, 4, 37, 64}, {4, 2, 4, 37, 64}, {4, 2, 4, 37, 64}}, 0, 0},
    {"sdpa", "gqa_causal_rect", {{4, 2, 8, 17, 32}, {4, 2, 2, 45, 32}, {4, 2, 2, 45, 32}}, 0, 0},
    {"sdpa", "mask_causal",
     {{4, 2, 4, 40, 16}, {4, 2, 2, 40, 16}, {4, 2, 2, 40, 16}, {2, 2, 40}}, 0, 0},
    {"patch_embed", "bias", {{4, 2, 3, 32, 32}, {4, 48, 3, 8, 8}, {1, 48}}, 0, 0},
    {"patch_embed", "nobias", {{4, 1, 3, 24, 40}, {4, 20, 3, 8, 8}}, 0, 0},
};

typedef struct result {
    float *out;
    int64_t n_out;
    float *grad[OPC_MAX_IN];
} result;

static int64_t shape_numel(const int64_t *s) {
    int64_t n = 1;
    for (int i = 0; i < s[0]; i++) n *= s[1 + i];
    return n;
}

/* Host data for every input of case a (seeded by the case index). */
static void make_inputs(const agree_case *a, const op_case *c, unsigned seed, float **data) {
    for (int i = 0; i < c->n_in; i++) {
        const int64_t *s = a->shape[i];
        int64_t n = shape_numel(s);
        data[i] = malloc((size_t)n * sizeof(float));
        float lo = a->lo, hi = a->hi;
        if (lo == 0 && hi == 0) lo = -1, hi = 1;
        switch (c->in[i].kind) {
        case IN_IDS: { /* ids in [0, V) of the table (input 0) */
            int64_t V = a->shape[0][1];
            test_fill_uniform(data[i], n, seed + i, 0, (float)V);
            for (int64_t j = 0; j < n; j++) data[i][j] = floorf(data[i][j]);
            break;
        }
        case IN_TARGETS: { /* classes of the logits (input 0), every 7th ignored */
            int64_t V = a->shape[0][a->shape[0][0]];
            test_fill_uniform(data[i], n, seed + i, 0, (float)V);
            for (int64_t j = 0; j < n; j++) data[i][j] = (j % 7 == 3) ? -100.f : floorf(data[i][j]);
            break;
        }
        case IN_MASK: { /* (B, Tk): the last 3 keys of sample 0 dropped */
            int64_t Tk = s[2];
            for (int64_t j = 0; j < n; j++) data[i][j] = 0.f;
            for (int64_t j = Tk - 3; j < Tk; j++) data[i][j] = -INFINITY;
            break;
        }
        default:
            test_fill_uniform(data[i], n, seed + i, lo, hi);
        }
    }
}

/* Runs the case on dev: forward, then backward of Σ out·g. */
static bool run_on(mrg_device *dev, const agree_case *a, const op_case *c, float **data,
                   unsigned seed, result *r) {
    memset(r, 0, sizeof *r);
    mrg_tensor *in[OPC_MAX_IN] = {0};
    bool ok = true;
    for (int i = 0; i < c->n_in; i++) {
        char kind = c->in[i].kind;
        in[i] = test_param_f32(dev, op_input_dtype(kind), (int)a->shape[i][0], a->shape[i] + 1,
                               data[i], op_input_trainable(kind), c->in[i].name);
        ok &= in[i] != NULL;
    }
    mrg_tensor *out = ok ? c->run(in, c) : NULL;
    if (!out) {
        fprintf(stderr, "FAIL %s %s/%s: forward: %s\n", mrg_device_name(dev), c->group, c->name,
                mrg_last_error());
        ok = false;
        goto done;
    }
    r->n_out = mrg_numel(out);
    r->out = test_download(out);
    float *gh = malloc((size_t)r->n_out * sizeof(float));
    test_fill_uniform(gh, r->n_out, seed + 100, -1, 1);
    mrg_tensor *g = test_param_f32(dev, MRG_F32, out->ndim, out->shape, gh, false, "g");
    free(gh);
    if (out->requires_grad) {
        mrg_tensor *loss = test_dot_loss(out, g);
        if (!loss || mrg_backward(loss) != MRG_OK) {
            fprintf(stderr, "FAIL %s %s/%s: backward: %s\n", mrg_device_name(dev), c->group,
                    c->name, mrg_last_error());
            ok = false;
        }
        for (int i = 0; ok && i < c->n_in; i++)
            if (c->in[i].kind == IN_PARAM) r->grad[i] = test_download(in[i]->grad);
    }
    mrg_tensor_free(g);
done:
    for (int i = 0; i < c->n_in; i++) mrg_tensor_free(in[i]);
    mrg_step_reset(dev);
    return ok && r->out;
}

static void free_result(result *r) {
    free(r->out);
    for (int i = 0; i < OPC_MAX_IN; i++) free(r->grad[i]);
}

static bool close_to(const char *what, const float *got, const float *want, int64_t n) {
    if (!got || !want) {
        fprintf(stderr, "  %s: missing\n", what);
        return false;
    }
    return test_close(what, got, want, n, RTOL, ATOL_REL * test_max_abs(want, n));
}

static void agree_ops(mrg_device *cpu, mrg_device *dev) {
    int n_cases = (int)(sizeof CASES / sizeof CASES[0]);
    for (int k = 0; k < n_cases; k++) {
        const agree_case *a = &CASES[k];
        const op_case *c = op_case_find(a->group, a->name);
        CHECK(c != NULL);
        if (!c) continue;
        float *data[OPC_MAX_IN] = {0};
        unsigned seed = 1000u * (unsigned)k + 17u;
        make_inputs(a, c, seed, data);
        result rc = {0}, rd = {0};
        bool ok = run_on(cpu, a, c, data, seed, &rc) && run_on(dev, a, c, data, seed, &rd);
        char what[128];
        if (ok) {
            snprintf(what, sizeof what, "%s vs cpu: %s/%s #%d out", mrg_device_name(dev),
                     a->group, a->name, k);
            ok = rc.n_out == rd.n_out && close_to(what, rd.out, rc.out, rc.n_out);
            for (int i = 0; i < c->n_in; i++) {
                if (c->in[i].kind != IN_PARAM) continue;
                snprintf(what, sizeof what, "%s vs cpu: %s/%s #%d grad %s", mrg_device_name(dev),
                         a->group, a->name, k, c->in[i].name);
                ok &= close_to(what, rd.grad[i], rc.grad[i], shape_numel(a->shape[i]));
            }
        }
        if (!ok) fprintf(stderr, "FAIL %s/%s #%d\n", a->group, a->name, k);
        CHECK(ok);
        free_result(&rc);
        free_result(&rd);
        for (int i = 0; i < c->n_in; i++) free(data[i]);
    }
}

/* Five AdamW steps on a (64, 96) and a (97) parameter with random
 * gradients, then clipping, on each device; parameters, moments and norms
 * must agree. */
static bool optim_on(mrg_device *dev, float *p_out, float *q_out, float *m_out, float *norm_out,
                     float *clipped) {
    enum { P = 64 * 96, Q = 97 };
    static float pv[P], qv[Q], gp[P], gq[Q];
    test_fill_uniform(pv, P, 1, -1, 1);
    test_fill_uniform(qv, Q, 2, -1, 1);
    mrg_tensor *p = test_param_f32(dev, MRG_F32, MRG_SHAPE(64, 96), pv, true, "p");
    mrg_tensor *q = test_param_f32(dev, MRG_F32, MRG_SHAPE(97), qv, true, "q");
    mrg_tensor *ps[2] = {p, q};
    bool ok = p && q;
    mrg_adamw_opts o = {.lr = 3e-3f, .beta1 = 0.9f, .beta2 = 0.99f, .eps = 1e-8f,
                        .weight_decay = 0.05f};
    mrg_adamw *opt = ok ? mrg_adamw_create(ps, 2, &o) : NULL;
    ok = ok && opt;
    for (int s = 0; ok && s < 5; s++) {
        test_fill_uniform(gp, P, 10 + s, -1, 1);
        test_fill_uniform(gq, Q, 20 + s, -0.01f, 0.01f);
        ok = mrg_tensor_upload_f32(p->grad, gp) == MRG_OK &&
             mrg_tensor_upload_f32(q->grad, gq) == MRG_OK &&
             mrg_adamw_step(opt, o.lr * (1.0f + s) / 5.0f) == MRG_OK;
    }
    ok = ok && mrg_tensor_to_f32(p, p_out) == MRG_OK && mrg_tensor_to_f32(q, q_out) == MRG_OK &&
         mrg_tensor_to_f32(mrg_adamw_moment(opt, 0, 1), m_out) == MRG_OK;
    mrg_tensor *norm = NULL;
    ok = ok && mrg_clip_grad_norm(ps, 2, 5.0f, &norm) == MRG_OK &&
         mrg_tensor_item(norm, norm_out) == MRG_OK &&
         mrg_tensor_to_f32(p->grad, clipped) == MRG_OK;
    if (!ok) fprintf(stderr, "optimizer on %s: %s\n", mrg_device_name(dev), mrg_last_error());
    mrg_adamw_free(opt);
    mrg_tensor_free(p);
    mrg_tensor_free(q);
    mrg_step_reset(dev);
    return ok;
}

static void agree_optim(mrg_device *cpu, mrg_device *dev) {
    enum { P = 64 * 96, Q = 97 };
    static float p[2][P], q[2][Q], m[2][P], clipped[2][P];
    float norm[2];
    bool ok = optim_on(cpu, p[0], q[0], m[0], &norm[0], clipped[0]) &&
              optim_on(dev, p[1], q[1], m[1], &norm[1], clipped[1]);
    CHECK(ok);
    if (!ok) return;
    CHECK(close_to("adamw p", p[1], p[0], P));
    CHECK(close_to("adamw q", q[1], q[0], Q));
    CHECK(close_to("adamw v", m[1], m[0], P));
    CHECK(close_to("clip norm", &norm[1], &norm[0], 1));
    CHECK(close_to("clipped grad", clipped[1], clipped[0], P));
}

int main(void) {
    char names[8][32];
    int nd = test_devices(names, 8);
    int cpu_i = -1;
    for (int d = 0; d < nd; d++)
        if (!strcmp(names[d], "cpu")) cpu_i = d;
    if (cpu_i < 0 || nd < 2) {
        fprintf(stderr, "test_backends_agree: needs the CPU and another device; skipped\n");
        return TEST_SKIP;
    }
    mrg_device *cpu = mrg_device_open("cpu");
    CHECK(cpu != NULL);
    for (int d = 0; cpu && d < nd; d++) {
        if (d == cpu_i) continue;
        mrg_device *dev = test_device_open(names[d]);
        if (!dev) continue;
        int before = mrg_test_failures;
        agree_ops(cpu, dev);
        agree_optim(cpu, dev);
        fprintf(stderr, "%s vs cpu: %d failures\n", names[d], mrg_test_failures - before);
        mrg_device_free(dev);
    }
    mrg_device_free(cpu);
    return test_finish("test_backends_agree");
}

/* Every op against the PyTorch reference (tests/golden/ops/<op>.safetensors,
 * written by tools/ref/ops_ref.py), on every test device.
 *
 * For each case the inputs are loaded (trainable f32 parameters for the
 * differentiable ones, frozen bf16/f16 weights in their storage dtype), the
 * op runs, and its output is compared with the reference; then
 * loss = Σ out·g with the stored upstream gradient g is back-propagated and
 * every parameter's .grad is compared with the reference gradient. Frozen
 * weights must end without a gradient buffer.
 *
 * Tolerance: 1e-4 relative per element, with an absolute floor of 1e-5 ×
 * the largest magnitude in the expected tensor, so that elements that are
 * near zero by cancellation are judged against the tensor's scale rather
 * than their own (an exact zero tensor must come out exactly zero). */
#include <string.h>

#include "opcases.h"

#ifndef RTOL /* overridable to probe the margin: -DRTOL=1e-6 -DATOL_REL=1e-7 */
#define RTOL 1e-4
#define ATOL_REL 1e-5
#endif

/* Compares a device tensor (shape and values) with golden `key`. */
static bool check_against(const mrg_st_file *f, const char *key, const mrg_tensor *t,
                          const char *what) {
    const mrg_st_tensor *st = mrg_st_find(f, key);
    if (!st) {
        fprintf(stderr, "  golden '%s' missing\n", key);
        return false;
    }
    if (!t) {
        fprintf(stderr, "  %s: no tensor (%s)\n", what, mrg_last_error());
        return false;
    }
    bool same = st->ndim == t->ndim;
    for (int i = 0; same && i < t->ndim; i++) same = st->shape[i] == t->shape[i];
    if (!same) {
        char buf[96];
        fprintf(stderr, "  %s: shape %s, reference has rank %d\n", what,
                mrg_shape_str(t, buf, sizeof buf), st->ndim);
        return false;
    }
    int64_t n;
    float *want = test_golden_f32(f, key, &n);
    if (!want) return false;
    bool ok = test_tensor_close(what, t, want, RTOL, ATOL_REL * test_max_abs(want, n));
    free(want);
    return ok;
}

static void run_case(mrg_device *dev, const op_case *c, const mrg_st_file *f) {
    char what[160];
    mrg_tensor *in[OPC_MAX_IN] = {0};
    if (!op_case_load_inputs(dev, c, f, in)) {
        op_case_free_inputs(c, in);
        return;
    }
    bool any_param = false;
    for (int i = 0; i < c->n_in; i++) any_param |= c->in[i].kind == IN_PARAM;

    mrg_tensor *out = c->run(in, c);
    snprintf(what, sizeof what, "%s %s/%s out", mrg_device_name(dev), c->group, c->name);
    bool ok = check_against(f, op_case_key(c, "out"), out, what);
    if (!ok) fprintf(stderr, "FAIL %s\n", what);
    CHECK(ok);

    if (any_param && out) {
        mrg_tensor *g = test_param(dev, f, op_case_key(c, "g"), MRG_F32, false);
        mrg_tensor *loss = test_dot_loss(out, g);
        mrg_status st = loss ? mrg_backward(loss) : MRG_ERR_INVALID_ARG;
        snprintf(what, sizeof what, "%s %s/%s backward", mrg_device_name(dev), c->group,
                 c->name);
        if (st != MRG_OK) fprintf(stderr, "FAIL %s: %s\n", what, mrg_last_error());
        CHECK(st == MRG_OK);
        if (st == MRG_OK) {
            for (int i = 0; i < c->n_in; i++) {
                char role[64];
                snprintf(what, sizeof what, "%s %s/%s grad %s", mrg_device_name(dev),
                         c->group, c->name, c->in[i].name);
                if (c->in[i].kind == IN_PARAM) {
                    snprintf(role, sizeof role, "grad/%s", c->in[i].name);
                    ok = check_against(f, op_case_key(c, role), in[i]->grad, what);
                    if (!ok) fprintf(stderr, "FAIL %s\n", what);
                    CHECK(ok);
                } else {
                    /* frozen weights and ids never get a gradient buffer */
                    if (in[i]->grad) fprintf(stderr, "FAIL %s: frozen input has .grad\n", what);
                    CHECK(in[i]->grad == NULL);
                }
            }
        }
        mrg_tensor_free(g);
    }
    op_case_free_inputs(c, in);
    mrg_step_reset(dev);
}

/* Three AdamW steps with given gradients and a changing learning rate;
 * parameters after each step and the final moments against torch.optim.AdamW. */
static void test_adamw(mrg_device *dev) {
    char file[] = "ops/adamw.safetensors";
    mrg_st_file *f = test_golden_open(file);
    if (!f) return;
    mrg_tensor *p = test_param(dev, f, "steps/p0", MRG_F32, true);
    mrg_tensor *q = test_param(dev, f, "steps/q0", MRG_F32, true);
    mrg_tensor *params[2] = {p, q};
    /* mirrors gen_adamw() in tools/ref/ops_ref.py */
    mrg_adamw_opts o = {.lr = 1e-2f, .beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f,
                        .weight_decay = 0.1f};
    const float lrs[3] = {1e-2f, 5e-3f, 2e-2f};
    mrg_adamw *opt = (p && q) ? mrg_adamw_create(params, 2, &o) : NULL;
    CHECK(opt != NULL);
    if (opt) {
        for (int s = 1; s <= 3; s++) {
            char key[64], what[96];
            const char *pn[2] = {"p", "q"};
            for (int j = 0; j < 2; j++) {
                snprintf(key, sizeof key, "steps/g%s%d", pn[j], s);
                float *g = test_golden_f32(f, key, NULL);
                CHECK(g && params[j]->grad && mrg_tensor_upload_f32(params[j]->grad, g) == MRG_OK);
                free(g);
            }
            CHECK_OK(mrg_adamw_step(opt, lrs[s - 1]));
            for (int j = 0; j < 2; j++) {
                snprintf(key, sizeof key, "steps/%s%d", pn[j], s);
                snprintf(what, sizeof what, "%s adamw %s after step %d", mrg_device_name(dev),
                         pn[j], s);
                bool ok = check_against(f, key, params[j], what);
                if (!ok) fprintf(stderr, "FAIL %s\n", what);
                CHECK(ok);
            }
        }
        CHECK(mrg_adamw_steps(opt) == 3);
        const char *mk[4] = {"steps/p_m", "steps/p_v", "steps/q_m", "steps/q_v"};
        for (int k = 0; k < 4; k++) {
            char what[96];
            snprintf(what, sizeof what, "%s adamw moment %s", mrg_device_name(dev), mk[k]);
            bool ok = check_against(f, mk[k], mrg_adamw_moment(opt, k / 2, k % 2), what);
            if (!ok) fprintf(stderr, "FAIL %s\n", what);
            CHECK(ok);
        }
        mrg_adamw_free(opt);
    }
    mrg_tensor_free(p);
    mrg_tensor_free(q);
    mrg_st_close(f);
    mrg_step_reset(dev);
}

/* clip_grad_norm_: clipped, not clipped, and measure-only (max_norm 0). */
static void test_clip(mrg_device *dev) {
    mrg_st_file *f = test_golden_open("ops/clip_grad_norm.safetensors");
    if (!f) return;
    const char *cases[3] = {"clip", "noclip", "measure"};
    const float max_norms[3] = {1.0f, 100.0f, 0.0f};
    for (int c = 0; c < 3; c++) {
        char key[64], what[96];
        int64_t sa[2] = {4, 5}, sb[1] = {7};
        mrg_tensor *a = mrg_param_new(dev, MRG_F32, 2, sa, true, "a");
        mrg_tensor *b = mrg_param_new(dev, MRG_F32, 1, sb, true, "b");
        CHECK(a && b && a->grad && b->grad);
        if (!(a && b && a->grad && b->grad)) {
            mrg_tensor_free(a);
            mrg_tensor_free(b);
            continue;
        }
        snprintf(key, sizeof key, "%s/ga", cases[c]);
        float *ga = test_golden_f32(f, key, NULL);
        snprintf(key, sizeof key, "%s/gb", cases[c]);
        float *gb = test_golden_f32(f, key, NULL);
        CHECK(ga && gb);
        if (ga && gb) {
            CHECK_OK(mrg_tensor_upload_f32(a->grad, ga));
            CHECK_OK(mrg_tensor_upload_f32(b->grad, gb));
            mrg_tensor *params[2] = {a, b};
            mrg_tensor *norm = NULL;
            CHECK_OK(mrg_clip_grad_norm(params, 2, max_norms[c], &norm));
            snprintf(key, sizeof key, "%s/norm", cases[c]);
            snprintf(what, sizeof what, "%s clip %s norm", mrg_device_name(dev), cases[c]);
            bool ok = check_against(f, key, norm, what);
            snprintf(key, sizeof key, "%s/out_a", cases[c]);
            snprintf(what, sizeof what, "%s clip %s grad a", mrg_device_name(dev), cases[c]);
            ok &= check_against(f, key, a->grad, what);
            snprintf(key, sizeof key, "%s/out_b", cases[c]);
            snprintf(what, sizeof what, "%s clip %s grad b", mrg_device_name(dev), cases[c]);
            ok &= check_against(f, key, b->grad, what);
            if (!ok) fprintf(stderr, "FAIL %s clip %s\n", mrg_device_name(dev), cases[c]);
            CHECK(ok);
        }
        free(ga);
        free(gb);
        mrg_tensor_free(a);
        mrg_tensor_free(b);
        mrg_step_reset(dev);
    }
    mrg_st_close(f);
}

int main(int argc, char **argv) {
    /* optional filter: only groups whose name is given on the command line */
    test_device_iter it = {0};
    while (test_next_device(&it)) {
        mrg_device *dev = it.dev;
        int before = mrg_test_failures;
        mrg_st_file *f = NULL;
        const char *open_group = "";
        for (int i = 0; i < op_case_count; i++) {
            const op_case *c = &op_cases[i];
            bool wanted = argc < 2;
            for (int a = 1; a < argc; a++) wanted |= !strcmp(argv[a], c->group);
            if (!wanted) continue;
            if (strcmp(open_group, c->group)) {
                mrg_st_close(f);
                f = op_case_open(c);
                open_group = c->group;
            }
            if (f) run_case(dev, c, f);
        }
        mrg_st_close(f);
        bool all = argc < 2;
        for (int a = 1; a < argc; a++) all |= !strcmp(argv[a], "adamw");
        if (all) test_adamw(dev);
        all = argc < 2;
        for (int a = 1; a < argc; a++) all |= !strcmp(argv[a], "clip_grad_norm");
        if (all) test_clip(dev);
        fprintf(stderr, "%s: %d failures\n", it.name, mrg_test_failures - before);
    }
    if (!it.count) fprintf(stderr, "no devices\n");
    return it.count ? test_finish("test_ops_golden") : TEST_SKIP;
}

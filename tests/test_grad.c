/* Finite-difference gradient check for every differentiable op, on every
 * test device.
 *
 * The cases and inputs are those of the golden test (tests/util/opcases.c,
 * tests/golden/ops/): the point is a random one, and the loss is the random
 * projection L = Σ out·g with the stored upstream gradient g. The analytic
 * gradient (mrg_backward) of every trainable input is compared with central
 * differences (L(x + h) − L(x − h)) / 2h, h = 1e-2, with the forward in f32
 * on the device and the projection summed in double on the host (so the
 * only noise is the f32 rounding of the outputs, about 1e-5 after dividing
 * by 2h, and the truncation error h²/6·L''' ≈ 2e-5).
 *
 * Tolerance: |analytic − numeric| <= 1e-2·|numeric| + 1e-3·max(1, max|numeric|). */
#include <string.h>

#include "opcases.h"

#ifndef FD_RTOL /* overridable to probe the margin: -DFD_RTOL=1e-3 -DFD_ATOL=1e-4 */
#define FD_RTOL 1e-2
#define FD_ATOL 1e-3
#endif
#define FD_H 1e-2

/* L = Σ out·g in double, forward only. */
static bool eval_loss(const op_case *c, mrg_tensor **in, const float *g, int64_t ng,
                      double *loss) {
    mrg_tensor *out = c->run(in, c);
    if (!out || mrg_numel(out) != ng) return false;
    float *o = test_download(out);
    if (!o) return false;
    double s = 0.0;
    for (int64_t i = 0; i < ng; i++) s += (double)o[i] * g[i];
    free(o);
    *loss = s;
    return true;
}

static void check_case(mrg_device *dev, const op_case *c, const mrg_st_file *f) {
    mrg_tensor *in[OPC_MAX_IN] = {0};
    int64_t ng = 0;
    float *g = NULL;
    if (!op_case_load_inputs(dev, c, f, in)) goto done;
    g = test_golden_f32(f, op_case_key(c, "g"), &ng);
    if (!g) goto done;

    /* analytic gradients */
    mrg_tensor *gt = test_param(dev, f, op_case_key(c, "g"), MRG_F32, false);
    mrg_tensor *loss = test_dot_loss(c->run(in, c), gt);
    mrg_status st = loss ? mrg_backward(loss) : MRG_ERR_INVALID_ARG;
    if (st != MRG_OK)
        fprintf(stderr, "FAIL %s %s/%s: backward: %s\n", mrg_device_name(dev), c->group, c->name,
                mrg_last_error());
    CHECK(st == MRG_OK);
    mrg_tensor_free(gt);
    mrg_step_reset(dev);
    if (st != MRG_OK) goto done;

    bool prev = mrg_grad_set_enabled(dev, false);
    for (int i = 0; i < c->n_in; i++) {
        if (c->in[i].kind != IN_PARAM) continue;
        float *ana = test_download(in[i]->grad);
        float *x = test_download(in[i]);
        int64_t n = mrg_numel(in[i]);
        double *num = malloc((size_t)n * sizeof(double));
        bool ok = ana && x && num;
        for (int64_t j = 0; ok && j < n; j++) {
            const float x0 = x[j];
            double lp = 0, lm = 0;
            x[j] = x0 + (float)FD_H;
            ok = mrg_tensor_upload_f32(in[i], x) == MRG_OK && eval_loss(c, in, g, ng, &lp);
            mrg_step_reset(dev);
            x[j] = x0 - (float)FD_H;
            ok = ok && mrg_tensor_upload_f32(in[i], x) == MRG_OK &&
                 eval_loss(c, in, g, ng, &lm);
            mrg_step_reset(dev);
            /* the actual step in f32 */
            double step = (double)(float)(x0 + (float)FD_H) - (double)(float)(x0 - (float)FD_H);
            num[j] = (lp - lm) / step;
            x[j] = x0;
        }
        ok = ok && mrg_tensor_upload_f32(in[i], x) == MRG_OK;
        if (!ok) {
            fprintf(stderr, "FAIL %s %s/%s %s: evaluation failed: %s\n", mrg_device_name(dev),
                    c->group, c->name, c->in[i].name, mrg_last_error());
        } else {
            double scale = 1.0;
            for (int64_t j = 0; j < n; j++) scale = fmax(scale, fabs(num[j]));
            int64_t worst = 0, bad = 0;
            double worst_r = -1;
            for (int64_t j = 0; j < n; j++) {
                double r = fabs(ana[j] - num[j]) / (FD_RTOL * fabs(num[j]) + FD_ATOL * scale);
                if (r > 1) bad++;
                if (r > worst_r) worst_r = r, worst = j;
            }
            if (bad) {
                fprintf(stderr,
                        "FAIL %s %s/%s d/d%s: %lld of %lld elements differ; worst [%lld] "
                        "analytic %.6g numeric %.6g\n",
                        mrg_device_name(dev), c->group, c->name, c->in[i].name, (long long)bad,
                        (long long)n, (long long)worst, (double)ana[worst], num[worst]);
                ok = false;
            }
        }
        CHECK(ok);
        free(ana);
        free(x);
        free(num);
    }
    mrg_grad_set_enabled(dev, prev);
done:
    free(g);
    op_case_free_inputs(c, in);
    mrg_step_reset(dev);
}

int main(int argc, char **argv) {
    test_device_iter it = {0};
    while (test_next_device(&it)) {
        mrg_device *dev = it.dev;
        int before = mrg_test_failures, checks = mrg_test_checks;
        mrg_st_file *f = NULL;
        const char *open_group = "";
        for (int i = 0; i < op_case_count; i++) {
            const op_case *c = &op_cases[i];
            bool wanted = argc < 2, differentiable = false;
            for (int a = 1; a < argc; a++) wanted |= !strcmp(argv[a], c->group);
            for (int k = 0; k < c->n_in; k++) differentiable |= c->in[k].kind == IN_PARAM;
            if (!wanted || !differentiable) continue;
            if (strcmp(open_group, c->group)) {
                mrg_st_close(f);
                f = op_case_open(c);
                open_group = c->group;
            }
            if (f) check_case(dev, c, f);
        }
        mrg_st_close(f);
        fprintf(stderr, "%s: %d gradients checked, %d failures\n", it.name,
                mrg_test_checks - checks, mrg_test_failures - before);
    }
    return it.count ? test_finish("test_grad") : TEST_SKIP;
}

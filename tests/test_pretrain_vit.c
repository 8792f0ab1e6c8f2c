/* `mrg pretrain-vit` (lib/train/pretrain_vit.c) on 60 small phantoms (32 px,
 * read at the micro preset's 16 px):
 *   - on every device the loss falls, the head is scored on every val study,
 *     the directory holds a ViT of the preset's shape (no head) that
 *     mrg_vit_load reads back, and mrg_model_create(..., vit_dir) starts the
 *     report generator's ViT from exactly those weights (`mrg train --vit`);
 *   - every device gives the same first and last loss (1e-4);
 *   - --pos-weight: at a weight of 1.0001 the weighted loss is the plain
 *     cross-entropy (first loss within 1e-3); at 4 it trains (the loss
 *     falls); --keep-best writes an epoch whose val F1 is at least the last
 *     epoch's, and reports which; --head-loss squared trains too (the loss
 *     falls), and an unknown head loss is refused;
 *   - the command: a missing dataset is an error with a message, exit 1,
 *     and leaves no output; unknown options exit 2. */
#include <string.h>
#include <unistd.h>

#include "core/files.h"
#include "mrg/model.h"
#include "mrg/phantom.h"
#include "mrg/pretrain.h"
#include "mrg/vit.h"
#include "testutil.h"

#define MAX_DEV 8

static char root[256];

/* the same tensor in the model (under "vit.") and in the ViT file */
static void check_model_starts_from(mrg_device *dev, const char *lm, const char *vit_dir) {
    mrg_model_config cfg;
    CHECK_OK(mrg_model_preset("micro", &cfg));
    mrg_model *m = mrg_model_create(&cfg, dev, lm, vit_dir, NULL);
    CHECK(m != NULL);
    if (!m) return;
    char path[600];
    snprintf(path, sizeof path, "%s/model.safetensors", vit_dir);
    mrg_st_file *f = mrg_st_open(path);
    CHECK(f != NULL);
    mrg_tensor *ps[512];
    const char *names[512];
    int n = mrg_model_params(m, ps, names, 512), compared = 0;
    for (int i = 0; f && i < n && i < 512; i++) {
        if (strncmp(names[i], "vit.", 4) != 0) continue;
        int64_t cnt = 0;
        float *want = test_golden_f32(f, names[i] + 4, &cnt);
        CHECK(want != NULL && cnt == mrg_numel(ps[i]));
        if (want && cnt == mrg_numel(ps[i])) {
            CHECK(test_tensor_close(names[i], ps[i], want, 0, 0));
            compared++;
        }
        free(want);
    }
    CHECK(compared > 10); /* patch embedding, tokens, blocks, norm */
    mrg_st_close(f);
    mrg_model_free(m);
}

/* The runs of these tests: 4 epochs of batches of 8, quiet. */
static mrg_vit_pretrain_opts short_run(void) {
    mrg_vit_pretrain_opts o = mrg_vit_pretrain_defaults();
    o.epochs = 4;
    o.batch_size = 8;
    o.log_every = 1000;
    return o;
}

static mrg_status pretrain_loss(mrg_device *dev, const char *data, const char *name, float pos_weight,
                                mrg_vit_head_loss head_loss, bool keep_best, mrg_vit_pretrain_result *r) {
    mrg_model_config cfg;
    CHECK_OK(mrg_model_preset("micro", &cfg));
    mrg_vit_pretrain_opts o = short_run();
    o.head_loss = head_loss;
    o.pos_weight = pos_weight;
    o.keep_best = keep_best;
    char out[400];
    snprintf(out, sizeof out, "%s/%s", root, name);
    return mrg_pretrain_vit(data, &cfg.vit, &o, dev, out, r);
}

static mrg_status pretrain_with(mrg_device *dev, const char *data, const char *name, float pos_weight,
                                bool keep_best, mrg_vit_pretrain_result *r) {
    return pretrain_loss(dev, data, name, pos_weight, MRG_VIT_HEAD_CROSS_ENTROPY, keep_best, r);
}

/* the weighted loss and the choice of the epoch (on the CPU), against the
 * plain run r0 of the same data and seed */
static void test_weighting_and_best(mrg_device *dev, const char *data, const mrg_vit_pretrain_result *r0) {
    mrg_vit_pretrain_result r;
    CHECK_OK(pretrain_with(dev, data, "vit-w1", 1.0001f, false, &r));
    CHECK(fabsf(r.first_loss - r0->first_loss) <= 1e-3f * r0->first_loss);
    CHECK(r.epoch == 4);
    CHECK_OK(pretrain_with(dev, data, "vit-w4", 4.0f, false, &r));
    printf("pos-weight 4: loss %.4f -> %.4f, val finding F1 %.3f\n", r.first_loss, r.final_loss, r.val.macro_f1);
    CHECK(isfinite(r.first_loss) && r.final_loss < r.first_loss);
    CHECK_OK(pretrain_loss(dev, data, "vit-sq", 4.0f, MRG_VIT_HEAD_SQUARED, false, &r));
    printf("squared head loss, pos-weight 4: loss %.4f -> %.4f, val finding F1 %.3f\n", r.first_loss, r.final_loss,
           r.val.macro_f1);
    CHECK(isfinite(r.first_loss) && r.final_loss < r.first_loss);
    CHECK(pretrain_loss(dev, data, "vit-bad", 1.0f, (mrg_vit_head_loss)7, false, &r) == MRG_ERR_INVALID_ARG);
    CHECK_OK(pretrain_with(dev, data, "vit-best", 1.0f, true, &r));
    printf("keep-best: epoch %d, val finding F1 %.3f (last epoch %.3f)\n", r.epoch, r.val.macro_f1, r0->val.macro_f1);
    CHECK(r.epoch >= 1 && r.epoch <= 4 && r.val.macro_f1 >= r0->val.macro_f1);
    CHECK(r.epoch < 4 || r.val.macro_f1 == r0->val.macro_f1);
    CHECK(pretrain_with(dev, data, "vit-bad", 0.0f, false, &r) == MRG_ERR_INVALID_ARG);
}

static bool pretrain_on(mrg_device *dev, const char *data, const char *lm, mrg_vit_pretrain_result *r) {
    mrg_model_config cfg;
    CHECK_OK(mrg_model_preset("micro", &cfg));
    mrg_vit_pretrain_opts o = short_run();
    char out[400];
    snprintf(out, sizeof out, "%s/vit-%s", root, mrg_device_name(dev));
    mrg_status st = mrg_pretrain_vit(data, &cfg.vit, &o, dev, out, r);
    CHECK_OK(st);
    if (st) return false;
    printf("%s: loss %.4f -> %.4f, val finding F1 %.3f over %d studies\n", mrg_device_name(dev),
           r->first_loss, r->final_loss, r->val.macro_f1, r->n_val);
    CHECK(isfinite(r->first_loss) && r->final_loss < r->first_loss);
    CHECK(r->n_val == 6); /* every val study of the 60 */
    mrg_vit *v = mrg_vit_load(out, dev, NULL);
    CHECK(v != NULL);
    if (v) {
        const mrg_vit_config *vc = mrg_vit_get_config(v);
        CHECK(vc->dim == cfg.vit.dim && vc->depth == cfg.vit.depth &&
              vc->patch_size == cfg.vit.patch_size && vc->image_size == cfg.vit.image_size &&
              vc->num_classes == 0);
        mrg_vit_free(v);
    }
    check_model_starts_from(dev, lm, out);
    return true;
}

static void test_command(const char *bin, const char *data) {
    char cmd[2000], out[4096], dir[400];
    snprintf(dir, sizeof dir, "%s/cli-vit", root);
    snprintf(cmd, sizeof cmd, "%s pretrain-vit --data %s/none --out %s --device cpu 2>&1", bin, root, dir);
    CHECK(test_run_cmd(cmd, out, sizeof out) == 1 && strstr(out, "annotation.json") != NULL);
    CHECK(!mrg_path_exists(dir));
    snprintf(cmd, sizeof cmd, "%s pretrain-vit --data %s --out %s --bogus 1 2>&1", bin, data, dir);
    CHECK(test_run_cmd(cmd, out, sizeof out) == 2 && strstr(out, "unknown option") != NULL);
    snprintf(cmd, sizeof cmd, "%s pretrain-vit --help", bin);
    CHECK(test_run_cmd(cmd, out, sizeof out) == 0 && strstr(out, "--vit DIR") != NULL);
    snprintf(cmd, sizeof cmd, "%s pretrain-vit --data %s --out %s --preset micro --epochs 1 --device cpu > /dev/null 2>&1", bin, data, dir);
    CHECK(test_run_cmd(cmd, out, sizeof out) == 0);
    snprintf(cmd, sizeof cmd, "%s/config.json", dir);
    CHECK(mrg_path_exists(cmd));
    snprintf(cmd, sizeof cmd,
             "%s pretrain-vit --data %s --out %s --preset micro --epochs 2 --pos-weight 3 --keep-best "
             "--device cpu --force 2>&1 >/dev/null", bin, data, dir);
    CHECK(test_run_cmd(cmd, out, sizeof out) == 0 && strstr(out, "kept epoch") != NULL);
    snprintf(cmd, sizeof cmd,
             "%s pretrain-vit --data %s --out %s --preset micro --epochs 1 --head-loss squared "
             "--device cpu --force 2>&1 >/dev/null", bin, data, dir);
    CHECK(test_run_cmd(cmd, out, sizeof out) == 0 && strstr(out, "val finding F1") != NULL);
    snprintf(cmd, sizeof cmd, "%s pretrain-vit --data %s --out %s --head-loss mse 2>&1", bin, data, dir);
    CHECK(test_run_cmd(cmd, out, sizeof out) == 2 && strstr(out, "--head-loss") != NULL);
    snprintf(cmd, sizeof cmd, "%s pretrain-vit --data %s --out %s --pos-weight 0 2>&1", bin, data, dir);
    CHECK(test_run_cmd(cmd, out, sizeof out) == 2 && strstr(out, "--pos-weight") != NULL);
}

int main(void) {
    snprintf(root, sizeof root, "/tmp/mrg_test_pretrain_vit_%ld", (long)getpid());
    char data[400], lm[400];
    snprintf(data, sizeof data, "%s/data", root);
    snprintf(lm, sizeof lm, "%s/lm", root);
    if (mrg_mkdirs(root) || mrg_phantoms_write(data, 60, 11, 32, NULL)) {
        fprintf(stderr, "cannot write phantoms under %s: %s\n", root, mrg_last_error());
        return 1;
    }
    char names[MAX_DEV][32];
    int nd = test_devices(names, MAX_DEV);
    float first[MAX_DEV], last[MAX_DEV];
    int done = 0;
    for (int d = 0; d < nd; d++) {
        mrg_device *dev = test_device_open(names[d]);
        if (!dev) continue;
        if (d == 0) /* a frozen LM (with its tokenizer) for the generator */
            CHECK_OK(test_pretrain_micro_lm(dev, data, lm, 2));
        mrg_vit_pretrain_result r;
        if (pretrain_on(dev, data, lm, &r)) {
            if (done == 0) test_weighting_and_best(dev, data, &r);
            first[done] = r.first_loss;
            last[done++] = r.final_loss;
        }
        mrg_device_free(dev);
    }
    for (int d = 1; d < done; d++) {
        CHECK(fabsf(first[d] - first[0]) <= 1e-4f * fabsf(first[0]));
        CHECK(fabsf(last[d] - last[0]) <= 1e-4f * fabsf(last[0]) + 1e-5f);
    }
    const char *bin = getenv("MRG_BIN");
    if (bin) test_command(bin, data);
    if (mrg_test_failures == 0) mrg_rm_tree(root);
    return test_finish("pretrain_vit");
}

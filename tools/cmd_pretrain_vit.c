/* mrg pretrain-vit: warms up the preset's ViT on a dataset's training
 * studies, supervised by the findings the labeler reads in their reports,
 * and writes a ViT directory that `mrg train --vit DIR` starts from (the
 * role ImageNet weights play in the paper). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "opts.h"
#include "out_guard.h"
#include "mrg/model.h"
#include "mrg/mrg.h"
#include "mrg/pretrain.h"

static int usage(int code) {
    fprintf(code ? stderr : stdout,
            "usage: mrg pretrain-vit --data DIR --out DIR [--preset P | --config F]\n"
            "                        [--epochs N] [--batch N] [--lr X] [--seed S]\n"
            "                        [--pos-weight X] [--head-loss L] [--keep-best]\n"
            "                        [--device D] [--log-every N] [--force]\n"
            "                        [--skip-nonfinite]\n\n"
            "Trains the ViT of a preset (its `vit` shape and views) from a random init on\n"
            "the training studies of DIR: every view through the ViT, a linear head on the\n"
            "mean of all their tokens, two logits per finding (cardiomegaly, left/right\n"
            "pleural effusion, left/right pneumothorax, lobar opacity, nodule) against the\n"
            "finding labeler's reading of the study's report (no other annotation is used);\n"
            "cross-entropy (or squared error), AdamW, warmup + cosine. The head's finding\n"
            "F1 on the val split is reported after every epoch. Writes DIR with\n"
            "model.safetensors (timm names) and config.json, for `mrg train --vit DIR`;\n"
            "the head is not kept.\n\n"
            "  --data DIR        dataset in the R2Gen layout (annotation.json)\n"
            "  --out DIR         output directory, replaced atomically; it must be new,\n"
            "                    empty or an earlier output of pretrain-vit, and not inside\n"
            "                    --data\n"
            "  --force           write into another non-empty --out anyway (replaces the\n"
            "                    files pretrain-vit writes, keeps the others)\n"
            "  --skip-nonfinite  skip an update whose loss or gradient norm is not finite\n"
            "                    instead of stopping (no output is written on a stop)\n"
            "  --preset P        paper, tiny (default) or micro\n"
            "  --config F        JSON overriding any config field (applied to --preset)\n"
            "  --epochs N        passes over the training studies, 1..100000 (default 10)\n"
            "  --batch N         studies per update, 1..4096 (default 16)\n"
            "  --lr X            peak learning rate, 0 < X <= 1 (default 1e-3)\n"
            "  --seed S          initialisation and shuffling seed (default 1234)\n"
            "  --pos-weight X    weight of a positive finding's loss term against a\n"
            "                    negative one's, 0 < X <= 100 (default 1: plain\n"
            "                    cross-entropy); each finding is present in a minority of\n"
            "                    studies, and X > 1 makes the rare positives count more\n"
            "  --head-loss L     cross-entropy (default) or squared: the squared error of\n"
            "                    the two logits against (-1, +1) for a positive finding\n"
            "                    and (+1, -1) otherwise (weighted by --pos-weight too);\n"
            "                    the head must then read each finding at the same\n"
            "                    strength whatever else the study shows, so the mean\n"
            "                    token holds co-occurring findings additively, which is\n"
            "                    how the report generator first reads it (mrg demo uses it)\n"
            "  --keep-best       write the ViT of the epoch whose head scored the best val\n"
            "                    finding F1 (default: the last epoch's)\n"
            "  --device D        cpu, opencl, opencl:N (default: see mrg --help)\n"
            "  --log-every N     JSONL line every N >= 1 updates (default 10)\n\n"
            "Progress: a bar on a terminal, JSON lines on stdout otherwise.\n");
    return code;
}

int cmd_pretrain_vit(int argc, char **argv) {
    const char *data = NULL, *out = NULL, *preset = "tiny", *config = NULL, *device = NULL;
    mrg_vit_pretrain_opts o = mrg_vit_pretrain_defaults();
    bool force = false;
    /* indexed by mrg_vit_head_loss */
    static const char *const head_losses[] = {"cross-entropy", "squared", NULL};
    int head_loss = -1;
    opt_spec specs[] = {
        OPT_STRING("--data", &data),
        OPT_STRING("--out", &out),
        OPT_STRING("--preset", &preset),
        OPT_STRING("--config", &config),
        OPTS_TRAINING_LOOP(o),
        OPT_SEED("--seed", &o.seed),
        OPT_POSITIVE("--pos-weight", &o.pos_weight, 100),
        OPT_ONE_OF("--head-loss", &head_loss, head_losses),
        OPT_SET("--keep-best", &o.keep_best),
        OPT_STRING("--device", &device),
        OPT_INTEGER("--log-every", &o.log_every, 1, INT_MAX),
        OPT_SET("--force", &force),
        OPT_SET("--skip-nonfinite", &o.skip_nonfinite),
    };
    const int n = OPTS_COUNT(specs);
    int rc = opts_parse("pretrain-vit", argc, argv, specs, n);
    if (rc) return rc == 1 ? usage(0) : rc;
    if ((rc = opts_require("pretrain-vit", specs, n, "--data", "--out", NULL))) return rc;
    mrg_model_config cfg;
    if (opts_model_config("pretrain-vit", preset, config, &cfg)) return 2;
    const mrg_named_path inputs[] = {{"--data", data}, {"--config", config}};
    if (out_dir_guard("pretrain-vit", out, force, inputs, 2)) return 2;
    if (head_loss >= 0) o.head_loss = (mrg_vit_head_loss)head_loss;
    o.n_views = cfg.n_views;
    opts_progress(&o.bar, &o.jsonl_stdout);
    mrg_device *dev = opts_device("pretrain-vit", device);
    if (!dev) return 2;
    if (o.bar)
        fprintf(stderr, "pretraining the %s ViT (%d layers, width %d, %d-px patches) on %s\n", preset,
                cfg.vit.depth, cfg.vit.dim, cfg.vit.patch_size, mrg_device_name(dev));
    mrg_vit_pretrain_result r;
    mrg_status st = mrg_pretrain_vit(data, &cfg.vit, &o, dev, out, &r);
    mrg_device_free(dev);
    if (st) {
        fprintf(stderr, "mrg pretrain-vit: %s\n", mrg_last_error());
        return 1;
    }
    fprintf(stderr, "loss %.4f -> %.4f", r.first_loss, r.final_loss);
    if (r.n_val) fprintf(stderr, "; val finding F1 %.3f (%d studies)", r.val.macro_f1, r.n_val);
    if (o.keep_best) fprintf(stderr, "; kept epoch %d", r.epoch);
    fprintf(stderr, "; wrote %s\n", out);
    return 0;
}

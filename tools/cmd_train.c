/* mrg train: trains the report generator on a dataset in the R2Gen layout
 * (AdamW, warmup + cosine, clipping, gradient accumulation), evaluates on
 * val after each epoch, keeps RUN/best and RUN/last, and resumes from
 * RUN/last bit-for-bit with --resume. */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "opts.h"
#include "mrg/mrg.h"
#include "mrg/train_run.h"

static int usage(int code) {
    fprintf(code ? stderr : stdout,
            "usage: mrg train --data DIR (--preset P | --config F) --out RUN [--lm DIR] [--vit DIR]\n"
            "                 [--tokenizer FILE] [--device D] [--resume] [--epochs N] [--batch N]\n"
            "                 [--lr X] [--grad-accum N] [--max-steps N] [--save-every N]\n"
            "                 [--eval-max N] [--no-eval] [--eval-beam] [--log-every N]\n"
            "                 [--freeze-vit] [--precision f32|bf16-mixed] [--force]\n"
            "                 [--select-by bleu4-cider|finding-f1] [--skip-nonfinite]\n\n"
            "Trains the report generator (DESIGN.md section 3) on DIR's train split.\n\n"
            "  --data DIR        dataset in the R2Gen layout (annotation.json, images/)\n"
            "  --preset P        paper, tiny or micro (default tiny)\n"
            "  --config F        JSON overriding any config field (applied to --preset)\n"
            "  --lm DIR          the frozen LLaMA (`mrg pretrain-lm` output or a Hugging\n"
            "                    Face / llama2.c checkpoint); default: random, of the preset's shape\n"
            "  --vit DIR         timm ViT weights to start the vision encoder from (e.g.\n"
            "                    `mrg pretrain-vit` output); its shape replaces the config's\n"
            "  --freeze-vit      keep the ViT's weights fixed (config field freeze_vit)\n"
            "  --precision P     f32 (default) or bf16-mixed (config field precision): as\n"
            "                    PyTorch's bf16 autocast, every matrix product of the\n"
            "                    training step (ViT, encoders, frozen LLaMA, attention;\n"
            "                    forward and backward) multiplies bf16-rounded operands\n"
            "                    with f32 sums; weights, gradients, AdamW state, norms,\n"
            "                    softmax and losses stay f32, the frozen LLaMA is held in\n"
            "                    bf16. Uses AVX512-BF16 where the CPU has it; elsewhere\n"
            "                    (and on OpenCL) the same products in f32, with a note.\n"
            "                    A run keeps its precision: --resume with another is refused\n"
            "  --tokenizer FILE  sentencepiece model (default: the one inside --lm)\n"
            "  --out RUN         run directory: RUN/last, RUN/best, RUN/log.jsonl\n"
            "  --resume          continue from RUN/last with the options it was started with\n"
            "                    (same losses as an uninterrupted run); fresh when none.\n"
            "                    Refused with another dataset, --preset, --config, --lm\n"
            "                    (compared by content hash) or --precision than the run's;\n"
            "                    other options are ignored with a note, except --epochs\n"
            "                    and --max-steps, which set the run's new length (so a\n"
            "                    finished run can be extended; the learning-rate schedule\n"
            "                    stretches to it)\n"
            "  --force           start over in a RUN that holds a run (deletes its last/,\n"
            "                    best/ and log.jsonl), or use a non-empty directory that\n"
            "                    holds none (its files are kept); without it both are refused\n"
            "  --skip-nonfinite  skip an update whose loss or gradient norm is NaN or\n"
            "                    infinite (logged as {\"type\":\"skip\"}) instead of stopping\n"
            "  --epochs N        passes over the train split (1..100000)\n"
            "  --batch N         studies per batch (1..4096)\n"
            "  --lr X            peak learning rate (0 < X <= 1)\n"
            "  --grad-accum N    batches per update (1..4096)\n"
            "                    (these four override the config's values)\n"
            "  --max-steps N     stop after N >= 1 updates, or at the end of the epochs when\n"
            "                    that comes first (the schedule spans the updates run)\n"
            "  --save-every N    also checkpoint RUN/last every N >= 1 updates (default:\n"
            "                    epoch ends)\n"
            "  --eval-max N      validate on at most N >= 1 studies (default: the whole val\n"
            "                    split)\n"
            "  --no-eval         no validation (RUN/best is not written)\n"
            "  --eval-beam       validate with the config's beam search (default: greedy)\n"
            "  --select-by S     what RUN/best keeps the best of on the val split:\n"
            "                    bleu4-cider (default: 0.5*BLEU-4 + 0.5*CIDEr) or\n"
            "                    finding-f1 (the macro finding F1 of the generated reports,\n"
            "                    for a model judged by the findings it names)\n"
            "  --log-every N     JSONL line every N >= 1 updates (default 1)\n"
            "  --device D        cpu, opencl, opencl:N (default: see mrg --help)\n\n"
            "Defaults from the config: AdamW lr 1e-4, weight decay 1e-6, 5%% warmup then\n"
            "cosine to min_lr, clip norm 1. Validation generates (greedy by default) and scores\n"
            "BLEU-4, CIDEr and finding F1; RUN/best keeps the best score (--select-by).\n"
            "Progress: a bar (loss, lr, samples/s, ETA) on a terminal, JSON lines on\n"
            "stdout otherwise; RUN/log.jsonl always.\n\n"
            "A non-finite update is never applied and RUN/last and RUN/best only ever hold\n"
            "finite weights: training stops (exit 1) naming the update and the last good\n"
            "checkpoint. Ctrl-C (SIGINT) or SIGTERM finishes the current update (or\n"
            "abandons a validation), writes RUN/last, prints how to resume and exits 130\n"
            "(SIGINT) or 143 (SIGTERM); a second signal exits at once (checkpoints are\n"
            "swapped in atomically, so RUN/last stays whole).\n\n"
            "Data parallel: `mpirun -np N mrg train ...` (or srun) trains one model on N\n"
            "processes, one device each (--device opencl: the host's GPUs round-robin by\n"
            "local rank); --batch is the global batch, shared by the ranks; the losses are\n"
            "one process's to within summation order; rank 0 writes RUN (see README.md,\n"
            "\"Several GPUs and machines\").\n");
    return code;
}

/* The first SIGINT/SIGTERM asks for a graceful stop; a second one exits at
 * once (checkpoint writes are atomic, so that is safe). */
static volatile sig_atomic_t stop_signal;

static void on_signal(int sig) {
    if (stop_signal) _exit(128 + sig);
    stop_signal = sig;
    static const char msg[] =
        "\nmrg train: stopping after the current update (signal again to quit at once)\n";
    ssize_t w = write(2, msg, sizeof msg - 1);
    (void)w;
}

/* Installs the handler for SIGINT and SIGTERM (restore: NULL) or puts the
 * earlier handlers back (restore: what the install saved), so that a
 * command run in-process after this one (the demo's stages) gets the
 * usual Ctrl-C. */
static void catch_signals(struct sigaction saved[2], bool restore) {
    if (restore) {
        sigaction(SIGINT, &saved[0], NULL);
        sigaction(SIGTERM, &saved[1], NULL);
        return;
    }
    stop_signal = 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGINT, &sa, &saved[0]);
    sigaction(SIGTERM, &sa, &saved[1]);
}

/* The command line again, with --resume, for the message of a stop. */
static void print_resume_command(int argc, char **argv) {
    bool has_resume = false;
    fprintf(stderr, "resume with: mrg");
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        has_resume |= !strcmp(a, "--resume");
        bool plain = *a != 0;
        for (const char *c = a; *c; c++)
            plain &= (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
                     strchr("-_./:=,+@%", *c) != NULL;
        if (plain) {
            fprintf(stderr, " %s", a);
        } else {
            fputs(" '", stderr);
            for (const char *c = a; *c; c++) {
                if (*c == '\'') fputs("'\\''", stderr);
                else fputc(*c, stderr);
            }
            fputc('\'', stderr);
        }
    }
    fprintf(stderr, "%s\n", has_resume ? "" : " --resume");
}

int cmd_train(int argc, char **argv) {
    mrg_train_run_opts o = mrg_train_run_defaults();
    static const char *const precisions[] = {"f32", "bf16-mixed", NULL};
    int precision = -1;
    static const char *const selections[] = {"bleu4-cider", "finding-f1", NULL};
    int select_by = -1;
    const char *device = NULL;
    opt_spec specs[] = {
        OPT_STRING("--data", &o.data_dir),
        OPT_STRING("--preset", &o.preset),
        OPT_STRING("--config", &o.config_path),
        OPT_STRING("--lm", &o.lm_dir),
        OPT_STRING("--vit", &o.vit_dir),
        OPT_STRING("--tokenizer", &o.tokenizer),
        OPT_STRING("--out", &o.out_dir),
        OPT_STRING("--device", &device),
        OPT_SET("--resume", &o.resume),
        OPT_SET("--no-eval", &o.no_eval),
        OPT_SET("--eval-beam", &o.eval_beam),
        OPT_SET("--freeze-vit", &o.freeze_vit),
        OPT_ONE_OF("--precision", &precision, precisions),
        OPT_ONE_OF("--select-by", &select_by, selections),
        OPT_SET("--force", &o.force),
        OPT_SET("--skip-nonfinite", &o.skip_nonfinite),
        OPTS_TRAINING_LOOP(o),
        OPT_INTEGER("--grad-accum", &o.grad_accum, 1, 4096),
        OPT_INT64("--max-steps", &o.max_steps, 1, 1000000000000LL),
        OPT_INTEGER("--save-every", &o.save_every, 1, INT_MAX),
        OPT_INTEGER("--eval-max", &o.eval_max, 1, INT_MAX),
        OPT_INTEGER("--log-every", &o.log_every, 1, INT_MAX),
    };
    const int n = OPTS_COUNT(specs);
    int rc = opts_parse("train", argc, argv, specs, n);
    if (rc) return rc == 1 ? usage(0) : rc;
    if ((rc = opts_require("train", specs, n, "--data", "--out", NULL)) ||
        (rc = opts_exclusive("train", specs, n, "--no-eval", "--eval-max")) ||
        (rc = opts_exclusive("train", specs, n, "--no-eval", "--eval-beam")))
        return rc;
    /* the preset and config file are read here first, as pretrain-lm and
     * pretrain-vit read theirs, so that every error in them is a usage
     * error (exit 2) whatever the run's state */
    mrg_model_config cfg;
    if ((o.preset || o.config_path) &&
        opts_model_config("train", o.preset ? o.preset : "tiny", o.config_path, &cfg))
        return 2;
    if (precision >= 0) o.precision = precisions[precision];
    if (select_by >= 0) o.select_by = selections[select_by];
    if (o.resume && mrg_dist_rank() == 0) {
        char state[4200];
        snprintf(state, sizeof state, "%s/last/trainer_state.json", o.out_dir);
        FILE *f = fopen(state, "r");
        if (f) fclose(f);
        else fprintf(stderr, "mrg train: no checkpoint in %s/last; starting a new run\n", o.out_dir);
    }
    opts_progress(&o.bar, &o.jsonl_stdout);
    mrg_device *dev = opts_device("train", device);
    if (!dev) return 2;
    if (o.bar && mrg_dist_rank() == 0) fprintf(stderr, "training on %s: %s\n", mrg_device_name(dev), mrg_device_description(dev));
    o.notes = stderr;
    o.stop = &stop_signal;
    o.test_signal = getenv("MRG_TRAIN_TEST_SIGNAL"); /* test hook (see mrg_train_run_opts) */
    struct sigaction saved[2];
    catch_signals(saved, false);
    mrg_train_run_result r;
    mrg_status st = mrg_train_run(&o, dev, &r);
    catch_signals(saved, true);
    mrg_device_free(dev);
    if (st) {
        const char *msg = mrg_last_error();
        if (!strncmp(msg, "train: ", 7)) msg += 7; /* the library's own prefix */
        fprintf(stderr, "mrg train: %s\n", msg);
        mrg_train_run_result_free(&r);
        return st == MRG_ERR_INVALID_ARG ? 2 : 1;
    }
    if (r.interrupted) {
        int sig = stop_signal ? (int)stop_signal : SIGINT;
        if (mrg_dist_rank() != 0) { /* data parallel: rank 0 says it */
            mrg_train_run_result_free(&r);
            return 128 + sig;
        }
        fprintf(stderr, "mrg train: stopped by %s after update %lld; %s/last holds it\n",
                sig == SIGTERM ? "SIGTERM" : "SIGINT", (long long)r.steps, o.out_dir);
        print_resume_command(argc, argv);
        mrg_train_run_result_free(&r);
        return 128 + sig;
    }
    if (mrg_dist_rank() != 0) { /* data parallel: rank 0 reports */
        mrg_train_run_result_free(&r);
        return 0;
    }
    if (r.skipped > 0)
        fprintf(stderr, "mrg train: %lld non-finite updates were skipped (see %s/log.jsonl)\n",
                (long long)r.skipped, o.out_dir);
    if (o.bar)
        fprintf(stderr, "done: %lld updates, last loss %.4f, best val score %.4f; %s/last%s\n",
                (long long)r.steps, r.last_loss, r.best_score, o.out_dir,
                r.best_score >= 0 ? ", best" : "");
    mrg_train_run_result_free(&r);
    return 0;
}

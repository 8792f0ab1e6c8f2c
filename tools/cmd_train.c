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
#include "mrg/mrg.h"
#include "mrg/trainer.h"

static int usage(int code) {
    fprintf(code ? stderr : stdout,
            "usage: mrg train --data DIR (--preset P | --config F) --out RUN [--lm DIR] [--vit DIR]\n"
            "                 [--tokenizer FILE] [--device D] [--resume] [--epochs N] [--batch N]\n"
            "                 [--lr X] [--grad-accum N] [--max-steps N] [--save-every N]\n"
            "                 [--eval-max N] [--no-eval] [--eval-beam] [--log-every N]\n"
            "                 [--freeze-vit] [--force] [--skip-nonfinite]\n\n"
            "Trains the report generator (DESIGN.md section 3) on DIR's train split.\n\n"
            "  --data DIR        dataset in the R2Gen layout (annotation.json, images/)\n"
            "  --preset P        paper, tiny or micro (default tiny)\n"
            "  --config F        JSON overriding any config field (applied to --preset)\n"
            "  --lm DIR          the frozen LLaMA (`mrg pretrain-lm` output or a Hugging\n"
            "                    Face / llama2.c checkpoint); default: random, of the preset's shape\n"
            "  --vit DIR         timm ViT weights to start the vision encoder from (e.g.\n"
            "                    `mrg pretrain-vit` output); its shape replaces the config's\n"
            "  --freeze-vit      keep the ViT's weights fixed (config field freeze_vit)\n"
            "  --tokenizer FILE  sentencepiece model (default: the one inside --lm)\n"
            "  --out RUN         run directory: RUN/last, RUN/best, RUN/log.jsonl\n"
            "  --resume          continue from RUN/last with the options it was started with\n"
            "                    (same losses as an uninterrupted run); fresh when none.\n"
            "                    Refused with another dataset, --preset, --config or --lm\n"
            "                    than the run's (compared by content hash); other options\n"
            "                    are ignored with a note, except --epochs and --max-steps,\n"
            "                    which set the run's new length (so a finished run can be\n"
            "                    extended; the learning-rate schedule stretches to it)\n"
            "  --force           start over in a RUN that holds a run (deletes its last/,\n"
            "                    best/ and log.jsonl), or use a non-empty directory that\n"
            "                    holds none (its files are kept); without it both are refused\n"
            "  --skip-nonfinite  skip an update whose loss or gradient norm is NaN or\n"
            "                    infinite (logged as {\"type\":\"skip\"}) instead of stopping\n"
            "  --epochs N, --batch N, --lr X, --grad-accum N   override the config\n"
            "  --max-steps N     stop after N updates (the schedule spans them)\n"
            "  --save-every N    also checkpoint RUN/last every N updates (default: epoch ends)\n"
            "  --eval-max N      validate on at most N studies (default: the whole val split)\n"
            "  --no-eval         no validation (RUN/best is not written)\n"
            "  --eval-beam       validate with the config's beam search (default: greedy)\n"
            "  --log-every N     JSONL line every N updates (default 1)\n"
            "  --device D        cpu, opencl, opencl:N (default: see mrg --help)\n\n"
            "Defaults from the config: AdamW lr 1e-4, weight decay 1e-6, 5%% warmup then\n"
            "cosine to min_lr, clip norm 1. Validation generates (greedy by default) and scores\n"
            "BLEU-4, CIDEr and finding F1; RUN/best keeps the best 0.5*BLEU-4 + 0.5*CIDEr.\n"
            "Progress: a bar (loss, lr, samples/s, ETA) on a terminal, JSON lines on\n"
            "stdout otherwise; RUN/log.jsonl always.\n\n"
            "A non-finite update is never applied and RUN/last and RUN/best only ever hold\n"
            "finite weights: training stops (exit 1) naming the update and the last good\n"
            "checkpoint. Ctrl-C (SIGINT) or SIGTERM finishes the current update (or\n"
            "abandons a validation), writes RUN/last, prints how to resume and exits 130\n"
            "(SIGINT) or 143 (SIGTERM); a second signal exits at once (checkpoints are\n"
            "swapped in atomically, so RUN/last stays whole).\n");
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

static void catch_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
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
    const char *device = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) return usage(0);
        if (!strcmp(a, "--resume")) { o.resume = true; continue; }
        if (!strcmp(a, "--no-eval")) { o.no_eval = true; continue; }
        if (!strcmp(a, "--eval-beam")) { o.eval_beam = true; continue; }
        if (!strcmp(a, "--freeze-vit")) { o.freeze_vit = true; continue; }
        if (!strcmp(a, "--force")) { o.force = true; continue; }
        if (!strcmp(a, "--skip-nonfinite")) { o.skip_nonfinite = true; continue; }
        if (i + 1 >= argc) {
            fprintf(stderr, "mrg train: %s needs a value (or is unknown)\n", a);
            return usage(2);
        }
        const char *v = argv[++i];
        if (!strcmp(a, "--data")) o.data_dir = v;
        else if (!strcmp(a, "--preset")) o.preset = v;
        else if (!strcmp(a, "--config")) o.config_path = v;
        else if (!strcmp(a, "--lm")) o.lm_dir = v;
        else if (!strcmp(a, "--vit")) o.vit_dir = v;
        else if (!strcmp(a, "--tokenizer")) o.tokenizer = v;
        else if (!strcmp(a, "--out")) o.out_dir = v;
        else if (!strcmp(a, "--device")) device = v;
        else if (!strcmp(a, "--epochs")) o.epochs = atoi(v);
        else if (!strcmp(a, "--batch")) o.batch_size = atoi(v);
        else if (!strcmp(a, "--lr")) o.lr = (float)atof(v);
        else if (!strcmp(a, "--grad-accum")) o.grad_accum = atoi(v);
        else if (!strcmp(a, "--max-steps")) o.max_steps = atoll(v);
        else if (!strcmp(a, "--save-every")) o.save_every = atoi(v);
        else if (!strcmp(a, "--eval-max")) o.eval_max = atoi(v);
        else if (!strcmp(a, "--log-every")) o.log_every = atoi(v);
        else {
            fprintf(stderr, "mrg train: unknown option %s\n", a);
            return usage(2);
        }
    }
    if (!o.data_dir || !o.out_dir) {
        fprintf(stderr, "mrg train: --data and --out are required\n");
        return usage(2);
    }
    if (o.epochs < 0 || o.batch_size < 0 || o.grad_accum < 0 || o.lr < 0 || o.max_steps < 0 ||
        o.save_every < 0 || o.eval_max < 0 || o.log_every < 1) {
        fprintf(stderr, "mrg train: numeric options must be positive\n");
        return 2;
    }
    if (o.resume) {
        char state[4200];
        snprintf(state, sizeof state, "%s/last/trainer_state.json", o.out_dir);
        FILE *f = fopen(state, "r");
        if (f) fclose(f);
        else fprintf(stderr, "mrg train: no checkpoint in %s/last; starting a new run\n", o.out_dir);
    }
    o.bar = isatty(2);
    o.jsonl_stdout = !o.bar || !isatty(1);
    mrg_device *dev = mrg_device_open(device);
    if (!dev) {
        fprintf(stderr, "mrg train: %s\n", mrg_last_error());
        return 2;
    }
    if (o.bar) fprintf(stderr, "training on %s: %s\n", mrg_device_name(dev), mrg_device_description(dev));
    o.notes = stderr;
    o.stop = &stop_signal;
    o.test_signal = getenv("MRG_TRAIN_TEST_SIGNAL"); /* test hook (see mrg_train_run_opts) */
    catch_signals();
    mrg_train_run_result r;
    mrg_status st = mrg_train_run(&o, dev, &r);
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
        fprintf(stderr, "mrg train: stopped by %s after update %lld; %s/last holds it\n",
                sig == SIGTERM ? "SIGTERM" : "SIGINT", (long long)r.steps, o.out_dir);
        print_resume_command(argc, argv);
        mrg_train_run_result_free(&r);
        return 128 + sig;
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

/* The `mrg` binary never loses a user's work (issue 16), on a small phantom
 * dataset and the micro preset:
 *   - outputs: pretrain-lm, pretrain-vit, phantoms, demo, generate, eval,
 *     vit and train refuse a non-empty output that is not their own (exit
 *     2, the input untouched), and an output inside their input; --force
 *     writes into it keeping the other files and replacing symbolic links
 *     without following them; an earlier output of the same command is
 *     replaced; temporaries of killed runs are removed, nothing else;
 *   - finite or nothing: a diverging run stops naming the update and the
 *     last good checkpoint, which holds finite weights only (a NaN loss and
 *     a NaN gradient norm with a finite loss); --skip-nonfinite skips and
 *     logs;
 *   - graceful stop (on the CPU; test_cli_stop.c takes the other devices):
 *     SIGINT / SIGTERM after an update, at
 *     an epoch end, during validation, a second signal during a checkpoint
 *     write, and a signal sent from outside while training; each exits
 *     130 / 143 and the resumed run matches an uninterrupted one loss for
 *     loss and validation for validation, bit for bit;
 *   - honest resume: a different dataset, preset, config or LM is refused,
 *     ignored options are named, a finished run says so and is extended by
 *     --epochs, a moved LM is named (and accepted again through --lm) and a
 *     run moved together with its LM still resumes. */
#define _GNU_SOURCE
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/files.h"
#include "mrg/checkpoint.h"
#include "mrg/train_run.h"
#include "mrg/trainer.h"
#include "clitest.h"
#include "testutil.h"

/* ---- outputs ------------------------------------------------------------ */

static void test_outputs(void) {
    /* pretrain-lm into a directory of the user's: refused, untouched */
    CHECK(cli_sh("mkdir -p mine && echo 'my thesis' > mine/thesis.txt") == 0);
    uint64_t thesis = cli_hash("mine/thesis.txt"), ann = cli_hash("ph/annotation.json");
    CHECK(cli_sh("%s pretrain-lm --data ph --preset micro --out mine --steps 1 --vocab 300 --device cpu", cli_bin) == 2);
    CHECK(cli_has("not empty") && cli_has("--force"));
    CHECK(cli_hash("mine/thesis.txt") == thesis && !cli_exists("mine/config.json"));
    /* --out equal to or inside --data */
    CHECK(cli_sh("%s pretrain-lm --data ph --preset micro --out ph --steps 1 --device cpu", cli_bin) == 2);
    CHECK(cli_has("is --data"));
    CHECK(cli_sh("%s pretrain-lm --data ph --preset micro --out ph/images/lm --steps 1 --device cpu", cli_bin) == 2);
    CHECK(cli_has("lies inside --data"));
    CHECK(cli_sh("%s pretrain-vit --data ph --preset micro --out ph --epochs 1 --device cpu", cli_bin) == 2);
    CHECK(cli_sh("%s pretrain-vit --data ph --preset micro --out mine --epochs 1 --device cpu", cli_bin) == 2);
    CHECK(cli_sh("%s phantoms --out mine --n 20 --size 32", cli_bin) == 2);
    CHECK(cli_sh("%s demo --out mine --studies 20", cli_bin) == 2);
    CHECK(cli_hash("ph/annotation.json") == ann && cli_hash("mine/thesis.txt") == thesis);
    /* --force: written into, the user's file kept; a symbolic link among
     * the outputs is replaced, not written through */
    CHECK(cli_sh("echo 'outside' > outside.txt && ln -s ../outside.txt mine/config.json") == 0);
    uint64_t outside = cli_hash("outside.txt");
    CHECK(cli_sh("%s pretrain-lm --data ph --preset micro --out mine --steps 1 --vocab 300 --device cpu --force", cli_bin) == 0);
    struct stat sb;
    CHECK(lstat(cli_at("mine/config.json"), &sb) == 0 && S_ISREG(sb.st_mode));
    CHECK(cli_hash("outside.txt") == outside && cli_hash("mine/thesis.txt") == thesis);
    CHECK(cli_exists("mine/model.safetensors") && cli_exists("mine/.mrg-output"));
    /* now it is pretrain-lm's own output: replaced without --force */
    CHECK(cli_sh("%s pretrain-lm --data ph --preset micro --out mine --steps 1 --vocab 300 --device cpu", cli_bin) == 0);
    CHECK(cli_hash("mine/thesis.txt") == thesis);
    /* but it is not pretrain-vit's */
    CHECK(cli_sh("%s pretrain-vit --data ph --preset micro --out mine --epochs 1 --device cpu", cli_bin) == 2);
    /* phantoms: an earlier output and an empty directory are fine */
    CHECK(cli_sh("mkdir -p empty && %s phantoms --out empty --n 20 --size 32 && %s phantoms --out empty --n 20 --size 32 --seed 2",
             cli_bin, cli_bin) == 0);
    CHECK(cli_exists("empty/annotation.json") && cli_hidden(".") == 0);
    /* file outputs: a file that is not the command's own is refused */
    CHECK(cli_write("notes.jsonl", "{\"my\": \"notes\"}\n"));
    uint64_t notes = cli_hash("notes.jsonl");
    CHECK(cli_sh("%s generate --model lm --data ph --out notes.jsonl --device cpu", cli_bin) == 2);
    CHECK(cli_has("not an earlier output") && cli_has("--force"));
    CHECK(cli_sh("%s generate --model lm --data ph --out ph/annotation.json --device cpu", cli_bin) == 2);
    CHECK(cli_has("lies inside --data"));
    CHECK(cli_sh("%s eval --pred none.jsonl --ref none.jsonl --per-report notes.jsonl", cli_bin) == 2);
    CHECK(cli_has("not an earlier output"));
    CHECK(cli_sh("%s vit --model lm --image ph/images/PH00000/0.png --features notes.jsonl --top 0", cli_bin) == 2);
    CHECK(cli_hash("notes.jsonl") == notes && cli_hash("ph/annotation.json") == ann);
}

/* ---- train: existing runs, stale temporaries --------------------------- */

static void test_train_dirs(void) {
    CHECK(cli_sh(CLI_TRAIN " --device cpu --out run-x > /dev/null", cli_bin) == 0);
    /* again without --resume: refused, the run untouched */
    uint64_t state = cli_hash("run-x/last/trainer_state.json"), log = cli_hash("run-x/log.jsonl");
    CHECK(cli_sh(CLI_TRAIN " --device cpu --out run-x", cli_bin) == 2);
    CHECK(cli_has("already holds a training run") && cli_has("--resume") && cli_has("--force"));
    CHECK(cli_hash("run-x/last/trainer_state.json") == state && cli_hash("run-x/log.jsonl") == log);
    /* into a directory that holds no run, or inside the dataset */
    CHECK(cli_sh(CLI_TRAIN " --device cpu --out mine", cli_bin) == 2);
    CHECK(cli_has("holds no run"));
    CHECK(cli_sh(CLI_TRAIN " --device cpu --out ph/run", cli_bin) == 2);
    CHECK(cli_has("lies inside --data"));
    /* temporaries of a killed run go at the next start, nothing else: a
     * process that has exited gives a pid that no longer runs */
    char line[64] = "";
    FILE *p = popen("sh -c 'echo $$'", "r");
    if (p) {
        if (!fgets(line, sizeof line, p)) line[0] = 0;
        pclose(p);
    }
    long dead = atol(line);
    CHECK(dead > 0);
    CHECK(cli_sh("mkdir -p run-x/.tmp-last-%ld-0 run-x/.tmp-best-%ld-3 run-x/.tmp-last-keep && touch run-x/.tmp-last-%ld-0/model.safetensors",
             dead, dead, dead) == 0);
    /* --force starts over: a fresh log, the temporaries gone, the odd name kept */
    CHECK(cli_sh(CLI_TRAIN " --device cpu --out run-x --force > /dev/null", cli_bin) == 0);
    CHECK(cli_has("starting over"));
    char stale[64];
    snprintf(stale, sizeof stale, "run-x/.tmp-last-%ld-0", dead);
    CHECK(!cli_exists(stale) && cli_hidden("run-x") == 1 && cli_exists("run-x/.tmp-last-keep"));
    char cmd[600];
    snprintf(cmd, sizeof cmd, "grep -c '\"type\":\"train\"' %s", cli_at("run-x/log.jsonl"));
    CHECK(test_run_cmd(cmd, cli_out, sizeof cli_out) == 0 && atoi(cli_out) == 6);
}

/* ---- finite or nothing ---------------------------------------------------- */

static void test_nonfinite(void) {
    /* lr 1e10 (through a config: --lr stops at 1): update 1 is finite, the
     * loss of update 2 is NaN */
    CHECK(cli_write("lr1e10.json", "{\"lr\": 1e10}") && cli_write("lr1e6.json", "{\"lr\": 1e6}"));
    CHECK(cli_sh("%s train --data ph --preset micro --config lr1e10.json --lm lm --batch 4 --no-eval --save-every 1 "
                 "--device cpu --out run-nan",
                 cli_bin) == 1);
    CHECK(cli_has("update 2") && cli_has("the loss is") && cli_has("last good checkpoint is run-nan/last (update 1)"));
    CHECK(cli_state_step("run-nan") == 1);
    CHECK(cli_all_finite("run-nan/last/model.safetensors") && cli_all_finite("run-nan/last/optimizer.safetensors"));
    /* skipping instead: the run finishes, the skips are in the log */
    CHECK(cli_sh("%s train --data ph --preset micro --config lr1e10.json --lm lm --batch 4 --no-eval --device cpu "
                 "--out run-skip --skip-nonfinite",
                 cli_bin) == 0);
    CHECK(cli_has("non-finite updates were skipped") && cli_has("\"type\":\"skip\""));
    CHECK(cli_state_step("run-skip") == 1 && cli_all_finite("run-skip/last/model.safetensors"));
    /* the tiny preset at lr 1e6: a finite loss with a NaN gradient norm
     * (update 2) is not applied either */
    CHECK(cli_sh("%s train --data ph --preset tiny --config lr1e6.json --lm lm --batch 2 --no-eval --save-every 1 "
                 "--max-steps 4 --device cpu --out run-tiny",
                 cli_bin) == 1);
    CHECK(cli_has("update 2: the gradient norm is") && cli_has("(update 1)"));
    CHECK(cli_state_step("run-tiny") == 1 && cli_all_finite("run-tiny/last/model.safetensors") &&
          cli_all_finite("run-tiny/last/optimizer.safetensors"));
    /* (pretrain-lm diverging writes nothing: test_trainer.c, --lr stops at 1 here) */
}

/* ---- graceful stop --------------------------------------------------------- */

/* SIG@POINT:STEP specs of MRG_TRAIN_TEST_SIGNAL, the exit code they give */
static const struct {
    const char *spec, *what;
    int rc;
} STOPS[] = {
    {"2@step:3", "SIGINT after update 3 (mid-epoch)", 130},
    {"15@step:2", "SIGTERM after update 2 (an epoch end, before validation)", 143},
    {"15@eval:4", "SIGTERM during the validation after update 4", 143},
    {"2@save:3,2@save:3", "two SIGINTs inside the checkpoint write of update 3", 130},
};

static void test_stops(const char *dev) {
    char ref[64], run[64];
    snprintf(ref, sizeof ref, "ref-%c", dev[0]);
    CHECK(cli_sh(CLI_TRAIN " --device %s --out %s > /dev/null", cli_bin, dev, ref) == 0);
    cli_log a, b;
    CHECK(cli_read_log(ref, &a));
    for (size_t i = 0; i < sizeof STOPS / sizeof STOPS[0]; i++) {
        snprintf(run, sizeof run, "stop%zu-%c", i, dev[0]);
        CHECK(cli_sh("MRG_TRAIN_TEST_SIGNAL=%s " CLI_TRAIN " --device %s --out %s > /dev/null", STOPS[i].spec, cli_bin, dev, run) ==
              STOPS[i].rc);
        bool twice = strchr(STOPS[i].spec, ',') != NULL;
        /* one signal: a message with the command that resumes; two: at once */
        if (!twice) CHECK(cli_has("resume with: mrg train") && cli_has("--resume"));
        if (twice) CHECK(cli_hidden(run) == 1); /* the abandoned temporary */
        CHECK(cli_sh(CLI_TRAIN " --device %s --out %s --resume > /dev/null", cli_bin, dev, run) == 0);
        CHECK(cli_read_log(run, &b));
        bool same = cli_same_run(&a, &b, 6);
        printf("  %s: %s, resumed: %s\n", dev, STOPS[i].what, same ? "same run, bit for bit" : "DIFFERENT");
        CHECK(same);
        CHECK(cli_state_step(run) == 6 && cli_hidden(run) == 0);
    }
    /* a real signal from outside while it trains (wherever it lands: the
     * resumed run is the same) */
    snprintf(run, sizeof run, "async-%c", dev[0]);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "cd %s && exec sh -c 'echo $$; exec " CLI_TRAIN " --device %s --out %s 2>/dev/null'", cli_root, cli_bin,
             dev, run);
    FILE *p = popen(cmd, "r");
    CHECK(p != NULL);
    if (!p) return;
    char line[2048];
    long pid = fgets(line, sizeof line, p) ? atol(line) : 0;
    bool sent = false;
    while (fgets(line, sizeof line, p))
        if (!sent && strstr(line, "\"step\":2,")) sent = pid > 0 && kill((pid_t)pid, SIGINT) == 0;
    int st = pclose(p), rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    CHECK(sent && (rc == 130 || rc == 0));
    CHECK(cli_sh(CLI_TRAIN " --device %s --out %s --resume > /dev/null", cli_bin, dev, run) == 0);
    CHECK(cli_read_log(run, &b));
    printf("  %s: SIGINT from outside (exit %d), resumed: %s\n", dev, rc, cli_same_run(&a, &b, 6) ? "same run" : "DIFFERENT");
    CHECK(cli_same_run(&a, &b, 6));
}

/* ---- honest resume ---------------------------------------------------------- */

static void test_resume_checks(void) {
    /* run-x (cpu) is finished at update 6 */
    CHECK(cli_sh("cp -r ph ph2 && sed -i 's/heart/Heart/' ph2/annotation.json") == 0);
    CHECK(cli_sh("%s train --data ph2 --out run-x --resume", cli_bin) == 2);
    CHECK(cli_has("is not the dataset this run was trained on"));
    CHECK(cli_sh("%s train --data ph --out run-x --resume --preset tiny", cli_bin) == 2);
    CHECK(cli_has("differs from the run's preset micro"));
    CHECK(cli_write("c.json", "{\"epochs\": 3}\n"));
    CHECK(cli_sh("%s train --data ph --out run-x --resume --config c.json", cli_bin) == 2);
    CHECK(cli_has("started without --config"));
    CHECK(cli_sh("%s train --data ph --out run-x --resume --lm mine", cli_bin) == 2);
    CHECK(cli_has("is not the frozen LM"));
    /* the same preset is fine; other options are named as ignored */
    CHECK(cli_sh("%s train --data ph --out run-x --resume --preset micro --lr 0.5 --batch 2 --device cpu", cli_bin) == 0);
    CHECK(cli_has("ignores --lr 0.5") && cli_has("ignores --batch 2") && cli_has("is finished") && cli_has("--epochs N"));
    /* extended by --epochs: two more updates */
    CHECK(cli_sh("%s train --data ph --out run-x --resume --epochs 4 --device cpu > /dev/null", cli_bin) == 0);
    CHECK(cli_has("now ends after 4 epochs") && cli_state_step("run-x") == 8);
    /* the run records its LM relative to itself when they lie side by side */
    CHECK(cli_sh("grep -q '\"lm_path\":.*\"../../lm\"' run-x/last/config.json") == 0);
    CHECK(cli_sh("grep -q '\"lm_hash\"' run-x/last/config.json && grep -q '\"data_hash\"' run-x/last/trainer_state.json") == 0);
    /* a moved LM is named; --lm gives its new place */
    CHECK(cli_sh("mv lm lm-moved") == 0);
    CHECK(cli_sh("%s train --data ph --out run-x --resume --epochs 5 --device cpu", cli_bin) == 2);
    CHECK(cli_has("does not exist (moved or deleted?)") && cli_has("--lm"));
    CHECK(cli_sh("%s generate --model run-x/last --data ph --out preds.jsonl --greedy --device cpu", cli_bin) == 1);
    CHECK(cli_has("does not exist (moved or deleted?)"));
    CHECK(cli_sh("%s train --data ph --out run-x --resume --epochs 5 --lm lm-moved --device cpu > /dev/null", cli_bin) == 0);
    CHECK(cli_state_step("run-x") == 10);
    CHECK(cli_sh("%s generate --model run-x/last --data ph --out preds.jsonl --greedy --device cpu", cli_bin) == 0);
    /* --blank-images (the demo's text-only baseline): no image is read, and
     * the one blank input gives one report for every study of the split */
    CHECK(cli_sh("mv ph/images ph-images && %s generate --model run-x/last --data ph --out blank.jsonl --greedy "
                 "--blank-images --device cpu; rc=$?; mv ph-images ph/images; exit $rc",
                 cli_bin) == 0);
    CHECK(cli_sh("wc -l < preds.jsonl; wc -l < blank.jsonl") == 0 && atoi(cli_out) >= 2 &&
          atoi(cli_out) == atoi(strchr(cli_out, '\n') + 1));
    CHECK(cli_sh("sed 's/.*\"report\"//' blank.jsonl | sort -u | wc -l") == 0 && atoi(cli_out) == 1);
    CHECK(cli_sh("mv lm-moved lm") == 0);
    /* the run and its LM moved together still resume */
    CHECK(cli_sh("mkdir -p proj && cp -r lm ph proj/ && cd proj && MRG_TRAIN_TEST_SIGNAL=2@step:2 " CLI_TRAIN
                 " --device cpu --out run > /dev/null",
                 cli_bin) == 130);
    CHECK(cli_sh("mv proj proj2 && cd proj2 && " CLI_TRAIN " --device cpu --out run --resume > /dev/null", cli_bin) == 0);
    CHECK(cli_state_step("proj2/run") == 6);
    /* a retrained LM in the same place is not the run's LM */
    CHECK(cli_sh("cd proj2 && %s pretrain-lm --data ph --preset micro --out lm --steps 2 --vocab 300 --seed 7 --device cpu > /dev/null",
             cli_bin) == 0);
    CHECK(cli_sh("cd proj2 && %s train --data ph --out run --resume --epochs 4 --device cpu", cli_bin) == 2);
    CHECK(cli_has("retrained, replaced or changed"));
}

int main(void) {
    if (!cli_setup("mrg_test_cli_train")) {
        fprintf(stderr, "MRG_BIN not set or no scratch directory; skipping\n");
        return TEST_SKIP;
    }
    CHECK(cli_make_data());
    if (mrg_test_failures) return test_finish("cli_train");
    test_outputs();
    test_train_dirs();
    test_nonfinite();
    test_stops("cpu"); /* the other devices: test_cli_stop.c */
    test_resume_checks();
    if (mrg_test_failures == 0) mrg_rm_tree(cli_root);
    return test_finish("cli_train");
}

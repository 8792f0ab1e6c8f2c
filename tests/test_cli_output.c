/* The `mrg` command's outputs and input limits, through the real binary:
 * output that cannot be written (a full disk: /dev/full; a closed pipe) is
 * an error with its reason and a non-zero exit for eval, generate and
 * train; eval refuses an over-long line before reading it whole and scores
 * long reports within 1 GiB of address space (METEOR's alignment cut to
 * MRG_METEOR_MAX_WORDS words, with a warning); generate says that it
 * repeats a view and when a run has no best checkpoint yet; a missing LM
 * is named; training logs count epochs from 1, and its progress line fits
 * the terminal and shows validation. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mrg/limits.h"
#include "testutil.h"

static const char *bin;
static char dir[64] = "/tmp/mrg_cli_output_XXXXXX";
static char out[1 << 18];

/* Runs a printf-formatted command through sh (stderr joined to stdout,
 * kept in out); returns the exit code. */
#define run(...) test_run_cmdf(out, sizeof out, __VA_ARGS__)

/* Runs cmd with its stdout on a pipe whose reader has already gone (so
 * the first write fails with EPIPE, deterministically); its stderr is
 * left in out. Returns the exit code, or -1 when it was killed. */
static int run_closed_pipe(const char *cmd) {
    int fds[2];
    char err_path[128];
    snprintf(err_path, sizeof err_path, "%s/stderr.txt", dir);
    if (pipe(fds) != 0) return -2;
    close(fds[0]);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        int e = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(e, 2);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    int st = 0;
    waitpid(pid, &st, 0);
    out[0] = 0;
    FILE *f = fopen(err_path, "r");
    if (f) {
        size_t n = fread(out, 1, sizeof out - 1, f);
        out[n] = 0;
        fclose(f);
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* "ulimit -v" for the 1 GiB memory checks, except under AddressSanitizer
 * (its shadow memory reserves terabytes of address space). */
static const char *mem_limit(void) {
#if defined(__SANITIZE_ADDRESS__)
    return "";
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
    return "";
#else
    return "ulimit -v 1048576 && ";
#endif
#else
    return "ulimit -v 1048576 && ";
#endif
}

static void test_eval(void) {
    char pred[128], ref[128], big[128], long_p[128], long_r[128];
    snprintf(pred, sizeof pred, "%s/pred.jsonl", dir);
    snprintf(ref, sizeof ref, "%s/ref.jsonl", dir);
    test_write_file(pred, "{\"id\": \"1\", \"report\": \"no pleural effusion .\"}\n"
                     "{\"id\": \"2\", \"report\": \"the heart is enlarged .\"}\n");
    test_write_file(ref, "{\"id\": \"1\", \"report\": \"no effusion .\"}\n"
                    "{\"id\": \"2\", \"report\": \"heart is enlarged .\"}\n");
    CHECK(run("%s eval --pred %s --ref %s --no-meteor 2>&1", bin, pred, ref) == 0);
    CHECK(strstr(out, "BLEU") != NULL);

    /* stdout on a full disk, and on a closed pipe */
    CHECK(run("%s eval --pred %s --ref %s --no-meteor 2>&1 >/dev/full", bin, pred, ref) == 1);
    CHECK(strstr(out, "cannot write the standard output: No space left on device") != NULL);
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s eval --pred %s --ref %s --no-meteor", bin, pred, ref);
    CHECK(run_closed_pipe(cmd) == 1);
    CHECK(strstr(out, "cannot write the standard output: Broken pipe") != NULL);
    if (!strstr(out, "Broken pipe")) fprintf(stderr, "  closed pipe: %s\n", out);
    CHECK(run("%s eval --pred %s --ref %s --no-meteor --json 2>&1 >/dev/full", bin, pred, ref) == 1);
    /* an output file on a full disk */
    CHECK(run("%s eval --pred %s --ref %s --no-meteor --per-report /dev/full 2>&1 >/dev/null", bin,
              pred, ref) == 1);
    CHECK(strstr(out, "cannot write /dev/full: No space left on device") != NULL);

    /* a 2 MiB line is refused before it is read whole, within 1 GiB */
    snprintf(big, sizeof big, "%s/big.jsonl", dir);
    FILE *f = fopen(big, "w");
    CHECK(f != NULL);
    if (f) {
        fputs("{\"id\": \"1\", \"report\": \"", f);
        for (int i = 0; i < (2 << 20) / 9; i++) fputs("effusion ", f);
        fputs("\"}\n", f);
        fclose(f);
    }
    CHECK(run("%s%s eval --pred %s --ref %s 2>&1", mem_limit(), bin, big, ref) == 1);
    CHECK(strstr(out, "big.jsonl:1") && strstr(out, "MRG_MAX_JSONL_LINE_BYTES"));

    /* a report over MRG_MAX_REPORT_BYTES is refused with the limit named */
    f = fopen(big, "w");
    if (f) {
        fputs("{\"id\": \"1\", \"report\": \"", f);
        for (int i = 0; i <= MRG_MAX_REPORT_BYTES / 9; i++) fputs("effusion ", f);
        fputs("\"}\n", f);
        fclose(f);
    }
    CHECK(run("%s eval --pred %s --ref %s 2>&1", bin, big, ref) == 1);
    CHECK(strstr(out, "MRG_MAX_REPORT_BYTES") != NULL);

    /* the longest reports allowed, made of few words (every word of one
     * matches many of the other), are scored within 1 GiB: METEOR aligns
     * their first MRG_METEOR_MAX_WORDS words and says so */
    snprintf(long_p, sizeof long_p, "%s/long_p.jsonl", dir);
    snprintf(long_r, sizeof long_r, "%s/long_r.jsonl", dir);
    const char *words[2][4] = {{"the ", "effusion ", "is ", "small "}, {"effusion ", "the ", "small ", "is "}};
    for (int k = 0; k < 2; k++) {
        f = fopen(k ? long_r : long_p, "w");
        CHECK(f != NULL);
        if (!f) continue;
        fputs("{\"id\": \"1\", \"report\": \"", f);
        for (int i = 0, n = 0; n < MRG_MAX_REPORT_BYTES - 16; i++) n += fprintf(f, "%s", words[k][i % 4]);
        fputs("\"}\n", f);
        fclose(f);
    }
    CHECK(run("%s%s eval --pred %s --ref %s 2>&1", mem_limit(), bin, long_p, long_r) == 0);
    CHECK(strstr(out, "MRG_METEOR_MAX_WORDS") != NULL && strstr(out, "METEOR   ") != NULL);
    if (!strstr(out, "MRG_METEOR_MAX_WORDS")) fprintf(stderr, "  long reports: %s\n", out);
}

/* generate with the committed micro checkpoint on phantom images */
static void test_generate(const char *data) {
    const char *ckpt = test_golden_path("model/ckpt");
    char img[256];
    snprintf(img, sizeof img, "%s/images/PH00000/0.png", data);
    CHECK(run("%s generate --model %s --image %s --greedy --max-new 8 --min-new 1 --device cpu 2>&1 >/dev/null",
              bin, ckpt, img) == 0);
    CHECK(strstr(out, "the model takes 2 views") && strstr(out, "is repeated as view 2"));
    CHECK(run("%s generate --model %s --image %s --image %s --greedy --max-new 8 --min-new 1 "
              "--device cpu 2>&1 >/dev/full",
              bin, ckpt, img, img) == 1);
    CHECK(strstr(out, "cannot write the standard output: No space left on device") != NULL);
    CHECK(strstr(out, "repeated") == NULL);
    CHECK(run("%s generate --model %s --data %s --split test --out /dev/full --greedy --max-new 4 "
              "--device cpu 2>&1",
              bin, ckpt, data) == 1);
    CHECK(strstr(out, "cannot write /dev/full: No space left on device") != NULL);

    /* a run directory whose best checkpoint is not written yet */
    char run_dir[128], last[160];
    snprintf(run_dir, sizeof run_dir, "%s/run-nobest", dir);
    snprintf(last, sizeof last, "%s/last", run_dir);
    CHECK(mkdir(run_dir, 0755) == 0);
    char *real = realpath(ckpt, NULL);
    CHECK(real && symlink(real, last) == 0);
    free(real);
    CHECK(run("%s generate --model %s --image %s --device cpu 2>&1", bin, run_dir, img) == 1);
    CHECK(strstr(out, "no best checkpoint yet") && strstr(out, "--model") && strstr(out, last));
    if (!strstr(out, "no best checkpoint yet")) fprintf(stderr, "  no best: %s\n", out);
    CHECK(run("%s generate --model %s --image %s --greedy --max-new 4 --min-new 1 --device cpu 2>/dev/null",
              bin, last, img) == 0);
}

static void test_train(const char *data) {
    const char *lm = test_golden_path("model/lm");
    char run_dir[128], path[256];
    snprintf(run_dir, sizeof run_dir, "%s/run", dir);
    /* stdout on a full disk: training goes on (RUN/last, the log), the
     * exit status says the output was lost */
    CHECK(run("%s train --data %s --lm %s --preset micro --epochs 2 --out %s --device cpu 2>&1 >/dev/full",
              bin, data, lm, run_dir) == 1);
    CHECK(strstr(out, "cannot write the standard output: No space left on device") != NULL);
    snprintf(path, sizeof path, "%s/last/trainer_state.json", run_dir);
    CHECK(access(path, R_OK) == 0);
    /* epochs count from 1 in every log record */
    snprintf(path, sizeof path, "%s/log.jsonl", run_dir);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    int train1 = 0, train2 = 0, eval1 = 0, eval2 = 0, zero = 0;
    char line[4096];
    while (f && fgets(line, sizeof line, f)) {
        bool train = strstr(line, "\"type\":\"train\"") != NULL;
        train1 += train && strstr(line, "\"epoch\":1,");
        train2 += train && strstr(line, "\"epoch\":2,");
        eval1 += !train && strstr(line, "\"epoch\":1,");
        eval2 += !train && strstr(line, "\"epoch\":2,");
        zero += strstr(line, "\"epoch\":0") != NULL;
    }
    if (f) fclose(f);
    CHECK(train1 > 0 && train2 > 0 && eval1 == 1 && eval2 == 1 && zero == 0);

    /* the progress line on a 50-column terminal: never wider, and it shows
     * validation (script gives the command a terminal) */
    if (system("command -v script >/dev/null 2>&1") == 0) {
        snprintf(run_dir, sizeof run_dir, "%s/run-tty", dir);
        CHECK(run("COLUMNS=50 script -qec \"%s train --data %s --lm %s --preset micro --epochs 1 "
                  "--out %s --device cpu\" /dev/null 2>&1",
                  bin, data, lm, run_dir) == 0);
        CHECK(strstr(out, "validating") != NULL && strstr(out, "ep 1 ") != NULL);
        /* the bar lines fit in 49 columns; the one-off lines (the device,
         * the validation scores) are printed whole and end with a newline */
        int bar_longest = 0;
        for (const char *p = strstr(out, "\r\033[K"); p; p = strstr(p + 1, "\r\033[K")) {
            const char *s = p + 4;
            size_t n = strcspn(s, "\r\n");
            bool is_bar = strncmp(s, "epoch ", 6) != 0;
            if (is_bar && (int)n > bar_longest) bar_longest = (int)n;
        }
        CHECK(bar_longest > 10 && bar_longest <= 49);
        if (bar_longest > 49) fprintf(stderr, "  progress line of %d columns on 50\n", bar_longest);
    } else {
        fprintf(stderr, "  no `script`: the terminal progress line is not checked\n");
    }

    /* a missing LM is named as such */
    CHECK(run("%s train --data %s --lm /nonexistent-lm --preset micro --out %s/run-nolm --device cpu 2>&1",
              bin, data, dir) != 0);
    CHECK(strstr(out, "the LM /nonexistent-lm does not exist") != NULL);
    CHECK(strstr(out, "/tokenizer.model") == NULL);
}

int main(void) {
    bin = getenv("MRG_BIN");
    if (!bin) {
        fprintf(stderr, "MRG_BIN not set; skipping\n");
        return TEST_SKIP;
    }
    CHECK(mkdtemp(dir) != NULL);
    test_eval();
    char data[128];
    snprintf(data, sizeof data, "%s/data", dir);
    CHECK(run("%s phantoms --out %s --n 12 --size 32 2>&1", bin, data) == 0);
    test_generate(data);
    test_train(data);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
    return test_finish("cli_output");
}

/* Helpers of the tests that run the real `mrg` binary on training runs
 * (test_cli_train.c, test_cli_stop.c): shell commands in a scratch
 * directory with their output, file fingerprints, and the logs of runs
 * compared update by update. */
#ifndef MRG_CLITEST_H
#define MRG_CLITEST_H

#include <stdbool.h>
#include <stdint.h>

/* The scratch directory (made by cli_setup) and the binary (MRG_BIN). */
extern char cli_root[256];
extern const char *cli_bin;
/* What the last cli_sh printed (stdout and stderr). */
extern char cli_out[1 << 17];

/* MRG_BIN and a fresh /tmp/<name>_<pid>; false when MRG_BIN is not set. */
bool cli_setup(const char *name);
/* Runs a printf-style shell command in cli_root, its stderr joined to its
 * stdout into cli_out (a redirection inside the command applies to stdout
 * only), and returns its exit code. */
int cli_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* cli_out contains text (else prints it and returns false). */
bool cli_has(const char *text);
/* cli_root/rel (a rotating static buffer). */
const char *cli_at(const char *rel);
uint64_t cli_hash(const char *rel); /* 0 when unreadable */
bool cli_write(const char *rel, const char *text);
bool cli_exists(const char *rel);  /* lstat */
int cli_hidden(const char *rel);   /* entries starting with '.' in a directory */
bool cli_all_finite(const char *rel); /* every F32 value of a safetensors file */
int64_t cli_state_step(const char *run); /* RUN/last's step, -1 when none */

#define CLI_MAX_STEPS 16

/* A run's log.jsonl by update. */
typedef struct cli_log {
    double loss[CLI_MAX_STEPS + 1]; /* NAN: not seen */
    double score[CLI_MAX_STEPS + 1], bleu4[CLI_MAX_STEPS + 1]; /* validation after the update */
    bool consistent; /* a repeated update or validation had the same numbers */
} cli_log;

bool cli_read_log(const char *run, cli_log *l);
/* Same losses and validations at updates 1..steps, bit for bit. */
bool cli_same_run(const cli_log *a, const cli_log *b, int steps);

/* The micro training run of these tests on the phantoms in ph with the LM
 * in lm: 16 studies, batch 4, 2 micro-batches per update: 2 updates per
 * epoch, 6 in all, validation on 2 studies after each epoch. A format
 * string taking the binary first. */
#define CLI_TRAIN                                                                                  \
    "%s train --data ph --preset micro --lm lm --epochs 3 --batch 4 --grad-accum 2 --save-every 1 " \
    "--eval-max 2"

/* Phantoms (20 studies, 32 px) in ph and a micro LM in lm; false on failure. */
bool cli_make_data(void);

#endif

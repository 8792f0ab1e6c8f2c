/* The one option parser of every `mrg` command (and `mrg bench` mode): a
 * table of `--name value` options and `--flag`s, each number with its
 * allowed range. Every bad option gets the same kind of one-line message on
 * stderr, "mrg CMD: ...", and the command exits 2 before it reads or writes
 * anything:
 *   unknown option '--x' (see mrg CMD --help)
 *   --epochs needs a value
 *   --epochs must be a whole number from 1 to 100000, not '2.5'
 *   --lr must be a number > 0 and <= 1, not 'nan'
 *   --split must be one of train, val, test, not 'dev'
 *   --epochs is given twice
 *   --greedy and --sample exclude each other            (opts_exclusive)
 *   --data is required                                   (opts_require)
 * Whole numbers are decimal, with nothing around them (no "2.5", "1e3",
 * "0,5", " 7"), and must fit the range, which also keeps them inside their
 * C type (99999999999 is refused, never wrapped). Real numbers are always
 * finite (no nan, inf, or values beyond a float). An option left out keeps
 * the value its destination held: absence is the only way to ask for a
 * default. */
#ifndef MRG_TOOLS_OPTS_H
#define MRG_TOOLS_OPTS_H

#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>

#include "mrg/model.h"

typedef enum opt_kind {
    OPT_STR,    /* const char **: the argument itself */
    OPT_STRS,   /* const char **: an array of `cap`; the option may repeat */
    OPT_INT,    /* int *: a whole number in [lo, hi] */
    OPT_I64,    /* int64_t *: a whole number in [lo, hi] */
    OPT_U64,    /* uint64_t *: any whole number from 0 to 2^64-1 (seeds) */
    OPT_FLOAT,  /* float *: a finite number in [flo, fhi], or (flo, fhi] with above */
    OPT_CHOICE, /* int *: the index of the argument in choices (NULL-ended) */
    OPT_FLAG,   /* bool *: set to `value`; takes no argument */
} opt_kind;

typedef struct opt_spec {
    const char *name; /* "--epochs" */
    opt_kind kind;
    void *dst;
    int64_t lo, hi;             /* OPT_INT, OPT_I64 */
    double flo, fhi;            /* OPT_FLOAT (INFINITY: no upper end but finite) */
    bool above;                 /* OPT_FLOAT: flo itself is excluded */
    const char *const *choices; /* OPT_CHOICE */
    int cap;                    /* OPT_STRS: room in dst */
    bool value;                 /* OPT_FLAG */
    int given;                  /* set by opts_parse: how many times it was given */
} opt_spec;

/* Table rows (designated initialisers, so the unused fields stay zero). */
#define OPT_STRING(n, d) {.name = (n), .kind = OPT_STR, .dst = (d)}
#define OPT_STRINGS(n, d, c) {.name = (n), .kind = OPT_STRS, .dst = (d), .cap = (c)}
#define OPT_INTEGER(n, d, a, b) {.name = (n), .kind = OPT_INT, .dst = (d), .lo = (a), .hi = (b)}
#define OPT_INT64(n, d, a, b) {.name = (n), .kind = OPT_I64, .dst = (d), .lo = (a), .hi = (b)}
#define OPT_SEED(n, d) {.name = (n), .kind = OPT_U64, .dst = (d)}
/* a <= x <= b */
#define OPT_REAL(n, d, a, b) {.name = (n), .kind = OPT_FLOAT, .dst = (d), .flo = (a), .fhi = (b)}
/* 0 < x <= b */
#define OPT_POSITIVE(n, d, b) \
    {.name = (n), .kind = OPT_FLOAT, .dst = (d), .flo = 0, .fhi = (b), .above = true}
#define OPT_ONE_OF(n, d, list) {.name = (n), .kind = OPT_CHOICE, .dst = (d), .choices = (list)}
#define OPT_SET(n, d) {.name = (n), .kind = OPT_FLAG, .dst = (d), .value = true}
#define OPT_CLEAR(n, d) {.name = (n), .kind = OPT_FLAG, .dst = (d), .value = false}
/* The three rows of the training loop that train, pretrain-lm and
 * pretrain-vit share, with one range each: o is their options struct
 * (fields epochs, batch_size, lr). */
#define OPTS_TRAINING_LOOP(o)                              \
    OPT_INTEGER("--epochs", &(o).epochs, 1, 100000),       \
        OPT_INTEGER("--batch", &(o).batch_size, 1, 4096),  \
        OPT_POSITIVE("--lr", &(o).lr, 1)

#define OPTS_COUNT(specs) ((int)(sizeof(specs) / sizeof((specs)[0])))

/* Parses argv[1..argc) against specs[0..n) (argv[0] is the command's name).
 * Arguments that are not options (and everything after "--") go to rest,
 * in order, when rest is not NULL (room for argc entries; *n_rest counts
 * them); without rest they are refused. Returns 0 when everything was
 * understood, 1 for -h/--help (the command prints its help and exits 0),
 * or 2 after printing the message. */
int opts_parse_args(const char *cmd, int argc, char **argv, opt_spec *specs, int n,
                    const char **rest, int *n_rest);
static inline int opts_parse(const char *cmd, int argc, char **argv, opt_spec *specs, int n) {
    return opts_parse_args(cmd, argc, argv, specs, n, NULL, NULL);
}

/* How many times the option `name` was given (0: left out). */
int opts_given(const opt_spec *specs, int n, const char *name);

/* Prints "mrg CMD: <message>" on stderr; returns 2 (for `return opts_fail(...)`). */
int opts_fail(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* 2 with "--a and --b exclude each other" when both were given, else 0. */
int opts_exclusive(const char *cmd, const opt_spec *specs, int n, const char *a, const char *b);

/* 2 with "--x is required" for the first of the NULL-ended names that was
 * left out, else 0. */
int opts_require(const char *cmd, const opt_spec *specs, int n, ...);

/* A list of whole numbers in [lo, hi] separated by commas and/or white
 * space ("1,2,3", "1 2 3"); *out is malloc'd (NULL when empty). Returns
 * the count, or -1 for a malformed list or a number out of range (or no
 * memory). */
int opts_int_list(const char *s, int64_t lo, int64_t hi, int64_t **out);

/* cfg = the preset, then the JSON file config (NULL: none) applied to it.
 * 0, or 2 after printing "mrg CMD: <error>". */
int opts_model_config(const char *cmd, const char *preset, const char *config, mrg_model_config *cfg);
/* The float storage dtypes a --dtype option takes, for OPT_ONE_OF: their
 * names as mrg_dtype_name spells them ("f32", "bf16", "f16", NULL-ended);
 * choice i is opts_float_dtype[i]. */
extern const mrg_dtype opts_float_dtype[3];
const char *const *opts_float_dtype_names(void);

/* The device named `name` (--device; NULL: the default device), opened; NULL
 * after printing "mrg CMD: <why>" (the caller exits with 2). */
mrg_device *opts_device(const char *cmd, const char *name);
/* How a training command shows progress: a bar on stderr when that is a
 * terminal; JSON lines on stdout when there is no bar or stdout is not a
 * terminal (a pipe or a file). */
void opts_progress(bool *bar, bool *jsonl_stdout);

#endif

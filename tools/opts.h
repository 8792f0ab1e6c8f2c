/* A small table-driven parser for the subcommands' `--name value` and
 * `--flag` options, with the same messages everywhere: an unknown option,
 * a missing value or a value that is not a number is reported on stderr
 * and the caller exits 2. */
#ifndef MRG_TOOLS_OPTS_H
#define MRG_TOOLS_OPTS_H

#include <stdbool.h>
#include <stdint.h>

#include "mrg/model.h"

typedef enum opt_kind {
    OPT_STR,   /* const char **: the argument itself */
    OPT_INT,   /* int *: a whole decimal number */
    OPT_I64,   /* int64_t * */
    OPT_U64,   /* uint64_t *: a non-negative number */
    OPT_FLOAT, /* float * */
    OPT_FLAG,  /* bool *: set to `value` (no argument) */
} opt_kind;

typedef struct opt_spec {
    const char *name; /* "--data" */
    opt_kind kind;
    void *dst;
    bool value;       /* OPT_FLAG: what the flag sets */
} opt_spec;

/* Parses argv[1..argc) against specs[0..n). Returns 0 when every option was
 * understood, 1 for -h/--help (nothing else parsed after it), or 2 after
 * printing "mrg <cmd>: ..." on stderr. */
int opts_parse(const char *cmd, int argc, char **argv, const opt_spec *specs, int n);

/* cfg = the preset, then the JSON file config (NULL: none) applied to it.
 * 0, or 2 after printing "mrg CMD: <error>". */
int opts_model_config(const char *cmd, const char *preset, const char *config, mrg_model_config *cfg);

#endif

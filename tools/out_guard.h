/* The output checks of the subcommands, with their messages: an output
 * that is neither absent, empty nor an earlier output of the same command
 * is refused (exit 2) unless --force, and so is an output inside an input
 * (lib/include/mrg/outputs.h). */
#ifndef MRG_TOOLS_OUT_GUARD_H
#define MRG_TOOLS_OUT_GUARD_H

#include <stdbool.h>
#include <stdint.h>

#include "mrg/outputs.h"
#include "mrg/phantom.h"

/* 0, or 2 after printing "mrg <cmd>: <why>" on stderr. */
int out_dir_guard(const char *cmd, const char *out, bool force, const mrg_named_path *inputs, int n);
/* The same for an output file; ours (may be NULL) recognises an earlier
 * output of cmd by its content. */
int out_file_guard(const char *cmd, const char *path, bool force, bool (*ours)(const char *path),
                   const mrg_named_path *inputs, int n);
/* true when the first line of path is a JSON object holding a string
 * `key` and a string or object `key2` (the JSON lines the commands write). */
bool out_jsonl_has(const char *path, const char *key, const char *key2);

/* `mrg phantoms` into out: rendered into a temporary beside it, marked as
 * the command's output and swapped in (mrg_output_commit). */
mrg_status out_phantoms(const char *out, int n, uint64_t seed, int size, mrg_phantom_summary *sum);

#endif

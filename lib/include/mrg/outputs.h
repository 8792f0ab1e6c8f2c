/* Safe outputs: what the commands check before they write a directory or a
 * file, and how they put it in place, so that no command deletes or
 * overwrites what it did not create (lib/train/outputs.c).
 *
 * A command that writes an output directory leaves a marker file in it,
 * DIR/.mrg-output ({"command": "<name>"}), that recognises the directory
 * as its own output later. An existing output that is neither empty nor
 * such a previous output is refused unless the user says --force; even
 * then, entries of the output the command does not write itself are kept
 * and symbolic links are replaced, never followed. Outputs are built in a
 * temporary directory beside their place and swapped in atomically; the
 * temporaries of killed processes are removed the next time. */
#ifndef MRG_OUTPUTS_H
#define MRG_OUTPUTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "mrg/atomic_file.h"
#include "mrg/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MRG_OUTPUT_MARKER ".mrg-output"

/* An input of a command and the option that named it, for messages. */
typedef struct mrg_named_path {
    const char *option; /* "--data" */
    const char *path;   /* NULL: not given */
} mrg_named_path;

/* true when path is dir or lies inside it, after resolving both (symbolic
 * links, "..", relative to the working directory; a path that does not
 * exist yet is resolved through its deepest existing ancestor). */
bool mrg_path_within(const char *path, const char *dir);
/* true when path is a directory with at least one entry. */
bool mrg_dir_has_entries(const char *path);

/* Refuses (MRG_ERR_INVALID_ARG, a message naming the options) an output
 * out that is, lies inside or holds one of inputs[0..n) (entries without a
 * path are skipped). */
mrg_status mrg_output_check_inputs(const char *cmd, const char *out, const mrg_named_path *inputs, int n);
/* The checks before command cmd writes the output directory out: the
 * inputs as above, and out must be absent, an empty directory or a
 * previous output of cmd (its marker); anything else is refused
 * (MRG_ERR_INVALID_ARG, a message that names --force) unless force.
 * *ours (may be NULL) gets whether out is a previous output of cmd. */
mrg_status mrg_output_dir_check(const char *cmd, const char *out, bool force,
                                const mrg_named_path *inputs, int n, bool *ours);
/* The temporary directory a command builds its output out in, beside out
 * (out's parent is created first); its path goes to tmp (cap bytes). Then
 * mrg_output_finish. */
mrg_status mrg_output_begin(const char *out, char *tmp, size_t cap);
/* With st == MRG_OK (the build went well): marks tmp as cmd's output and
 * makes it out (mrg_output_commit). Otherwise, or when that fails, removes
 * tmp. Returns the first error (st itself when it is one). */
mrg_status mrg_output_finish(const char *tmp, const char *out, const char *cmd, mrg_status st);
/* Writes dir/.mrg-output naming cmd (atomically). */
mrg_status mrg_output_mark(const char *dir, const char *cmd);
/* true when dir holds the marker of cmd. */
bool mrg_output_is_ours(const char *dir, const char *cmd);
/* Makes the finished temporary directory tmp (from mrg_ckpt_begin(out))
 * the output out, every file fsynced first. When out is absent or each of
 * its entries is rewritten by tmp, one atomic swap (mrg_ckpt_commit);
 * otherwise tmp's entries are moved into out one by one (each rename
 * atomic, directories merged), so that out's other entries stay. tmp is
 * gone afterwards unless an error is returned. */
mrg_status mrg_output_commit(const char *tmp, const char *out);

/* Before a checkpoint or output final_dir is written: puts back a
 * parent/.old-<name> that a crash left in place of a missing final_dir,
 * removes a stale .old-<name> beside an existing one, and removes the
 * temporaries parent/.tmp-<name>-<pid>-<n> of processes that no longer
 * run (nothing else; symbolic links are never followed). */
mrg_status mrg_ckpt_clean(const char *final_dir);

/* The checks before command cmd writes the output file path: not inside or
 * equal to one of inputs[0..n), and path absent, empty, or (ours, may be
 * NULL) recognised as a previous output of cmd; otherwise refused
 * (MRG_ERR_INVALID_ARG) unless force. A directory is always refused; a
 * device or a pipe is always accepted (it is written, never replaced). The
 * file itself is then written with mrg_atomic_begin/commit
 * (mrg/atomic_file.h). */
mrg_status mrg_output_file_check(const char *cmd, const char *path, bool force,
                                 bool (*ours)(const char *path), const mrg_named_path *inputs,
                                 int n);

#ifdef __cplusplus
}
#endif
#endif

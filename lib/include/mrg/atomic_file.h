/* Output files that appear whole or not at all, for the library and for
 * programs that write results (the mrg command's HTML page and feature
 * files): a crash or a full disk never leaves a half-written file under
 * the final name. */
#ifndef MRG_ATOMIC_FILE_H
#define MRG_ATOMIC_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "mrg/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* An output file that appears whole or not at all: the bytes go through f
 * to a temporary beside path, <dir>/.<name>.tmp-<pid>, which
 * mrg_atomic_commit renames over path, so a reader or a crash sees the old
 * file or the new one, never a part of it (the temporaries of killed
 * processes are removed the next time path is written). An existing path
 * that is not a regular file (a device such as /dev/stdout, a FIFO) is
 * written directly instead: there is nothing there to replace. */
typedef struct mrg_atomic_file {
    FILE *f;     /* write here (fwrite, fprintf, ...) */
    char *tmp;   /* the temporary's path (NULL: path written directly) */
    char *path;  /* the final path */
    bool durable;
} mrg_atomic_file;

/* Opens the temporary. durable: the commit also fsyncs the file before the
 * rename and its directory after it (checkpoints, models, results); without
 * it only the rename's atomicity holds (a power cut may lose the file). */
mrg_status mrg_atomic_begin(mrg_atomic_file *af, const char *path, bool durable);
/* Checks that every write succeeded, flushes (and fsyncs), closes and
 * renames; on any failure removes the temporary, leaves path as it was and
 * returns MRG_ERR_IO with the reason ("cannot write PATH: No space left on
 * device"). Releases af either way. */
mrg_status mrg_atomic_commit(mrg_atomic_file *af);
/* Closes and removes the temporary (the caller gave up); path is untouched. */
void mrg_atomic_abort(mrg_atomic_file *af);
/* data[0..len) as the whole content of path, atomically. */
mrg_status mrg_write_file_atomic(const char *path, const void *data, size_t len, bool durable);

#ifdef __cplusplus
}
#endif
#endif

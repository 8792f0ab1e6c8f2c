/* File-system helpers shared by the library, the mrg command and the tests
 * (private: not installed, not part of the API). Every function that can
 * fail returns MRG_OK or an error status with a message naming the path
 * (mrg_last_error()). A leaf: depends on nothing but the error functions. */
#ifndef MRG_CORE_FILES_H
#define MRG_CORE_FILES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "mrg/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- reading ------------------------------------------------------------ */

/* The whole file at path, malloc'd, with a NUL after its last byte (so a
 * text file is a C string); *len (may be NULL) gets the length without the
 * NUL. A file longer than max_bytes is refused (MRG_ERR_FORMAT, "<path> is
 * larger than <max>"); pass SIZE_MAX for no limit. Other errors:
 * MRG_ERR_NOT_FOUND (no such file), MRG_ERR_IO, MRG_ERR_OOM. */
mrg_status mrg_read_file(const char *path, size_t max_bytes, char **out, size_t *len);

/* ---- atomic writing ------------------------------------------------------- */

/* An output file that appears whole or not at all: the bytes go to a fresh
 * temporary beside path (path.tmp.XXXXXX, mode 0644) through f, and
 * mrg_atomic_commit renames it over path, so a reader or a crash sees the
 * old file or the new one, never a part of it. */
typedef struct mrg_atomic_file {
    FILE *f;     /* write here (fwrite, fprintf, ...) */
    char *tmp;   /* the temporary's path */
    char *path;  /* the final path */
    bool durable;
} mrg_atomic_file;

/* Creates the temporary. durable: the commit also fsyncs the file before
 * the rename and its directory after it (checkpoints, models); without it
 * only the rename's atomicity holds (a power cut may lose the file). */
mrg_status mrg_atomic_begin(mrg_atomic_file *af, const char *path, bool durable);
/* Checks that every write succeeded, flushes (and fsyncs), closes and
 * renames; on any failure removes the temporary and returns MRG_ERR_IO
 * ("cannot write <path>: <reason>"). Releases af either way. */
mrg_status mrg_atomic_commit(mrg_atomic_file *af);
/* Closes and removes the temporary (the caller gave up); path is untouched. */
void mrg_atomic_abort(mrg_atomic_file *af);
/* data[0..len) as the whole content of path, atomically. */
mrg_status mrg_write_file_atomic(const char *path, const void *data, size_t len, bool durable);

/* ---- directories and copies ------------------------------------------------ */

bool mrg_path_exists(const char *path);
/* A directory, or a regular file (following symbolic links); false for NULL. */
bool mrg_is_dir(const char *path);
bool mrg_is_file(const char *path);
/* mkdir that accepts an existing directory (but not a file of that name). */
mrg_status mrg_mkdir(const char *path);
/* mkdir -p. */
mrg_status mrg_mkdirs(const char *path);
/* mkdir -p of the directory that holds path (nothing when it has none). */
mrg_status mrg_mkdirs_parent(const char *path);
/* rm -r (a missing path is not an error). */
mrg_status mrg_rm_tree(const char *path);
/* Copies a file atomically and durably (a temporary beside dst, fsync, rename). */
mrg_status mrg_copy_file(const char *src, const char *dst);
/* fsync of a file, or of a directory (dir: true; a filesystem that cannot
 * sync directories is not an error). */
mrg_status mrg_fsync_path(const char *path, bool dir);

#ifdef __cplusplus
}
#endif
#endif

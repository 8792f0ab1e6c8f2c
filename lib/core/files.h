/* File-system helpers shared by the library and the tests (private: not
 * installed, not part of the API; the atomic writer, which the mrg command
 * uses too, is public: mrg/atomic_file.h). Every function that can fail
 * returns MRG_OK or an error status with a message naming the path
 * (mrg_last_error()). A leaf: depends on nothing but the error functions. */
#ifndef MRG_CORE_FILES_H
#define MRG_CORE_FILES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "mrg/atomic_file.h"
#include "mrg/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- reading ------------------------------------------------------------ */

/* The whole file at path, malloc'd, with a NUL after its last byte (so a
 * text file is a C string); *len (may be NULL) gets the length without the
 * NUL. A file longer than max_bytes is refused before it is read, with
 * MRG_ERR_FORMAT and "<path> has N bytes; the limit is M (<limit>)" (limit:
 * the name of the limit in mrg/limits.h, or NULL); SIZE_MAX: no limit.
 * Other errors: MRG_ERR_NOT_FOUND (no such file), MRG_ERR_IO, MRG_ERR_OOM. */
mrg_status mrg_read_file(const char *path, size_t max_bytes, const char *limit, char **out,
                         size_t *len);

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
/* fsync of every regular file below dir and of each directory, dir last. */
mrg_status mrg_fsync_tree(const char *dir);

/* ---- paths and processes -------------------------------------------------- */

/* Parent directory and base name of path ("." for a bare name, "/" at the
 * root; trailing slashes are ignored: "run/last/" is "run" + "last"). */
void mrg_path_split(const char *path, char *parent, size_t pcap, char *base, size_t bcap);
/* Reads a non-negative decimal number at s into *v; the position after its
 * digits, or NULL when s does not start with one. */
const char *mrg_scan_digits(const char *s, long *v);
/* true when no process pid runs any more (the owner of a stale temporary);
 * false for this process and when that cannot be told. */
bool mrg_process_gone(long pid);

#ifdef __cplusplus
}
#endif
#endif

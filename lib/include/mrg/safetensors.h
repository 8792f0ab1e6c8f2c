/* safetensors files: a bounds-checked mmap reader and an atomic writer.
 *
 * Format: u64 little-endian header length N, N bytes of JSON
 * {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]},
 *  "__metadata__": {"key": "value"}}, then the data. The reader validates the
 * header length, JSON, dtypes, shapes (product × element size = byte span),
 * offsets (inside the data section, no two tensors overlapping; gaps are
 * tolerated) before handing out any pointer. Errors name the file and the
 * tensor. The writer lays files out as the reference implementation does
 * (header padded with spaces to 8 bytes, data ordered by element size), so
 * data pointers are aligned for files it wrote; files from other writers
 * may have unaligned data: read it with memcpy. */
#ifndef MRG_SAFETENSORS_H
#define MRG_SAFETENSORS_H

#include "mrg/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mrg_st_tensor {
    const char *name;
    mrg_dtype dtype;  /* F32, BF16, F16, I32 are supported */
    int ndim;
    int64_t shape[MRG_MAX_DIMS];
    const void *data; /* inside the mapping; valid until mrg_st_close (may be unaligned) */
    size_t nbytes;
} mrg_st_tensor;

/* One file, or a sharded Hugging Face checkpoint opened through its
 * model.safetensors.index.json (all shards merged into one name space). */
typedef struct mrg_st_file mrg_st_file;

mrg_st_file *mrg_st_open(const char *path);
/* The same with the status: MRG_ERR_NOT_FOUND / IO for unreadable files,
 * MRG_ERR_FORMAT for malformed ones, MRG_ERR_UNSUPPORTED for valid files with
 * dtypes this library does not load (F64, I64, ...). *out is NULL on error. */
mrg_status mrg_st_try_open(const char *path, mrg_st_file **out);
/* A directory: model.safetensors, else model.safetensors.index.json. */
mrg_st_file *mrg_st_open_dir(const char *dir);
void mrg_st_close(mrg_st_file *f);
int mrg_st_count(const mrg_st_file *f);
const mrg_st_tensor *mrg_st_get(const mrg_st_file *f, int i);
/* NULL when absent (no error message set). */
const mrg_st_tensor *mrg_st_find(const mrg_st_file *f, const char *name);
/* NULL with a message naming the file when absent, or when the shape does
 * not match expect_shape (ndim < 0 skips the shape check). */
const mrg_st_tensor *mrg_st_require(const mrg_st_file *f, const char *name, int ndim,
                                    const int64_t *expect_shape);
/* __metadata__ value or NULL. */
const char *mrg_st_metadata(const mrg_st_file *f, const char *key);
/* Copies a stored tensor into t (shape must match; dtype converted to t's
 * float dtype as needed, i32 only to i32). */
mrg_status mrg_st_load_into(const mrg_st_tensor *st, mrg_tensor *t);

typedef struct mrg_st_writer mrg_st_writer;
mrg_st_writer *mrg_st_writer_new(void);
void mrg_st_writer_free(mrg_st_writer *w);
/* The data is copied. */
mrg_status mrg_st_writer_add(mrg_st_writer *w, const char *name, mrg_dtype dt, int ndim,
                             const int64_t *shape, const void *data);
/* Downloads a device tensor into the writer. */
mrg_status mrg_st_writer_add_tensor(mrg_st_writer *w, const char *name, const mrg_tensor *t);
mrg_status mrg_st_writer_meta(mrg_st_writer *w, const char *key, const char *value);
/* Writes path atomically: a temporary file beside it, fsync, rename. */
mrg_status mrg_st_writer_save(mrg_st_writer *w, const char *path);

#ifdef __cplusplus
}
#endif
#endif

/* What the two safetensors harnesses do with a file that opened: every
 * tensor is found by name and by shape, loaded (converted to f32, or as
 * i32) on the CPU device, and the whole file is written back with the
 * library's writer and read again, which must give the same names, shapes,
 * bytes and metadata. */
#ifndef MRG_FUZZ_ST_CHECK_H
#define MRG_FUZZ_ST_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "mrg/safetensors.h"

#define FUZZ_CHECK(cond, what)                                                  \
    do {                                                                        \
        if (!(cond)) {                                                          \
            fprintf(stderr, "fuzz: %s (%s:%d)\n", what, __FILE__, __LINE__);   \
            abort();                                                            \
        }                                                                       \
    } while (0)

static void fuzz_st_exercise(mrg_st_file *f) {
    mrg_device *dev = fuzz_cpu();
    int n = mrg_st_count(f);
    mrg_st_writer *w = mrg_st_writer_new();
    FUZZ_CHECK(w, "mrg_st_writer_new");
    for (int i = 0; i < n; i++) {
        const mrg_st_tensor *t = mrg_st_get(f, i);
        FUZZ_CHECK(t && mrg_st_find(f, t->name) == t, "a tensor is not found by its name");
        FUZZ_CHECK(mrg_st_require(f, t->name, t->ndim, t->shape) == t,
                   "a tensor does not have its own shape");
        mrg_dtype dt = t->dtype == MRG_I32 ? MRG_I32 : MRG_F32;
        mrg_clear_error();
        mrg_tensor *x = mrg_tensor_new_persistent(dev, dt, t->ndim, t->shape);
        if (x) {
            mrg_clear_error();
            fuzz_expect_message(mrg_st_load_into(t, x), "mrg_st_load_into");
            mrg_tensor_free(x);
        } else {
            fuzz_expect_message(MRG_ERR_INVALID_ARG, "mrg_tensor_new_persistent");
        }
        mrg_clear_error();
        mrg_status st = mrg_st_writer_add(w, t->name, t->dtype, t->ndim, t->shape, t->data);
        fuzz_expect_message(st, "mrg_st_writer_add");
        if (st != MRG_OK) {
            mrg_st_writer_free(w);
            return; /* a name or shape the writer refuses: nothing to compare */
        }
    }
    const char *fmt = mrg_st_metadata(f, "format");
    if (fmt) FUZZ_CHECK(mrg_st_writer_meta(w, "format", fmt) == MRG_OK, "mrg_st_writer_meta");
    char out[1024];
    snprintf(out, sizeof out, "%s/roundtrip.safetensors", fuzz_tmpdir());
    mrg_clear_error();
    mrg_status st = mrg_st_writer_save(w, out);
    mrg_st_writer_free(w);
    fuzz_expect_message(st, "mrg_st_writer_save");
    if (st != MRG_OK) return;
    mrg_st_file *g = NULL;
    st = mrg_st_try_open(out, &g);
    if (st != MRG_OK) fprintf(stderr, "fuzz: re-reading a written file: %s\n", mrg_last_error());
    FUZZ_CHECK(st == MRG_OK, "a file written by mrg_st_writer_save does not open");
    FUZZ_CHECK(mrg_st_count(g) == n, "the written file has another tensor count");
    for (int i = 0; i < n; i++) {
        const mrg_st_tensor *a = mrg_st_get(f, i), *b = mrg_st_find(g, a->name);
        FUZZ_CHECK(b, "a tensor is missing from the written file");
        FUZZ_CHECK(a->dtype == b->dtype && a->ndim == b->ndim && a->nbytes == b->nbytes,
                   "a written tensor has another dtype, rank or size");
        FUZZ_CHECK(!memcmp(a->shape, b->shape, sizeof(int64_t) * (size_t)a->ndim),
                   "a written tensor has another shape");
        FUZZ_CHECK(!a->nbytes || !memcmp(a->data, b->data, a->nbytes),
                   "a written tensor has other bytes");
    }
    const char *fmt2 = mrg_st_metadata(g, "format");
    FUZZ_CHECK(!fmt == !fmt2 && (!fmt || !strcmp(fmt, fmt2)), "the written metadata differs");
    mrg_st_close(g);
    unlink(out);
}

/* Opens path with mrg_st_try_open (what: the call's name in findings); a
 * failure must leave a message and no file, a file that opens is
 * exercised and closed. Returns the open's status. */
static mrg_status fuzz_st_open_and_exercise(const char *path, const char *what) {
    mrg_st_file *f = NULL;
    mrg_clear_error();
    mrg_status st = mrg_st_try_open(path, &f);
    fuzz_expect_message(st, what);
    if (st != MRG_OK) {
        FUZZ_CHECK(!f, "a failed open returned a file");
        return st;
    }
    fuzz_st_exercise(f);
    mrg_st_close(f);
    return st;
}

#endif

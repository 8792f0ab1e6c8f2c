/* Small test harness: checks with file:line messages, device iteration,
 * golden files (safetensors written by tools/ref/<name>.py) and closeness. */
#ifndef MRG_TESTUTIL_H
#define MRG_TESTUTIL_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "mrg/mrg.h"
#include "mrg/safetensors.h"

extern int mrg_test_failures;
extern int mrg_test_checks;

#define CHECK(cond)                                                               \
    do {                                                                          \
        mrg_test_checks++;                                                        \
        if (!(cond)) {                                                            \
            mrg_test_failures++;                                                  \
            fprintf(stderr, "%s:%d: CHECK failed: %s (last error: %s)\n", __FILE__, \
                    __LINE__, #cond, mrg_last_error());                           \
        }                                                                         \
    } while (0)

#define CHECK_OK(expr) CHECK((expr) == MRG_OK)

/* Fills names with the devices to test ("cpu", "opencl:0"...) from
 * MRG_TEST_DEVICES or every usable device; returns the count. */
int test_devices(char names[][32], int max);
/* Opens device name; when it cannot, says why and fails a check (NULL). */
mrg_device *test_device_open(const char *name);
/* The devices under test, one at a time:
 *   for (test_device_iter it = {0}; test_next_device(&it);) check(it.dev);
 * Each call frees the previous device and opens the next one, named on
 * stderr (one that cannot be opened fails a check and is passed over);
 * it.count is the number of devices (0: none to test). */
typedef struct test_device_iter {
    char names[8][32];
    int count, next;
    bool started;
    const char *name;
    mrg_device *dev;
} test_device_iter;
bool test_next_device(test_device_iter *it);
/* Opens golden file `file` (test_golden_path); when it cannot, says why
 * and fails a check (NULL). */
mrg_st_file *test_golden_open(const char *file);

/* Max relative error: max |a−b| / max(|b|, floor) over n elements. Logs the
 * worst element when it exceeds tol and returns false. */
bool test_close(const char *what, const float *got, const float *want, int64_t n,
                double rtol, double atol);
/* Downloads t (any float dtype) and compares with want. */
bool test_tensor_close(const char *what, const mrg_tensor *t, const float *want,
                       double rtol, double atol);

/* Path of a golden file in MRG_TEST_DATA (or tests/golden); static buffer. */
const char *test_golden_path(const char *file);
/* Directory of ../shared or NULL when absent (tests skip then). */
const char *test_shared_dir(void);

/* Loads golden tensor `name` from f as a new step tensor on dev
 * (f32 data, or i32 for I32 entries). NULL + CHECK failure when missing. */
mrg_tensor *test_load(mrg_device *dev, const mrg_st_file *f, const char *name);
/* Host copy of a golden tensor as f32 (malloc'd; the caller frees it). */
float *test_golden_f32(const mrg_st_file *f, const char *name, int64_t *n);

/* Deterministic uniform random floats in [lo, hi). */
void test_fill_uniform(float *x, int64_t n, unsigned seed, float lo, float hi);

/* Prints "N passed, M failed" and returns the process exit code. */
int test_finish(const char *suite);

/* The whole file (malloc'd, NUL after its *len bytes; len may be NULL),
 * or NULL. */
char *test_read_file(const char *path, size_t *len);
/* Writes text as the whole file path (a failure fails a check). */
void test_write_file(const char *path, const char *text);

/* A LLaMA of the micro preset's shape trained for `steps` updates on the
 * reports of dataset `data` (with a 300-piece tokenizer), written to out:
 * the frozen LM of the report-generator tests. */
mrg_status test_pretrain_micro_lm(mrg_device *dev, const char *data, const char *out, int steps);

/* Runs the shell command cmd, keeps up to cap-1 bytes of what it prints on
 * stdout (NUL-terminated) in out, and returns its exit code (-1 when it
 * could not run or did not exit). */
int test_run_cmd(const char *cmd, char *out, size_t cap);
/* test_run_cmd of a printf-formatted command (up to 8 KiB). */
int test_run_cmdf(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---- extensions (tests/util/testutil.c) ------------------------------- */

/* Exit code of a skipped test (ctest SKIP_RETURN_CODE). */
#define TEST_SKIP 77

/* Persistent parameter of dtype dt (F32/BF16/F16, or I32 for ids) filled
 * from golden tensor `name` (converted to dt); trainable ones get a .grad.
 * NULL + CHECK failure when missing. */
mrg_tensor *test_param(mrg_device *dev, const mrg_st_file *f, const char *name, mrg_dtype dt,
                       bool trainable);
/* Persistent parameter from host f32 data (converted to dt), or I32 data
 * given as floats holding integers when dt is MRG_I32. */
mrg_tensor *test_param_f32(mrg_device *dev, mrg_dtype dt, int ndim, const int64_t *shape,
                           const float *data, bool trainable, const char *name);
/* Host f32 copy of a device tensor (malloc'd; NULL + CHECK failure on error). */
float *test_download(const mrg_tensor *t);
/* loss (1) = Σ out·g for a tensor g of out's shape: seeds the backward of out
 * with the upstream gradient g. */
mrg_tensor *test_dot_loss(mrg_tensor *out, mrg_tensor *g);
/* max |x| over n elements. */
double test_max_abs(const float *x, int64_t n);
/* t against golden tensor `name` of exp: relative rtol, absolute floor
 * rtol·max|want|, raised to tiny when max|want| < tiny (values that are
 * zero in exact arithmetic are then f32 rounding noise; 0: no such floor).
 * A size mismatch is logged and fails. */
bool test_golden_close(const char *what, const mrg_tensor *t, const mrg_st_file *exp,
                       const char *name, double rtol, double tiny);

#endif

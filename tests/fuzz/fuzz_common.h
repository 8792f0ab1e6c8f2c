/* Shared helpers of the libFuzzer harnesses (tests/fuzz/fuzz_*.c).
 *
 * Each harness defines LLVMFuzzerTestOneInput and feeds the bytes to one of
 * the library's real parsing entry points: from memory where the API takes
 * a buffer, else through a file written into a private temporary directory
 * (under /dev/shm when it exists, so nothing touches the disk). The same
 * sources are linked either with libFuzzer (-DMRG_FUZZ=ON, clang) or with
 * replay_main.c, which runs every input of the committed corpus once as a
 * ctest test in every build. */
#ifndef MRG_FUZZ_COMMON_H
#define MRG_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "mrg/status.h"
#include "mrg/tensor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The private temporary directory ($MRG_FUZZ_TMP, else /dev/shm or $TMPDIR
 * or /tmp), created on first use and removed at exit. */
const char *fuzz_tmpdir(void);
/* Writes data to <tmpdir>/<name> (replacing it); returns the path (static
 * storage, valid until the next call). Aborts when the write fails: that is
 * the harness's fault, not the input's. */
const char *fuzz_write(const char *name, const uint8_t *data, size_t size);
/* Copies a golden file (path relative to tests/golden) to <tmpdir>/<name>. */
void fuzz_copy_golden(const char *rel, const char *name);
/* Absolute path of a golden file (tests/golden, or $MRG_TEST_DATA). */
const char *fuzz_golden(const char *rel);
/* A NUL-terminated malloc'd copy of data. */
char *fuzz_cstr(const uint8_t *data, size_t size);
/* The CPU device, opened once. */
mrg_device *fuzz_cpu(void);
/* The small sentencepiece model of tests/golden/model/lm, loaded once
 * (freed at exit; aborts when it cannot be loaded). */
struct mrg_tokenizer *fuzz_golden_tokenizer(void);

/* Honest failures: a call that fails must leave a message. Aborts (a
 * finding) when st is an error and mrg_last_error() is empty. Call
 * mrg_clear_error() before the call under test. With MRG_FUZZ_VERBOSE set
 * in the environment every outcome is printed (to see what seeds reach). */
void fuzz_expect_message(mrg_status st, const char *what);

#endif

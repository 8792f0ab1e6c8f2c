/* Fuzzes the safetensors reader (mrg_st_try_open on one file) and, for the
 * files it accepts, tensor loading and a write/read round trip. */
#include "fuzz_st_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_write("model.safetensors", data, size);
    mrg_st_file *f = NULL;
    mrg_clear_error();
    mrg_status st = mrg_st_try_open(path, &f);
    fuzz_expect_message(st, "mrg_st_try_open");
    if (st != MRG_OK) {
        FUZZ_CHECK(!f, "a failed open returned a file");
        return 0;
    }
    fuzz_st_exercise(f);
    mrg_st_close(f);
    return 0;
}

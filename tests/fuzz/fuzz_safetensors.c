/* Fuzzes the safetensors reader (mrg_st_try_open on one file) and, for the
 * files it accepts, tensor loading and a write/read round trip. */
#include "fuzz_st_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_st_open_and_exercise(fuzz_write("model.safetensors", data, size), "mrg_st_try_open");
    return 0;
}

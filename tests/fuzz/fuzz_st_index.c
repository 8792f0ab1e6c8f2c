/* Fuzzes sharded safetensors checkpoints: the input is the
 * model.safetensors.index.json of a directory that holds the two shards of
 * tests/golden/io/sharded (opened through mrg_st_try_open and
 * mrg_st_open_dir). What opens is checked as in fuzz_safetensors. */
#include "fuzz_st_check.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    fuzz_copy_golden("io/sharded/model-00001-of-00002.safetensors",
                     "model-00001-of-00002.safetensors");
    fuzz_copy_golden("io/sharded/model-00002-of-00002.safetensors",
                     "model-00002-of-00002.safetensors");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_write("model.safetensors.index.json", data, size);
    mrg_status st = fuzz_st_open_and_exercise(path, "mrg_st_try_open (index)");
    /* the directory form finds the same index */
    mrg_clear_error();
    mrg_st_file *d = mrg_st_open_dir(fuzz_tmpdir());
    fuzz_expect_message(d ? MRG_OK : MRG_ERR_FORMAT, "mrg_st_open_dir");
    FUZZ_CHECK(!d == (st != MRG_OK), "mrg_st_open_dir and mrg_st_try_open disagree");
    mrg_st_close(d);
    return 0;
}

/* Fuzzes the trainer's checkpoint sidecar, trainer_state.json
 * (mrg_train_state_read, as `mrg train --resume` reads it). An accepted
 * state is written back with mrg_train_state_write and must read back
 * identically, run options and config included. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "mrg/trainer.h"

static void fail(const char *what) {
    fprintf(stderr, "fuzz: %s (last error: %s)\n", what, mrg_last_error());
    abort();
}

static bool same_text(const char *a, const char *b) { return !a == !b && (!a || !strcmp(a, b)); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_write("trainer_state.json", data, size);
    mrg_train_state st;
    char *opts = NULL, *cfg = NULL;
    mrg_clear_error();
    mrg_status s = mrg_train_state_read(path, &st, &opts, &cfg);
    fuzz_expect_message(s, "mrg_train_state_read");
    if (s != MRG_OK) {
        if (opts || cfg) fail("a failed read returned options or config");
        return 0;
    }
    char out[1024];
    snprintf(out, sizeof out, "%s/written_state.json", fuzz_tmpdir());
    if (mrg_train_state_write(out, &st, opts, cfg) != MRG_OK)
        fail("an accepted trainer state cannot be written");
    mrg_train_state back;
    char *opts2 = NULL, *cfg2 = NULL;
    if (mrg_train_state_read(out, &back, &opts2, &cfg2) != MRG_OK)
        fail("a written trainer state does not read back");
    if (back.step != st.step || back.epoch != st.epoch || back.batch != st.batch ||
        back.samples != st.samples || back.data_seed != st.data_seed || back.skipped != st.skipped ||
        back.best_epoch != st.best_epoch ||
        memcmp(&back.best_score, &st.best_score, sizeof st.best_score))
        fail("a trainer state changes through mrg_train_state_write");
    if (!same_text(opts, opts2) || !same_text(cfg, cfg2))
        fail("the options or config of a trainer state change through a write");
    free(opts);
    free(cfg);
    free(opts2);
    free(cfg2);
    return 0;
}

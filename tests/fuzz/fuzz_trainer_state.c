/* Fuzzes the trainer's checkpoint sidecar, trainer_state.json
 * (mrg_train_state_read, as `mrg train --resume` reads it, then its run
 * options with run_plan_from_json). An accepted state is written back with
 * mrg_train_state_write and must read back identically, run options and
 * config included, and accepted options must survive run_plan_to_json. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "mrg/trainer.h"
#include "train/run_plan.h"

static void fail(const char *what) {
    fprintf(stderr, "fuzz: %s (last error: %s)\n", what, mrg_last_error());
    abort();
}

static bool same_text(const char *a, const char *b) { return !a == !b && (!a || !strcmp(a, b)); }

/* The run options as a resume reads them; accepted ones round-trip. */
static void run_options(const char *json) {
    run_plan p, q;
    memset(&p, 0, sizeof p);
    mrg_clear_error();
    mrg_status s = run_plan_from_json(json, &p);
    fuzz_expect_message(s, "run_plan_from_json");
    if (s != MRG_OK) return;
    char *again = run_plan_to_json(&p, "data");
    if (!again) fail("run_plan_to_json");
    memset(&q, 0, sizeof q);
    if (run_plan_from_json(again, &q) != MRG_OK) fail("accepted run options do not read back");
    free(again);
    if (q.epochs != p.epochs || q.total_steps != p.total_steps ||
        q.max_steps != (p.max_steps > 0 ? p.max_steps : 0) || q.save_every != p.save_every ||
        q.eval_max != p.eval_max || q.no_eval != p.no_eval || q.eval_beam != p.eval_beam ||
        memcmp(&q.lr, &p.lr, sizeof p.lr) || memcmp(&q.min_lr, &p.min_lr, sizeof p.lr) ||
        memcmp(&q.weight_decay, &p.weight_decay, sizeof p.lr) ||
        memcmp(&q.warmup_frac, &p.warmup_frac, sizeof p.lr) ||
        memcmp(&q.clip_norm, &p.clip_norm, sizeof p.lr) || strcmp(q.data_hash, p.data_hash) ||
        strcmp(q.config_hash, p.config_hash))
        fail("run options change through run_plan_to_json");
}

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
    if (opts) run_options(opts);
    free(opts);
    free(cfg);
    free(opts2);
    free(cfg2);
    return 0;
}

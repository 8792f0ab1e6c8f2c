/* A graceful stop of `mrg train` on the devices other than the CPU
 * (test_cli_train.c does the CPU, at every point): SIGTERM while the
 * validation after update 4 runs abandons it and exits 143; the resumed
 * run validates first and then matches an uninterrupted run on the same
 * device, loss for loss and validation for validation, bit for bit. One
 * point only: each run on OpenCL pays for building its kernels. */
#include <string.h>

#include "clitest.h"
#include "core/files.h"
#include "testutil.h"

int main(void) {
    char devs[8][32];
    int nd = test_devices(devs, 8), others = 0;
    for (int d = 0; d < nd; d++) others += strcmp(devs[d], "cpu") != 0;
    if (!others) {
        fprintf(stderr, "no device besides the CPU; skipping\n");
        return TEST_SKIP;
    }
    if (!cli_setup("mrg_test_cli_stop")) {
        fprintf(stderr, "MRG_BIN not set or no scratch directory; skipping\n");
        return TEST_SKIP;
    }
    CHECK(cli_make_data());
    for (int d = 0; d < nd && !mrg_test_failures; d++) {
        if (!strcmp(devs[d], "cpu")) continue;
        const char *dev = devs[d];
        CHECK(cli_sh(CLI_TRAIN " --device %s --out ref-%d > /dev/null", cli_bin, dev, d) == 0);
        CHECK(cli_sh("MRG_TRAIN_TEST_SIGNAL=15@eval:4 " CLI_TRAIN " --device %s --out run-%d > /dev/null", cli_bin, dev,
                     d) == 143);
        CHECK(cli_has("resume with: mrg train"));
        CHECK(cli_sh(CLI_TRAIN " --device %s --out run-%d --resume > /dev/null", cli_bin, dev, d) == 0);
        char ref[32], run[32];
        snprintf(ref, sizeof ref, "ref-%d", d);
        snprintf(run, sizeof run, "run-%d", d);
        cli_log a, b;
        CHECK(cli_read_log(ref, &a) && cli_read_log(run, &b));
        bool same = cli_same_run(&a, &b, 6);
        printf("  %s: SIGTERM during the validation after update 4, resumed: %s\n", dev,
               same ? "same run, bit for bit" : "DIFFERENT");
        CHECK(same);
        CHECK(cli_state_step(run) == 6 && cli_hidden(run) == 0);
    }
    if (mrg_test_failures == 0) mrg_rm_tree(cli_root);
    return test_finish("cli_stop");
}

/* `mrg train --precision` and the config key "precision" through the real
 * binary, on phantoms and the micro preset: a bf16-mixed run trains and
 * records its precision; the converted path of a CPU without bf16
 * instructions (forced with MRG_CPU_BF16=off) says so exactly once; a
 * resume with another precision is refused and one with the same goes on;
 * a config file can set it; a bad value is refused; --help documents it;
 * every other test device trains under bf16-mixed too. */
#define _GNU_SOURCE
#include <string.h>

#include "core/files.h"
#include "clitest.h"
#include "testutil.h"

#define RUN "%s train --data ph --preset micro --lm lm --epochs 1 --batch 4 --eval-max 2"

static int count(const char *text) {
    int n = 0;
    for (const char *p = cli_out; (p = strstr(p, text)); p += strlen(text)) n++;
    return n;
}

static void test_cpu(void) {
    CHECK(cli_sh("%s train --help", cli_bin) == 0);
    CHECK(cli_has("--precision P") && cli_has("bf16-mixed"));
    CHECK(cli_sh(RUN " --device cpu --out run-bad --precision fp8", cli_bin) == 2);
    CHECK(cli_has("--precision") && cli_has("bf16-mixed"));
    /* the converted path, forced: one note for the whole run */
    CHECK(cli_sh("MRG_CPU_BF16=off " RUN " --device cpu --out run-b --precision bf16-mixed > /dev/null",
                 cli_bin) == 0);
    CHECK(count("no AVX512-BF16 on this CPU") == 1);
    CHECK(cli_sh("grep -q '\"precision\":[[:space:]]*\"bf16-mixed\"' run-b/last/config.json") == 0);
    CHECK(cli_all_finite("run-b/last/model.safetensors"));
    /* a run keeps its precision */
    CHECK(cli_sh("%s train --data ph --out run-b --resume --precision f32 --device cpu", cli_bin) == 2);
    CHECK(cli_has("differs from the run's precision bf16-mixed"));
    CHECK(cli_sh("%s train --data ph --out run-b --resume --epochs 2 --precision bf16-mixed --device cpu > /dev/null",
                 cli_bin) == 0);
    CHECK(cli_state_step("run-b") > 0);
    /* an f32 run refuses bf16-mixed on resume, older runs count as f32 */
    CHECK(cli_sh(RUN " --device cpu --out run-f > /dev/null", cli_bin) == 0);
    CHECK(cli_sh("grep -q '\"precision\":[[:space:]]*\"f32\"' run-f/last/config.json") == 0);
    CHECK(cli_sh("%s train --data ph --out run-f --resume --precision bf16-mixed --device cpu", cli_bin) == 2);
    CHECK(cli_has("differs from the run's precision f32"));
    /* the config key; with bf16 instructions (mrg info says which) no note */
    CHECK(cli_write("mixed.json", "{\"precision\": \"bf16-mixed\"}\n"));
    CHECK(cli_sh("%s info", cli_bin) == 0);
    bool native = strstr(cli_out, "bf16-mixed GEMM: AVX512-BF16") != NULL;
    CHECK(cli_sh("%s train --data ph --preset micro --config mixed.json --lm lm --epochs 1 --batch 4 "
                 "--eval-max 2 --device cpu --out run-c > /dev/null",
                 cli_bin) == 0);
    CHECK(cli_sh("grep -q '\"precision\":[[:space:]]*\"bf16-mixed\"' run-c/last/config.json") == 0);
    CHECK(cli_sh("%s train --data ph --preset micro --config mixed.json --lm lm --epochs 1 --batch 4 "
                 "--eval-max 2 --device cpu --out run-c --force",
                 cli_bin) == 0);
    CHECK(count("no AVX512-BF16 on this CPU") == (native ? 0 : 1));
    CHECK(cli_write("bad.json", "{\"precision\": \"half\"}\n"));
    CHECK(cli_sh(RUN " --config bad.json --device cpu --out run-x", cli_bin) != 0);
    CHECK(cli_has("\"precision\" must be"));
}

/* Every other device trains under bf16-mixed (OpenCL: its f32 GEMM on
 * bf16-rounded operands, said once). */
static void test_other_devices(void) {
    char devs[8][32];
    int nd = test_devices(devs, 8);
    for (int d = 0; d < nd; d++) {
        if (!strcmp(devs[d], "cpu")) continue;
        char out[64];
        snprintf(out, sizeof out, "run-%d", d);
        int rc = cli_sh(RUN " --device %s --out %s --precision bf16-mixed > /dev/null", cli_bin,
                        devs[d], out);
        printf("  %s: bf16-mixed run, exit %d\n", devs[d], rc);
        CHECK(rc == 0);
        CHECK(count("bf16-mixed on") <= 1);
        char cfg[96];
        snprintf(cfg, sizeof cfg, "%s/last/model.safetensors", out);
        CHECK(cli_all_finite(cfg));
    }
}

int main(void) {
    if (!cli_setup("mrg_test_cli_precision")) {
        fprintf(stderr, "MRG_BIN not set or no scratch directory; skipping\n");
        return TEST_SKIP;
    }
    CHECK(cli_make_data());
    if (mrg_test_failures) return test_finish("cli_precision");
    test_cpu();
    test_other_devices();
    if (mrg_test_failures == 0) mrg_rm_tree(cli_root);
    return test_finish("cli_precision");
}

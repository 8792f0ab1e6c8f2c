/* The `mrg` command's device handling: `mrg info` lists the backends, an
 * unknown device name or a machine without OpenCL gives a clear message and
 * exit code 2, and toy-train runs end to end on every device; bad options
 * exit 2 with a message. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "testutil.h"

int main(void) {
    const char *bin = getenv("MRG_BIN");
    if (!bin) {
        fprintf(stderr, "MRG_BIN not set; skipping\n");
        return 77;
    }
    static char out[1 << 16];
    char cmd[1024];

    snprintf(cmd, sizeof cmd, "%s info 2>&1", bin);
    CHECK(test_run_cmd(cmd, out, sizeof out) == 0);
    CHECK(strstr(out, "default device:") != NULL);
    CHECK(strstr(out, "OpenMP threads") != NULL);
    CHECK(strstr(out, "BLAS") != NULL);
#ifdef MRG_HAVE_OPENCL
    CHECK(strstr(out, "OpenCL") != NULL);
#endif
    /* OpenBLAS runs single-threaded inside mrg's own threads, even when the
     * environment asks for more (two thread pools on the same cores) */
    snprintf(cmd, sizeof cmd, "OPENBLAS_NUM_THREADS=2 OMP_NUM_THREADS=2 %s info --device cpu 2>&1",
             bin);
    CHECK(test_run_cmd(cmd, out, sizeof out) == 0);
    CHECK(strstr(out, "1 thread per call") != NULL);

    snprintf(cmd, sizeof cmd, "%s info --device no-such-device 2>&1", bin);
    CHECK(test_run_cmd(cmd, out, sizeof out) == 2);
    CHECK(strstr(out, "unknown device 'no-such-device'") != NULL);

    snprintf(cmd, sizeof cmd, "%s info --device opencl:999 2>&1", bin);
    CHECK(test_run_cmd(cmd, out, sizeof out) == 2);

    /* a machine without OpenCL: the ICD loader finds no vendor files */
    snprintf(cmd, sizeof cmd,
             "OCL_ICD_VENDORS=/nonexistent OCL_ICD_FILENAMES= %s info --device opencl 2>&1", bin);
    CHECK(test_run_cmd(cmd, out, sizeof out) == 2);
    CHECK(strstr(out, "OpenCL") != NULL || strstr(out, "opencl") != NULL);
    snprintf(cmd, sizeof cmd, "OCL_ICD_VENDORS=/nonexistent OCL_ICD_FILENAMES= %s info 2>&1", bin);
    CHECK(test_run_cmd(cmd, out, sizeof out) == 0);
    CHECK(strstr(out, "default device: cpu") != NULL);

    snprintf(cmd, sizeof cmd, "%s no-such-command 2>&1", bin);
    CHECK(test_run_cmd(cmd, out, sizeof out) == 2);

    /* pretrain-lm refuses an unknown hint kind or a missing config before
     * reading any data */
    snprintf(cmd, sizeof cmd, "%s pretrain-lm --data /nonexistent --out /nonexistent --slot-hints words 2>&1",
             bin);
    CHECK(test_run_cmd(cmd, out, sizeof out) == 2);
    CHECK(strstr(out, "--slot-hints must be one of findings, sentences, spans") != NULL);
    snprintf(cmd, sizeof cmd, "%s pretrain-lm --data /nonexistent --out /nonexistent --config /nonexistent.json 2>&1",
             bin);
    CHECK(test_run_cmd(cmd, out, sizeof out) == 2);
    CHECK(strstr(out, "/nonexistent.json") != NULL);

    /* the quick training example learns on every device */
    char devs[8][32];
    int nd = test_devices(devs, 8);
    for (int d = 0; d < nd; d++) {
        snprintf(cmd, sizeof cmd, "%s toy-train --device %s --steps 200 2>&1", bin, devs[d]);
        CHECK(test_run_cmd(cmd, out, sizeof out) == 0);
        const char *last = strstr(out, "step  200");
        CHECK(last != NULL);
        float loss = 99, acc = 0;
        if (last) sscanf(last, "step  200  loss %f  accuracy %f", &loss, &acc);
        fprintf(stderr, "toy-train on %s: loss %.4f accuracy %.1f%%\n", devs[d], loss, acc);
        CHECK(loss < 0.3f);
        CHECK(acc > 80.0f);
    }
    return test_finish("cli_devices");
}

/* mrg bench: a dispatcher over benchmark modes, one file each
 * (bench/bench_<mode>.c). argv[0] is "bench", argv[1] the mode. */
#include <stdio.h>
#include <string.h>

#include "bench.h"
#include "commands.h"

static const mrg_command modes[] = {
    {"gemm", "GFLOP/s of the backend GEMM (f32, bf16 B) next to raw OpenBLAS / CLBlast",
     bench_gemm},
    {"lm", "prefill and decode tokens/s and peak memory of a LLaMA model", bench_lm},
    {"step", "one training step + one generation of the report generator: time, memory", bench_step},
    {"vit", "forward + backward of a ViT (ViT-B/16 on 8 x 2 images by default)", bench_vit},
    {"bandwidth", "memory read bandwidth (the ceiling of batch-1 decoding)", bench_bandwidth},
};
static const int n_modes = (int)(sizeof modes / sizeof modes[0]);

static int usage(int code) {
    FILE *out = code ? stderr : stdout;
    fprintf(out, "usage: mrg bench <mode> [options]   (mrg bench <mode> --help for details)\n\n"
                 "modes:\n");
    for (int i = 0; i < n_modes; i++) fprintf(out, "  %-9s %s\n", modes[i].name, modes[i].summary);
    return code;
}

int cmd_bench(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "mrg bench: a mode is required (see mrg bench --help)\n");
        return 2;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) return usage(0);
    for (int i = 0; i < n_modes; i++)
        if (!strcmp(argv[1], modes[i].name)) return modes[i].run(argc - 1, argv + 1);
    fprintf(stderr, "mrg bench: unknown mode '%s' (see mrg bench --help)\n", argv[1]);
    return 2;
}

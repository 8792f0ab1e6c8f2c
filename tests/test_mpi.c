/* Data parallelism under mpirun (issue 12), on the micro preset, 2 ranks on
 * this host against one process with the same global batch:
 *   - training: 20 updates give the same losses to 1e-5 relative, on the
 *     CPU and on every other device (OpenCL through PoCL), and with
 *     gradient accumulation (CPU); validation gives the same scores;
 *   - `mpirun -np 1` is the process without MPI, bit for bit (log and
 *     checkpoint);
 *   - generation across 2 ranks writes the same preds.jsonl as 1 process;
 *   - a rank killed mid-run ends the job in bounded time, naming the rank,
 *     with RUN/last intact; the run resumes on 2 ranks bit for bit, and on 1
 *     process (another N, the same global batch) to 1e-5;
 *   - where network namespaces can be made (root, CAP_NET_ADMIN), 2 ranks
 *     in two namespaces joined by a veth pair, over TCP: the same losses.
 * Skipped when mrg was built without MPI or mpirun cannot start 2 ranks.
 * Open MPI as root needs --allow-run-as-root; --oversubscribe lets 2 ranks
 * share fewer cores; one OpenMP thread per rank. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clitest.h"
#include "core/files.h"
#include "testutil.h"

/* In the sanitizer build the ranks check everything but leaks: Open MPI
 * leaves allocations of its dlopen'ed components at MPI_Finalize, which
 * LeakSanitizer cannot attribute (nor suppress by library); the same code
 * is leak-checked in the runs without mpirun here and in the other tests. */
#define MPIRUN                                                                                     \
    "mpirun --allow-run-as-root --oversubscribe --bind-to none -x OMP_NUM_THREADS=1 "              \
    "-x ASAN_OPTIONS=\"$ASAN_OPTIONS:detect_leaks=0\""
#define NETNS "ASAN_OPTIONS=\"$ASAN_OPTIONS:detect_leaks=0\" timeout 300 %s/tools/mpi-netns.sh"
#define MAX_UPDATES 64

/* 16 training studies, batch 4: 4 updates an epoch, 5 epochs */
#define TRAIN "train --data ph --preset micro --lm lm --batch 4 --no-eval --save-every 1"

/* The losses of RUN/log.jsonl by update (NAN: none); the count of updates. */
static int read_losses(const char *run, double *loss) {
    for (int i = 0; i <= MAX_UPDATES; i++) loss[i] = NAN;
    char path[512], line[4096];
    snprintf(path, sizeof path, "%s/%s/log.jsonl", cli_root, run);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        int step;
        double l;
        const char *s = strstr(line, "\"step\":"), *lo = strstr(line, "\"loss\":");
        if (!strstr(line, "\"type\":\"train\"") || !s || !lo || sscanf(s, "\"step\":%d", &step) != 1 ||
            sscanf(lo, "\"loss\":%lf", &l) != 1 || step < 1 || step > MAX_UPDATES)
            continue;
        loss[step] = l;
        if (step > n) n = step;
    }
    fclose(f);
    return n;
}

/* Updates 1..n of a and b agree to rel (0: bit for bit, as printed). */
static bool same_losses(const char *a, const char *b, int n, double rel) {
    double la[MAX_UPDATES + 1], lb[MAX_UPDATES + 1];
    int na = read_losses(a, la), nb = read_losses(b, lb);
    double worst = 0;
    bool ok = na >= n && nb >= n;
    for (int i = 1; i <= n && ok; i++) {
        if (isnan(la[i]) || isnan(lb[i])) { ok = false; break; }
        double d = fabs(la[i] - lb[i]) / fmax(fabs(la[i]), 1e-30);
        if (d > worst) worst = d;
    }
    ok = ok && (rel == 0 ? worst == 0 : worst <= rel);
    printf("  %s vs %s: %d/%d updates, largest relative difference %.3g: %s\n", a, b, na, nb, worst,
           ok ? "same" : "DIFFERENT");
    return ok;
}

static void train_equivalence(const char *dev, int d) {
    /* plain and with 2 micro-batches an update: 20 updates each */
    static const struct { const char *opts; const char *name; } runs[] = {
        {"--epochs 5", "plain"},
        {"--epochs 10 --grad-accum 2", "accum"},
    };
    /* accumulation on the CPU only: an OpenCL run mostly builds kernels */
    for (int i = 0; i < (strcmp(dev, "cpu") ? 1 : 2); i++) {
        char one[64], two[64];
        snprintf(one, sizeof one, "%s-%d-1", runs[i].name, d);
        snprintf(two, sizeof two, "%s-%d-2", runs[i].name, d);
        CHECK(cli_sh("OMP_NUM_THREADS=1 %s " TRAIN " %s --device %s --out %s > /dev/null", cli_bin, runs[i].opts,
                     dev, one) == 0);
        /* "opencl" with 2 ranks: each takes the host's GPUs in turn (PoCL's
         * one CPU device is shared) */
        CHECK(cli_sh(MPIRUN " -np 2 %s " TRAIN " %s --device %s --out %s > /dev/null", cli_bin, runs[i].opts,
                     strcmp(dev, "cpu") ? "opencl" : "cpu", two) == 0);
        CHECK(same_losses(one, two, 20, 1e-5));
    }
}

int main(void) {
    if (!cli_setup("mrg_test_mpi")) {
        fprintf(stderr, "MRG_BIN not set or no scratch directory; skipping\n");
        return TEST_SKIP;
    }
    if (cli_sh("%s info", cli_bin) != 0 || !strstr(cli_out, "MPI: built in")) {
        fprintf(stderr, "mrg was built without MPI; skipping\n");
        mrg_rm_tree(cli_root);
        return TEST_SKIP;
    }
    if (cli_sh(MPIRUN " -np 2 %s info", cli_bin) != 0 || !strstr(cli_out, "a job of 2 ranks")) {
        fprintf(stderr, "mpirun cannot start 2 ranks here; skipping:\n%s\n", cli_out);
        mrg_rm_tree(cli_root);
        return TEST_SKIP;
    }
    CHECK(cli_has("rank 1 on"));
    CHECK(cli_make_data());
    CHECK(cli_sh("%s phantoms --out ph40 --n 40 --size 32 > /dev/null", cli_bin) == 0);

    /* mpirun -np 1 is the process without MPI, bit for bit */
    CHECK(cli_sh("OMP_NUM_THREADS=1 %s " TRAIN " --epochs 2 --device cpu --out solo > /dev/null", cli_bin) == 0);
    CHECK(cli_sh(MPIRUN " -np 1 %s " TRAIN " --epochs 2 --device cpu --out np1 > /dev/null", cli_bin) == 0);
    CHECK(same_losses("solo", "np1", 8, 0));
    CHECK(cli_hash("solo/last/model.safetensors") == cli_hash("np1/last/model.safetensors") &&
          cli_hash("solo/last/optimizer.safetensors") == cli_hash("np1/last/optimizer.safetensors"));

    /* 20 updates on 2 ranks = 1 process, on every device */
    char devs[8][32];
    int nd = test_devices(devs, 8);
    CHECK(nd > 0 && !strcmp(devs[0], "cpu")); /* plain-0-2 below is the CPU's */
    for (int d = 0; d < nd && !mrg_test_failures; d++)
        if (!d || !getenv("MRG_TEST_QUICK")) train_equivalence(devs[d], d);

    /* validation shared by the ranks (4 val studies in batches of 2: one
     * batch each) scores as one process does */
    const char *val = "train --data ph40 --preset micro --lm lm --batch 2 --max-steps 2 --device cpu";
    CHECK(cli_sh("OMP_NUM_THREADS=1 %s %s --out val1 > /dev/null", cli_bin, val) == 0);
    CHECK(cli_sh(MPIRUN " -np 2 %s %s --out val2 > /dev/null", cli_bin, val) == 0);
    CHECK(cli_sh("grep '\"type\":\"eval\"' val1/log.jsonl | sed 's/\"best\":[a-z]*//' > e1 && "
                 "grep '\"type\":\"eval\"' val2/log.jsonl | sed 's/\"best\":[a-z]*//' > e2 && "
                 "grep -q '\"n\":4' e1 && cmp e1 e2") == 0);

    /* generation: batches of 3 shared round-robin, the same file (ids in
     * order, reports as one process makes them) */
    const char *gen = "generate --model plain-0-1/last --data ph40 --split train --batch 3 --max-new 6";
    CHECK(cli_sh("OMP_NUM_THREADS=1 %s %s --sample --seed 3 --device cpu --out g1.jsonl", cli_bin, gen) == 0);
    CHECK(cli_sh(MPIRUN " -np 2 %s %s --sample --seed 3 --device cpu --out g2.jsonl", cli_bin, gen) == 0);
    CHECK(cli_has("32 reports from 2 ranks"));
    CHECK(cli_sh("test $(wc -l < g1.jsonl) = 32 && cmp g1.jsonl g2.jsonl") == 0);

    /* a rank killed after update 3: the job ends (mpirun names the rank),
     * RUN/last holds update 2 or 3, whole; the run resumes on 2 ranks as
     * the uninterrupted one (plain-0-2), bit for bit, and on 1 process */
    const char *t = TRAIN " --epochs 5 --device cpu --out kill";
    /* (Open MPI's -x reaches the first app context only: the second sets
     * OMP_NUM_THREADS itself, or rank 1 computes its gradients with every
     * core, whose sums round differently on some CPUs, AMD Zen 3 among them) */
    CHECK(cli_sh("timeout 120 " MPIRUN " -np 1 %s %s : -np 1 env OMP_NUM_THREADS=1 MRG_TRAIN_TEST_SIGNAL=9@step:3 %s %s "
                 "> /dev/null",
                 cli_bin, t, cli_bin, t) != 0);
    CHECK(cli_has("rank 1") && cli_has("signal 9"));
    int64_t at = cli_state_step("kill");
    printf("  rank 1 killed after update 3: RUN/last holds update %lld\n", (long long)at);
    CHECK(at == 2 || at == 3);
    CHECK(cli_all_finite("kill/last/model.safetensors"));
    CHECK(cli_sh("cp -r kill kill1") == 0);
    CHECK(cli_sh(MPIRUN " -np 2 %s " TRAIN " --epochs 5 --device cpu --out kill --resume > /dev/null", cli_bin) == 0);
    CHECK(same_losses("plain-0-2", "kill", 20, 0));
    CHECK(cli_hash("plain-0-2/last/model.safetensors") == cli_hash("kill/last/model.safetensors"));
    CHECK(cli_sh("OMP_NUM_THREADS=1 %s " TRAIN " --epochs 5 --device cpu --out kill1 --resume > /dev/null", cli_bin) ==
          0);
    CHECK(same_losses("plain-0-2", "kill1", 20, 1e-5));

    /* across a network interface: 2 ranks in two network namespaces joined
     * by a veth pair (tools/mpi-netns.sh), Open MPI over TCP on their
     * addresses only; skipped without root / CAP_NET_ADMIN */
    const char *src = getenv("MRG_SOURCE_DIR");
    if (src && cli_sh(NETNS " %s info", src, cli_bin) == 0 && cli_has("a job of 2 ranks")) {
        CHECK(cli_has("rank 1 on mrgB"));
        CHECK(cli_sh(NETNS " %s " TRAIN " --epochs 5 --device cpu --out net > /dev/null", src,
                     cli_bin) == 0);
        CHECK(same_losses("plain-0-1", "net", 20, 1e-5));
    } else {
        printf("  network namespaces not available here (tools/mpi-netns.sh needs root and CAP_NET_ADMIN): "
               "the veth run is skipped\n");
    }

    if (mrg_test_failures == 0) mrg_rm_tree(cli_root);
    return test_finish("mpi");
}

/* mrg bench bandwidth: the machine's memory read bandwidth, as a
 * stream-like reader measures it: every OpenMP thread sums its own static
 * share of one large buffer (64-bit integer adds, which the compiler
 * vectorises without reassociation concerns), best of --repeat passes.
 * This is the ceiling of batch-1 decoding, which reads every weight once
 * per token: tokens/s <= bandwidth / weight bytes per token. */
#include <cjson/cJSON.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"
#include "opts.h"
#include "mrg/clock.h"

static int usage(int code) {
    fprintf(code ? stderr : stdout,
            "usage: mrg bench bandwidth [--mb N] [--repeat R] [--json]\n\n"
            "Memory read bandwidth: all OpenMP threads (OMP_NUM_THREADS) sum a buffer of\n"
            "N MiB, each its own static share; the best of R passes after one warm-up pass\n"
            "is reported in GB/s (10^9 bytes per second).\n"
            "  --mb N       buffer size in MiB, 1..1048576 (default 1024; use several\n"
            "               times the last-level cache)\n"
            "  --repeat R   timed passes, 1..1000000 (default 5)\n"
            "  --json       one JSON object instead of text\n");
    return code;
}

/* Sum of x[0..n) over all threads. */
static uint64_t read_all(const uint64_t *x, int64_t n) {
    uint64_t s = 0;
#pragma omp parallel for simd reduction(+ : s) schedule(static)
    for (int64_t i = 0; i < n; i++) s += x[i];
    return s;
}

double bench_read_bandwidth(int mb, int repeat, double *seconds) {
    int64_t n = (int64_t)mb * 1048576 / (int64_t)sizeof(uint64_t);
    uint64_t *x = malloc(sizeof *x * (size_t)n);
    if (!x) return -1;
    /* first touch by the thread that later reads each part (the same static
     * schedule), so pages sit near their reader on NUMA machines */
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) x[i] = (uint64_t)i;
    uint64_t check = read_all(x, n); /* warm-up */
    double best = 1e30;
    for (int r = 0; r < repeat; r++) {
        double t0 = mrg_now_s();
        uint64_t s = read_all(x, n);
        double t = mrg_now_s() - t0;
        if (s != check) {
            free(x);
            return -2;
        }
        if (t < best) best = t;
    }
    free(x);
    if (seconds) *seconds = best;
    return (double)n * sizeof(uint64_t) / best * 1e-9;
}

int bench_bandwidth(int argc, char **argv) {
    int mb = 1024, repeat = 5;
    bool json = false;
    opt_spec specs[] = {
        OPT_INTEGER("--mb", &mb, 1, 1048576),
        OPT_INTEGER("--repeat", &repeat, 1, 1000000),
        OPT_SET("--json", &json),
    };
    int rc = opts_parse("bench bandwidth", argc, argv, specs, OPTS_COUNT(specs));
    if (rc) return rc == 1 ? usage(0) : rc;
    double best = 0, gbs = bench_read_bandwidth(mb, repeat, &best);
    if (gbs == -1) {
        fprintf(stderr, "mrg bench bandwidth: cannot allocate %d MiB\n", mb);
        return 1;
    }
    if (gbs < 0) {
        fprintf(stderr, "mrg bench bandwidth: the buffer's sum changed between passes\n");
        return 1;
    }
    double bytes = (double)mb * 1048576;
    int threads = omp_get_max_threads();
    if (!json) {
        printf("read %d MiB with %d thread%s: best of %d passes %.2f ms, %.2f GB/s\n", mb, threads,
               threads == 1 ? "" : "s", repeat, 1e3 * best, gbs);
        return 0;
    }
    cJSON *j = cJSON_CreateObject();
    bool ok = j && cJSON_AddNumberToObject(j, "threads", threads) &&
              cJSON_AddNumberToObject(j, "bytes", bytes) &&
              cJSON_AddNumberToObject(j, "repeat", repeat) &&
              cJSON_AddNumberToObject(j, "best_s", best) &&
              cJSON_AddNumberToObject(j, "read_gb_per_s", gbs);
    char *s = ok ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    if (!s) {
        fprintf(stderr, "mrg bench bandwidth: out of memory\n");
        return 1;
    }
    printf("%s\n", s);
    free(s);
    return 0;
}

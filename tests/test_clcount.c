/* The OpenCL call-counting shim (tools/clcount) and what `mrg bench lm`
 * reports with it, on the golden tiny LLaMAs under the first OpenCL device:
 *   - loaded with LD_PRELOAD, the shim's counters reach bench lm: a greedy
 *     decoded token takes at most 10 launches per layer (the embedding,
 *     final norm, head and token choice included), one upload that does
 *     not block (the token id, staged) and one blocking download: the
 *     chosen id with its score (12 bytes; the token is chosen on the
 *     device, mrg_select_topk), not the logits; a beam-3 step uploads its
 *     3 ids and 3 source rows and reads 6 candidates of each of its 3 rows;
 *   - at exit the shim writes its JSON summary (MRG_CLCOUNT_OUT): non-zero
 *     launches and peak buffer bytes, the fused decoding kernels by name;
 *   - without the shim bench lm reports no OpenCL counts;
 *   - a process that makes no OpenCL call (mrg --help; in real runs a
 *     wrapper such as /usr/bin/time or strace, or the linker a driver runs,
 *     all of which inherit LD_PRELOAD) writes nothing: an existing
 *     MRG_CLCOUNT_OUT file is left as it was, and no summary goes to stderr;
 *   - "%p" in MRG_CLCOUNT_OUT is the process id, which the JSON records;
 *   - two processes that both count, run at once with the same
 *     MRG_CLCOUNT_OUT: neither summary is lost (the second goes to
 *     PATH.PID, and stderr says so);
 *   - the peak buffer bytes are the same on every run (they once depended
 *     on how far the driver's queue had run when a buffer was released).
 * Skipped (77) without an OpenCL device or without the shim (MRG_OPENCL=OFF). */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

#ifdef MRG_CLCOUNT_LIB
static char out[1 << 16];

static double num(const cJSON *j, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static void test_model(const char *bin, const char *model, const char *dir) {
    char summary[600];
    snprintf(summary, sizeof summary, "%s/clcount.json", dir);
    int rc = test_run_cmdf(out, sizeof out,
                           /* a sanitizer build: the shim comes before ASan's runtime */
                           "ASAN_OPTIONS=\"$ASAN_OPTIONS:verify_asan_link_order=0\" "
                           "LD_PRELOAD=%s MRG_CLCOUNT_OUT=%s %s bench lm --device opencl "
                           "--model %s --prompt 4 --gen 6 --repeat 1 --beam 3 --json",
                           MRG_CLCOUNT_LIB, summary, bin, test_golden_path(model));
    cJSON *j = rc == 0 ? cJSON_Parse(out) : NULL;
    CHECK(j != NULL);
    if (!j) {
        fprintf(stderr, "%s: exit %d, printed %.500s\n", model, rc, out);
        return;
    }
    double per_layer = num(j, "cl_greedy_launches_per_layer_per_token");
    printf("%s: %.1f launches per token, %.2f per layer; beam-3 step %.1f\n", model,
           num(j, "cl_greedy_launches_per_token"), per_layer, num(j, "cl_beam_launches_per_token"));
    CHECK(per_layer > 0 && per_layer <= 10);
    CHECK(num(j, "cl_greedy_blocking_writes_per_token") == 0);
    CHECK(num(j, "cl_greedy_bytes_to_device_per_token") == 4);
    CHECK(num(j, "cl_greedy_blocking_reads_per_token") == 1);
    CHECK(num(j, "cl_greedy_bytes_to_host_per_token") == 12);
    CHECK(num(j, "cl_beam_bytes_to_device_per_token") == 3 * 4 + 3 * 4);
    CHECK(num(j, "cl_beam_blocking_reads_per_token") == 1);
    CHECK(num(j, "cl_beam_bytes_to_host_per_token") == 3 * 6 * 12);
    cJSON_Delete(j);
    size_t len = 0;
    char *text = test_read_file(summary, &len);
    cJSON *s = text ? cJSON_Parse(text) : NULL;
    CHECK(s != NULL);
    if (s) {
        CHECK(num(s, "launches") > 0 && num(s, "peak_live_bytes") > 0 && num(s, "reads") > 0);
        const cJSON *k = cJSON_GetObjectItemCaseSensitive(s, "kernels");
        CHECK(num(k, "gemv_fused") > 0 && num(k, "rope_store_kv") > 0 && num(k, "sdpa_decode") > 0 &&
              num(k, "select_topk") > 0);
    }
    cJSON_Delete(s);
    free(text);
    unlink(summary);
}

/* the JSON summary in path, or NULL */
static cJSON *read_summary(const char *path) {
    size_t len = 0;
    char *text = test_read_file(path, &len);
    cJSON *s = text ? cJSON_Parse(text) : NULL;
    free(text);
    return s;
}

/* The shim's environment, ahead of a command (a sanitizer build: the shim
 * comes before ASan's runtime). */
#define SHIM_ENV "ASAN_OPTIONS=\"$ASAN_OPTIONS:verify_asan_link_order=0\" LD_PRELOAD=%s "

static void test_silent_without_opencl(const char *bin, const char *dir) {
    char path[600];
    snprintf(path, sizeof path, "%s/existing.json", dir);
    const char *before = "{\"a summary\": \"from an earlier process\"}\n";
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f) return;
    fputs(before, f);
    fclose(f);
    int rc = test_run_cmdf(out, sizeof out, SHIM_ENV "MRG_CLCOUNT_OUT=%s %s --help >/dev/null",
                           MRG_CLCOUNT_LIB, path, bin);
    CHECK(rc == 0);
    size_t len = 0;
    char *after = test_read_file(path, &len);
    CHECK(after && strcmp(after, before) == 0);
    if (after && strcmp(after, before)) fprintf(stderr, "overwritten with: %.300s\n", after);
    free(after);
    unlink(path);
    /* no file named: still nothing on stderr */
    rc = test_run_cmdf(out, sizeof out, SHIM_ENV "%s --help 2>&1 >/dev/null", MRG_CLCOUNT_LIB,
                       bin);
    CHECK(rc == 0 && strstr(out, "mrg clcount") == NULL);
}

/* the peak buffer bytes of one short bench lm run under the shim, its
 * summary written to the MRG_CLCOUNT_OUT template DIR/pid-%p.json; the
 * summary's pid in *pid */
static double run_counted(const char *bin, const char *model, const char *dir, long *pid) {
    char tmpl[600], path[700];
    snprintf(tmpl, sizeof tmpl, "%s/pid-%%p.json", dir);
    int rc = test_run_cmdf(out, sizeof out,
                           SHIM_ENV "MRG_CLCOUNT_OUT=%s %s bench lm --device opencl --model %s "
                           "--prompt 4 --gen 2 --repeat 1 --beam 0 >/dev/null",
                           MRG_CLCOUNT_LIB, tmpl, bin, test_golden_path(model));
    CHECK(rc == 0);
    /* the one file the template made: pid-<its pid>.json, holding that pid */
    DIR *d = opendir(dir);
    double peak = NAN;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, "pid-", 4)) continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        cJSON *s = read_summary(path);
        CHECK(s != NULL);
        *pid = s ? (long)num(s, "pid") : -1;
        char want[64];
        snprintf(want, sizeof want, "pid-%ld.json", *pid);
        CHECK(strcmp(e->d_name, want) == 0);
        peak = s ? num(s, "peak_live_bytes") : NAN;
        cJSON_Delete(s);
        unlink(path);
    }
    if (d) closedir(d);
    return peak;
}

static void test_per_pid_and_deterministic(const char *bin, const char *dir) {
    long pid1 = -1, pid2 = -1;
    double a = run_counted(bin, "llama/hf_gqa_bf16", dir, &pid1);
    double b = run_counted(bin, "llama/hf_gqa_bf16", dir, &pid2);
    printf("per-pid summaries %ld and %ld: peak buffer bytes %.0f and %.0f\n", pid1, pid2, a, b);
    CHECK(pid1 > 0 && pid2 > 0 && pid1 != pid2);
    CHECK(a > 0 && a == b);
}

/* Two counting processes, one MRG_CLCOUNT_OUT: the one that ends second
 * finds the file written since it started and writes PATH.PID. Two
 * processes merely started together need not overlap on a loaded machine
 * (the second may start after the first wrote, and then rightly takes the
 * file as stale), so the overlap is made certain: the first runs to its
 * end, its summary is stamped an hour ahead (as if written while the
 * second ran), and then the second runs. */
static void test_no_clobber(const char *bin, const char *dir) {
    char path[600], other[700];
    snprintf(path, sizeof path, "%s/shared.json", dir);
    int rc = test_run_cmdf(out, sizeof out,
                           SHIM_ENV "MRG_CLCOUNT_OUT=%s %s bench lm --device opencl --model %s "
                                    "--prompt 4 --gen 2 --repeat 1 --beam 0 >/dev/null 2>&1",
                           MRG_CLCOUNT_LIB, path, bin, test_golden_path("llama/hf_mha_f32"));
    CHECK(rc == 0);
    struct timespec later[2];
    clock_gettime(CLOCK_REALTIME, &later[0]);
    later[0].tv_sec += 3600;
    later[1] = later[0];
    CHECK(utimensat(AT_FDCWD, path, later, 0) == 0);
    rc = test_run_cmdf(out, sizeof out,
                       SHIM_ENV "MRG_CLCOUNT_OUT=%s %s bench lm --device opencl --model %s "
                                "--prompt 4 --gen 2 --repeat 1 --beam 0 2>&1 >/dev/null",
                       MRG_CLCOUNT_LIB, path, bin, test_golden_path("llama/hf_gqa_bf16"));
    CHECK(rc == 0);
    CHECK(strstr(out, "was written by another process") != NULL);
    cJSON *s = read_summary(path);
    CHECK(s != NULL && num(s, "launches") > 0);
    long first = s ? (long)num(s, "pid") : -1;
    cJSON_Delete(s);
    unlink(path);
    /* the other summary: PATH.PID, a different pid */
    int found = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, "shared.json.", 12)) continue;
        snprintf(other, sizeof other, "%s/%s", dir, e->d_name);
        s = read_summary(other);
        long pid = s ? (long)num(s, "pid") : -1;
        CHECK(s != NULL && num(s, "launches") > 0 && pid != first && pid == atol(e->d_name + 12));
        cJSON_Delete(s);
        unlink(other);
        found++;
    }
    if (d) closedir(d);
    CHECK(found == 1);
    if (found != 1) fprintf(stderr, "no-clobber run printed: %.500s\n", out);
}
#endif

int main(void) {
#ifndef MRG_CLCOUNT_LIB
    printf("built without OpenCL: no shim to test\n");
    return 77;
#else
    char devs[8][32];
    int nd = test_devices(devs, 8), have_cl = 0;
    for (int d = 0; d < nd; d++) have_cl |= strncmp(devs[d], "opencl", 6) == 0;
    const char *bin = getenv("MRG_BIN");
    if (!have_cl || !bin) {
        printf("no OpenCL device (or MRG_BIN unset): skipped\n");
        return 77;
    }
    char dir[] = "/tmp/mrg_clcount_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    test_model(bin, "llama/hf_mha_f32", dir);
    test_model(bin, "llama/hf_gqa_bf16", dir);
    /* without the shim: no counts */
    int rc = test_run_cmdf(out, sizeof out,
                           "%s bench lm --device opencl --model %s --prompt 4 --gen 2 --repeat 1 "
                           "--beam 0 --json",
                           bin, test_golden_path("llama/hf_mha_f32"));
    CHECK(rc == 0 && strstr(out, "cl_greedy") == NULL);
    test_silent_without_opencl(bin, dir);
    test_per_pid_and_deterministic(bin, dir);
    test_no_clobber(bin, dir);
    rmdir(dir);
    return test_finish("clcount");
#endif
}

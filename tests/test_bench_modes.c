/* The machine-readable side of the `mrg bench` modes that bench/run.sh
 * reads (bench/side_by_side.py), and that suite's skipping:
 *   - bench gemm --json: one entry per size, every rate positive;
 *   - bench vit --json: the parameter count of the ViT it built equals
 *     timm's formula for the shape asked, best <= mean, on every device;
 *   - bench bandwidth --json: the buffer size asked, a positive rate;
 *   - bench lm --json on the golden LLaMAs: decode_read_bytes is every
 *     weight but the embedding table plus one row of it (tied: the table is
 *     also the head, so all of it); a beam phase, a bf16 KV cache of the
 *     expected size, the read bandwidth and the fraction decoding reaches;
 *   - usage errors of the new options;
 *   - bench/side_by_side.py --quick with a reference Python that does not
 *     exist and no llama2.c: exit 0, every row skipped with its reason, the
 *     CPU named in bench.json and bench.md (needs python3 on PATH).
 * Nothing here times anything: the rates are only checked to be numbers. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

static char out[1 << 16];

static double num(const cJSON *j, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static const char *str(const cJSON *j, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    return cJSON_IsString(v) ? v->valuestring : "";
}

/* Runs cmd; the JSON object it printed (NULL, with a CHECK failure, when
 * it failed or printed something else). */
static cJSON *run_json(const char *cmd) {
    int rc = test_run_cmd(cmd, out, sizeof out);
    cJSON *j = rc == 0 ? cJSON_Parse(out) : NULL;
    CHECK(j != NULL);
    if (!j) fprintf(stderr, "%s: exit %d, printed: %.500s\n", cmd, rc, out);
    return j;
}

static void test_gemm(const char *bin, const char *dev) {
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "%s bench gemm --device %s --sizes 8,24 --repeat 1 --json", bin, dev);
    cJSON *j = run_json(cmd);
    if (!j) return;
    const cJSON *sizes = cJSON_GetObjectItemCaseSensitive(j, "sizes");
    CHECK(cJSON_GetArraySize(sizes) == 2);
    CHECK(num(j, "threads") >= 1 && num(j, "repeat") == 1);
    int i = 0;
    const cJSON *s;
    cJSON_ArrayForEach(s, sizes) {
        CHECK(num(s, "n") == (i == 0 ? 8 : 24));
        CHECK(num(s, "mrg_f32_gflops") > 0 && num(s, "mrg_bf16_gflops") > 0 &&
              num(s, "raw_gflops") > 0 && num(s, "mrg_bf16_mixed_gflops") > 0);
        i++;
    }
    cJSON_Delete(j);
}

static void test_vit(const char *bin, const char *dev) {
    enum { S = 16, P = 8, D = 16, L = 2, H = 2, M = 40, N = (S / P) * (S / P) };
    char cmd[4200];
    snprintf(cmd, sizeof cmd,
             "%s bench vit --device %s --batch 2 --views 3 --image-size %d --patch %d --dim %d "
             "--depth %d --heads %d --mlp %d --repeat 2 --json",
             bin, dev, S, P, D, L, H, M);
    cJSON *j = run_json(cmd);
    if (!j) return;
    /* timm: patch conv + bias, cls, pos; per block two norms, qkv, proj,
     * fc1, fc2 with biases; the final norm */
    double block = 4 * D + (3 * D * D + 3 * D) + (D * D + D) + (M * D + M) + (D * M + D);
    double want = (D * 3 * P * P + D) + D + (N + 1) * D + L * block + 2 * D;
    CHECK(num(j, "parameters") == want);
    CHECK(num(j, "batch") == 2 && num(j, "views") == 3 && num(j, "mlp_hidden") == M);
    CHECK(num(j, "best_s") > 0 && num(j, "best_s") <= num(j, "mean_s"));
    CHECK(fabs(num(j, "images_per_s") * num(j, "best_s") - 6) < 1e-6);
    CHECK(num(j, "peak_rss_bytes") > 0);
    cJSON_Delete(j);
}

/* The golden LLaMA in dir (tests/golden/llama): decode_read_bytes. */
static void test_lm(const char *bin, const char *name, bool tied, int elem) {
    char cmd[4200];
    snprintf(cmd, sizeof cmd,
             "%s bench lm --device cpu --model %s --prompt 4 --gen 3 --repeat 1 --bw-mb 8 "
             "--kv-cache bf16 --json",
             bin,
             test_golden_path(name));
    cJSON *j = run_json(cmd);
    if (!j) return;
    double D = num(j, "dim"), V = num(j, "vocab_size"), w = num(j, "weight_bytes");
    double want = tied ? w + D * elem : w - V * D * elem + D * elem;
    CHECK(num(j, "decode_read_bytes") == want);
    CHECK(strcmp(str(j, "weight_dtype"), elem == 2 ? "bf16" : "f32") == 0);
    CHECK(num(j, "prompt_tokens") == 4 && num(j, "decode_tokens") == 3);
    CHECK(num(j, "prefill_tokens_per_s") > 0 && num(j, "decode_tokens_per_s") > 0);
    CHECK(num(j, "peak_rss_bytes") >= num(j, "rss_before_load_bytes"));
    /* the beam phase (3 rows by default), the bf16 cache, the roofline */
    CHECK(num(j, "beam") == 3 && num(j, "beam_steps_per_s") > 0 &&
          num(j, "beam_step_over_greedy") > 0);
    CHECK(strcmp(str(j, "kv_cache_dtype"), "bf16") == 0);
    double row = 2 * num(j, "n_kv_heads") * (D / num(j, "n_heads")) * 2; /* k + v, bf16 */
    CHECK(num(j, "kv_cache_bytes") == num(j, "n_layers") * row * 7);
    CHECK(num(j, "read_bandwidth_gb_per_s") > 0 && num(j, "decode_bandwidth_fraction") > 0);
    CHECK(cJSON_GetObjectItemCaseSensitive(j, "cl_greedy_launches_per_token") == NULL);
    cJSON_Delete(j);
}

static void test_usage(const char *bin) {
    static const char *const cases[][2] = {
        {"bench vit --image-size 20 --patch 8", "not a positive multiple of patch size"},
        {"bench vit --dim 10 --heads 3", "is not a multiple of 3 heads"},
        {"bench vit --batch 0", "--batch must be a whole number from 1 to 4096"},
        {"bench bandwidth --mb 0", "--mb must be a whole number from 1 to 1048576"},
        {"bench step --lm x --steps 0", "--steps must be a whole number from 1 to 1000000"},
        {"bench step --lm x --no-generate --beam 2", "--beam has no effect with --no-generate"},
    };
    char cmd[4200];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(cmd, sizeof cmd, "%s %s 2>&1", bin, cases[i][0]);
        int rc = test_run_cmd(cmd, out, sizeof out);
        CHECK(rc == 2 && strstr(out, cases[i][1]) != NULL);
        if (rc != 2 || !strstr(out, cases[i][1]))
            fprintf(stderr, "mrg %s: exit %d, printed %s\n", cases[i][0], rc, out);
    }
}

/* The suite with no reference: every row skipped, with its reason. */
static void test_suite_skips(const char *bin) {
    if (system("python3 -c 1 >/dev/null 2>&1") != 0) {
        fprintf(stderr, "no python3: bench/side_by_side.py not tested\n");
        return;
    }
    char tmp[] = "/tmp/mrg-bench-suite-XXXXXX", cmd[9000], path[4200];
    CHECK(mkdtemp(tmp) != NULL);
    snprintf(cmd, sizeof cmd,
             "env -u MRG_LLAMA2C python3 %s/../../bench/side_by_side.py --quick --out %s "
             "--mrg %s --python %s/no-such-python --models %s/models --threads 1 "
             "--rows gemm,vit,llama-1b,stories260k,step-tiny 2>&1",
             test_golden_path(""), tmp, bin, tmp, tmp);
    int rc = test_run_cmd(cmd, out, sizeof out);
    CHECK(rc == 0);
    if (rc) fprintf(stderr, "side_by_side.py: exit %d: %s\n", rc, out);
    snprintf(path, sizeof path, "%s/bench.json", tmp);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    static char text[1 << 16];
    size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
    if (f) fclose(f);
    text[n] = 0;
    cJSON *j = cJSON_Parse(text);
    CHECK(j != NULL);
    const cJSON *rows = cJSON_GetObjectItemCaseSensitive(j, "rows"), *r;
    CHECK(cJSON_GetArraySize(rows) == 5);
    CHECK(num(j, "threads") == 1);
    cJSON_ArrayForEach(r, rows) {
        const char *id = str(r, "id"), *note = str(r, "note");
        CHECK(strcmp(str(r, "status"), "skipped") == 0);
        if (!strcmp(id, "stories260k"))
            CHECK(strstr(note, "llama2.c") != NULL || strstr(note, "stories260K.bin") != NULL);
        else
            CHECK(strstr(note, "torch") != NULL && strstr(note, "no-such-python") != NULL);
    }
    const cJSON *machine = cJSON_GetObjectItemCaseSensitive(j, "machine");
    CHECK(num(machine, "logical_cpus") >= 1);
    CHECK(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(machine, "flags")));
    cJSON_Delete(j);
    snprintf(path, sizeof path, "%s/bench.md", tmp);
    f = fopen(path, "r");
    CHECK(f != NULL);
    n = f ? fread(text, 1, sizeof text - 1, f) : 0;
    if (f) fclose(f);
    text[n] = 0;
    CHECK(strstr(text, "- CPU: ") != NULL && strstr(text, "OpenBLAS core") != NULL);
    CHECK(strstr(text, "| gemm | — | — | — | skipped |") != NULL);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    CHECK(system(cmd) == 0);
}

int main(void) {
    const char *bin = getenv("MRG_BIN");
    if (!bin) {
        fprintf(stderr, "MRG_BIN not set; skipping\n");
        return TEST_SKIP;
    }
    char devs[8][32];
    int nd = test_devices(devs, 8);
    for (int d = 0; d < nd; d++) {
        test_gemm(bin, devs[d]);
        test_vit(bin, devs[d]);
    }
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "%s bench bandwidth --mb 1 --repeat 2 --json", bin);
    cJSON *j = run_json(cmd);
    if (j) {
        CHECK(num(j, "bytes") == 1048576 && num(j, "repeat") == 2);
        CHECK(num(j, "read_gb_per_s") > 0 && num(j, "threads") >= 1);
        cJSON_Delete(j);
    }
    test_lm(bin, "llama/hf_gqa_bf16", true, 2);
    test_lm(bin, "llama/hf_mha_f32", false, 4);
    test_usage(bin);
    test_suite_skips(bin);
    return test_finish("bench_modes");
}

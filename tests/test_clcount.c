/* The OpenCL call-counting shim (tools/clcount) and what `mrg bench lm`
 * reports with it, on the golden tiny LLaMAs under the first OpenCL device:
 *   - loaded with LD_PRELOAD, the shim's counters reach bench lm: a greedy
 *     decoded token takes at most 10 launches per layer (the embedding,
 *     final norm and head included), one upload that does not block (the
 *     token id, staged) and one blocking download (the logits); a beam-3
 *     step reads 3 rows of logits;
 *   - at exit the shim writes its JSON summary (MRG_CLCOUNT_OUT): non-zero
 *     launches and peak buffer bytes, the fused decoding kernels by name;
 *   - without the shim bench lm reports no OpenCL counts.
 * Skipped (77) without an OpenCL device or without the shim (MRG_OPENCL=OFF). */
#include <cjson/cJSON.h>
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
    CHECK(num(j, "cl_greedy_bytes_to_host_per_token") == 4 * num(j, "vocab_size"));
    CHECK(num(j, "cl_beam_bytes_to_host_per_token") == 3 * 4 * num(j, "vocab_size"));
    cJSON_Delete(j);
    size_t len = 0;
    char *text = test_read_file(summary, &len);
    cJSON *s = text ? cJSON_Parse(text) : NULL;
    CHECK(s != NULL);
    if (s) {
        CHECK(num(s, "launches") > 0 && num(s, "peak_live_bytes") > 0 && num(s, "reads") > 0);
        const cJSON *k = cJSON_GetObjectItemCaseSensitive(s, "kernels");
        CHECK(num(k, "gemv_fused") > 0 && num(k, "rope_store_kv") > 0 && num(k, "sdpa_decode") > 0);
    }
    cJSON_Delete(s);
    free(text);
    unlink(summary);
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
    rmdir(dir);
    return test_finish("clcount");
#endif
}

/* Fuzzes the three configuration readers with every input:
 *   - the report generator's config JSON (mrg_model_config_apply_json over
 *     a preset, then mrg_model_config_check); an accepted config must
 *     survive mrg_model_config_to_json and be read back identically;
 *   - a Hugging Face LLaMA config.json (mrg_llama_config_read_hf);
 *   - a ViT config.json, ours or timm's (mrg_vit_config_read), alone and
 *     against the weights of tests/golden/vit; an accepted one must survive
 *     mrg_vit_config_write and read back identically. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "mrg/llama.h"
#include "mrg/model.h"
#include "mrg/safetensors.h"
#include "mrg/vit.h"

static mrg_st_file *vit_weights;

static void close_weights(void) { mrg_st_close(vit_weights); }

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    vit_weights = mrg_st_open(fuzz_golden("vit/model.safetensors"));
    if (!vit_weights) {
        fprintf(stderr, "fuzz: %s\n", mrg_last_error());
        abort();
    }
    atexit(close_weights);
    return 0;
}

static void fail(const char *what) {
    fprintf(stderr, "fuzz: %s (last error: %s)\n", what, mrg_last_error());
    abort();
}

static void model_config(const char *text) {
    mrg_model_config c;
    if (mrg_model_preset("micro", &c) != MRG_OK) fail("preset micro");
    mrg_clear_error();
    mrg_status st = mrg_model_config_apply_json(&c, text);
    fuzz_expect_message(st, "mrg_model_config_apply_json");
    if (st != MRG_OK) return;
    mrg_clear_error();
    st = mrg_model_config_check(&c);
    fuzz_expect_message(st, "mrg_model_config_check");
    if (st != MRG_OK) return;
    char *json = mrg_model_config_to_json(&c);
    if (!json) fail("mrg_model_config_to_json");
    mrg_model_config back;
    if (mrg_model_preset("paper", &back) != MRG_OK) fail("preset paper");
    if (mrg_model_config_apply_json(&back, json) != MRG_OK)
        fail("an accepted model config does not read back from its own JSON");
    char *again = mrg_model_config_to_json(&back);
    if (!again || strcmp(json, again) || back.seed != c.seed)
        fail("a model config changes through its JSON");
    free(json);
    free(again);
}

static void hf_config(const char *path) {
    mrg_llama_config c;
    mrg_clear_error();
    mrg_status st = mrg_llama_config_read_hf(path, &c);
    fuzz_expect_message(st, "mrg_llama_config_read_hf");
    if (st == MRG_OK && mrg_llama_config_check(&c) != MRG_OK)
        fail("mrg_llama_config_read_hf accepted a config that mrg_llama_config_check refuses");
}

static bool same_vit(const mrg_vit_config *a, const mrg_vit_config *b) {
    return a->image_size == b->image_size && a->patch_size == b->patch_size &&
           a->in_chans == b->in_chans && a->dim == b->dim && a->depth == b->depth &&
           a->heads == b->heads && a->mlp_hidden == b->mlp_hidden &&
           a->num_classes == b->num_classes && !memcmp(a->mean, b->mean, sizeof a->mean) &&
           !memcmp(a->std, b->std, sizeof a->std);
}

static void vit_config(const char *path, const mrg_st_file *weights) {
    mrg_vit_config c;
    mrg_clear_error();
    mrg_status st = mrg_vit_config_read(path, weights, &c);
    fuzz_expect_message(st, "mrg_vit_config_read");
    if (st != MRG_OK) return;
    char out[1024];
    snprintf(out, sizeof out, "%s/vit_written.json", fuzz_tmpdir());
    if (mrg_vit_config_write(&c, out) != MRG_OK) fail("an accepted ViT config cannot be written");
    mrg_vit_config back;
    if (mrg_vit_config_read(out, NULL, &back) != MRG_OK)
        fail("a written ViT config does not read back");
    if (!same_vit(&c, &back)) fail("a ViT config changes through mrg_vit_config_write");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = fuzz_cstr(data, size);
    model_config(text);
    free(text);
    const char *path = fuzz_write("config.json", data, size);
    hf_config(path);
    vit_config(path, NULL);
    vit_config(path, vit_weights);
    return 0;
}

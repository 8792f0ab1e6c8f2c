/* A real pretrained model: llama2.c's stories260K (GQA, shared classifier)
 * with its 512-piece sentencepiece tokenizer from ../shared. Greedy decoding
 * from an empty prompt (BOS alone) must begin with the known story, on every
 * device, through the library and through `mrg lm` (MRG_BIN). Skipped (77)
 * when ../shared is absent. */
#include <string.h>

#include "mrg/llama.h"
#include "mrg/sampling.h"
#include "mrg/tokenizer.h"
#include "testutil.h"

#define MAX_DEV 8
#define N_NEW 60

static const char *EXPECT =
    "Once upon a time, there was a little girl named Lily. She loved to play outside in the park.";

/* Greedy ids through the library; returns the count (N_NEW) or -1. */
static int generate(mrg_device *dev, const char *model, const int32_t *prompt, int np,
                    int32_t *out) {
    mrg_llama *m = mrg_llama_load(model, dev, NULL);
    CHECK(m != NULL);
    if (!m) return -1;
    CHECK(m->cfg.dim == 64 && m->cfg.n_layers == 5 && m->cfg.n_heads == 8 &&
          m->cfg.n_kv_heads == 4 && m->cfg.vocab_size == 512 && m->cfg.tied_embeddings &&
          m->cfg.rope_layout == MRG_ROPE_INTERLEAVED);
    mrg_kv_cache *kv = mrg_kv_cache_new(m, 1, np + N_NEW);
    float logits[512];
    int n = kv ? 0 : -1;
    for (int i = 0; kv && i < N_NEW; i++) {
        mrg_tensor *in = i == 0 ? mrg_tensor_from_i32(dev, MRG_SHAPE(1, np), prompt)
                                : mrg_tensor_from_i32(dev, MRG_SHAPE(1, 1), &out[i - 1]);
        mrg_tensor *lg = mrg_llama_forward_ids(m, in, NULL, kv, true);
        if (!lg || mrg_tensor_to_f32(lg, logits) != MRG_OK) {
            fprintf(stderr, "  step %d: %s\n", i, mrg_last_error());
            n = -1;
            break;
        }
        mrg_step_reset(dev);
        out[n++] = mrg_argmax(logits, 512);
    }
    mrg_kv_cache_free(kv);
    mrg_llama_free(m);
    return n;
}

/* Runs cmd and returns its stdout (malloc'd) or NULL. */
static char *run(const char *cmd) {
    FILE *p = popen(cmd, "r");
    if (!p) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf && n + 1 < cap) {
        size_t k = fread(buf + n, 1, cap - 1 - n, p);
        if (k == 0) break;
        n += k;
    }
    int rc = pclose(p);
    if (!buf || rc != 0) {
        free(buf);
        return NULL;
    }
    buf[n] = 0;
    return buf;
}

int main(void) {
    const char *shared = test_shared_dir();
    if (!shared) {
        printf("test_llama_stories: skipped (../shared is absent)\n");
        return 77;
    }
    char model[4096], tokp[4096];
    snprintf(model, sizeof model, "%s/models/stories260K/stories260K.bin", shared);
    snprintf(tokp, sizeof tokp, "%s/models/stories260K/tok512.model", shared);
    mrg_tokenizer *tok = mrg_tokenizer_load(tokp);
    CHECK(tok != NULL);
    if (!tok) return test_finish("test_llama_stories");
    int32_t *prompt = NULL;
    int np = 0;
    CHECK_OK(mrg_tokenizer_encode(tok, "", true, &prompt, &np));
    CHECK(np == 1 && prompt && prompt[0] == 1);
    const char *bin = getenv("MRG_BIN");
    char names[MAX_DEV][32];
    int nd = test_devices(names, MAX_DEV);
    for (int d = 0; d < nd && np == 1; d++) {
        mrg_device *dev = test_device_open(names[d]);
        if (!dev) continue;
        int32_t ids[N_NEW];
        int n = generate(dev, model, prompt, np, ids);
        CHECK(n == N_NEW);
        char *text = n == N_NEW ? mrg_tokenizer_decode(tok, ids, n) : NULL;
        CHECK(text != NULL);
        if (text) {
            bool good = strncmp(text, EXPECT, strlen(EXPECT)) == 0;
            if (!good) fprintf(stderr, "  %s: library output: %s\n", names[d], text);
            CHECK(good);
            fprintf(stderr, "%s: %s\n", names[d], text);
        }
        free(text);
        mrg_device_free(dev);
        if (!bin || !*bin) continue;
        /* the command: text, and the same ids with --print-ids */
        char cmd[12288];
        snprintf(cmd, sizeof cmd,
                 "'%s' lm --model '%s' --tokenizer '%s' --prompt \"\" -n %d --greedy --device %s",
                 bin, model, tokp, N_NEW, names[d]);
        char *out = run(cmd);
        CHECK(out != NULL);
        if (out) {
            bool good = strncmp(out, EXPECT, strlen(EXPECT)) == 0;
            if (!good) fprintf(stderr, "  %s: mrg lm printed: %s\n", names[d], out);
            CHECK(good);
        }
        free(out);
        snprintf(cmd, sizeof cmd,
                 "'%s' lm --model '%s' --prompt-ids 1 -n %d --greedy --print-ids --ignore-eos "
                 "--device %s",
                 bin, model, N_NEW, names[d]);
        out = run(cmd);
        CHECK(out != NULL);
        if (out && n == N_NEW) {
            char want[1024];
            size_t k = 0;
            for (int i = 0; i < N_NEW; i++)
                k += (size_t)snprintf(want + k, sizeof want - k, i ? " %d" : "%d", ids[i]);
            snprintf(want + k, sizeof want - k, "\n");
            bool good = strcmp(out, want) == 0;
            if (!good) fprintf(stderr, "  %s: --print-ids gave %s  want %s", names[d], out, want);
            CHECK(good);
        }
        free(out);
    }
    free(prompt);
    mrg_tokenizer_free(tok);
    return test_finish("test_llama_stories");
}

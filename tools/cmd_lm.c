/* mrg lm: text generation with a LLaMA model (a Hugging Face directory or a
 * llama2.c .bin checkpoint). The prompt is encoded with BOS and prefilled
 * into the KV cache in one batched forward; then one token at a time is
 * chosen (greedy, or temperature + top-p from a seeded RNG) and streamed to
 * stdout as it is generated. Timing goes to stderr. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "commands.h"
#include "mrg/llama.h"
#include "mrg/mrg.h"
#include "mrg/sampling.h"
#include "mrg/tokenizer.h"

static int usage(int code) {
    fprintf(code ? stderr : stdout,
            "usage: mrg lm --model PATH [--tokenizer FILE] (--prompt TEXT | --prompt-ids 1,2,3)\n"
            "              [-n N] [--greedy | --temperature T --top-p P --seed S]\n"
            "              [--ignore-eos] [--print-ids] [--dtype f32|bf16|f16] [--device D]\n\n"
            "Generates text with a LLaMA model. PATH is a Hugging Face directory (config.json +\n"
            "safetensors) or a llama2.c .bin checkpoint.\n\n"
            "  --tokenizer FILE   sentencepiece .model; needed for --prompt and for text output\n"
            "  --prompt TEXT      encoded with BOS (\"\" gives BOS alone)\n"
            "  --prompt-ids LIST  token ids used as given (comma or space separated)\n"
            "  -n N               new tokens to generate (default 128); the total is capped\n"
            "                     at the model's maximum sequence length\n"
            "  --greedy           always the most likely token (same as --temperature 0)\n"
            "  --temperature T    sampling temperature (default 1.0)\n"
            "  --top-p P          nucleus sampling mass in (0, 1] (default 0.9)\n"
            "  --seed S           random seed (default: from the clock, printed on stderr)\n"
            "  --ignore-eos       keep generating after the end-of-sequence token\n"
            "  --print-ids        print only the new ids, space separated, on one line\n"
            "  --dtype D          convert the weights on load (default: as stored)\n"
            "  --device D         cpu, opencl, opencl:N (default: see mrg --help)\n\n"
            "The prompt and the continuation are printed as they are generated; tokens/s is\n"
            "reported on stderr.\n");
    return code;
}

/* "1,2,3" or "1 2 3" → ids (malloc'd); -1 count on a bad list. */
static int parse_ids(const char *s, int32_t **out) {
    int cap = 16, n = 0;
    int32_t *ids = malloc(sizeof *ids * (size_t)cap);
    if (!ids) return -1;
    const char *p = s;
    while (*p) {
        while (*p == ',' || *p == ' ' || *p == '\t') p++;
        if (!*p) break;
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v < 0 || v > INT32_MAX) {
            free(ids);
            return -1;
        }
        if (n == cap) {
            int32_t *t = realloc(ids, sizeof *ids * (size_t)(cap *= 2));
            if (!t) {
                free(ids);
                return -1;
            }
            ids = t;
        }
        ids[n++] = (int32_t)v;
        p = end;
    }
    *out = ids;
    return n;
}

static int parse_dtype(const char *s) {
    if (!strcmp(s, "f32")) return MRG_F32;
    if (!strcmp(s, "bf16")) return MRG_BF16;
    if (!strcmp(s, "f16")) return MRG_F16;
    return -2;
}

/* Streams text: the first text printed loses its leading space, as
 * sentencepiece's decoder does. */
typedef struct text_out {
    bool started;
} text_out;

static void emit_text(text_out *o, const char *s) {
    if (!o->started) {
        if (*s == ' ') s++;
        if (!*s) return;
        o->started = true;
    }
    fputs(s, stdout);
    fflush(stdout);
}

int cmd_lm(int argc, char **argv) {
    const char *model_path = NULL, *tok_path = NULL, *prompt = NULL, *prompt_ids = NULL;
    const char *device = NULL;
    int n_new = 128, dtype = -1;
    float temperature = 1.0f, top_p = 0.9f;
    bool greedy = false, ignore_eos = false, print_ids = false, have_seed = false;
    unsigned long long seed = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) return usage(0);
        if (!strcmp(a, "--greedy")) {
            greedy = true;
            continue;
        }
        if (!strcmp(a, "--ignore-eos")) {
            ignore_eos = true;
            continue;
        }
        if (!strcmp(a, "--print-ids")) {
            print_ids = true;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "mrg lm: %s needs a value\n", a);
            return usage(2);
        }
        const char *v = argv[++i];
        char *end = NULL;
        if (!strcmp(a, "--model")) model_path = v;
        else if (!strcmp(a, "--tokenizer")) tok_path = v;
        else if (!strcmp(a, "--prompt")) prompt = v;
        else if (!strcmp(a, "--prompt-ids")) prompt_ids = v;
        else if (!strcmp(a, "--device")) device = v;
        else if (!strcmp(a, "-n")) n_new = (int)strtol(v, &end, 10);
        else if (!strcmp(a, "--temperature")) temperature = strtof(v, &end);
        else if (!strcmp(a, "--top-p")) top_p = strtof(v, &end);
        else if (!strcmp(a, "--seed")) {
            seed = strtoull(v, &end, 10);
            have_seed = true;
        } else if (!strcmp(a, "--dtype")) {
            if ((dtype = parse_dtype(v)) < -1) {
                fprintf(stderr, "mrg lm: --dtype must be f32, bf16 or f16\n");
                return 2;
            }
        } else {
            fprintf(stderr, "mrg lm: unknown option %s\n", a);
            return usage(2);
        }
        if (end && *end) {
            fprintf(stderr, "mrg lm: %s: not a number: %s\n", a, v);
            return 2;
        }
    }
    if (!model_path || (!prompt == !prompt_ids)) {
        fprintf(stderr,
                "mrg lm: --model and exactly one of --prompt / --prompt-ids are required\n");
        return usage(2);
    }
    if (prompt && !tok_path) {
        fprintf(stderr, "mrg lm: --prompt needs --tokenizer\n");
        return 2;
    }
    if (!print_ids && !tok_path) {
        fprintf(stderr, "mrg lm: text output needs --tokenizer (or use --print-ids)\n");
        return 2;
    }
    if (n_new < 0 || !(temperature >= 0) || !(top_p > 0 && top_p <= 1)) {
        fprintf(stderr, "mrg lm: need -n >= 0, --temperature >= 0 and --top-p in (0, 1]\n");
        return 2;
    }
    if (greedy) temperature = 0;
    if (!have_seed) seed = (unsigned long long)time(NULL);

    int rc = 1;
    int32_t *ids = NULL;
    int n_prompt = 0;
    mrg_tokenizer *tok = NULL;
    mrg_llama *m = NULL;
    mrg_kv_cache *kv = NULL;
    mrg_sampler *sampler = NULL;
    float *logits = NULL;
    mrg_device *dev = mrg_device_open(device);
    if (!dev) {
        fprintf(stderr, "mrg lm: %s\n", mrg_last_error());
        return 2;
    }
    mrg_grad_set_enabled(dev, false);
    if (tok_path && !(tok = mrg_tokenizer_load(tok_path))) goto fail;
    if (prompt) {
        if (mrg_tokenizer_encode(tok, prompt, true, &ids, &n_prompt) != MRG_OK) goto fail;
    } else if ((n_prompt = parse_ids(prompt_ids, &ids)) < 0) {
        fprintf(stderr, "mrg lm: --prompt-ids: expected non-negative integers, got \"%s\"\n",
                prompt_ids);
        rc = 2;
        goto out;
    }
    if (n_prompt == 0) {
        fprintf(stderr, "mrg lm: the prompt is empty (give at least one id)\n");
        rc = 2;
        goto out;
    }
    mrg_llama_load_opts lo = {.weight_dtype = dtype};
    if (!(m = mrg_llama_load(model_path, dev, &lo))) goto fail;
    const mrg_llama_config *c = &m->cfg;
    for (int i = 0; i < n_prompt; i++)
        if (ids[i] < 0 || ids[i] >= c->vocab_size) {
            fprintf(stderr, "mrg lm: prompt id %d is outside the vocabulary (%d)\n", ids[i],
                    c->vocab_size);
            rc = 2;
            goto out;
        }
    if (tok && mrg_tokenizer_vocab_size(tok) != c->vocab_size)
        fprintf(stderr, "mrg lm: warning: the tokenizer has %d pieces, the model %d\n",
                mrg_tokenizer_vocab_size(tok), c->vocab_size);
    if (n_prompt >= c->max_seq) {
        fprintf(stderr, "mrg lm: the prompt (%d tokens) fills the model's %d positions\n", n_prompt,
                c->max_seq);
        rc = 2;
        goto out;
    }
    if (n_prompt + n_new > c->max_seq) {
        fprintf(stderr, "mrg lm: generating %d tokens instead of %d (max sequence %d)\n",
                c->max_seq - n_prompt, n_new, c->max_seq);
        n_new = c->max_seq - n_prompt;
    }
    if (temperature > 0) fprintf(stderr, "mrg lm: seed %llu\n", seed);
    kv = mrg_kv_cache_new(m, 1, n_prompt + n_new);
    sampler = mrg_sampler_new(c->vocab_size, temperature, top_p, seed);
    logits = malloc(sizeof(float) * (size_t)c->vocab_size);
    if (!kv || !sampler || !logits) goto fail;

    text_out out = {false};
    if (!print_ids) {
        char *text = mrg_tokenizer_decode(tok, ids, n_prompt);
        if (!text) goto fail;
        emit_text(&out, text);
        free(text);
    }
    double t0 = mrg_now_s(), t_prefill = 0;
    int generated = 0;
    int32_t next = 0;
    for (int i = 0; i < n_new; i++) {
        /* the prompt in one forward, then the previous token */
        mrg_tensor *in = i == 0 ? mrg_tensor_from_i32(dev, MRG_SHAPE(1, n_prompt), ids)
                                : mrg_tensor_from_i32(dev, MRG_SHAPE(1, 1), &next);
        mrg_tensor *lg = mrg_llama_forward_ids(m, in, NULL, kv, true); /* (1, V) */
        if (!lg || mrg_tensor_to_f32(lg, logits) != MRG_OK) goto fail;
        mrg_step_reset(dev);
        if (i == 0) t_prefill = mrg_now_s() - t0;
        next = mrg_sampler_sample(sampler, logits);
        if (next < 0) goto fail;
        generated++;
        if (print_ids) {
            printf(i ? " %d" : "%d", next);
            fflush(stdout);
        } else {
            char piece[256];
            mrg_tokenizer_token_text(tok, next, piece, sizeof piece);
            emit_text(&out, piece);
        }
        if (next == c->eos_id && !ignore_eos) break;
    }
    double total = mrg_now_s() - t0;
    printf("\n");
    fflush(stdout);
    double decode = total - t_prefill;
    fprintf(
        stderr, "mrg lm: prompt %d tokens in %.1f ms (%.1f tok/s); generated %d tokens in %.3f s",
        n_prompt, 1e3 * t_prefill, t_prefill > 0 ? n_prompt / t_prefill : 0.0, generated, total);
    if (generated > 1 && decode > 0)
        fprintf(stderr, " (%.1f tok/s after the first)", (generated - 1) / decode);
    fprintf(stderr, " on %s\n", mrg_device_name(dev));
    rc = 0;
    goto out;
fail:
    fprintf(stderr, "mrg lm: %s\n", mrg_last_error());
    rc = 1;
out:
    free(logits);
    mrg_sampler_free(sampler);
    mrg_kv_cache_free(kv);
    mrg_llama_free(m);
    mrg_tokenizer_free(tok);
    free(ids);
    mrg_device_free(dev);
    return rc;
}

/* mrg lm: text generation with a LLaMA model (a Hugging Face directory or a
 * llama2.c .bin checkpoint). The prompt is encoded with BOS and prefilled
 * into the KV cache in one batched forward; then one token at a time is
 * chosen (greedy, or temperature + top-p from a seeded RNG) and streamed to
 * stdout as it is generated. Greedy tokens are chosen on the device where
 * generation chooses there (OpenCL: only the id is read back). Timing goes
 * to stderr. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "lm_perplexity.h"
#include "opts.h"
#include "mrg/clock.h"
#include "mrg/generate.h"
#include "mrg/llama.h"
#include "mrg/mrg.h"
#include "mrg/sampling.h"
#include "mrg/tokenizer.h"

static int usage(int code) {
    fprintf(code ? stderr : stdout,
            "usage: mrg lm --model PATH [--tokenizer FILE] (--prompt TEXT | --prompt-ids 1,2,3)\n"
            "              [-n N] [--greedy | --temperature T --top-p P --seed S]\n"
            "              [--ignore-eos] [--print-ids] [--dtype f32|bf16|f16]\n"
            "              [--kv-cache f32|bf16|f16] [--device D]\n"
            "       mrg lm --model PATH --tokenizer FILE --perplexity FILE [--json]\n"
            "              [--prompt TEXT | --prompt-ids 1,2,3] [--dtype D] [--device D]\n\n"
            "Generates text with a LLaMA model, or scores text with --perplexity. PATH is a\n"
            "Hugging Face directory (config.json + safetensors) or a llama2.c .bin checkpoint.\n\n"
            "  --tokenizer FILE   sentencepiece .model; needed for --prompt and for text output\n"
            "  --prompt TEXT      encoded with BOS (\"\" gives BOS alone)\n"
            "  --prompt-ids LIST  token ids used as given (comma or space separated)\n"
            "  -n N               new tokens to generate, 0..1000000 (default 128); the total\n"
            "                     is capped at the model's maximum sequence length (with a\n"
            "                     note)\n"
            "  --greedy           always the most likely token (same as --temperature 0;\n"
            "                     excludes --temperature, --top-p and --seed)\n"
            "  --temperature T    sampling temperature, >= 0 (default 1.0)\n"
            "  --top-p P          nucleus sampling mass, 0 < P <= 1 (default 0.9)\n"
            "  --seed S           random seed (default: from the clock, printed on stderr)\n"
            "  --ignore-eos       keep generating after the end-of-sequence token\n"
            "  --print-ids        print only the new ids, space separated, on one line\n"
            "  --dtype D          convert the weights on load (default: as stored)\n"
            "  --kv-cache D       KV cache storage (default f32; bf16/f16 halve its memory\n"
            "                     and decode reads, rounding keys and values)\n"
            "  --device D         cpu, opencl, opencl:N (default: see mrg --help)\n"
            "  --perplexity FILE  print the per-token perplexity of the lines of FILE ('-':\n"
            "                     standard input) instead of generating\n"
            "  --json             with --perplexity: one JSON object (perplexity,\n"
            "                     nll_per_token, tokens, lines, empty_lines, context_tokens)\n\n"
            "The prompt and the continuation are printed as they are generated; tokens/s is\n"
            "reported on stderr.\n\n"
            "Perplexity: each non-empty line is one text, scored as BOS (or BOS + --prompt,\n"
            "or the --prompt-ids as given), then the line's tokens, then EOS. The line's\n"
            "tokens and EOS are predicted and counted, the BOS and prompt are given and not\n"
            "counted; perplexity = exp(total negative log-likelihood / tokens counted) over\n"
            "the whole file, in natural log. Empty lines are skipped (their count goes to\n"
            "stderr). A line that does not fit the model's positions (prompt + line tokens\n"
            "at most the maximum sequence length; the final EOS is predicted, not fed) is\n"
            "refused with its line number and exit code 2: texts are never cut. The text\n"
            "is scored as given (clean it first for a cleaned-report model).\n");
    return code;
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
    const char *device = NULL, *ppl_file = NULL;
    bool json = false;
    int n_new = 128, dtype_index = -1, kv_index = -1;
    float temperature = 1.0f, top_p = 0.9f;
    bool greedy = false, ignore_eos = false, print_ids = false;
    uint64_t seed = 0;
    opt_spec specs[] = {
        OPT_STRING("--model", &model_path),
        OPT_STRING("--tokenizer", &tok_path),
        OPT_STRING("--prompt", &prompt),
        OPT_STRING("--prompt-ids", &prompt_ids),
        OPT_STRING("--device", &device),
        OPT_INTEGER("-n", &n_new, 0, 1000000),
        OPT_SET("--greedy", &greedy),
        OPT_REAL("--temperature", &temperature, 0, INFINITY),
        OPT_POSITIVE("--top-p", &top_p, 1),
        OPT_SEED("--seed", &seed),
        OPT_SET("--ignore-eos", &ignore_eos),
        OPT_SET("--print-ids", &print_ids),
        OPT_ONE_OF("--dtype", &dtype_index, opts_float_dtype_names()),
        OPT_ONE_OF("--kv-cache", &kv_index, opts_float_dtype_names()),
        OPT_STRING("--perplexity", &ppl_file),
        OPT_SET("--json", &json),
    };
    const int n = OPTS_COUNT(specs);
    int rc = opts_parse("lm", argc, argv, specs, n);
    if (rc) return rc == 1 ? usage(0) : rc;
    if ((rc = opts_require("lm", specs, n, "--model", NULL)) ||
        (rc = opts_exclusive("lm", specs, n, "--prompt", "--prompt-ids")) ||
        (rc = opts_exclusive("lm", specs, n, "--greedy", "--temperature")) ||
        (rc = opts_exclusive("lm", specs, n, "--greedy", "--top-p")) ||
        (rc = opts_exclusive("lm", specs, n, "--greedy", "--seed")))
        return rc;
    if (ppl_file) {
        static const char *const generation_only[] = {"-n", "--greedy", "--temperature", "--top-p",
                                                      "--seed", "--ignore-eos", "--print-ids", "--kv-cache"};
        for (size_t i = 0; i < sizeof generation_only / sizeof *generation_only; i++)
            if ((rc = opts_exclusive("lm", specs, n, "--perplexity", generation_only[i]))) return rc;
        if (!tok_path) return opts_fail("lm", "--perplexity needs --tokenizer");
    } else if (json) {
        return opts_fail("lm", "--json applies to --perplexity only");
    }
    if (!ppl_file && !prompt && !prompt_ids) return opts_fail("lm", "--prompt or --prompt-ids is required (see mrg lm --help)");
    if (prompt && !tok_path) return opts_fail("lm", "--prompt needs --tokenizer");
    if (!print_ids && !tok_path) return opts_fail("lm", "text output needs --tokenizer (or use --print-ids)");
    const int dtype = dtype_index < 0 ? -1 : (int)opts_float_dtype[dtype_index];
    const bool have_seed = opts_given(specs, n, "--seed") > 0;
    if (greedy) temperature = 0;
    if (!have_seed) seed = (uint64_t)time(NULL);
    int32_t *ids = NULL;
    int n_prompt = 0;
    if (prompt_ids) {
        int64_t *list = NULL;
        n_prompt = opts_int_list(prompt_ids, 0, INT32_MAX, &list);
        if (n_prompt < 0)
            return opts_fail("lm", "--prompt-ids must be token ids (0..%d) separated by commas or spaces, not '%s'",
                             INT32_MAX, prompt_ids);
        if (n_prompt == 0) return opts_fail("lm", "--prompt-ids is empty (give at least one id)");
        ids = malloc(sizeof *ids * (size_t)n_prompt);
        for (int i = 0; ids && i < n_prompt; i++) ids[i] = (int32_t)list[i];
        free(list);
        if (!ids) {
            fprintf(stderr, "mrg lm: out of host memory\n");
            return 1;
        }
    }

    rc = 1;
    mrg_tokenizer *tok = NULL;
    mrg_llama *m = NULL;
    mrg_kv_cache *kv = NULL;
    mrg_sampler *sampler = NULL;
    float *logits = NULL;
    mrg_device *dev = opts_device("lm", device);
    if (!dev) {
        free(ids);
        return 2;
    }
    mrg_grad_set_enabled(dev, false);
    if (tok_path && !(tok = mrg_tokenizer_load(tok_path))) goto fail;
    if (prompt) {
        if (mrg_tokenizer_encode(tok, prompt, true, &ids, &n_prompt) != MRG_OK) goto fail;
    }
    if (ppl_file && !prompt && !prompt_ids) { /* BOS alone */
        if (mrg_tokenizer_encode(tok, "", true, &ids, &n_prompt) != MRG_OK) goto fail;
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
    if (ppl_file) {
        rc = lm_perplexity(ppl_file, m, tok, ids, n_prompt, json);
        goto out;
    }
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
    if (temperature > 0) fprintf(stderr, "mrg lm: seed %llu\n", (unsigned long long)seed);
    kv = mrg_kv_cache_new_dtype(m, 1, n_prompt + n_new,
                                kv_index < 0 ? MRG_F32 : opts_float_dtype[kv_index]);
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
    /* greedy decoding picks the argmax where the logits are (as
     * mrg_generate does, mrg_gen_select_on_device) */
    const bool on_device = temperature == 0 && mrg_gen_select_on_device(dev);
    double t0 = mrg_now_s(), t_prefill = 0;
    int generated = 0;
    int32_t next = 0;
    for (int i = 0; i < n_new; i++) {
        /* the prompt in one forward, then the previous token */
        mrg_tensor *in = i == 0 ? mrg_tensor_from_i32(dev, MRG_SHAPE(1, n_prompt), ids)
                                : mrg_tensor_from_i32(dev, MRG_SHAPE(1, 1), &next);
        mrg_tensor *lg = mrg_llama_forward_ids(m, in, NULL, kv, true); /* (1, V) */
        if (!lg) goto fail;
        if (on_device) {
            /* greedy on the device: only the id comes back */
            mrg_tensor *best = mrg_select_topk(lg, NULL, 0, NULL, NULL, NULL, 1, false, 1.0f, -1);
            int32_t packed[3];
            double score;
            if (!best || mrg_tensor_download(best, packed) != MRG_OK) goto fail;
            mrg_select_unpack(packed, 1, &next, &score);
            if (next < 0 || !isfinite(score)) { /* as the sampler refuses such logits */
                mrg_error(MRG_ERR_INVALID_ARG, "sampler: the logits hold no finite value");
                goto fail;
            }
        } else if (mrg_tensor_to_f32(lg, logits) != MRG_OK) {
            goto fail;
        }
        mrg_step_reset(dev);
        if (i == 0) t_prefill = mrg_now_s() - t0;
        if (!on_device) next = mrg_sampler_sample(sampler, logits);
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

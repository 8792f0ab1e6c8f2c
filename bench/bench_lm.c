/* mrg bench lm: speed and memory of a LLaMA model on one device.
 * Prefill: one batched forward over a prompt of random ids (last-position
 * logits only, as generation does). Decode: greedy tokens one at a time
 * through the KV cache, each step reading its logits back to the host.
 * Each phase runs once for warm-up (kernel builds, arena growth) and is then
 * timed over --repeat runs; the best run is reported. Peak resident memory
 * is the process's VmHWM from /proc/self/status. */
#include <cjson/cJSON.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "opts.h"
#include "mrg/clock.h"
#include "mrg/llama.h"
#include "mrg/mrg.h"
#include "mrg/sampling.h"

static int usage(int code) {
    fprintf(code ? stderr : stdout,
            "usage: mrg bench lm --model PATH [--prompt N] [--gen N] [--repeat R]\n"
            "                    [--dtype f32|bf16|f16] [--device D] [--json]\n\n"
            "Measures prefill and decode tokens/s of a LLaMA model (Hugging Face directory\n"
            "or llama2.c .bin) and the peak resident memory of the process.\n"
            "  --model PATH the model (required)\n"
            "  --prompt N   prompt length for prefill, 1..1000000 (default 128)\n"
            "  --gen N      tokens decoded one at a time after the prompt, 0..1000000\n"
            "               (default 128)\n"
            "  --repeat R   timed runs of each phase, best reported, 1..1000000 (default 3)\n"
            "  --dtype D    convert the weights on load (default: as stored)\n"
            "  --device D   cpu, opencl, opencl:N\n"
            "  --json       one JSON object instead of text (with decode_read_bytes: the\n"
            "               weight bytes one decode step reads, for bandwidth limits)\n"
            "Prompt + gen is capped at the model's maximum sequence length (with a note).\n");
    return code;
}

/* One prefill of ids (1, P) into a cleared cache; logits (V) on the host. */
static mrg_status prefill(mrg_llama *m, mrg_kv_cache *kv, const int32_t *ids, int P,
                          float *logits) {
    mrg_kv_cache_clear(kv);
    mrg_tensor *in = mrg_tensor_from_i32(m->dev, MRG_SHAPE(1, P), ids);
    mrg_tensor *lg = mrg_llama_forward_ids(m, in, NULL, kv, true);
    mrg_status st = lg ? mrg_tensor_to_f32(lg, logits) : MRG_ERR_DEVICE;
    mrg_step_reset(m->dev);
    return st;
}

/* G greedy steps after whatever the cache holds. */
static mrg_status decode(mrg_llama *m, mrg_kv_cache *kv, int G, float *logits) {
    int V = m->cfg.vocab_size;
    for (int i = 0; i < G; i++) {
        int32_t next = mrg_argmax(logits, V);
        mrg_tensor *in = mrg_tensor_from_i32(m->dev, MRG_SHAPE(1, 1), &next);
        mrg_tensor *lg = mrg_llama_forward_ids(m, in, NULL, kv, true);
        mrg_status st = lg ? mrg_tensor_to_f32(lg, logits) : MRG_ERR_DEVICE;
        mrg_step_reset(m->dev);
        if (st != MRG_OK) return st;
    }
    return MRG_OK;
}

/* The --json report: one object on stdout; 0, or 1 when out of memory. */
static int print_json(const mrg_llama *m, const char *path, mrg_device *dev, int P, int G,
                      int repeat, double t_prefill, double t_decode, double t_load, size_t wbytes,
                      size_t per_token, double kv_bytes, long hwm_kib, long rss_before_kib) {
    const mrg_llama_config *c = &m->cfg;
    cJSON *j = cJSON_CreateObject();
    bool ok = j && cJSON_AddStringToObject(j, "model", path) &&
              cJSON_AddStringToObject(j, "device", mrg_device_name(dev)) &&
              cJSON_AddNumberToObject(j, "threads", omp_get_max_threads()) &&
              cJSON_AddNumberToObject(j, "dim", c->dim) &&
              cJSON_AddNumberToObject(j, "hidden_dim", c->hidden_dim) &&
              cJSON_AddNumberToObject(j, "n_layers", c->n_layers) &&
              cJSON_AddNumberToObject(j, "n_heads", c->n_heads) &&
              cJSON_AddNumberToObject(j, "n_kv_heads", c->n_kv_heads) &&
              cJSON_AddNumberToObject(j, "vocab_size", c->vocab_size) &&
              cJSON_AddStringToObject(j, "weight_dtype", mrg_dtype_name(m->layers[0].wq->dtype)) &&
              cJSON_AddNumberToObject(j, "weight_bytes", (double)wbytes) &&
              cJSON_AddNumberToObject(j, "decode_read_bytes", (double)per_token) &&
              cJSON_AddNumberToObject(j, "kv_cache_bytes", kv_bytes) &&
              cJSON_AddNumberToObject(j, "load_s", t_load) &&
              cJSON_AddNumberToObject(j, "repeat", repeat) &&
              cJSON_AddNumberToObject(j, "prompt_tokens", P) &&
              cJSON_AddNumberToObject(j, "prefill_s", t_prefill) &&
              cJSON_AddNumberToObject(j, "prefill_tokens_per_s", P / t_prefill) &&
              cJSON_AddNumberToObject(j, "decode_tokens", G) &&
              cJSON_AddNumberToObject(j, "decode_s", t_decode) &&
              cJSON_AddNumberToObject(j, "decode_tokens_per_s", G > 0 ? G / t_decode : 0.0) &&
              cJSON_AddNumberToObject(j, "peak_rss_bytes", 1024.0 * (double)hwm_kib) &&
              cJSON_AddNumberToObject(j, "rss_before_load_bytes", 1024.0 * (double)rss_before_kib);
    char *s = ok ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    if (!s) {
        fprintf(stderr, "mrg bench lm: out of memory\n");
        return 1;
    }
    printf("%s\n", s);
    free(s);
    return 0;
}

int bench_lm(int argc, char **argv) {
    const char *model_path = NULL, *device = NULL;
    int P = 128, G = 128, repeat = 3, dtype_index = -1;
    bool json = false;
    opt_spec specs[] = {
        OPT_STRING("--model", &model_path),
        OPT_STRING("--device", &device),
        OPT_INTEGER("--prompt", &P, 1, 1000000),
        OPT_INTEGER("--gen", &G, 0, 1000000),
        OPT_INTEGER("--repeat", &repeat, 1, 1000000),
        OPT_ONE_OF("--dtype", &dtype_index, opts_float_dtype_names()),
        OPT_SET("--json", &json),
    };
    int rc = opts_parse("bench lm", argc, argv, specs, OPTS_COUNT(specs));
    if (rc) return rc == 1 ? usage(0) : rc;
    if ((rc = opts_require("bench lm", specs, OPTS_COUNT(specs), "--model", NULL))) return rc;
    const int dtype = dtype_index < 0 ? -1 : (int)opts_float_dtype[dtype_index];
    mrg_device *dev = opts_device("bench lm", device);
    if (!dev) return 2;
    mrg_grad_set_enabled(dev, false);
    rc = 1;
    mrg_kv_cache *kv = NULL;
    int32_t *ids = NULL;
    float *logits = NULL;
    long rss_before = bench_status_kib("VmRSS");
    double t_load = mrg_now_s();
    mrg_llama *m = mrg_llama_load(model_path, dev, &(mrg_llama_load_opts){.weight_dtype = dtype});
    t_load = mrg_now_s() - t_load;
    if (!m) goto fail;
    const mrg_llama_config *c = &m->cfg;
    if (P >= c->max_seq) {
        fprintf(stderr, "mrg bench lm: --prompt %d does not fit the model's %d positions: using %d\n", P,
                c->max_seq, c->max_seq - 1);
        P = c->max_seq - 1;
    }
    if (P + G > c->max_seq) {
        fprintf(stderr, "mrg bench lm: --gen %d does not fit after the prompt (%d of %d positions): using %d\n",
                G, P, c->max_seq, c->max_seq - P);
        G = c->max_seq - P;
    }
    kv = mrg_kv_cache_new(m, 1, P + G);
    ids = malloc(sizeof *ids * (size_t)P);
    logits = malloc(sizeof *logits * (size_t)c->vocab_size);
    if (!kv || !ids || !logits) goto fail;
    uint32_t s = 12345;
    for (int i = 0; i < P; i++) {
        s = s * 1664525u + 1013904223u;
        ids[i] = (int32_t)(3 + (s >> 8) % (uint32_t)(c->vocab_size > 3 ? c->vocab_size - 3 : 1));
    }
    ids[0] = c->bos_id >= 0 && c->bos_id < c->vocab_size ? c->bos_id : ids[0];

    /* warm-up */
    if (prefill(m, kv, ids, P, logits) != MRG_OK || decode(m, kv, G < 4 ? G : 4, logits) != MRG_OK)
        goto fail;
    double best_p = 1e30, best_d = 1e30;
    for (int r = 0; r < repeat; r++) {
        double t0 = mrg_now_s();
        if (prefill(m, kv, ids, P, logits) != MRG_OK) goto fail;
        double t1 = mrg_now_s();
        if (decode(m, kv, G, logits) != MRG_OK) goto fail;
        double t2 = mrg_now_s();
        if (t1 - t0 < best_p) best_p = t1 - t0;
        if (t2 - t1 < best_d) best_d = t2 - t1;
    }
    size_t wbytes = mrg_llama_weight_bytes(m);
    double kv_bytes = (double)(2 * (size_t)c->n_layers *
                               (size_t)(kv->batch * kv->n_kv_heads * kv->max_len * kv->head_dim) * 4);
    long hwm = bench_status_kib("VmHWM");
    if (json) {
        /* a decode step reads every weight once except the embedding table,
         * of which it reads one row (tied: the table is also the head) */
        size_t emb = mrg_nbytes(m->tok_emb), row = emb / (size_t)c->vocab_size;
        size_t per_token = (c->tied_embeddings ? wbytes : wbytes - emb) + row;
        rc = print_json(m, model_path, dev, P, G, repeat, best_p, best_d, t_load, wbytes, per_token,
                        kv_bytes, hwm, rss_before);
        goto out;
    }
    printf("model     %s: dim %d, hidden %d, layers %d, heads %d/%d kv, vocab %d\n", model_path,
           c->dim, c->hidden_dim, c->n_layers, c->n_heads, c->n_kv_heads, c->vocab_size);
    printf("device    %s (%s)\n", mrg_device_name(dev), mrg_device_description(dev));
    printf("weights   %s, %.2f MiB; KV cache %.2f MiB; loaded in %.2f s\n",
           mrg_dtype_name(m->layers[0].wq->dtype), (double)wbytes / 1048576.0, kv_bytes / 1048576.0,
           t_load);
    printf("prefill   %d tokens in %.2f ms: %.1f tokens/s\n", P, 1e3 * best_p, P / best_p);
    if (G > 0)
        printf("decode    %d tokens in %.2f ms: %.1f tokens/s\n", G, 1e3 * best_d, G / best_d);
    printf("memory    peak RSS (VmHWM) %.1f MiB (%.1f MiB before loading); "
           "device persistent %.2f MiB\n",
           hwm / 1024.0, rss_before / 1024.0, (double)mrg_device_persistent_bytes(dev) / 1048576.0);
    rc = 0;
    goto out;
fail:
    fprintf(stderr, "mrg bench lm: %s\n", mrg_last_error());
out:
    free(ids);
    free(logits);
    mrg_kv_cache_free(kv);
    mrg_llama_free(m);
    mrg_device_free(dev);
    return rc;
}

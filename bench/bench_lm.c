/* mrg bench lm: speed and memory of a LLaMA model on one device.
 * Prefill: one batched forward over a prompt of random ids (last-position
 * logits only, as generation does). Decode: greedy tokens one at a time
 * through the KV cache, each step choosing its token as generation does
 * (on OpenCL on the device, reading back the id; on the CPU from the
 * logits). Beam: K rows decoded together after the prompt, with the cache
 * reordered before every step as beam search does (even steps a rotation
 * of the rows, which only permutes the cache's row map; odd steps one row
 * taken twice, which copies one row), each step choosing 2K candidates per
 * row as beam search does (on OpenCL: those read back; on the CPU: K rows
 * of logits).
 * Each phase runs once for warm-up (kernel builds, arena growth) and is then
 * timed over --repeat runs; the best run is reported. Peak resident memory
 * is the process's VmHWM from /proc/self/status.
 *
 * Roofline: a batch-1 decode step reads every weight once (decode_read_bytes)
 * plus the cached keys and values; on the CPU the machine's read bandwidth
 * is measured here as `mrg bench bandwidth` does, and the fraction of it a
 * greedy step reaches is reported. Under the OpenCL call-counting shim
 * (tools/clcount, LD_PRELOAD) the launches and host<->device transfers of
 * the decode phases are reported per token and per layer. */
#include <dlfcn.h>
#include <cjson/cJSON.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "cl_count.h"
#include "opts.h"
#include "mrg/clock.h"
#include "mrg/generate.h"
#include "mrg/llama.h"
#include "mrg/mrg.h"
#include "mrg/sampling.h"

static int usage(int code) {
    fprintf(code ? stderr : stdout,
            "usage: mrg bench lm --model PATH [--prompt N] [--gen N] [--repeat R] [--beam K]\n"
            "                    [--dtype f32|bf16|f16] [--kv-cache f32|bf16|f16] [--bw-mb N]\n"
            "                    [--precision f32|bf16-mixed] [--device D] [--json]\n\n"
            "Measures prefill, greedy decode and beam decode speed of a LLaMA model (Hugging\n"
            "Face directory or llama2.c .bin) and the peak resident memory of the process.\n"
            "  --model PATH the model (required)\n"
            "  --prompt N   prompt length for prefill, 1..1000000 (default 128)\n"
            "  --gen N      tokens decoded one at a time after the prompt, 0..1000000\n"
            "               (default 128)\n"
            "  --repeat R   timed runs of each phase, best reported, 1..1000000 (default 3)\n"
            "  --beam K     rows of the beam phase, 2..16, or 0 to skip it (default 3); its\n"
            "               steps reorder the cache as beam search does (see the source)\n"
            "  --dtype D    convert the weights on load (default: as stored)\n"
            "  --kv-cache D KV cache storage (default f32)\n"
            "  --bw-mb N    on the cpu device: measure the read bandwidth over N MiB, 0..1048576\n"
            "               (default 512; 0 skips) and report the fraction of it a greedy\n"
            "               step reaches (weight bytes per token x tokens/s / bandwidth)\n"
            "  --precision P f32 (default) or bf16-mixed: the GEMMs of more than 8 rows\n"
            "               (prefill) with bf16-rounded activations, as `mrg train\n"
            "               --precision` runs them (decoding's GEMVs are the same)\n"
            "  --device D   cpu, opencl, opencl:N\n"
            "  --json       one JSON object instead of text\n"
            "Reported: tokens/s (prefill, greedy, beam steps/s and the beam step's cost over\n"
            "a greedy step), weight bytes per token, KV cache bytes, and with the OpenCL\n"
            "call-counting shim loaded (LD_PRELOAD=build/libmrg_clcount.so) kernel launches\n"
            "per token and per layer, blocking transfers and bytes to/from the device per\n"
            "token. Tokens are chosen as generation chooses them: on OpenCL on the device\n"
            "(only the ids, or a beam's 2K candidates per row, come back), on the CPU from the\n"
            "logits (MRG_GEN_SELECT=host|device overrides). Prompt + gen is capped at the\n"
            "model's maximum sequence length (with a note).\n");
    return code;
}

/* How the phases choose their tokens, as generation does
 * (mrg_gen_select_on_device): on the device, mrg_select_topk over each
 * step's logits with the rows' histories kept there, and only the k best
 * per row read back (12 bytes each; penalty 1 and no EOS mask, so the
 * tokens are the argmax of before); else the logits read back and the
 * argmax taken on the host. */
typedef struct chooser {
    bool dev;
    int k;             /* candidates per row on the device */
    bool logsm;        /* of the log-softmax (beam search) */
    mrg_tensor *hist[2];
    int cur;
    int64_t hlen;
    int32_t *packed, *ids; /* (rows, k, 3), (rows, k) */
    double *score;
    float *logits;     /* the host's (rows, V) */
    int V;
} chooser;

static void chooser_free(chooser *ch) {
    for (int i = 0; i < 2; i++) mrg_tensor_free(ch->hist[i]);
    free(ch->packed);
    free(ch->ids);
    free(ch->score);
    free(ch->logits);
    memset(ch, 0, sizeof *ch);
}

/* For rows of up to `rows` and histories of up to L tokens. */
static mrg_status chooser_init(chooser *ch, mrg_llama *m, int rows, int64_t L, int k, bool logsm) {
    memset(ch, 0, sizeof *ch);
    ch->dev = mrg_gen_select_on_device(m->dev);
    ch->V = m->cfg.vocab_size;
    ch->k = k;
    ch->logsm = logsm;
    size_t n = (size_t)rows * (size_t)k;
    if (!ch->dev) {
        ch->logits = malloc(sizeof(float) * (size_t)rows * (size_t)ch->V);
        return ch->logits ? MRG_OK : mrg_error(MRG_ERR_OOM, "out of host memory");
    }
    for (int i = 0; i < 2; i++)
        if (!(ch->hist[i] = mrg_tensor_new_persistent(m->dev, MRG_I32, MRG_SHAPE(rows, L))))
            return MRG_ERR_OOM;
    ch->packed = malloc(sizeof(int32_t) * 3 * n);
    ch->ids = malloc(sizeof(int32_t) * n);
    ch->score = malloc(sizeof(double) * n);
    return ch->packed && ch->ids && ch->score ? MRG_OK
                                              : mrg_error(MRG_ERR_OOM, "out of host memory");
}

/* A new sequence: empty histories. */
static void chooser_restart(chooser *ch) {
    ch->cur = 0;
    ch->hlen = 0;
}

/* After a forward of n rows (lg): their candidates, or their logits. tok
 * (n) was fed to rows continuing rows src (NULL: their own). */
static mrg_status chooser_take(chooser *ch, mrg_tensor *lg, int n, mrg_tensor *src,
                               mrg_tensor *tok) {
    if (!lg) return MRG_ERR_DEVICE;
    if (!ch->dev) return mrg_tensor_to_f32(lg, ch->logits);
    mrg_tensor *out = mrg_select_topk(lg, ch->hist[ch->cur], ch->hlen, src, tok,
                                      ch->hist[ch->cur ^ 1], ch->k, ch->logsm, 1.0f, -1);
    MRG_TRY(out ? mrg_tensor_download(out, ch->packed) : MRG_ERR_DEVICE);
    mrg_select_unpack(ch->packed, (int64_t)n * ch->k, ch->ids, ch->score);
    ch->cur ^= 1;
    ch->hlen += tok != NULL;
    return MRG_OK;
}

/* The best token of row r of the last forward. */
static int32_t chooser_best(const chooser *ch, int r) {
    return ch->dev ? ch->ids[(size_t)r * ch->k] : mrg_argmax(ch->logits + (size_t)r * ch->V, ch->V);
}

/* One prefill of ids (1, P) into a cleared cache; its token choice in ch. */
static mrg_status prefill(mrg_llama *m, mrg_kv_cache *kv, const int32_t *ids, int P,
                          chooser *ch) {
    mrg_kv_cache_clear(kv);
    chooser_restart(ch);
    mrg_tensor *in = mrg_tensor_from_i32(m->dev, MRG_SHAPE(1, P), ids);
    mrg_tensor *lg = mrg_llama_forward_ids(m, in, NULL, kv, true);
    mrg_status st = chooser_take(ch, lg, 1, NULL, NULL);
    mrg_step_reset(m->dev);
    return st;
}

/* G greedy steps after whatever the cache holds. */
static mrg_status decode(mrg_llama *m, mrg_kv_cache *kv, int G, chooser *ch) {
    for (int i = 0; i < G; i++) {
        int32_t next = chooser_best(ch, 0);
        mrg_tensor *in = mrg_tensor_from_i32(m->dev, MRG_SHAPE(1, 1), &next);
        mrg_tensor *lg = mrg_llama_forward_ids(m, in, NULL, kv, true);
        mrg_status st = chooser_take(ch, lg, 1, NULL, in);
        mrg_step_reset(m->dev);
        if (st != MRG_OK) return st;
    }
    return MRG_OK;
}

/* The OpenCL call-counting shim's snapshot function, when it is loaded. */
static mrg_clcount_snapshot_fn clcount(void) {
    return (mrg_clcount_snapshot_fn)dlsym(RTLD_DEFAULT, MRG_CLCOUNT_SNAPSHOT);
}

/* Counts of the shim per decode step (of n steps) between two snapshots. */
typedef struct cl_per_step {
    double launches, writes_blocking, reads_blocking, write_bytes, read_bytes, copies;
} cl_per_step;

static cl_per_step per_step(const mrg_clcount_stats *a, const mrg_clcount_stats *b, int n) {
    double d = n > 0 ? n : 1;
    cl_per_step r = {
        (double)(b->launches - a->launches) / d,
        (double)(b->writes_blocking - a->writes_blocking) / d,
        (double)(b->reads_blocking - a->reads_blocking) / d,
        (double)(b->write_bytes - a->write_bytes) / d,
        (double)(b->read_bytes - a->read_bytes) / d,
        (double)(b->copies - a->copies) / d,
    };
    return r;
}

/* The beam phase: one row prefilled, fanned out to K rows, then G steps of
 * K rows, each after a reorder (even steps rotate the rows: the row map
 * permutes; odd steps give row 0 twice: one row is copied). Every row
 * feeds its own best token; each step chooses 2K candidates per row as
 * beam search does (on the device: those come back; else the logits
 * (K, V)). *t_steps gets the time of the G steps, and *cl the shim's counts
 * per step when snap is not NULL. */
static mrg_status beam(mrg_llama *m, mrg_kv_cache *kv, const int32_t *ids, int P, int K, int G,
                       chooser *ch, double *t_steps, mrg_clcount_snapshot_fn snap,
                       cl_per_step *cl) {
    mrg_clcount_stats s0, s1;
    mrg_kv_cache_clear(kv);
    int32_t src[16], tok[16];
    src[0] = 0;
    MRG_TRY(mrg_kv_cache_select(kv, src, 1));
    MRG_TRY(prefill(m, kv, ids, P, ch));
    for (int b = 0; b < K; b++) src[b] = 0;
    MRG_TRY(mrg_kv_cache_select(kv, src, K));
    if (snap) snap(&s0);
    double t0 = mrg_now_s();
    for (int i = 0; i < G; i++) {
        for (int b = 0; b < K; b++) {
            src[b] = i % 2 == 0 ? (b + 1) % K : (b == 0 ? 0 : b - 1);
            tok[b] = chooser_best(ch, i == 0 ? 0 : src[b]); /* the prefill has one row */
        }
        MRG_TRY(mrg_kv_cache_select(kv, src, K));
        mrg_tensor *in = mrg_tensor_from_i32(m->dev, MRG_SHAPE(K, 1), tok);
        mrg_tensor *sd = ch->dev ? mrg_tensor_from_i32(m->dev, MRG_SHAPE(K), src) : NULL;
        mrg_tensor *lg = mrg_llama_forward_ids(m, in, NULL, kv, true);
        mrg_status st = chooser_take(ch, lg, K, sd, in);
        mrg_step_reset(m->dev);
        if (st != MRG_OK) return st;
    }
    *t_steps = mrg_now_s() - t0;
    if (snap) {
        snap(&s1);
        *cl = per_step(&s0, &s1, G);
    }
    return MRG_OK;
}

typedef struct lm_result {
    int P, G, K, repeat;
    double t_prefill, t_decode, t_beam, t_load, kv_bytes, kv_read_per_token, bw_gbs;
    size_t wbytes, per_token;
    long hwm_kib, rss_before_kib;
    bool have_cl;
    cl_per_step cl_greedy, cl_beam;
} lm_result;

static bool add_cl(cJSON *j, const char *prefix, const cl_per_step *c, int n_layers) {
    char k[96];
#define CL_FIELD(name, value) \
    (snprintf(k, sizeof k, "%s_%s", prefix, name), cJSON_AddNumberToObject(j, k, value) != NULL)
    return CL_FIELD("launches_per_token", c->launches) &&
           CL_FIELD("launches_per_layer_per_token", c->launches / n_layers) &&
           CL_FIELD("blocking_writes_per_token", c->writes_blocking) &&
           CL_FIELD("blocking_reads_per_token", c->reads_blocking) &&
           CL_FIELD("bytes_to_device_per_token", c->write_bytes) &&
           CL_FIELD("bytes_to_host_per_token", c->read_bytes) &&
           CL_FIELD("device_copies_per_token", c->copies);
#undef CL_FIELD
}

/* The --json report: one object on stdout; 0, or 1 when out of memory. */
static int print_json(const mrg_llama *m, const char *path, mrg_device *dev, const lm_result *r,
                      mrg_dtype kv_dtype) {
    const mrg_llama_config *c = &m->cfg;
    double greedy_tps = r->G > 0 ? r->G / r->t_decode : 0.0;
    double beam_sps = r->K > 0 && r->G > 0 ? r->G / r->t_beam : 0.0;
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
              cJSON_AddStringToObject(j, "precision", mrg_precision_name(mrg_get_precision(dev))) &&
              cJSON_AddNumberToObject(j, "weight_bytes", (double)r->wbytes) &&
              cJSON_AddNumberToObject(j, "decode_read_bytes", (double)r->per_token) &&
              cJSON_AddStringToObject(j, "kv_cache_dtype", mrg_dtype_name(kv_dtype)) &&
              cJSON_AddNumberToObject(j, "kv_cache_bytes", r->kv_bytes) &&
              cJSON_AddNumberToObject(j, "kv_read_bytes_per_token", r->kv_read_per_token) &&
              cJSON_AddNumberToObject(j, "load_s", r->t_load) &&
              cJSON_AddNumberToObject(j, "repeat", r->repeat) &&
              cJSON_AddNumberToObject(j, "prompt_tokens", r->P) &&
              cJSON_AddNumberToObject(j, "prefill_s", r->t_prefill) &&
              cJSON_AddNumberToObject(j, "prefill_tokens_per_s", r->P / r->t_prefill) &&
              cJSON_AddNumberToObject(j, "decode_tokens", r->G) &&
              cJSON_AddNumberToObject(j, "decode_s", r->t_decode) &&
              cJSON_AddNumberToObject(j, "decode_tokens_per_s", greedy_tps) &&
              cJSON_AddNumberToObject(j, "beam", r->K) &&
              cJSON_AddNumberToObject(j, "beam_s", r->t_beam) &&
              cJSON_AddNumberToObject(j, "beam_steps_per_s", beam_sps) &&
              cJSON_AddNumberToObject(j, "beam_step_over_greedy",
                                      beam_sps > 0 && greedy_tps > 0 ? greedy_tps / beam_sps : 0) &&
              cJSON_AddNumberToObject(j, "peak_rss_bytes", 1024.0 * (double)r->hwm_kib) &&
              cJSON_AddNumberToObject(j, "rss_before_load_bytes", 1024.0 * (double)r->rss_before_kib);
    if (ok && r->bw_gbs > 0)
        ok = cJSON_AddNumberToObject(j, "read_bandwidth_gb_per_s", r->bw_gbs) &&
             cJSON_AddNumberToObject(j, "decode_bandwidth_fraction",
                                     (double)r->per_token * greedy_tps * 1e-9 / r->bw_gbs);
    if (ok && r->have_cl)
        ok = add_cl(j, "cl_greedy", &r->cl_greedy, c->n_layers) &&
             (r->K == 0 || add_cl(j, "cl_beam", &r->cl_beam, c->n_layers));
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

static void print_cl(const char *what, const cl_per_step *c, int n_layers) {
    printf("opencl    %s: %.1f launches per token (%.2f per layer, head included), "
           "%.1f + %.1f blocking writes + reads, %.0f + %.0f bytes to/from the device, "
           "%.1f device copies per token\n",
           what, c->launches, c->launches / n_layers, c->writes_blocking, c->reads_blocking,
           c->write_bytes, c->read_bytes, c->copies);
}

int bench_lm(int argc, char **argv) {
    const char *model_path = NULL, *device = NULL;
    int P = 128, G = 128, repeat = 3, dtype_index = -1, kv_index = -1, K = 3, bw_mb = 512, precision = 0;
    static const char *const precisions[] = {"f32", "bf16-mixed", NULL}; /* mrg_precision's order */
    bool json = false;
    opt_spec specs[] = {
        OPT_STRING("--model", &model_path),
        OPT_STRING("--device", &device),
        OPT_INTEGER("--prompt", &P, 1, 1000000),
        OPT_INTEGER("--gen", &G, 0, 1000000),
        OPT_INTEGER("--repeat", &repeat, 1, 1000000),
        OPT_INTEGER("--beam", &K, 0, 16),
        OPT_ONE_OF("--dtype", &dtype_index, opts_float_dtype_names()),
        OPT_ONE_OF("--kv-cache", &kv_index, opts_float_dtype_names()),
        OPT_INTEGER("--bw-mb", &bw_mb, 0, 1048576),
        OPT_ONE_OF("--precision", &precision, precisions),
        OPT_SET("--json", &json),
    };
    int rc = opts_parse("bench lm", argc, argv, specs, OPTS_COUNT(specs));
    if (rc) return rc == 1 ? usage(0) : rc;
    if ((rc = opts_require("bench lm", specs, OPTS_COUNT(specs), "--model", NULL))) return rc;
    if (K == 1) return opts_fail("bench lm", "--beam 1 is the greedy phase: give 2..16, or 0 to skip");
    const int dtype = dtype_index < 0 ? -1 : (int)opts_float_dtype[dtype_index];
    const mrg_dtype kv_dtype = kv_index < 0 ? MRG_F32 : opts_float_dtype[kv_index];
    mrg_device *dev = opts_device("bench lm", device);
    if (!dev) return 2;
    mrg_grad_set_enabled(dev, false);
    mrg_set_precision(dev, (mrg_precision)precision);
    rc = 1;
    mrg_kv_cache *kv = NULL, *kvb = NULL;
    int32_t *ids = NULL;
    chooser chg = {0}, chb = {0};
    lm_result r = {.K = K, .repeat = repeat};
    r.rss_before_kib = bench_status_kib("VmRSS");
    r.t_load = mrg_now_s();
    mrg_llama *m = mrg_llama_load(model_path, dev, &(mrg_llama_load_opts){.weight_dtype = dtype});
    r.t_load = mrg_now_s() - r.t_load;
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
    if (G == 0) r.K = K = 0;
    r.P = P;
    r.G = G;
    kv = mrg_kv_cache_new_dtype(m, 1, P + G, kv_dtype);
    kvb = K > 0 ? mrg_kv_cache_new_dtype(m, K, P + G, kv_dtype) : NULL;
    ids = malloc(sizeof *ids * (size_t)P);
    if (!kv || (K > 0 && !kvb) || !ids || chooser_init(&chg, m, 1, G + 1, 1, false) != MRG_OK ||
        (K > 0 && chooser_init(&chb, m, K, G + 1, 2 * K, true) != MRG_OK))
        goto fail;
    uint32_t s = 12345;
    for (int i = 0; i < P; i++) {
        s = s * 1664525u + 1013904223u;
        ids[i] = (int32_t)(3 + (s >> 8) % (uint32_t)(c->vocab_size > 3 ? c->vocab_size - 3 : 1));
    }
    ids[0] = c->bos_id >= 0 && c->bos_id < c->vocab_size ? c->bos_id : ids[0];

    /* warm-up */
    double t_unused = 0;
    if (prefill(m, kv, ids, P, &chg) != MRG_OK || decode(m, kv, G < 4 ? G : 4, &chg) != MRG_OK ||
        (K > 0 && beam(m, kvb, ids, P, K, G < 4 ? G : 4, &chb, &t_unused, NULL, NULL) != MRG_OK))
        goto fail;
    mrg_clcount_snapshot_fn snap = clcount();
    r.have_cl = snap != NULL;
    mrg_clcount_stats s0, s1;
    double best_p = 1e30, best_d = 1e30, best_b = 1e30;
    for (int i = 0; i < repeat; i++) {
        double t0 = mrg_now_s();
        if (prefill(m, kv, ids, P, &chg) != MRG_OK) goto fail;
        double t1 = mrg_now_s();
        if (snap && i == 0) snap(&s0);
        if (decode(m, kv, G, &chg) != MRG_OK) goto fail;
        double t2 = mrg_now_s();
        if (snap && i == 0) {
            snap(&s1);
            r.cl_greedy = per_step(&s0, &s1, G);
        }
        if (t1 - t0 < best_p) best_p = t1 - t0;
        if (t2 - t1 < best_d) best_d = t2 - t1;
        if (K > 0) {
            double tb = 0;
            if (beam(m, kvb, ids, P, K, G, &chb, &tb, i == 0 ? snap : NULL, &r.cl_beam) !=
                MRG_OK)
                goto fail;
            if (tb < best_b) best_b = tb;
        }
    }
    r.t_prefill = best_p;
    r.t_decode = best_d;
    r.t_beam = K > 0 ? best_b : 0;
    r.wbytes = mrg_llama_weight_bytes(m);
    {
        double row = (double)(kv->n_kv_heads * kv->head_dim) * (double)mrg_dtype_size(kv_dtype);
        r.kv_bytes = 2.0 * c->n_layers * row * (double)kv->max_len;
        /* the average step attends over P + G/2 positions */
        r.kv_read_per_token = 2.0 * c->n_layers * row * (P + G / 2.0);
        /* a decode step reads every weight once except the embedding table,
         * of which it reads one row (tied: the table is also the head) */
        size_t emb = mrg_nbytes(m->tok_emb), erow = emb / (size_t)c->vocab_size;
        r.per_token = (c->tied_embeddings ? r.wbytes : r.wbytes - emb) + erow;
    }
    if (bw_mb > 0 && !strcmp(mrg_device_name(dev), "cpu")) {
        r.bw_gbs = bench_read_bandwidth(bw_mb, 3, NULL);
        if (r.bw_gbs < 0) {
            fprintf(stderr, "mrg bench lm: cannot measure the read bandwidth over %d MiB\n", bw_mb);
            goto fail;
        }
    }
    r.hwm_kib = bench_status_kib("VmHWM");
    if (json) {
        rc = print_json(m, model_path, dev, &r, kv_dtype);
        goto out;
    }
    printf("model     %s: dim %d, hidden %d, layers %d, heads %d/%d kv, vocab %d\n", model_path,
           c->dim, c->hidden_dim, c->n_layers, c->n_heads, c->n_kv_heads, c->vocab_size);
    printf("device    %s (%s), precision %s\n", mrg_device_name(dev), mrg_device_description(dev),
           mrg_precision_name(mrg_get_precision(dev)));
    printf("weights   %s, %.2f MiB (%.2f MiB read per decoded token); KV cache %s, %.2f MiB "
           "(%.2f MiB read per token on average); loaded in %.2f s\n",
           mrg_dtype_name(m->layers[0].wq->dtype), (double)r.wbytes / 1048576.0,
           (double)r.per_token / 1048576.0, mrg_dtype_name(kv_dtype), r.kv_bytes / 1048576.0,
           r.kv_read_per_token / 1048576.0, r.t_load);
    printf("prefill   %d tokens in %.2f ms: %.1f tokens/s\n", P, 1e3 * best_p, P / best_p);
    if (G > 0) {
        printf("decode    %d tokens in %.2f ms: %.1f tokens/s", G, 1e3 * best_d, G / best_d);
        if (r.bw_gbs > 0)
            printf("; %.3f of the read bandwidth %.2f GB/s",
                   (double)r.per_token * (G / best_d) * 1e-9 / r.bw_gbs, r.bw_gbs);
        printf("\n");
    }
    if (K > 0)
        printf("beam      %d rows, %d steps in %.2f ms: %.1f steps/s, a step costs %.2fx a greedy "
               "token\n",
               K, G, 1e3 * best_b, G / best_b, best_b / best_d);
    if (r.have_cl) {
        print_cl("greedy", &r.cl_greedy, c->n_layers);
        if (K > 0) print_cl("beam step", &r.cl_beam, c->n_layers);
    }
    printf("memory    peak RSS (VmHWM) %.1f MiB (%.1f MiB before loading); "
           "device persistent %.2f MiB\n",
           r.hwm_kib / 1024.0, r.rss_before_kib / 1024.0,
           (double)mrg_device_persistent_bytes(dev) / 1048576.0);
    rc = 0;
    goto out;
fail:
    fprintf(stderr, "mrg bench lm: %s\n", mrg_last_error());
out:
    free(ids);
    chooser_free(&chg);
    chooser_free(&chb);
    mrg_kv_cache_free(kv);
    mrg_kv_cache_free(kvb);
    mrg_llama_free(m);
    mrg_device_free(dev);
    return rc;
}

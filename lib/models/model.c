/* The report generator: construction of its parts, the frozen LLaMA and
 * tokenizer, the topic embeddings and prompt ids, checkpoints and accessors.
 *
 * Checkpoint names of the trained parts (Dv = vit.dim, D = lm.dim):
 *   vit.*                         timm names behind the prefix
 *   content.blocks.<i>.*          Lc self-attention blocks (mrg_nn_block)
 *   content.queries               (1, Kc, Dv)
 *   content.cross.*               the queries' cross block (mrg_nn_cross_block)
 *   topic.query_proj.{weight,bias}  Linear(D → Dv) of the topic words' embeddings
 *   topic.blocks.<i>.*            Lt cross blocks over the content tokens
 *   proj.linear.{weight,bias}     Linear(Dv → D)
 *   proj.norm.{weight,bias}       LayerNorm(D), eps 1e-5
 * Encoder blocks use MLP width 4·Dv and LayerNorm eps 1e-6 (timm's ViT). */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/files.h"
#include "mrg/limits.h"
#include "models/model_internal.h"
#include "mrg/autograd.h"
#include "mrg/content_hash.h"
#include "mrg/ops.h"

/* Width of the MLPs in the encoder blocks, relative to the width. */
#define ENC_MLP_RATIO 4
#define ENC_EPS 1e-6f  /* LayerNorm eps of the encoder blocks (timm's ViT) */
#define PROJ_EPS 1e-5f /* nn.LayerNorm's default, as R2GenGPT's llama_proj norm */

/* Absolute form of an existing path into out (PATH_MAX-sized). */
static mrg_status absolute(const char *p, char *out, size_t n) {
    char buf[PATH_MAX];
    if (!realpath(p, buf)) return mrg_error(MRG_ERR_NOT_FOUND, "cannot resolve path %s", p);
    if (strlen(buf) >= n) return mrg_error(MRG_ERR_INVALID_ARG, "path too long: %s", buf);
    snprintf(out, n, "%s", buf);
    return MRG_OK;
}

/* The tokenizer that goes with an LM: tokenizer.model inside its directory,
 * or beside a checkpoint file. */
static mrg_status find_tokenizer(const char *lm_path, char *out, size_t n) {
    char cand[4200];
    if (mrg_is_dir(lm_path)) {
        snprintf(cand, sizeof cand, "%s/tokenizer.model", lm_path);
    } else {
        const char *slash = strrchr(lm_path, '/');
        int dl = !slash ? 1 : slash == lm_path ? 1 : (int)(slash - lm_path);
        snprintf(cand, sizeof cand, "%.*s/tokenizer.model", dl, slash ? lm_path : ".");
    }
    if (!mrg_is_file(cand))
        return mrg_error(MRG_ERR_NOT_FOUND,
                         "the LM %s has no tokenizer: %s does not exist (give the tokenizer's "
                         "path)",
                         lm_path, cand);
    return absolute(cand, out, n);
}

/* Random frozen LLaMA weights (normal, std 0.02, as Hugging Face's init),
 * RMSNorm weights one: for tests and shape benchmarks without a checkpoint. */
static mrg_status randomize_llama(mrg_llama *lm, uint64_t seed) {
    int n = mrg_llama_params(lm, NULL, 0);
    mrg_tensor **ps = calloc((size_t)n, sizeof *ps);
    if (!ps) return mrg_error(MRG_ERR_OOM, "LLaMA parameters");
    mrg_llama_params(lm, ps, n);
    uint64_t rng = seed;
    mrg_status st = MRG_OK;
    for (int i = 0; i < n && st == MRG_OK; i++) {
        if (ps[i]->ndim != 2) continue; /* norms stay one */
        int64_t k = mrg_numel(ps[i]);
        float *h = malloc(sizeof(float) * (size_t)k);
        if (!h) {
            st = mrg_error(MRG_ERR_OOM, "LLaMA init");
            break;
        }
        for (int64_t j = 0; j < k; j++) h[j] = 0.02f * mrg_nn_rand_normal(&rng);
        st = mrg_tensor_upload_f32(ps[i], h);
        free(h);
    }
    free(ps);
    return st;
}

/* The trainable parts besides the ViT, named content.*, topic.*, proj.* */
static mrg_status build_encoders(mrg_model *m, bool skip_init) {
    const mrg_model_config *c = &m->cfg;
    int64_t Dv = c->vit.dim, D = c->lm.dim, hid = ENC_MLP_RATIO * Dv;
    mrg_nn_ctx ctx = mrg_nn_ctx_make(m->dev, &m->params, c->seed ^ 0x5eed0fc0ffeeULL, true);
    ctx.skip_init = skip_init;
    char name[64];
    mrg_status st = MRG_OK;
    m->content_blocks = calloc((size_t)(c->Lc > 0 ? c->Lc : 1), sizeof *m->content_blocks);
    m->topic_blocks = calloc((size_t)(c->Lt > 0 ? c->Lt : 1), sizeof *m->topic_blocks);
    if (!m->content_blocks || !m->topic_blocks) return mrg_error(MRG_ERR_OOM, "encoder blocks");
    for (int i = 0; i < c->Lc && st == MRG_OK; i++) {
        snprintf(name, sizeof name, "content.blocks.%d", i);
        st = mrg_nn_block_init(&m->content_blocks[i], &ctx, name, Dv, c->enc_heads, hid, ENC_EPS);
    }
    if (st != MRG_OK) return st;
    m->content_queries = mrg_nn_param(&ctx, "content.queries", MRG_F32, MRG_SHAPE(1, c->Kc, Dv),
                                      MRG_NN_TRUNC_NORMAL, 0.02f);
    if (!m->content_queries) return MRG_ERR_OOM;
    st = mrg_nn_cross_block_init(&m->content_cross, &ctx, "content.cross", Dv, Dv, c->enc_heads,
                                 hid, ENC_EPS);
    if (st == MRG_OK && c->Kt > 0)
        st = mrg_nn_linear_init(&m->topic_proj, &ctx, "topic.query_proj", D, Dv, true);
    for (int i = 0; i < c->Lt && c->Kt > 0 && st == MRG_OK; i++) {
        snprintf(name, sizeof name, "topic.blocks.%d", i);
        st = mrg_nn_cross_block_init(&m->topic_blocks[i], &ctx, name, Dv, Dv, c->enc_heads, hid,
                                     ENC_EPS);
    }
    if (st == MRG_OK) st = mrg_nn_linear_init(&m->proj, &ctx, "proj.linear", Dv, D, true);
    if (st == MRG_OK) st = mrg_nn_layernorm_init(&m->proj_norm, &ctx, "proj.norm", D, PROJ_EPS);
    return st;
}

/* topic_emb (Kt, D): the frozen LLaMA input embedding of each topic word,
 * averaged over its sentencepiece tokens. A constant, computed once. */
static mrg_status build_topics(mrg_model *m) {
    const mrg_model_config *c = &m->cfg;
    if (c->Kt == 0) return MRG_OK;
    int64_t D = m->lm->cfg.dim;
    m->topic_emb = mrg_tensor_new_persistent(m->dev, MRG_F32, MRG_SHAPE(c->Kt, D));
    if (!m->topic_emb) return MRG_ERR_OOM;
    bool prev = mrg_grad_set_enabled(m->dev, false);
    mrg_tensor *rows[MRG_MAX_TOPICS];
    mrg_status st = MRG_OK;
    for (int i = 0; i < c->Kt && st == MRG_OK; i++) {
        int32_t *ids = NULL;
        int n = 0;
        st = mrg_tokenizer_encode(m->tok, c->topic_words[i], false, &ids, &n);
        if (st == MRG_OK && n == 0)
            st = mrg_error(MRG_ERR_INVALID_ARG, "topic word '%s' encodes to no token",
                           c->topic_words[i]);
        if (st == MRG_OK) {
            mrg_tensor *t = mrg_tensor_from_i32(m->dev, MRG_SHAPE(1, n), ids); /* (1, n) */
            rows[i] = mrg_mean(mrg_llama_embed(m->lm, t), 1, false);           /* (1, D) */
            if (!rows[i])
                st = mrg_error_context(MRG_ERR_DEVICE, "topic word '%s'", c->topic_words[i]);
        }
        free(ids);
    }
    if (st == MRG_OK) {
        mrg_tensor *all = mrg_concat(rows, c->Kt, 0); /* (Kt, D) */
        st = all ? mrg_tensor_copy(m->topic_emb, all) : MRG_ERR_DEVICE;
    }
    mrg_grad_set_enabled(m->dev, prev);
    return st;
}

/* The projection's LayerNorm gain starts at the RMS of the frozen LM's input
 * embeddings (sampled over up to 4096 evenly spaced ids), so that the prefix
 * enters the LM at the scale of its own tokens. With unit gain every prefix
 * row has norm sqrt(D), ~50× the tiny LM's token embeddings: the prefix then
 * dominates its residual stream, the attention of the LM's layers barely
 * changes it, and what the report positions read there is far from what
 * the LM learned to read. */
static mrg_status scale_prefix_norm(mrg_model *m) {
    int64_t V = m->lm->cfg.vocab_size, n = V < 4096 ? V : 4096, D = m->lm->cfg.dim;
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)n);
    float *e = malloc(sizeof(float) * (size_t)(n * D));
    mrg_status st = ids && e ? MRG_OK : mrg_error(MRG_ERR_OOM, "model: prefix scale");
    for (int64_t i = 0; i < n && st == MRG_OK; i++) ids[i] = (int32_t)(i * V / n);
    bool prev = mrg_grad_set_enabled(m->dev, false);
    if (st == MRG_OK) {
        mrg_tensor *t = mrg_tensor_from_i32(m->dev, MRG_SHAPE(1, n), ids);
        mrg_tensor *emb = t ? mrg_llama_embed(m->lm, t) : NULL; /* (1, n, D) */
        st = emb ? mrg_tensor_to_f32(emb, e) : mrg_error_context(MRG_ERR_DEVICE, "model: prefix scale");
    }
    mrg_grad_set_enabled(m->dev, prev);
    if (st == MRG_OK) {
        double ss = 0;
        for (int64_t i = 0; i < n * D; i++) ss += (double)e[i] * e[i];
        float rms = (float)sqrt(ss / (double)(n * D));
        st = rms > 0 && isfinite(rms) ? mrg_tensor_fill(m->proj_norm.weight, rms)
                                      : mrg_error(MRG_ERR_FORMAT, "model: the LM's embeddings are all zero or not finite");
    }
    free(ids);
    free(e);
    return st;
}

static mrg_status build_prompt(mrg_model *m) {
    mrg_status st =
        mrg_tokenizer_encode(m->tok, m->cfg.prompt_before, true, &m->before_ids, &m->n_before);
    if (st == MRG_OK)
        st = mrg_tokenizer_encode(m->tok, m->cfg.prompt_after, false, &m->after_ids, &m->n_after);
    if (st == MRG_OK && (m->n_before < 1 || m->before_ids[0] != mrg_tokenizer_bos(m->tok)))
        st = mrg_error(MRG_ERR_INVALID_ARG, "the tokenizer has no BOS token");
    return st;
}

static mrg_status load_vit(mrg_model *m, const char *vit_dir, const mrg_vit_opts *o) {
    char path[4200];
    snprintf(path, sizeof path, "%s/config.json", vit_dir);
    mrg_st_file *f = mrg_st_open_dir(vit_dir);
    if (!f) return mrg_error_context(MRG_ERR_IO, "ViT weights");
    mrg_vit_config vc;
    mrg_status st = mrg_vit_config_read(path, f, &vc);
    if (st == MRG_OK) {
        vc.num_classes = 0; /* the classifier head of a timm checkpoint is not used */
        m->cfg.vit = vc;
        m->vit = mrg_vit_create(m->dev, &vc, o);
        st = m->vit ? mrg_params_load(mrg_vit_params(m->vit), f, o->prefix) : MRG_ERR_OOM;
    }
    mrg_st_close(f);
    if (st != MRG_OK) mrg_error_context(st, "ViT from %s", vit_dir);
    return st;
}

/* Everything of mrg_model_create; skip_init leaves the trained parts zero
 * for a checkpoint to fill. */
static mrg_model *model_new(const mrg_model_config *cfg, mrg_device *dev, const char *lm_path,
                            const char *vit_dir, const char *tokenizer_path, bool skip_init,
                            const char *expect_lm_hash) {
    if (!cfg || !dev) {
        mrg_error(MRG_ERR_INVALID_ARG, "model: NULL config or device");
        return NULL;
    }
    if (mrg_model_config_check(cfg) != MRG_OK) return NULL;
    mrg_model *m = calloc(1, sizeof *m);
    if (!m) {
        mrg_error(MRG_ERR_OOM, "model");
        return NULL;
    }
    m->cfg = *cfg;
    m->dev = dev;
    mrg_params_init(&m->params);
    mrg_status st = MRG_OK;
    /* the LM first: a wrong path is named as what it is */
    if (lm_path && !mrg_is_dir(lm_path) && !mrg_is_file(lm_path))
        st = mrg_error(MRG_ERR_NOT_FOUND,
                       "the LM %s does not exist (give the directory `mrg pretrain-lm` wrote, a "
                       "Hugging Face LLaMA directory or a llama2.c .bin file)",
                       lm_path);
    /* the LM is frozen: it must be the very one a checkpoint was trained
     * with. (A new model hashes its LM only when asked, mrg_model_lm_hash:
     * reading a 7B LM twice would double the load of a benchmark.) */
    if (st == MRG_OK && lm_path && expect_lm_hash && *expect_lm_hash) {
        uint64_t h;
        st = mrg_hash_lm(lm_path, &h);
        if (st == MRG_OK) mrg_hash_hex(h, m->lm_hash);
        if (st == MRG_OK && strcmp(expect_lm_hash, m->lm_hash))
            st = mrg_error(MRG_ERR_INVALID_ARG,
                           "the LM %s is not the frozen LM the checkpoint was trained with (content "
                           "hash %s, recorded %s): it was retrained, replaced or changed since",
                           lm_path, m->lm_hash, expect_lm_hash);
    }
    /* tokenizer */
    if (st == MRG_OK && tokenizer_path)
        st = absolute(tokenizer_path, m->tok_path, sizeof m->tok_path);
    else if (st == MRG_OK && lm_path)
        st = find_tokenizer(lm_path, m->tok_path, sizeof m->tok_path);
    else if (st == MRG_OK)
        st = mrg_error(MRG_ERR_INVALID_ARG,
                       "model: no tokenizer (give a tokenizer path or an LM "
                       "directory holding tokenizer.model)");
    if (st == MRG_OK && !(m->tok = mrg_tokenizer_load(m->tok_path))) st = MRG_ERR_IO;
    /* frozen language model */
    if (st == MRG_OK && lm_path) {
        st = absolute(lm_path, m->lm_path, sizeof m->lm_path);
        /* bf16-mixed holds the frozen LLaMA in bf16, as R2GenGPT does */
        mrg_llama_load_opts lo = {.weight_dtype = MRG_BF16};
        bool mixed = cfg->precision == MRG_PRECISION_BF16_MIXED;
        if (st == MRG_OK && !(m->lm = mrg_llama_load(m->lm_path, dev, mixed ? &lo : NULL)))
            st = MRG_ERR_IO;
        if (st == MRG_OK) m->cfg.lm = m->lm->cfg;
    } else if (st == MRG_OK) {
        /* large random models (shape benchmarks) are kept in bf16 */
        const mrg_llama_config *l = &cfg->lm;
        double n =
            (double)l->dim * ((double)l->vocab_size * 2 + (double)l->n_layers * 3 * l->hidden_dim);
        bool bf16 = n > 1e8 || cfg->precision == MRG_PRECISION_BF16_MIXED;
        m->lm = mrg_llama_create(l, bf16 ? MRG_BF16 : MRG_F32, false, dev);
        st = m->lm ? (skip_init ? MRG_OK : randomize_llama(m->lm, cfg->seed ^ 0x11a3aULL))
                   : MRG_ERR_OOM;
        m->lm_in_checkpoint = true;
    }
    if (st == MRG_OK && mrg_tokenizer_vocab_size(m->tok) > m->cfg.lm.vocab_size)
        st = mrg_error(MRG_ERR_INVALID_ARG, "model: the tokenizer has %d tokens, the LM only %d",
                       mrg_tokenizer_vocab_size(m->tok), m->cfg.lm.vocab_size);
    /* vision encoder */
    mrg_vit_opts vo = {.trainable = !cfg->freeze_vit, .seed = cfg->seed, .prefix = "vit."};
    if (st == MRG_OK && vit_dir)
        st = load_vit(m, vit_dir, &vo);
    else if (st == MRG_OK && !(m->vit = mrg_vit_create(dev, &m->cfg.vit, &vo)))
        st = MRG_ERR_OOM;
    if (st == MRG_OK) st = build_encoders(m, skip_init);
    if (st == MRG_OK && !skip_init) st = scale_prefix_norm(m);
    if (st == MRG_OK) st = build_topics(m);
    if (st == MRG_OK) st = build_prompt(m);
    if (st != MRG_OK) {
        mrg_error_context(st, "creating the model");
        mrg_model_free(m);
        return NULL;
    }
    return m;
}

mrg_model *mrg_model_create(const mrg_model_config *cfg, mrg_device *dev, const char *lm_path,
                            const char *vit_dir, const char *tokenizer_path) {
    return model_new(cfg, dev, lm_path, vit_dir, tokenizer_path, false, NULL);
}

void mrg_model_free(mrg_model *m) {
    if (!m) return;
    mrg_params_free(&m->params);
    free(m->content_blocks);
    free(m->topic_blocks);
    mrg_tensor_free(m->topic_emb);
    mrg_vit_free(m->vit);
    mrg_llama_free(m->lm);
    mrg_tokenizer_free(m->tok);
    free(m->before_ids);
    free(m->after_ids);
    free(m);
}

/* ---- checkpoints ------------------------------------------------------------ */

/* Inside a checkpoint: the LM when it was random (not loaded from a path)
 * and a copy of the tokenizer. */
static const char LM_SUBDIR[] = "lm";
static const char TOK_FILE[] = "tokenizer.model";

/* How a checkpoint in dir records the LM at lm (absolute): relative when
 * the LM lies beside it (inside the directory that holds the checkpoint's
 * run, e.g. "../../lm" for RUN/last and DIR/lm), so that the run and its LM
 * can move together; absolute otherwise. */
static void lm_path_for(const char *dir, const char *lm, char *out, size_t n) {
    char abs_dir[PATH_MAX];
    snprintf(out, n, "%s", lm);
    if (!realpath(dir, abs_dir)) return;
    char up[PATH_MAX];
    snprintf(up, sizeof up, "%s", abs_dir);
    const char *dots[2] = {"../", "../../"};
    for (int level = 0; level < 2; level++) {
        char *slash = strrchr(up, '/');
        if (!slash || slash == up) return; /* never relative to / */
        *slash = 0;
        size_t k = strlen(up);
        if (!strncmp(lm, up, k) && lm[k] == '/') {
            snprintf(out, n, "%s%s", dots[level], lm + k + 1);
            return;
        }
    }
}

mrg_status mrg_model_save(const mrg_model *m, const char *dir) {
    if (!m || !dir) return mrg_error(MRG_ERR_INVALID_ARG, "model save: NULL argument");
    mrg_status st = mrg_mkdir(dir);
    if (st != MRG_OK) return st;
    char path[4200];
    if (m->lm_in_checkpoint) { /* a random LM lives only in memory: keep it with the model */
        snprintf(path, sizeof path, "%s/%s", dir, LM_SUBDIR);
        st = mrg_mkdir(path);
        if (st != MRG_OK) return st;
        st = mrg_llama_save_hf(m->lm, path);
        if (st != MRG_OK) return st;
    }
    mrg_st_writer *w = mrg_st_writer_new();
    if (!w) return mrg_error(MRG_ERR_OOM, "safetensors writer");
    st = mrg_params_save(mrg_vit_params(m->vit), w);
    if (st == MRG_OK) st = mrg_params_save(&m->params, w);
    if (st == MRG_OK) st = mrg_st_writer_meta(w, "format", "mrg-model");
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    if (st == MRG_OK) st = mrg_st_writer_save(w, path);
    mrg_st_writer_free(w);
    if (st != MRG_OK) return st;
    /* the tokenizer travels with the checkpoint (small; read whole first, so
     * saving over the checkpoint it was loaded from is safe) */
    size_t tok_len = 0;
    char *tok;
    st = mrg_read_file(m->tok_path, (size_t)MRG_MAX_CONFIG_BYTES, "MRG_MAX_CONFIG_BYTES", &tok, &tok_len);
    if (st != MRG_OK) return st;
    snprintf(path, sizeof path, "%s/%s", dir, TOK_FILE);
    st = mrg_write_file_atomic(path, tok, tok_len, true);
    free(tok);
    if (st != MRG_OK) return st;
    /* config.json last: a directory with a config always has its weights */
    char *text = mrg_model_config_to_json(&m->cfg);
    cJSON *o = text ? cJSON_Parse(text) : NULL;
    free(text);
    char lm_rel[4200];
    if (!m->lm_in_checkpoint) lm_path_for(dir, m->lm_path, lm_rel, sizeof lm_rel);
    if (!m->lm_in_checkpoint && !*mrg_model_lm_hash(m)) {
        cJSON_Delete(o);
        return mrg_error_context(MRG_ERR_IO, "saving %s: fingerprinting the LM", dir);
    }
    bool ok = o &&
              cJSON_AddStringToObject(o, "lm_path", m->lm_in_checkpoint ? LM_SUBDIR : lm_rel) &&
              (m->lm_in_checkpoint || cJSON_AddStringToObject(o, "lm_hash", m->lm_hash)) &&
              cJSON_AddStringToObject(o, "tokenizer_path", TOK_FILE);
    text = ok ? cJSON_Print(o) : NULL;
    cJSON_Delete(o);
    if (!text) return mrg_error(MRG_ERR_OOM, "model config JSON");
    snprintf(path, sizeof path, "%s/config.json", dir);
    st = mrg_write_file_atomic(path, text, strlen(text), true);
    free(text);
    return st;
}

/* A path from config.json: absolute as written, or relative to the
 * checkpoint directory. */
static mrg_status take_path(cJSON *o, const char *key, const char *dir, char *out, size_t n) {
    cJSON *v = cJSON_DetachItemFromObjectCaseSensitive(o, key);
    const char *s = cJSON_GetStringValue(v);
    mrg_status st = MRG_OK;
    if (!s || !*s)
        st = mrg_error(MRG_ERR_FORMAT, "%s/config.json: \"%s\" is missing", dir, key);
    else if (s[0] == '/')
        snprintf(out, n, "%s", s);
    else
        snprintf(out, n, "%s/%s", dir, s);
    cJSON_Delete(v);
    return st;
}

mrg_model *mrg_model_load(const char *dir, mrg_device *dev) { return mrg_model_load_lm(dir, dev, NULL); }

mrg_model *mrg_model_load_lm(const char *dir, mrg_device *dev, const char *lm_override) {
    if (!dir || !dev) {
        mrg_error(MRG_ERR_INVALID_ARG, "model load: NULL argument");
        return NULL;
    }
    char path[4200], lm_path[4200], tok_path[4200], lm_hash[17] = "";
    snprintf(path, sizeof path, "%s/config.json", dir);
    char *text;
    if (mrg_read_file(path, (size_t)MRG_MAX_CONFIG_BYTES, "MRG_MAX_CONFIG_BYTES", &text, NULL) != MRG_OK) return NULL;
    cJSON *o = cJSON_Parse(text);
    free(text);
    if (!o) {
        mrg_error(MRG_ERR_FORMAT, "%s: malformed JSON", path);
        return NULL;
    }
    /* start from the named preset, so an older file missing a field still loads */
    mrg_model_config cfg;
    const char *preset = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "preset"));
    if (!preset || mrg_model_preset(preset, &cfg) != MRG_OK) mrg_model_preset("paper", &cfg);
    mrg_status st = take_path(o, "lm_path", dir, lm_path, sizeof lm_path);
    if (st == MRG_OK) st = take_path(o, "tokenizer_path", dir, tok_path, sizeof tok_path);
    /* the LM's fingerprint (checkpoints from before it was recorded have none) */
    cJSON *h = cJSON_DetachItemFromObjectCaseSensitive(o, "lm_hash");
    uint64_t hv;
    if (h && (!cJSON_IsString(h) || !mrg_hash_parse(h->valuestring, &hv)))
        st = mrg_error(MRG_ERR_FORMAT, "%s: \"lm_hash\" must be 16 hex digits", path);
    else if (h)
        snprintf(lm_hash, sizeof lm_hash, "%s", h->valuestring);
    cJSON_Delete(h);
    if (st == MRG_OK) st = mrg_model_config_apply_cjson(&cfg, o);
    cJSON_Delete(o);
    if (st != MRG_OK) {
        mrg_error_context(st, "%s", path);
        return NULL;
    }
    snprintf(path, sizeof path, "%s/%s", dir, LM_SUBDIR);
    char abs_sub[PATH_MAX], abs_lm[PATH_MAX];
    bool lm_inside = realpath(path, abs_sub) && realpath(lm_path, abs_lm) && !strcmp(abs_sub, abs_lm);
    if (lm_override && lm_inside) {
        mrg_error(MRG_ERR_INVALID_ARG,
                  "%s holds its own (random) LM in %s; another LM cannot replace it", dir, path);
        return NULL;
    }
    if (!lm_override && access(lm_path, F_OK) != 0) {
        mrg_error(MRG_ERR_NOT_FOUND,
                  "the frozen LM %s that %s was trained with does not exist (moved or deleted?); "
                  "put it back, or give its new place (the same LM, content hash %s) with --lm",
                  lm_path, dir, *lm_hash ? lm_hash : "not recorded");
        return NULL;
    }
    mrg_model *m = model_new(&cfg, dev, lm_override ? lm_override : lm_path, NULL, tok_path, true,
                             lm_hash);
    if (!m) return NULL;
    /* an LM stored inside the checkpoint is saved again with the next checkpoint */
    if (lm_inside) m->lm_in_checkpoint = true;
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    mrg_st_file *f = mrg_st_open(path);
    st = f ? mrg_params_load(mrg_vit_params(m->vit), f, NULL) : MRG_ERR_IO;
    if (st == MRG_OK) st = mrg_params_load(&m->params, f, NULL);
    mrg_st_close(f);
    if (st != MRG_OK) {
        mrg_error_context(st, "loading %s", dir);
        mrg_model_free(m);
        return NULL;
    }
    return m;
}

const char *mrg_model_lm_hash(const mrg_model *m) {
    if (m->lm_in_checkpoint) return "";
    if (!m->lm_hash[0]) { /* computed once, on first use (a cache: logically const) */
        uint64_t h;
        if (mrg_hash_lm(m->lm_path, &h) == MRG_OK) mrg_hash_hex(h, ((mrg_model *)m)->lm_hash);
    }
    return m->lm_hash;
}
const char *mrg_model_lm_path(const mrg_model *m) { return m->lm_in_checkpoint ? "" : m->lm_path; }

/* ---- accessors ---------------------------------------------------------------- */

const mrg_model_config *mrg_model_get_config(const mrg_model *m) { return &m->cfg; }
mrg_device *mrg_model_device(const mrg_model *m) { return m->dev; }
mrg_llama *mrg_model_llama(mrg_model *m) { return m->lm; }
const mrg_tokenizer *mrg_model_tokenizer(const mrg_model *m) { return m->tok; }

static int list_params(mrg_model *m, bool trainable_only, mrg_tensor **out, const char **names,
                       int max) {
    const mrg_params *lists[2] = {mrg_vit_params(m->vit), &m->params};
    int k = 0;
    for (int l = 0; l < 2; l++)
        for (int i = 0; i < lists[l]->n; i++) {
            mrg_tensor *t = lists[l]->t[i];
            if (trainable_only && !t->trainable) continue;
            if (k < max) {
                if (out) out[k] = t;
                if (names) names[k] = t->name;
            }
            k++;
        }
    return k;
}

int mrg_model_trainable(mrg_model *m, mrg_tensor **out, const char **names, int max) {
    return m ? list_params(m, true, out, names, max) : 0;
}

int mrg_model_params(mrg_model *m, mrg_tensor **out, const char **names, int max) {
    return m ? list_params(m, false, out, names, max) : 0;
}

mrg_status mrg_model_prompt_ids(const mrg_model *m, const int32_t **before, int *n_before,
                                const int32_t **after, int *n_after) {
    if (!m) return mrg_error(MRG_ERR_INVALID_ARG, "model: NULL");
    if (before) *before = m->before_ids;
    if (n_before) *n_before = m->n_before;
    if (after) *after = m->after_ids;
    if (n_after) *n_after = m->n_after;
    return MRG_OK;
}

/* The report generator's configuration as JSON: every field under its C
 * name, the ViT and LLaMA shapes as nested "vit" and "lm" objects. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/files.h"
#include "mrg/limits.h"
#include "models/model_internal.h"

typedef enum { F_INT, F_FLOAT, F_BOOL, F_U64, F_STR } field_kind;

typedef struct field {
    const char *key;
    field_kind kind;
    size_t off;
    size_t size; /* F_STR: buffer size */
} field;

#define FI(s, k) \
    { #k, F_INT, offsetof(s, k), 0 }
#define FF(s, k) \
    { #k, F_FLOAT, offsetof(s, k), 0 }
#define FB(s, k) \
    { #k, F_BOOL, offsetof(s, k), 0 }

static const field MODEL_FIELDS[] = {
    {"preset", F_STR, offsetof(mrg_model_config, preset), sizeof(((mrg_model_config *)0)->preset)},
    FI(mrg_model_config, n_views),
    FB(mrg_model_config, freeze_vit),
    FI(mrg_model_config, enc_heads),
    FI(mrg_model_config, Lc),
    FI(mrg_model_config, Kc),
    FI(mrg_model_config, Lt),
    FI(mrg_model_config, Kt),
    FI(mrg_model_config, max_report_tokens),
    {"prompt_before", F_STR, offsetof(mrg_model_config, prompt_before),
     sizeof(((mrg_model_config *)0)->prompt_before)},
    {"prompt_after", F_STR, offsetof(mrg_model_config, prompt_after),
     sizeof(((mrg_model_config *)0)->prompt_after)},
    FF(mrg_model_config, lm_weight),
    FF(mrg_model_config, con_weight),
    FF(mrg_model_config, temperature),
    FF(mrg_model_config, lr),
    FF(mrg_model_config, weight_decay),
    FF(mrg_model_config, min_lr),
    FF(mrg_model_config, warmup_frac),
    FF(mrg_model_config, clip_norm),
    FI(mrg_model_config, batch_size),
    FI(mrg_model_config, grad_accum),
    FI(mrg_model_config, epochs),
    {"seed", F_U64, offsetof(mrg_model_config, seed), 0},
    FI(mrg_model_config, beam),
    FI(mrg_model_config, min_new),
    FI(mrg_model_config, max_new),
    FF(mrg_model_config, repetition_penalty),
    FF(mrg_model_config, length_penalty),
};

static const field VIT_FIELDS[] = {
    FI(mrg_vit_config, image_size), FI(mrg_vit_config, patch_size),  FI(mrg_vit_config, in_chans),
    FI(mrg_vit_config, dim),        FI(mrg_vit_config, depth),       FI(mrg_vit_config, heads),
    FI(mrg_vit_config, mlp_hidden), FI(mrg_vit_config, num_classes), FF(mrg_vit_config, eps),
};

static const field LM_FIELDS[] = {
    FI(mrg_llama_config, dim),        FI(mrg_llama_config, hidden_dim),
    FI(mrg_llama_config, n_layers),   FI(mrg_llama_config, n_heads),
    FI(mrg_llama_config, n_kv_heads), FI(mrg_llama_config, vocab_size),
    FI(mrg_llama_config, max_seq),    FF(mrg_llama_config, norm_eps),
    FF(mrg_llama_config, rope_theta), FB(mrg_llama_config, tied_embeddings),
    FI(mrg_llama_config, bos_id),     FI(mrg_llama_config, eos_id),
};

#define NF(a) (int)(sizeof(a) / sizeof((a)[0]))

/* ---- writing -------------------------------------------------------------- */

/* The double of the shortest decimal that reads back as x, so that 1e-4f
 * is written as 0.0001 rather than 9.99999975e-05. */
static double short_double(float x) {
    char s[32];
    for (int p = 1; p < 9; p++) {
        snprintf(s, sizeof s, "%.*g", p, x);
        if ((float)strtod(s, NULL) == x) return strtod(s, NULL);
    }
    snprintf(s, sizeof s, "%.9g", x);
    return strtod(s, NULL);
}

static bool add_fields(cJSON *o, const void *base, const field *fs, int n) {
    const char *b = base;
    for (int i = 0; i < n; i++) {
        const field *f = &fs[i];
        cJSON *v = NULL;
        switch (f->kind) {
            case F_INT:
                v = cJSON_CreateNumber(*(const int *)(b + f->off));
                break;
            case F_FLOAT:
                v = cJSON_CreateNumber(short_double(*(const float *)(b + f->off)));
                break;
            case F_BOOL:
                v = cJSON_CreateBool(*(const bool *)(b + f->off));
                break;
            case F_U64: {
                /* exactly: cJSON prints doubles past 2^49 with 15 digits */
                char u[32];
                snprintf(u, sizeof u, "%" PRIu64, *(const uint64_t *)(b + f->off));
                v = cJSON_CreateRaw(u);
                break;
            }
            case F_STR:
                v = cJSON_CreateString(b + f->off);
                break;
        }
        if (!v || !cJSON_AddItemToObject(o, f->key, v)) {
            cJSON_Delete(v);
            return false;
        }
    }
    return true;
}

static bool add_floats(cJSON *o, const char *key, const float *x, int n) {
    cJSON *a = cJSON_AddArrayToObject(o, key);
    for (int i = 0; a && i < n; i++) {
        if (!cJSON_AddItemToArray(a, cJSON_CreateNumber(short_double(x[i])))) return false;
    }
    return a != NULL;
}

char *mrg_model_config_to_json(const mrg_model_config *c) {
    if (!c) {
        mrg_error(MRG_ERR_INVALID_ARG, "model config: NULL");
        return NULL;
    }
    cJSON *o = cJSON_CreateObject();
    bool ok = o && add_fields(o, c, MODEL_FIELDS, NF(MODEL_FIELDS));
    ok = ok && cJSON_AddStringToObject(o, "view_combine",
                                       c->view_combine == MRG_VIEWS_MEAN ? "mean" : "concat");
    ok = ok && cJSON_AddStringToObject(o, "precision", mrg_precision_name(c->precision));
    cJSON *topics = ok ? cJSON_AddArrayToObject(o, "topic_words") : NULL;
    ok = ok && topics;
    for (int i = 0; ok && i < c->Kt && i < MRG_MAX_TOPICS; i++)
        ok = cJSON_AddItemToArray(topics, cJSON_CreateString(c->topic_words[i]));
    cJSON *vit = ok ? cJSON_AddObjectToObject(o, "vit") : NULL;
    ok = ok && vit && add_fields(vit, &c->vit, VIT_FIELDS, NF(VIT_FIELDS)) &&
         add_floats(vit, "mean", c->vit.mean, 3) && add_floats(vit, "std", c->vit.std, 3);
    cJSON *lm = ok ? cJSON_AddObjectToObject(o, "lm") : NULL;
    ok = ok && lm && add_fields(lm, &c->lm, LM_FIELDS, NF(LM_FIELDS)) &&
         cJSON_AddStringToObject(
             lm, "rope_layout", c->lm.rope_layout == MRG_ROPE_INTERLEAVED ? "interleaved" : "half");
    char *text = ok ? cJSON_Print(o) : NULL;
    cJSON_Delete(o);
    if (!text) mrg_error(MRG_ERR_OOM, "model config: JSON");
    return text;
}

/* ---- reading -------------------------------------------------------------- */

static mrg_status set_field(void *base, const field *f, const cJSON *v, const char *where) {
    char *b = base;
    switch (f->kind) {
        case F_INT:
            if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) ||
                fabs(v->valuedouble) > 2e9)
                return mrg_error(MRG_ERR_FORMAT, "model config: \"%s%s\" must be an integer", where,
                                 f->key);
            *(int *)(b + f->off) = (int)v->valuedouble;
            return MRG_OK;
        case F_FLOAT:
            /* finite as a float: 1e999 or 1e39 would become infinity */
            if (!cJSON_IsNumber(v) || !isfinite((float)v->valuedouble))
                return mrg_error(MRG_ERR_FORMAT, "model config: \"%s%s\" must be a finite number",
                                 where, f->key);
            *(float *)(b + f->off) = (float)v->valuedouble;
            return MRG_OK;
        case F_BOOL:
            if (!cJSON_IsBool(v))
                return mrg_error(MRG_ERR_FORMAT, "model config: \"%s%s\" must be true or false",
                                 where, f->key);
            *(bool *)(b + f->off) = cJSON_IsTrue(v);
            return MRG_OK;
        case F_U64:
            if (!cJSON_IsNumber(v) || v->valuedouble < 0 ||
                v->valuedouble != floor(v->valuedouble) || v->valuedouble > 9007199254740992.0)
                return mrg_error(MRG_ERR_FORMAT,
                                 "model config: \"%s%s\" must be a non-negative integer <= 2^53",
                                 where, f->key);
            *(uint64_t *)(b + f->off) = (uint64_t)v->valuedouble;
            return MRG_OK;
        case F_STR:
            if (!cJSON_IsString(v) || strlen(v->valuestring) >= f->size)
                return mrg_error(MRG_ERR_FORMAT,
                                 "model config: \"%s%s\" must be a string of at most %zu bytes",
                                 where, f->key, f->size - 1);
            snprintf(b + f->off, f->size, "%s", v->valuestring);
            return MRG_OK;
    }
    return MRG_ERR_INVALID_ARG;
}

static const field *find_field(const field *fs, int n, const char *key) {
    for (int i = 0; i < n; i++)
        if (!strcmp(fs[i].key, key)) return &fs[i];
    return NULL;
}

static mrg_status read_floats3(const cJSON *v, float *out, const char *key) {
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != 3)
        return mrg_error(MRG_ERR_FORMAT, "model config: \"vit.%s\" must be a list of 3 numbers",
                         key);
    for (int i = 0; i < 3; i++) {
        const cJSON *e = cJSON_GetArrayItem(v, i);
        if (!cJSON_IsNumber(e))
            return mrg_error(MRG_ERR_FORMAT, "model config: \"vit.%s\" must hold numbers", key);
        out[i] = (float)e->valuedouble;
    }
    return MRG_OK;
}

static mrg_status apply_vit(mrg_vit_config *c, const cJSON *obj) {
    if (!cJSON_IsObject(obj))
        return mrg_error(MRG_ERR_FORMAT, "model config: \"vit\" must be an object");
    for (const cJSON *v = obj->child; v; v = v->next) {
        mrg_status st;
        const field *f = find_field(VIT_FIELDS, NF(VIT_FIELDS), v->string);
        if (f)
            st = set_field(c, f, v, "vit.");
        else if (!strcmp(v->string, "mean"))
            st = read_floats3(v, c->mean, "mean");
        else if (!strcmp(v->string, "std"))
            st = read_floats3(v, c->std, "std");
        else
            st = mrg_error(MRG_ERR_INVALID_ARG, "model config: unknown key \"vit.%s\"", v->string);
        if (st != MRG_OK) return st;
    }
    return MRG_OK;
}

static mrg_status apply_lm(mrg_llama_config *c, const cJSON *obj) {
    if (!cJSON_IsObject(obj))
        return mrg_error(MRG_ERR_FORMAT, "model config: \"lm\" must be an object");
    for (const cJSON *v = obj->child; v; v = v->next) {
        mrg_status st;
        const field *f = find_field(LM_FIELDS, NF(LM_FIELDS), v->string);
        if (f) {
            st = set_field(c, f, v, "lm.");
        } else if (!strcmp(v->string, "rope_layout")) {
            const char *s = cJSON_GetStringValue(v);
            if (s && !strcmp(s, "half"))
                c->rope_layout = MRG_ROPE_HALF;
            else if (s && !strcmp(s, "interleaved"))
                c->rope_layout = MRG_ROPE_INTERLEAVED;
            else
                return mrg_error(MRG_ERR_FORMAT,
                                 "model config: \"lm.rope_layout\" must be \"half\" or "
                                 "\"interleaved\"");
            st = MRG_OK;
        } else {
            st = mrg_error(MRG_ERR_INVALID_ARG, "model config: unknown key \"lm.%s\"", v->string);
        }
        if (st != MRG_OK) return st;
    }
    return MRG_OK;
}

/* "topic_words" also sets Kt to the number of words; an explicit "Kt" in
 * the same object must agree with it. */
static mrg_status apply_topics(mrg_model_config *c, const cJSON *v, bool kt_given) {
    int n = cJSON_GetArraySize(v);
    if (!cJSON_IsArray(v) || n > MRG_MAX_TOPICS)
        return mrg_error(MRG_ERR_FORMAT,
                         "model config: \"topic_words\" must be a list of at most %d strings",
                         MRG_MAX_TOPICS);
    if (kt_given && c->Kt != n)
        return mrg_error(MRG_ERR_INVALID_ARG,
                         "model config: \"Kt\" is %d but \"topic_words\" lists %d words", c->Kt, n);
    char words[MRG_MAX_TOPICS][24];
    memset(words, 0, sizeof words);
    for (int i = 0; i < n; i++) {
        const char *s = cJSON_GetStringValue(cJSON_GetArrayItem(v, i));
        if (!s || !*s || strlen(s) >= sizeof words[i])
            return mrg_error(MRG_ERR_FORMAT,
                             "model config: topic word %d must be a non-empty string of at most "
                             "%zu bytes",
                             i + 1, sizeof words[i] - 1);
        snprintf(words[i], sizeof words[i], "%s", s);
    }
    memcpy(c->topic_words, words, sizeof words);
    c->Kt = n;
    return MRG_OK;
}

mrg_status mrg_model_config_apply_cjson(mrg_model_config *cfg, const cJSON *obj) {
    if (!cJSON_IsObject(obj))
        return mrg_error(MRG_ERR_FORMAT, "model config: the JSON must be an object");
    /* work on a copy so that a failed override leaves cfg untouched */
    mrg_model_config c = *cfg;
    const cJSON *topics = NULL;
    bool kt_given = false;
    for (const cJSON *v = obj->child; v; v = v->next) {
        mrg_status st = MRG_OK;
        const field *f = find_field(MODEL_FIELDS, NF(MODEL_FIELDS), v->string);
        if (f) {
            st = set_field(&c, f, v, "");
            if (!strcmp(v->string, "Kt")) kt_given = true;
        } else if (!strcmp(v->string, "vit")) {
            st = apply_vit(&c.vit, v);
        } else if (!strcmp(v->string, "lm")) {
            st = apply_lm(&c.lm, v);
        } else if (!strcmp(v->string, "topic_words")) {
            topics = v;
        } else if (!strcmp(v->string, "view_combine")) {
            const char *s = cJSON_GetStringValue(v);
            if (s && !strcmp(s, "concat"))
                c.view_combine = MRG_VIEWS_CONCAT;
            else if (s && !strcmp(s, "mean"))
                c.view_combine = MRG_VIEWS_MEAN;
            else
                st = mrg_error(MRG_ERR_FORMAT,
                               "model config: \"view_combine\" must be \"concat\" or \"mean\"");
        } else if (!strcmp(v->string, "precision")) {
            if (mrg_precision_parse(cJSON_GetStringValue(v), &c.precision) != MRG_OK)
                st = mrg_error(MRG_ERR_FORMAT,
                               "model config: \"precision\" must be \"f32\" or \"bf16-mixed\"");
        } else {
            st = mrg_error(MRG_ERR_INVALID_ARG, "model config: unknown key \"%s\"", v->string);
        }
        if (st != MRG_OK) return st;
    }
    if (topics) {
        mrg_status st = apply_topics(&c, topics, kt_given);
        if (st != MRG_OK) return st;
    }
    *cfg = c;
    return MRG_OK;
}

mrg_status mrg_model_config_apply_json(mrg_model_config *cfg, const char *json) {
    if (!cfg || !json) return mrg_error(MRG_ERR_INVALID_ARG, "model config: NULL argument");
    cJSON *o = cJSON_Parse(json);
    if (!o) return mrg_error(MRG_ERR_FORMAT, "model config: malformed JSON");
    mrg_status st = mrg_model_config_apply_cjson(cfg, o);
    cJSON_Delete(o);
    return st;
}

mrg_status mrg_model_config_apply_file(mrg_model_config *cfg, const char *path) {
    if (!cfg || !path) return mrg_error(MRG_ERR_INVALID_ARG, "model config: NULL argument");
    char *text;
    mrg_status st = mrg_read_file(path, (size_t)MRG_MAX_CONFIG_BYTES, "MRG_MAX_CONFIG_BYTES", &text, NULL);
    if (st != MRG_OK) return st;
    st = mrg_model_config_apply_json(cfg, text);
    free(text);
    if (st != MRG_OK) return mrg_error_context(st, "%s", path);
    return MRG_OK;
}

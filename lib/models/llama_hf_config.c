/* Hugging Face LLaMA config.json: read into mrg_llama_config, and write one
 * back for mrg_llama_save_hf. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/files.h"
#include "models/llama_internal.h"
#include "mrg/limits.h"

/* An integer field: required (def < 0 means required) or defaulted. */
static bool get_int(const cJSON *j, const char *key, int def, int *out, const char *path) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    if (cJSON_IsArray(v)) v = cJSON_GetArrayItem(v, 0); /* eos_token_id may be a list */
    if (!v || cJSON_IsNull(v)) {
        if (def < 0) {
            mrg_error(MRG_ERR_FORMAT, "%s: missing \"%s\"", path, key);
            return false;
        }
        *out = def;
        return true;
    }
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < 0 ||
        v->valuedouble > 1e9) {
        mrg_error(MRG_ERR_FORMAT, "%s: \"%s\" must be a non-negative integer", path, key);
        return false;
    }
    *out = (int)v->valuedouble;
    return true;
}

static bool get_float(const cJSON *j, const char *key, float def, float *out, const char *path) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    if (!v || cJSON_IsNull(v)) {
        *out = def;
        return true;
    }
    if (!cJSON_IsNumber(v)) {
        mrg_error(MRG_ERR_FORMAT, "%s: \"%s\" must be a number", path, key);
        return false;
    }
    *out = (float)v->valuedouble;
    return true;
}

mrg_status mrg_llama_config_read_hf(const char *path, mrg_llama_config *cfg) {
    if (!path || !cfg) return mrg_error(MRG_ERR_INVALID_ARG, "llama config: NULL argument");
    char *text;
    mrg_status st = mrg_read_file(path, (size_t)MRG_MAX_CONFIG_BYTES, "MRG_MAX_CONFIG_BYTES", &text, NULL);
    if (st != MRG_OK) return st;
    cJSON *j = cJSON_Parse(text);
    free(text);
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return mrg_error(MRG_ERR_FORMAT, "%s: not a JSON object", path);
    }
    mrg_llama_config c = {0};
    c.rope_layout = MRG_ROPE_HALF;
    bool ok = get_int(j, "hidden_size", -1, &c.dim, path) &&
              get_int(j, "intermediate_size", -1, &c.hidden_dim, path) &&
              get_int(j, "num_hidden_layers", -1, &c.n_layers, path) &&
              get_int(j, "num_attention_heads", -1, &c.n_heads, path) &&
              get_int(j, "vocab_size", -1, &c.vocab_size, path) &&
              get_int(j, "max_position_embeddings", 2048, &c.max_seq, path) &&
              get_int(j, "bos_token_id", 1, &c.bos_id, path) &&
              get_int(j, "eos_token_id", 2, &c.eos_id, path) &&
              get_float(j, "rms_norm_eps", 1e-6f, &c.norm_eps, path) &&
              get_float(j, "rope_theta", 10000.0f, &c.rope_theta, path);
    if (ok) ok = get_int(j, "num_key_value_heads", c.n_heads, &c.n_kv_heads, path);
    mrg_status fail = ok ? MRG_OK : MRG_ERR_FORMAT;
    const cJSON *tie = cJSON_GetObjectItemCaseSensitive(j, "tie_word_embeddings");
    c.tied_embeddings = cJSON_IsTrue(tie);
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(j, "model_type");
    const cJSON *scaling = cJSON_GetObjectItemCaseSensitive(j, "rope_scaling");
    const cJSON *hd = cJSON_GetObjectItemCaseSensitive(j, "head_dim");
    const cJSON *act = cJSON_GetObjectItemCaseSensitive(j, "hidden_act");
    if (ok && cJSON_IsString(type) && strcmp(type->valuestring, "llama") != 0) {
        ok = false;
        fail = mrg_error(MRG_ERR_UNSUPPORTED, "%s: model_type \"%s\" is not llama", path,
                         type->valuestring);
    }
    if (ok && scaling && !cJSON_IsNull(scaling)) {
        ok = false;
        fail = mrg_error(MRG_ERR_UNSUPPORTED, "%s: rope_scaling is not supported", path);
    }
    if (ok && cJSON_IsString(act) && strcmp(act->valuestring, "silu") != 0) {
        ok = false;
        fail = mrg_error(MRG_ERR_UNSUPPORTED, "%s: hidden_act \"%s\" is not supported (silu only)",
                         path, act->valuestring);
    }
    if (ok && cJSON_IsNumber(hd) && c.n_heads > 0 && (int64_t)hd->valueint * c.n_heads != c.dim) {
        ok = false;
        fail = mrg_error(MRG_ERR_UNSUPPORTED, "%s: head_dim %d differs from hidden_size / heads",
                         path, hd->valueint);
    }
    cJSON_Delete(j);
    if (!ok) return fail;
    st = mrg_llama_config_check(&c);
    if (st != MRG_OK) return mrg_error_context(MRG_ERR_FORMAT, "%s", path);
    *cfg = c;
    return MRG_OK;
}

/* The config as Hugging Face writes it (the fields we read, plus the fixed
 * ones a LLaMA config carries). Returns a malloc'd string or NULL. */
char *llama_config_to_hf_json(const mrg_llama_config *c, const char *torch_dtype) {
    cJSON *j = cJSON_CreateObject();
    if (!j) return NULL;
    cJSON *arch = cJSON_AddArrayToObject(j, "architectures");
    if (arch) cJSON_AddItemToArray(arch, cJSON_CreateString("LlamaForCausalLM"));
    cJSON_AddStringToObject(j, "model_type", "llama");
    cJSON_AddStringToObject(j, "hidden_act", "silu");
    cJSON_AddNumberToObject(j, "hidden_size", c->dim);
    cJSON_AddNumberToObject(j, "intermediate_size", c->hidden_dim);
    cJSON_AddNumberToObject(j, "num_hidden_layers", c->n_layers);
    cJSON_AddNumberToObject(j, "num_attention_heads", c->n_heads);
    cJSON_AddNumberToObject(j, "num_key_value_heads", c->n_kv_heads);
    cJSON_AddNumberToObject(j, "vocab_size", c->vocab_size);
    cJSON_AddNumberToObject(j, "max_position_embeddings", c->max_seq);
    cJSON_AddNumberToObject(j, "rms_norm_eps", c->norm_eps);
    cJSON_AddNumberToObject(j, "rope_theta", c->rope_theta);
    cJSON_AddBoolToObject(j, "tie_word_embeddings", c->tied_embeddings);
    cJSON_AddNumberToObject(j, "bos_token_id", c->bos_id);
    cJSON_AddNumberToObject(j, "eos_token_id", c->eos_id);
    cJSON_AddStringToObject(j, "torch_dtype", torch_dtype);
    char *s = cJSON_Print(j);
    cJSON_Delete(j);
    return s;
}

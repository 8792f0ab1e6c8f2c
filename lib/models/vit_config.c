/* ViT configuration: our config.json, timm's config.json, and the sizes
 * the tensor shapes of a checkpoint imply. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/files.h"
#include "mrg/limits.h"
#include "mrg/vit.h"

mrg_vit_config mrg_vit_config_base16(void) {
    mrg_vit_config c = {.image_size = 224,
                        .patch_size = 16,
                        .in_chans = 3,
                        .dim = 768,
                        .depth = 12,
                        .heads = 12,
                        .mlp_hidden = 3072,
                        .num_classes = 1000,
                        .eps = 1e-6f,
                        .mean = {0.5f, 0.5f, 0.5f},
                        .std = {0.5f, 0.5f, 0.5f}};
    return c;
}

mrg_status mrg_vit_config_check(const mrg_vit_config *c) {
    if (c->patch_size <= 0 || c->image_size <= 0 || c->image_size % c->patch_size)
        return mrg_error(MRG_ERR_INVALID_ARG,
                         "ViT config: image size %d is not a positive multiple of patch size %d",
                         c->image_size, c->patch_size);
    if (c->dim <= 0 || c->heads <= 0 || c->dim % c->heads)
        return mrg_error(MRG_ERR_INVALID_ARG, "ViT config: dim %d is not a multiple of %d heads",
                         c->dim, c->heads);
    if (c->depth < 1 || c->mlp_hidden <= 0 || c->num_classes < 0 || c->in_chans != 3)
        return mrg_error(MRG_ERR_INVALID_ARG,
                         "ViT config: depth %d, mlp_hidden %d, num_classes %d, in_chans %d "
                         "(need depth >= 1, mlp_hidden > 0, num_classes >= 0, 3 channels)",
                         c->depth, c->mlp_hidden, c->num_classes, c->in_chans);
    if (!(c->eps > 0) || !isfinite(c->eps))
        return mrg_error(MRG_ERR_INVALID_ARG, "ViT config: eps must be finite and > 0");
    for (int i = 0; i < 3; i++)
        if (!(c->std[i] > 0) || !isfinite(c->std[i]) || !isfinite(c->mean[i]))
            return mrg_error(MRG_ERR_INVALID_ARG, "ViT config: std must be finite and > 0, mean finite");
    return MRG_OK;
}

/* ---- JSON helpers -------------------------------------------------------- */

/* 1 found (into *out), 0 absent or null, -1 present but not an integer. */
static int get_int(const cJSON *obj, const char *key, int *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v || cJSON_IsNull(v)) return 0;
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) ||
        fabs(v->valuedouble) > 1e9) {
        mrg_error(MRG_ERR_FORMAT, "\"%s\" must be an integer", key);
        return -1;
    }
    *out = (int)v->valuedouble;
    return 1;
}

/* An image size given as n or [n, n] (timm's model_args.img_size). */
static int get_side(const cJSON *obj, const char *key, int *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (cJSON_IsArray(v)) {
        const cJSON *h = cJSON_GetArrayItem(v, 0), *w = cJSON_GetArrayItem(v, 1);
        if (cJSON_GetArraySize(v) != 2 || !cJSON_IsNumber(h) || !cJSON_IsNumber(w) ||
            h->valuedouble != w->valuedouble || h->valuedouble < 1 || h->valuedouble > 1e6) {
            mrg_error(MRG_ERR_FORMAT, "\"%s\" must be a side or [side, side] (square)", key);
            return -1;
        }
        *out = (int)h->valuedouble;
        return 1;
    }
    return get_int(obj, key, out);
}

/* Reads a list of n numbers: 1 found, 0 absent, -1 malformed. */
static int get_floats(const cJSON *obj, const char *key, float *out, int n) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v || cJSON_IsNull(v)) return 0;
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != n) {
        mrg_error(MRG_ERR_FORMAT, "\"%s\" must be a list of %d numbers", key, n);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        const cJSON *e = cJSON_GetArrayItem(v, i);
        if (!cJSON_IsNumber(e)) {
            mrg_error(MRG_ERR_FORMAT, "\"%s\" must be a list of %d numbers", key, n);
            return -1;
        }
        out[i] = (float)e->valuedouble;
    }
    return 1;
}

/* ---- sizes from the tensor shapes ----------------------------------------- */

/* -1 = unknown */
typedef struct vit_sizes {
    int image_size, patch_size, in_chans, dim, depth, heads, mlp_hidden, num_classes;
} vit_sizes;

static const vit_sizes unknown = {-1, -1, -1, -1, -1, -1, -1, -1};

static mrg_status sizes_from_weights(const mrg_st_file *f, vit_sizes *s) {
    const mrg_st_tensor *pe = mrg_st_find(f, "patch_embed.proj.weight");
    if (!pe || pe->ndim != 4 || pe->shape[2] != pe->shape[3])
        return mrg_error(MRG_ERR_FORMAT,
                         "not a ViT checkpoint: patch_embed.proj.weight (D, C, P, P) %s",
                         pe ? "has another shape" : "is missing");
    s->dim = (int)pe->shape[0];
    s->in_chans = (int)pe->shape[1];
    s->patch_size = (int)pe->shape[2];
    const mrg_st_tensor *pos = mrg_st_find(f, "pos_embed");
    if (!pos || pos->ndim != 3 || pos->shape[0] != 1 || pos->shape[2] != s->dim ||
        pos->shape[1] < 2)
        return mrg_error(MRG_ERR_FORMAT, "ViT checkpoint: pos_embed (1, N+1, %d) %s", s->dim,
                         pos ? "has another shape" : "is missing");
    int64_t n = pos->shape[1] - 1, grid = (int64_t)llround(sqrt((double)n));
    if (grid * grid != n)
        return mrg_error(MRG_ERR_UNSUPPORTED,
                         "ViT checkpoint: pos_embed holds %lld patch positions, not a square grid "
                         "(only one class token and square inputs are supported)",
                         (long long)n);
    s->image_size = (int)grid * s->patch_size;
    char name[64];
    int depth = 0;
    for (;; depth++) {
        snprintf(name, sizeof name, "blocks.%d.norm1.weight", depth);
        if (!mrg_st_find(f, name)) break;
    }
    s->depth = depth;
    const mrg_st_tensor *fc1 = mrg_st_find(f, "blocks.0.mlp.fc1.weight");
    if (fc1 && fc1->ndim == 2) s->mlp_hidden = (int)fc1->shape[0];
    const mrg_st_tensor *head = mrg_st_find(f, "head.weight");
    s->num_classes = head && head->ndim == 2 ? (int)head->shape[0] : 0;
    return MRG_OK;
}

/* ---- timm architecture names: vit_<size>_patch<P>[_...]_<S>[.tag] -------- */

/* "16" → 16: 1 to 6 digits and nothing else; -1 otherwise (the name's
 * numbers come from a user's config file: no overflow, no junk). */
static int arch_number(const char *tok) {
    size_t len = strspn(tok, "0123456789");
    if (len < 1 || len > 6 || tok[len]) return -1;
    int v = 0;
    for (size_t i = 0; i < len; i++) v = 10 * v + (tok[i] - '0');
    return v;
}

static void sizes_from_arch(const char *arch, vit_sizes *s) {
    static const struct {
        const char *size;
        int heads, dim;
    } table[] = {
        {"tiny", 3, 192},    {"small", 6, 384},  {"medium", 8, 512},  {"base", 12, 768},
        {"large", 16, 1024}, {"huge", 16, 1280}, {"giant", 16, 1408},
    };
    char buf[128];
    snprintf(buf, sizeof buf, "%s", arch);
    char *dot = strchr(buf, '.');
    if (dot) *dot = 0; /* drop the pretrained tag */
    if (strncmp(buf, "vit_", 4)) return;
    int k = 0;
    for (char *tok = strtok(buf + 4, "_"); tok; tok = strtok(NULL, "_"), k++) {
        if (k == 0) {
            for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
                if (!strcmp(tok, table[i].size)) {
                    s->heads = table[i].heads;
                    s->dim = table[i].dim;
                }
        } else if (!strncmp(tok, "patch", 5) && arch_number(tok + 5) > 0) {
            s->patch_size = arch_number(tok + 5);
        } else if (arch_number(tok) > 0) {
            s->image_size = arch_number(tok);
        }
    }
}

/* ---- merging ------------------------------------------------------------- */

/* The value from the shapes wins; an explicit value must agree with it; a
 * guess (architecture name) only fills what nothing else gives. */
static mrg_status pick(const char *what, int shape, int explicit_v, int guess, int *out) {
    if (shape >= 0 && explicit_v >= 0 && shape != explicit_v)
        return mrg_error(MRG_ERR_FORMAT, "config.json gives %s = %d but the weights have %d", what,
                         explicit_v, shape);
    *out = shape >= 0 ? shape : explicit_v >= 0 ? explicit_v : guess;
    if (*out < 0)
        return mrg_error(MRG_ERR_FORMAT,
                         "config.json does not give %s and the weights cannot tell it", what);
    return MRG_OK;
}

/* The integer sizes a config.json may state, under timm's model_args names
 * and under ours (NULL: not in that format; timm's img_size, which may be a
 * pair, is read apart). */
static const struct {
    const char *timm, *ours;
    size_t off;
} size_keys[] = {
    {NULL, "image_size", offsetof(vit_sizes, image_size)},
    {"patch_size", "patch_size", offsetof(vit_sizes, patch_size)},
    {"embed_dim", "dim", offsetof(vit_sizes, dim)},
    {"depth", "depth", offsetof(vit_sizes, depth)},
    {"num_heads", "heads", offsetof(vit_sizes, heads)},
    {"num_classes", "num_classes", offsetof(vit_sizes, num_classes)},
    {NULL, "mlp_hidden", offsetof(vit_sizes, mlp_hidden)},
    {"in_chans", "in_chans", offsetof(vit_sizes, in_chans)},
};

/* Reads the sizes obj states into s; false (message set) when one of them
 * is not an integer. */
static bool read_sizes(const cJSON *obj, bool timm, vit_sizes *s) {
    for (size_t i = 0; i < sizeof size_keys / sizeof size_keys[0]; i++) {
        const char *key = timm ? size_keys[i].timm : size_keys[i].ours;
        if (key && get_int(obj, key, (int *)((char *)s + size_keys[i].off)) < 0) return false;
    }
    return true;
}

#define READ_INT(obj, key, dst)                                                                    \
    do {                                                                                           \
        if (get_int((obj), (key), &(dst)) < 0) goto bad;                                           \
    } while (0)

static mrg_status parse(const cJSON *root, const mrg_st_file *weights, mrg_vit_config *cfg) {
    vit_sizes shape = unknown, expl = unknown, guess = unknown;
    bool have_mean = false, have_std = false;
    float mlp_ratio = 4.0f;
    *cfg = mrg_vit_config_base16();
    if (weights && sizes_from_weights(weights, &shape) != MRG_OK) return MRG_ERR_FORMAT;

    const cJSON *arch = cJSON_GetObjectItemCaseSensitive(root, "architecture");
    const cJSON *pcfg = cJSON_GetObjectItemCaseSensitive(root, "pretrained_cfg");
    if (arch || pcfg) {
        /* timm */
        if (cJSON_IsString(arch)) sizes_from_arch(arch->valuestring, &guess);
        const cJSON *margs = cJSON_GetObjectItemCaseSensitive(root, "model_args");
        if (cJSON_IsObject(margs)) {
            if (get_side(margs, "img_size", &expl.image_size) < 0) goto bad;
            if (!read_sizes(margs, true, &expl)) goto bad;
            const cJSON *r = cJSON_GetObjectItemCaseSensitive(margs, "mlp_ratio");
            if (cJSON_IsNumber(r)) mlp_ratio = (float)r->valuedouble;
        }
        if (cJSON_IsObject(pcfg)) {
            float in[3];
            int got = get_floats(pcfg, "input_size", in, 3);
            if (got < 0) goto bad;
            if (got) {
                if (in[1] != in[2])
                    return mrg_error(MRG_ERR_UNSUPPORTED,
                                     "pretrained_cfg.input_size: only square inputs");
                for (int i = 0; i < 2; i++)
                    if (!(in[i] >= 1 && in[i] <= 1e6f && in[i] == floorf(in[i])))
                        return mrg_error(MRG_ERR_FORMAT,
                                         "pretrained_cfg.input_size: channels and side must be "
                                         "integers from 1 to 10^6");
                expl.in_chans = (int)in[0];
                expl.image_size = (int)in[1];
            }
            int pc = -1;
            READ_INT(pcfg, "num_classes", pc);
            if (pc >= 0) guess.num_classes = pc; /* the top-level value wins */
            int m = get_floats(pcfg, "mean", cfg->mean, 3),
                s = get_floats(pcfg, "std", cfg->std, 3);
            if (m < 0 || s < 0) goto bad;
        }
        READ_INT(root, "num_classes", expl.num_classes);
        /* timm's ViT default normalisation (0.5, 0.5) stands when absent */
        have_mean = have_std = true;
    } else {
        /* ours */
        if (!read_sizes(root, false, &expl)) goto bad;
        int m = get_floats(root, "mean", cfg->mean, 3), s = get_floats(root, "std", cfg->std, 3);
        if (m < 0 || s < 0) goto bad;
        have_mean = m > 0;
        have_std = s > 0;
    }
    if (!have_mean || !have_std)
        return mrg_error(MRG_ERR_FORMAT, "config.json needs \"mean\" and \"std\" (3 numbers each)");
    guess.in_chans = 3;
    mrg_status st;
    if ((st = pick("image_size", shape.image_size, expl.image_size, guess.image_size,
                   &cfg->image_size)) ||
        (st = pick("patch_size", shape.patch_size, expl.patch_size, guess.patch_size,
                   &cfg->patch_size)) ||
        (st = pick("in_chans", shape.in_chans, expl.in_chans, guess.in_chans, &cfg->in_chans)) ||
        (st = pick("dim", shape.dim, expl.dim, guess.dim, &cfg->dim)) ||
        (st = pick("depth", shape.depth, expl.depth, guess.depth, &cfg->depth)) ||
        (st = pick("heads", shape.heads, expl.heads, guess.heads, &cfg->heads)) ||
        (st = pick("num_classes", shape.num_classes, expl.num_classes, guess.num_classes,
                   &cfg->num_classes)))
        return st;
    guess.mlp_hidden = (int)lroundf(mlp_ratio * (float)cfg->dim);
    if ((st = pick("mlp_hidden", shape.mlp_hidden, expl.mlp_hidden, guess.mlp_hidden,
                   &cfg->mlp_hidden)))
        return st;
    return mrg_vit_config_check(cfg);
bad:
    return MRG_ERR_FORMAT;
}

mrg_status mrg_vit_config_read(const char *path, const mrg_st_file *weights, mrg_vit_config *cfg) {
    char *text;
    mrg_status st = mrg_read_file(path, (size_t)MRG_MAX_CONFIG_BYTES, "MRG_MAX_CONFIG_BYTES", &text, NULL);
    if (st != MRG_OK) return st;
    cJSON *root = cJSON_Parse(text);
    free(text);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return mrg_error(MRG_ERR_FORMAT, "%s: not a JSON object", path);
    }
    st = parse(root, weights, cfg);
    cJSON_Delete(root);
    return st == MRG_OK ? MRG_OK : mrg_error_context(st, "%s", path);
}

mrg_status mrg_vit_config_write(const mrg_vit_config *c, const char *path) {
    mrg_status st = mrg_vit_config_check(c);
    if (st != MRG_OK) return st;
    cJSON *o = cJSON_CreateObject();
    if (!o) return mrg_error(MRG_ERR_OOM, "config.json");
    cJSON_AddNumberToObject(o, "image_size", c->image_size);
    cJSON_AddNumberToObject(o, "patch_size", c->patch_size);
    cJSON_AddNumberToObject(o, "dim", c->dim);
    cJSON_AddNumberToObject(o, "depth", c->depth);
    cJSON_AddNumberToObject(o, "heads", c->heads);
    cJSON_AddNumberToObject(o, "mlp_hidden", c->mlp_hidden);
    cJSON_AddNumberToObject(o, "num_classes", c->num_classes);
    double mean[3], std[3];
    for (int i = 0; i < 3; i++) {
        mean[i] = c->mean[i];
        std[i] = c->std[i];
    }
    cJSON_AddItemToObject(o, "mean", cJSON_CreateDoubleArray(mean, 3));
    cJSON_AddItemToObject(o, "std", cJSON_CreateDoubleArray(std, 3));
    char *text = cJSON_Print(o);
    cJSON_Delete(o);
    if (!text) return mrg_error(MRG_ERR_OOM, "config.json");
    mrg_atomic_file af;
    st = mrg_atomic_begin(&af, path, false);
    if (st == MRG_OK) {
        fputs(text, af.f);
        fputc('\n', af.f);
        st = mrg_atomic_commit(&af);
    }
    free(text);
    return st;
}

/* mrg vit: classify one image with a ViT model directory (timm weights or
 * ours) and optionally write the final-norm token features. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "opts.h"
#include "mrg/atomic_file.h"
#include "mrg/image.h"
#include "mrg/mrg.h"
#include "mrg/safetensors.h"
#include "mrg/vit.h"
#include "out_guard.h"

static int usage(int code) {
    fprintf(code ? stderr : stdout,
            "usage: mrg vit --model DIR --image IMG [--top K] [--device D] [--features OUT]\n"
            "               [--force]\n\n"
            "Runs a Vision Transformer on one image and prints the K best classes,\n"
            "one line each, best first: class_id<TAB>logit.\n\n"
            "  --model DIR      model.safetensors (timm tensor names) + config.json, either\n"
            "                   ours {image_size, patch_size, dim, depth, heads, num_classes,\n"
            "                   mean, std} or timm's (architecture, pretrained_cfg)\n"
            "  --image IMG      PNG, JPEG or DICOM (the first frame, windowed to gray);\n"
            "                   grayscale is replicated to RGB; resized\n"
            "                   bilinearly to the model's input size unless it already has\n"
            "                   it; normalised with the model's mean/std\n"
            "  --top K          classes to print, 0..1000000 (default 5; 0 prints none; at\n"
            "                   most the model's classes are printed)\n"
            "  --device D       cpu, opencl, opencl:N (default: see mrg --help)\n"
            "  --features OUT   writes the token features after the final norm,\n"
            "                   shape (1, N+1, D) f32, token 0 = CLS:\n"
            "                     OUT ending in .npy: a NumPy .npy array;\n"
            "                     otherwise: safetensors with tensors \"features\" and,\n"
            "                     when the model has a head, \"logits\" (1, C)\n"
            "                   an existing OUT must be such a features file\n"
            "  --force          replace another existing OUT anyway\n");
    return code;
}

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

/* NumPy .npy format 1.0: magic, version, little-endian u16 header length, a
 * Python dict literal padded with spaces to a multiple of 64 bytes, the data. */
static mrg_status write_npy(const char *path, const float *data, int ndim, const int64_t *shape) {
    char dims[160] = "";
    size_t used = 0;
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        used += (size_t)snprintf(dims + used, sizeof dims - used, "%lld,%s", (long long)shape[i],
                                 i + 1 < ndim ? " " : "");
        n *= shape[i];
    }
    if (ndim > 1) dims[used - 1] = 0; /* "(1, 17, 48)"; a 1-tuple keeps its comma */
    char header[256];
    int h = snprintf(header, sizeof header,
                     "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }", dims);
    int total = ((10 + h + 1 + 63) / 64) * 64; /* magic(6) version(2) len(2) header '\n' */
    int hlen = total - 10;
    while (h < hlen - 1) header[h++] = ' ';
    header[h++] = '\n';
    mrg_atomic_file af;
    mrg_status st = mrg_atomic_begin(&af, path, false);
    if (st != MRG_OK) return st;
    unsigned char pre[10];
    memcpy(pre, "\x93NUMPY\x01\x00", 8);
    pre[8] = (unsigned char)(hlen & 0xFF);
    pre[9] = (unsigned char)(hlen >> 8);
    /* x86/ARM hosts are little-endian, as '<f4' says; a failed write sets
     * the stream's error flag, which the commit reports */
    fwrite(pre, 1, 10, af.f);
    fwrite(header, 1, (size_t)hlen, af.f);
    fwrite(data, sizeof(float), (size_t)n, af.f);
    return mrg_atomic_commit(&af);
}

static mrg_status write_features(const char *path, mrg_tensor *feats, mrg_tensor *logits) {
    if (ends_with(path, ".npy")) {
        float *host = malloc(sizeof(float) * (size_t)mrg_numel(feats));
        if (!host) return mrg_error(MRG_ERR_OOM, "features");
        mrg_status st = mrg_tensor_to_f32(feats, host);
        if (st == MRG_OK) st = write_npy(path, host, feats->ndim, feats->shape);
        free(host);
        return st;
    }
    mrg_st_writer *w = mrg_st_writer_new();
    if (!w) return mrg_error(MRG_ERR_OOM, "safetensors writer");
    mrg_status st = mrg_st_writer_add_tensor(w, "features", feats);
    if (st == MRG_OK && logits) st = mrg_st_writer_add_tensor(w, "logits", logits);
    if (st == MRG_OK) st = mrg_st_writer_save(w, path);
    mrg_st_writer_free(w);
    return st;
}

typedef struct scored {
    int id;
    float logit;
} scored;

static int by_logit_desc(const void *a, const void *b) {
    const scored *x = a, *y = b;
    if (x->logit != y->logit) return x->logit < y->logit ? 1 : -1;
    return x->id - y->id; /* ties: lower class id first */
}

/* An earlier --features output: a .npy of f32, or safetensors holding
 * "features". */
static bool is_features_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return false;
    unsigned char head[8];
    bool npy = fread(head, 1, 8, f) == 8 && !memcmp(head, "\x93NUMPY", 6);
    fclose(f);
    if (npy) return true;
    mrg_st_file *st = NULL;
    bool ours = mrg_st_try_open(path, &st) == MRG_OK && mrg_st_find(st, "features") != NULL;
    mrg_st_close(st);
    mrg_clear_error();
    return ours;
}

int cmd_vit(int argc, char **argv) {
    const char *model = NULL, *image = NULL, *device = NULL, *features = NULL;
    int top = 5;
    bool force = false;
    opt_spec specs[] = {
        OPT_STRING("--model", &model),
        OPT_STRING("--image", &image),
        OPT_STRING("--device", &device),
        OPT_STRING("--features", &features),
        OPT_INTEGER("--top", &top, 0, 1000000),
        OPT_SET("--force", &force),
    };
    int rc = opts_parse("vit", argc, argv, specs, OPTS_COUNT(specs));
    if (rc) return rc == 1 ? usage(0) : rc;
    if ((rc = opts_require("vit", specs, OPTS_COUNT(specs), "--model", "--image", NULL))) return rc;
    const mrg_named_path inputs[] = {{"--model", model}, {"--image", image}};
    if (features && out_file_guard("vit", features, force, is_features_file, inputs, 2)) return 2;
    mrg_device *dev = opts_device("vit", device);
    if (!dev) return 2;
    rc = 1;
    mrg_image img = {0};
    scored *ranked = NULL;
    mrg_vit *vit = mrg_vit_load(model, dev, NULL);
    if (!vit) goto fail;
    const mrg_vit_config *cfg = mrg_vit_get_config(vit);
    if (top > 0 && cfg->num_classes == 0) {
        mrg_error(MRG_ERR_INVALID_ARG,
                  "%s has no classification head (num_classes 0); use "
                  "--top 0 with --features",
                  model);
        goto fail;
    }
    if (mrg_image_load_for_model(image, cfg->image_size, cfg->image_size, cfg->mean, cfg->std,
                                 &img) != MRG_OK)
        goto fail;
    mrg_grad_set_enabled(dev, false);
    int64_t S = cfg->image_size;
    mrg_tensor *x = mrg_tensor_from_f32(dev, MRG_SHAPE(1, 3, S, S), img.data); /* (1, 3, S, S) */
    mrg_tensor *feats = NULL, *logits = NULL;
    if (!x || mrg_vit_forward(vit, x, &feats, &logits) != MRG_OK) goto fail;
    if (features && write_features(features, feats, logits) != MRG_OK) goto fail;
    if (top > 0) {
        int C = cfg->num_classes;
        float *l = malloc(sizeof(float) * (size_t)C);
        ranked = malloc(sizeof *ranked * (size_t)C);
        if (!l || !ranked || mrg_tensor_to_f32(logits, l) != MRG_OK) {
            if (!l || !ranked) mrg_error(MRG_ERR_OOM, "logits");
            free(l);
            goto fail;
        }
        for (int c = 0; c < C; c++) ranked[c] = (scored){c, l[c]};
        free(l);
        qsort(ranked, (size_t)C, sizeof *ranked, by_logit_desc);
        for (int k = 0; k < top && k < C; k++) printf("%d\t%.7g\n", ranked[k].id, ranked[k].logit);
    }
    rc = 0;
fail:
    if (rc) fprintf(stderr, "mrg vit: %s\n", mrg_last_error());
    free(ranked);
    mrg_image_free(&img);
    mrg_vit_free(vit);
    mrg_step_reset(dev);
    mrg_device_free(dev);
    return rc;
}

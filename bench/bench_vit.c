/* mrg bench vit: forward + backward of a randomly initialised ViT on a
 * batch of studies (batch × views images), as the report generator trains
 * its ViT. The loss is the mean of every output token feature (after the
 * final norm), so the backward reaches every parameter; gradients are
 * zeroed before each pass. One untimed pass (arena growth, kernel builds),
 * then --repeat timed passes; the best and the mean are reported with the
 * process's peak resident memory (VmHWM). */
#include <cjson/cJSON.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"
#include "opts.h"
#include "mrg/clock.h"
#include "mrg/mrg.h"
#include "mrg/vit.h"

static int usage(int code) {
    fprintf(code ? stderr : stdout,
            "usage: mrg bench vit [--batch B] [--views V] [--image-size S] [--patch P]\n"
            "                     [--dim D] [--depth L] [--heads H] [--mlp M] [--repeat R]\n"
            "                     [--device D] [--json]\n\n"
            "Forward + backward of a random ViT (timm layout, no head) on B studies of V\n"
            "views, B·V images of S×S pixels; loss = mean of the output features. Reports\n"
            "the best and mean seconds per pass (after one warm-up pass), images/s and\n"
            "the peak resident memory. Defaults: ViT-B/16 at 224 px, batch 8, 2 views.\n"
            "  --batch B       studies, 1..4096 (default 8)\n"
            "  --views V       images per study, 1..16 (default 2)\n"
            "  --image-size S  pixels, a multiple of the patch, up to 4096 (default 224)\n"
            "  --patch P       patch side, 1..256 (default 16)\n"
            "  --dim D         width, a multiple of the heads, up to 16384 (default 768)\n"
            "  --depth L       blocks, 1..256 (default 12)\n"
            "  --heads H       attention heads, 1..256 (default 12)\n"
            "  --mlp M         MLP width, 1..65536 (default 4·D)\n"
            "  --repeat R      timed passes, 1..1000000 (default 3)\n"
            "  --device D      cpu, opencl, opencl:N\n"
            "  --json          one JSON object instead of text\n");
    return code;
}

typedef struct vit_run {
    mrg_vit *vit;
    mrg_tensor *images; /* (B·V, 3, S, S), persistent */
    mrg_tensor **params;
    int n_params;
} vit_run;

/* One forward + backward; gradients zeroed first. */
static mrg_status pass(vit_run *r, mrg_device *dev) {
    mrg_status st = mrg_zero_grad(r->params, r->n_params);
    mrg_tensor *feats = NULL; /* (B·V, N+1, D) */
    if (st == MRG_OK) st = mrg_vit_forward(r->vit, r->images, &feats, NULL);
    mrg_tensor *loss = st == MRG_OK ? mrg_mean(mrg_reshape(feats, MRG_SHAPE(-1)), 0, false) : NULL;
    if (st == MRG_OK && !loss) st = MRG_ERR_DEVICE; /* the message is set */
    if (st == MRG_OK) st = mrg_backward(loss);
    if (st == MRG_OK) st = mrg_device_sync(dev);
    mrg_step_reset(dev);
    return st;
}

static int print_json(const mrg_vit_config *c, mrg_device *dev, int B, int V, int repeat,
                      double best, double mean, int64_t n_params, long hwm_kib) {
    cJSON *j = cJSON_CreateObject();
    bool ok = j && cJSON_AddStringToObject(j, "device", mrg_device_name(dev)) &&
              cJSON_AddNumberToObject(j, "threads", omp_get_max_threads()) &&
              cJSON_AddNumberToObject(j, "batch", B) && cJSON_AddNumberToObject(j, "views", V) &&
              cJSON_AddNumberToObject(j, "image_size", c->image_size) &&
              cJSON_AddNumberToObject(j, "patch_size", c->patch_size) &&
              cJSON_AddNumberToObject(j, "dim", c->dim) &&
              cJSON_AddNumberToObject(j, "depth", c->depth) &&
              cJSON_AddNumberToObject(j, "heads", c->heads) &&
              cJSON_AddNumberToObject(j, "mlp_hidden", c->mlp_hidden) &&
              cJSON_AddNumberToObject(j, "parameters", (double)n_params) &&
              cJSON_AddNumberToObject(j, "repeat", repeat) &&
              cJSON_AddNumberToObject(j, "best_s", best) &&
              cJSON_AddNumberToObject(j, "mean_s", mean) &&
              cJSON_AddNumberToObject(j, "images_per_s", B * V / best) &&
              cJSON_AddNumberToObject(j, "peak_rss_bytes", 1024.0 * (double)hwm_kib);
    char *s = ok ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    if (!s) {
        fprintf(stderr, "mrg bench vit: out of memory\n");
        return 1;
    }
    printf("%s\n", s);
    free(s);
    return 0;
}

int bench_vit(int argc, char **argv) {
    const char *device = NULL;
    int B = 8, V = 2, repeat = 3, mlp = 0;
    bool json = false;
    mrg_vit_config c = mrg_vit_config_base16();
    c.num_classes = 0;
    opt_spec specs[] = {
        OPT_INTEGER("--batch", &B, 1, 4096),
        OPT_INTEGER("--views", &V, 1, 16),
        OPT_INTEGER("--image-size", &c.image_size, 1, 4096),
        OPT_INTEGER("--patch", &c.patch_size, 1, 256),
        OPT_INTEGER("--dim", &c.dim, 1, 16384),
        OPT_INTEGER("--depth", &c.depth, 1, 256),
        OPT_INTEGER("--heads", &c.heads, 1, 256),
        OPT_INTEGER("--mlp", &mlp, 1, 65536),
        OPT_INTEGER("--repeat", &repeat, 1, 1000000),
        OPT_STRING("--device", &device),
        OPT_SET("--json", &json),
    };
    int rc = opts_parse("bench vit", argc, argv, specs, OPTS_COUNT(specs));
    if (rc) return rc == 1 ? usage(0) : rc;
    c.mlp_hidden = mlp > 0 ? mlp : 4 * c.dim;
    if (mrg_vit_config_check(&c) != MRG_OK) return opts_fail("bench vit", "%s", mrg_last_error());
    mrg_device *dev = opts_device("bench vit", device);
    if (!dev) return 2;
    rc = 1;
    vit_run r = {0};
    float *host = NULL;
    int64_t n_img = (int64_t)B * V, px = (int64_t)3 * c.image_size * c.image_size;
    r.vit = mrg_vit_create(dev, &c, &(mrg_vit_opts){.trainable = true, .seed = 1});
    if (!r.vit) goto fail;
    mrg_params *ps = mrg_vit_params(r.vit);
    r.n_params = mrg_params_trainable(ps, NULL);
    r.params = malloc(sizeof *r.params * (size_t)r.n_params);
    host = malloc(sizeof *host * (size_t)(n_img * px));
    r.images = mrg_tensor_new_persistent(dev, MRG_F32, MRG_SHAPE(n_img, 3, c.image_size, c.image_size));
    if (!r.params || !host) {
        mrg_error(MRG_ERR_OOM, "out of host memory");
        goto fail;
    }
    if (!r.images) goto fail;
    mrg_params_trainable(ps, r.params);
    uint32_t s = 777;
    for (int64_t i = 0; i < n_img * px; i++) {
        s = s * 1664525u + 1013904223u;
        host[i] = (float)(s >> 8) / 8388608.0f - 1.0f; /* uniform in [-1, 1), normalised pixels */
    }
    if (mrg_tensor_upload_f32(r.images, host) != MRG_OK) goto fail;
    free(host);
    host = NULL;

    if (pass(&r, dev) != MRG_OK) goto fail; /* warm-up */
    double best = 1e30, total = 0;
    for (int i = 0; i < repeat; i++) {
        double t0 = mrg_now_s();
        if (pass(&r, dev) != MRG_OK) goto fail;
        double t = mrg_now_s() - t0;
        total += t;
        if (t < best) best = t;
    }
    long hwm = bench_status_kib("VmHWM");
    int64_t n_params = mrg_params_numel(ps);
    if (json)
        rc = print_json(&c, dev, B, V, repeat, best, total / repeat, n_params, hwm);
    else {
        printf("ViT       %d px, patch %d, dim %d, depth %d, heads %d, MLP %d: %.1f M parameters\n",
               c.image_size, c.patch_size, c.dim, c.depth, c.heads, c.mlp_hidden,
               (double)n_params / 1e6);
        printf("device    %s (%s), %d threads\n", mrg_device_name(dev), mrg_device_description(dev),
               omp_get_max_threads());
        printf("pass      forward + backward of %d x %d images: best %.3f s, mean %.3f s of %d; "
               "%.2f images/s\n",
               B, V, best, total / repeat, repeat, n_img / best);
        printf("memory    peak RSS (VmHWM) %.1f MiB\n", hwm / 1024.0);
        rc = 0;
    }
    goto out;
fail:
    fprintf(stderr, "mrg bench vit: %s\n", mrg_last_error());
out:
    free(host);
    free(r.params);
    mrg_tensor_free(r.images);
    mrg_vit_free(r.vit);
    mrg_device_free(dev);
    return rc;
}

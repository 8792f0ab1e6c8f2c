/* The tunable GEMM program (cl/kernels/gemm.cl): its parameters, their
 * untuned defaults per device class, building it, and the per-device cache
 * of `mrg tune`'s winners ($XDG_CACHE_HOME/mrg/opencl-gemm.json, else
 * ~/.cache/mrg/), read at init. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cl/cl.h"
#include "core/files.h"
#include "mrg/atomic_file.h"

static const char *const gemm_kernel_names[MRG_CL_GK_COUNT] = {
    "gemm_rb", "gemm_smallm_t", "gemm_smallm_n", "gemm_split_finish"};

static bool pow2(int v) { return v > 0 && (v & (v - 1)) == 0; }

static size_t rb_wg(const mrg_cl_gemm_params *p) {
    return (size_t)(p->tm / p->wm) * (size_t)(p->tn / p->wn);
}

mrg_status mrg_cl_gemm_check(const mrg_cl_ctx *c, const mrg_cl_gemm_params *p) {
    const char *why = NULL;
    if (!pow2(p->tm) || !pow2(p->tn) || !pow2(p->tk) || !pow2(p->wm) || !pow2(p->wn) ||
        p->tm > 256 || p->tn > 256 || p->tk > 64 || p->wm > 16 || p->wn > 16)
        why = "tiles and outputs per item must be powers of two (tiles <= 256, TK <= 64, "
              "outputs <= 16)";
    else if (p->wm > p->tm || p->wn > p->tn)
        why = "more outputs per item than the tile has";
    else if (p->vw != 1 && p->vw != 2 && p->vw != 4)
        why = "vector width must be 1, 2 or 4";
    else if (p->tm % p->vw || p->tn % p->vw || p->tk % p->vw)
        why = "tiles must be multiples of the vector width";
    else if (rb_wg(p) > c->max_wg)
        why = "the work-group is larger than the device allows";
    else if ((cl_ulong)2 * (cl_ulong)p->tk * (cl_ulong)(p->tm + p->tn + 2) * 4 > c->local_mem)
        why = "the two local tiles do not fit the device's local memory";
    else if (!pow2(p->sm_wg) || !pow2(p->sm_lanes) || p->sm_lanes > p->sm_wg ||
             (size_t)p->sm_wg > c->max_wg)
        why = "small-M work-group and lanes must be powers of two, lanes <= work-group <= "
              "the device's limit";
    else if (p->sm_kc < 16 || p->sm_kc > (1 << 20))
        why = "small-M K chunk must be from 16 to 2^20";
    if (why)
        return mrg_error(MRG_ERR_INVALID_ARG,
                         "opencl: GEMM parameters TM %d TN %d TK %d WM %d WN %d VW %d, small-M "
                         "WG %d lanes %d KC %d: %s",
                         p->tm, p->tn, p->tk, p->wm, p->wn, p->vw, p->sm_wg, p->sm_lanes,
                         p->sm_kc, why);
    return MRG_OK;
}

/* Halves the tiles (then the K slice) until p fits the device's
 * work-group and local-memory limits; the small-M work-group likewise. */
static void fit(const mrg_cl_ctx *c, mrg_cl_gemm_params *p) {
    while ((size_t)p->sm_wg > c->max_wg && p->sm_wg > 1) p->sm_wg /= 2;
    if (p->sm_lanes > p->sm_wg) p->sm_lanes = p->sm_wg;
    for (int i = 0; i < 32 && (rb_wg(p) > c->max_wg ||
                               (cl_ulong)2 * p->tk * (p->tm + p->tn + 2) * 4 > c->local_mem);
         i++) {
        if (p->tn >= p->tm && p->tn > p->wn)
            p->tn /= 2;
        else if (p->tm > p->wm)
            p->tm /= 2;
        else if (p->tk > 4)
            p->tk /= 2;
        while (p->vw > 1 && (p->tm % p->vw || p->tn % p->vw || p->tk % p->vw)) p->vw /= 2;
    }
    /* a device it still does not fit fails the build, with the reason */
}

mrg_cl_gemm_params mrg_cl_gemm_default(const mrg_cl_ctx *c) {
    cl_device_type type = 0;
    char vendor[128] = "";
    clGetDeviceInfo(c->device, CL_DEVICE_TYPE, sizeof type, &type, NULL);
    clGetDeviceInfo(c->device, CL_DEVICE_VENDOR, sizeof vendor - 1, vendor, NULL);
    /* data-centre GPUs (NVIDIA, AMD): 64×64 blocks, 4×4 per item (256
     * items), float4 loads; the small-M path 8 columns of 16 lanes */
    mrg_cl_gemm_params p = {64, 64, 16, 4, 4, 4, 128, 16, 512};
    if (!(type & CL_DEVICE_TYPE_GPU)) {
        /* CPUs (PoCL): fewer, fatter items; K chunks long enough to stream */
        mrg_cl_gemm_params cpu = {32, 32, 16, 4, 4, 4, 64, 8, 1024};
        p = cpu;
    } else if (strstr(vendor, "Intel")) {
        /* Intel GPUs: SIMD-16 threads, smaller work-groups */
        mrg_cl_gemm_params intel = {32, 64, 16, 4, 4, 4, 64, 8, 512};
        p = intel;
    }
    fit(c, &p);
    return p;
}

void mrg_cl_gemm_release(mrg_cl_gemm_prog *g) {
    for (int i = 0; i < MRG_CL_GK_COUNT; i++)
        if (g->k[i]) clReleaseKernel(g->k[i]);
    if (g->program) clReleaseProgram(g->program);
    memset(g, 0, sizeof *g);
}

static const char *source_of(const char *name) {
    for (int i = 0; i < mrg_cl_kernel_count; i++)
        if (!strcmp(mrg_cl_kernel_names[i], name)) return mrg_cl_kernel_sources[i];
    return NULL;
}

mrg_status mrg_cl_gemm_build(mrg_cl_ctx *c, const mrg_cl_gemm_params *p, mrg_cl_gemm_prog *g) {
    memset(g, 0, sizeof *g);
    mrg_status st = mrg_cl_gemm_check(c, p);
    if (st != MRG_OK) return st;
    const char *srcs[2] = {source_of("common"), source_of("gemm")};
    if (!srcs[0] || !srcs[1]) return mrg_error(MRG_ERR_DEVICE, "opencl: gemm.cl is not embedded");
    char opts[256];
    snprintf(opts, sizeof opts,
             "-cl-std=CL1.2 -w -DGM_TM=%d -DGM_TN=%d -DGM_TK=%d -DGM_WM=%d -DGM_WN=%d "
             "-DGM_VW=%d -DSM_WG=%d -DSM_LANES=%d -DSM_KC=%d",
             p->tm, p->tn, p->tk, p->wm, p->wn, p->vw, p->sm_wg, p->sm_lanes, p->sm_kc);
    cl_int err;
    g->program = clCreateProgramWithSource(c->context, 2, srcs, NULL, &err);
    if (err != CL_SUCCESS) return mrg_cl_fail(err, "clCreateProgramWithSource (gemm)");
    err = clBuildProgram(g->program, 1, &c->device, opts, NULL, NULL);
    if (err != CL_SUCCESS) {
        char log[2048] = "";
        clGetProgramBuildInfo(g->program, c->device, CL_PROGRAM_BUILD_LOG, sizeof log - 1, log,
                              NULL);
        st = mrg_error(MRG_ERR_DEVICE, "opencl: building gemm.cl failed (%s, options '%s'):\n%s",
                       mrg_cl_error_name(err), opts, log);
        mrg_cl_gemm_release(g);
        return st;
    }
    const size_t want[MRG_CL_GK_COUNT] = {rb_wg(p), (size_t)p->sm_wg, 1, 1};
    for (int i = 0; i < MRG_CL_GK_COUNT; i++) {
        g->k[i] = clCreateKernel(g->program, gemm_kernel_names[i], &err);
        size_t lim = 0;
        if (err == CL_SUCCESS)
            clGetKernelWorkGroupInfo(g->k[i], c->device, CL_KERNEL_WORK_GROUP_SIZE, sizeof lim,
                                     &lim, NULL);
        if (err != CL_SUCCESS) {
            st = mrg_cl_fail(err, gemm_kernel_names[i]);
        } else if (lim && want[i] > lim) {
            st = mrg_error(MRG_ERR_DEVICE,
                           "opencl: %s accepts %zu work-items per group, the parameters need %zu",
                           gemm_kernel_names[i], lim, want[i]);
        }
        if (st != MRG_OK) {
            mrg_cl_gemm_release(g);
            return st;
        }
    }
    g->p = *p;
    return MRG_OK;
}

/* ---- the cache ------------------------------------------------------------ */

bool mrg_cl_tune_cache_path(char *path, size_t n) {
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    int len;
    if (xdg && xdg[0] == '/')
        len = snprintf(path, n, "%s/mrg/opencl-gemm.json", xdg);
    else if (home && home[0] == '/')
        len = snprintf(path, n, "%s/.cache/mrg/opencl-gemm.json", home);
    else
        return false;
    return len > 0 && (size_t)len < n;
}

void mrg_cl_tune_key(const mrg_cl_ctx *c, char *key, size_t n) {
    char name[128] = "", driver[128] = "";
    clGetDeviceInfo(c->device, CL_DEVICE_NAME, sizeof name - 1, name, NULL);
    clGetDeviceInfo(c->device, CL_DRIVER_VERSION, sizeof driver - 1, driver, NULL);
    snprintf(key, n, "%s | %s", name, driver);
}

static const char *const FIELDS[9] = {"tm", "tn", "tk", "wm", "wn", "vw",
                                      "sm_wg", "sm_lanes", "sm_kc"};

static int *field(mrg_cl_gemm_params *p, int i) {
    int *f[9] = {&p->tm, &p->tn, &p->tk, &p->wm, &p->wn, &p->vw, &p->sm_wg, &p->sm_lanes, &p->sm_kc};
    return f[i];
}

/* The whole cache as JSON (an empty object when absent or unreadable). */
static cJSON *cache_load(const char *path) {
    cJSON *root = NULL;
    FILE *f = fopen(path, "rb");
    if (f) {
        char buf[1 << 16];
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = 0;
        root = cJSON_Parse(buf);
    }
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        root = cJSON_CreateObject();
    }
    return root;
}

bool mrg_cl_tune_cache_read(const char *path, const char *key, mrg_cl_gemm_params *p) {
    cJSON *root = cache_load(path);
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, key);
    bool ok = cJSON_IsObject(e);
    mrg_cl_gemm_params q;
    for (int i = 0; ok && i < 9; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(e, FIELDS[i]);
        ok = cJSON_IsNumber(v) && v->valuedouble >= 1 && v->valuedouble <= (1 << 20) &&
             v->valuedouble == (int)v->valuedouble;
        if (ok) *field(&q, i) = (int)v->valuedouble;
    }
    cJSON_Delete(root);
    if (ok) *p = q;
    return ok;
}

mrg_status mrg_cl_tune_cache_write(const char *path, const char *key,
                                   const mrg_cl_gemm_params *p) {
    cJSON *root = cache_load(path), *e = cJSON_CreateObject();
    mrg_cl_gemm_params q = *p;
    for (int i = 0; i < 9; i++) cJSON_AddNumberToObject(e, FIELDS[i], *field(&q, i));
    cJSON_DeleteItemFromObjectCaseSensitive(root, key);
    cJSON_AddItemToObject(root, key, e);
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (!text) return mrg_error(MRG_ERR_OOM, "out of host memory");
    mrg_status st = mrg_mkdirs_parent(path);
    if (st == MRG_OK) st = mrg_write_file_atomic(path, text, strlen(text), true);
    free(text);
    return st;
}

mrg_status mrg_cl_gemm_init(mrg_cl_ctx *c) {
    const char *mode = getenv("MRG_CL_GEMM");
    if (mode && *mode && strcmp(mode, "clblast") && strcmp(mode, "own"))
        return mrg_error(MRG_ERR_INVALID_ARG,
                         "opencl: MRG_CL_GEMM must be 'own' or 'clblast', not '%s'", mode);
    /* CPU devices (PoCL) keep CLBlast for f32 with M > 16, whose kernels run
     * better there than the GPU-shaped own ones; GPUs use the own kernels */
    cl_device_type type = 0;
    clGetDeviceInfo(c->device, CL_DEVICE_TYPE, sizeof type, &type, NULL);
    c->gemm_clblast_first = mode && *mode ? !strcmp(mode, "clblast")
                                          : !(type & (CL_DEVICE_TYPE_GPU | CL_DEVICE_TYPE_ACCELERATOR));
    char path[4200], key[300];
    mrg_cl_gemm_params p;
    mrg_cl_tune_key(c, key, sizeof key);
    if (mrg_cl_tune_cache_path(path, sizeof path) && mrg_cl_tune_cache_read(path, key, &p) &&
        mrg_cl_gemm_build(c, &p, &c->gemm) == MRG_OK) {
        snprintf(c->gemm_origin, sizeof c->gemm_origin, "tuned (%.80s)", path);
        return MRG_OK;
    }
    mrg_clear_error(); /* a stale or foreign cache entry: the defaults instead */
    p = mrg_cl_gemm_default(c);
    snprintf(c->gemm_origin, sizeof c->gemm_origin, "default");
    return mrg_cl_gemm_build(c, &p, &c->gemm);
}

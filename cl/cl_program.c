/* Builds the main OpenCL program of the backend: every embedded kernel
 * source (cl/kernels/ (.cl files), common.cl first) but gemm.cl, with the
 * launch geometry as -D options, then the GEMM program
 * (cl_gemm_program.c). 256-item reductions suit GPUs (warps of 32 or 64);
 * smaller devices get smaller work-groups, so that they fit both the device
 * limit and the compiled kernels' own limits (register pressure). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cl/cl.h"

static const char *const kernel_names[MRG_CLK_COUNT] = {
#define MRG_CL_NAME(name) #name,
    MRG_CL_KERNEL_LIST(MRG_CL_NAME)
#undef MRG_CL_NAME
};

static size_t pow2_floor(size_t v) {
    size_t p = 1;
    while (p * 2 <= v) p *= 2;
    return p;
}

/* Geometry for a work-group limit `wg` and the device's local memory. */
static void choose_tuning(mrg_cl_ctx *c, size_t wg) {
    mrg_cl_tuning *t = &c->tune;
    t->wg1d = wg < 256 ? wg : 256;
    t->red_wg = pow2_floor(wg < 256 ? wg : 256);
    t->gemv_wg = pow2_floor(wg < 128 ? wg : 128);
    t->attn_wg = pow2_floor(wg < 64 ? wg : 64);
}

static char *concat_sources(void) {
    size_t total = 1;
    for (int i = 0; i < mrg_cl_kernel_count; i++)
        total += strlen(mrg_cl_kernel_sources[i]) + 64;
    char *s = malloc(total);
    if (!s) return NULL;
    size_t n = 0;
    s[0] = 0;
    /* common.cl defines the helpers the others use: it goes first */
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < mrg_cl_kernel_count; i++) {
            bool common = strcmp(mrg_cl_kernel_names[i], "common") == 0;
            if (common != (pass == 0)) continue;
            /* gemm.cl is a program of its own (cl_gemm_program.c) */
            if (!strcmp(mrg_cl_kernel_names[i], "gemm")) continue;
            n += (size_t)sprintf(s + n, "\n/* ---- %.40s.cl ---- */\n", mrg_cl_kernel_names[i]);
            size_t len = strlen(mrg_cl_kernel_sources[i]);
            memcpy(s + n, mrg_cl_kernel_sources[i], len);
            n += len;
            s[n] = 0;
        }
    return s;
}

void mrg_cl_release_program(mrg_cl_ctx *c) {
    mrg_cl_gemm_release(&c->gemm);
    for (int i = 0; i < MRG_CLK_COUNT; i++)
        if (c->k[i]) {
            clReleaseKernel(c->k[i]);
            c->k[i] = NULL;
        }
    if (c->program) {
        clReleaseProgram(c->program);
        c->program = NULL;
    }
}

static mrg_status build_once(mrg_cl_ctx *c, const char *src) {
    const mrg_cl_tuning *t = &c->tune;
    char opts[512];
    snprintf(opts, sizeof opts,
             "-cl-std=CL1.2 -w -DRED_WG=%zu -DCOL_BLOCK=%d -DEMB_BLOCK=%d -DGEMV_WG=%zu "
             "-DATT_KT=%d -DATT_CH=%d%s",
             t->red_wg, MRG_CL_COL_BLOCK, MRG_CL_EMB_BLOCK, t->gemv_wg, MRG_CL_ATT_KT, MRG_CL_ATT_CH,
             c->fp64 ? " -DSEL_FP64=1" : "");
    cl_int err;
    c->program = clCreateProgramWithSource(c->context, 1, &src, NULL, &err);
    if (err != CL_SUCCESS) return mrg_cl_fail(err, "clCreateProgramWithSource");
    err = clBuildProgram(c->program, 1, &c->device, opts, NULL, NULL);
    if (err != CL_SUCCESS) {
        size_t n = 0;
        clGetProgramBuildInfo(c->program, c->device, CL_PROGRAM_BUILD_LOG, 0, NULL, &n);
        char *log = malloc(n + 1);
        if (log) {
            log[0] = 0;
            clGetProgramBuildInfo(c->program, c->device, CL_PROGRAM_BUILD_LOG, n, log, NULL);
            log[n] = 0;
        }
        mrg_status st = mrg_error(MRG_ERR_DEVICE,
                                  "opencl: building the kernels failed (%s, options '%s'); "
                                  "build log:\n%s",
                                  mrg_cl_error_name(err), opts, log ? log : "(unavailable)");
        free(log);
        mrg_cl_release_program(c);
        return st;
    }
    for (int i = 0; i < MRG_CLK_COUNT; i++) {
        c->k[i] = clCreateKernel(c->program, kernel_names[i], &err);
        if (err != CL_SUCCESS) {
            mrg_status st = mrg_cl_fail(err, kernel_names[i]);
            mrg_cl_release_program(c);
            return st;
        }
    }
    return MRG_OK;
}

/* The local size the host launches kernel `id` with (cl_backend.c,
 * cl_matmul.c, cl_cross_entropy.c, cl_optim.c; cl_sdpa.c: at most). */
static size_t launch_wg(const mrg_cl_tuning *t, int id) {
    switch (id) {
    case MRG_CLK_gemv_fused:
        return t->gemv_wg;
    case MRG_CLK_gemm_scale_c:
        return 16;
    case MRG_CLK_sdpa_fwd: case MRG_CLK_sdpa_bwd_dkdv: case MRG_CLK_sdpa_bwd_dq:
        return t->attn_wg;
    case MRG_CLK_softmax_rows: case MRG_CLK_softmax_backward_rows:
    case MRG_CLK_layernorm_rows: case MRG_CLK_layernorm_backward_rows:
    case MRG_CLK_rmsnorm_rows: case MRG_CLK_rmsnorm_backward_rows:
    case MRG_CLK_reduce_sum_rows: case MRG_CLK_l2norm_rows: case MRG_CLK_l2norm_backward_rows:
    case MRG_CLK_ce_rows: case MRG_CLK_ce_finish: case MRG_CLK_ce_count:
    case MRG_CLK_ce_backward_rows: case MRG_CLK_sumsq_partial: case MRG_CLK_sumsq_finish:
    case MRG_CLK_sdpa_decode: case MRG_CLK_select_topk:
        return t->red_wg;
    default:
        return t->wg1d;
    }
}

/* 0 when every kernel accepts its launch size; else the smallest limit
 * (CL_KERNEL_WORK_GROUP_SIZE) of a kernel that does not. */
static size_t violated_limit(mrg_cl_ctx *c) {
    size_t lim = 0;
    for (int i = 0; i < MRG_CLK_COUNT; i++) {
        size_t w = 0;
        if (clGetKernelWorkGroupInfo(c->k[i], c->device, CL_KERNEL_WORK_GROUP_SIZE, sizeof w, &w,
                                     NULL) != CL_SUCCESS ||
            w == 0)
            continue;
        if (launch_wg(&c->tune, i) > w && (lim == 0 || w < lim)) lim = w;
    }
    return lim;
}

mrg_status mrg_cl_build(mrg_cl_ctx *c) {
    char *src = concat_sources();
    if (!src) return mrg_error(MRG_ERR_OOM, "opencl: out of host memory for kernel sources");
    size_t wg = c->max_wg;
    mrg_status st = MRG_OK;
    /* A kernel may accept fewer items than the device maximum; then rebuild
     * with the smaller geometry (at most a few rounds). */
    for (int attempt = 0; attempt < 4; attempt++) {
        choose_tuning(c, wg);
        st = build_once(c, src);
        if (st != MRG_OK) break;
        size_t lim = violated_limit(c);
        if (lim == 0) break;
        mrg_cl_release_program(c);
        wg = lim < wg ? lim : wg / 2;
        st = mrg_error(MRG_ERR_DEVICE, "opencl: kernels accept only %zu work-items per group",
                       lim);
    }
    free(src);
    if (st == MRG_OK) st = mrg_cl_gemm_init(c);
    return st;
}

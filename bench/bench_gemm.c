/* mrg bench gemm: speed of the library's GEMM (mrg_matmul, which runs the
 * backend's kernel) next to the raw library it builds on, measured in the
 * same run on the same data: OpenBLAS cblas_sgemm on the cpu device,
 * CLBlastSgemm on the OpenCL device's own queue and buffers (mrg/opencl.h).
 * Square row-major C = A·B; the bf16 column stores B in bf16 (the
 * frozen-weight case: converted inside the kernel), and the bf16-mixed one
 * multiplies that B with A rounded to bf16 under the bf16-mixed precision
 * (mrg_set_precision: bf16 × bf16 → f32, AVX512-BF16 where the CPU has it). */
#include <cblas.h>
#include <cjson/cJSON.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "opts.h"
#include "mrg/clock.h"
#include "mrg/mrg.h"
#ifdef MRG_HAVE_OPENCL
#include <clblast_c.h>

#include "mrg/opencl.h"
#endif

#define MAX_SIZES 32

static int usage(int code) {
    fprintf(code ? stderr : stdout,
            "usage: mrg bench gemm [--device D] [--sizes N,N,...] [--max N] [--repeat R]\n"
            "                      [--budget S] [--json]\n\n"
            "GFLOP/s of square C = A·B (2·N³ flops) through mrg_matmul, with B in f32\n"
            "and in bf16, next to the raw library on the same device: OpenBLAS cblas_sgemm\n"
            "(cpu) or CLBlastSgemm (opencl), and the ratio mrg f32 / raw; and under the\n"
            "bf16-mixed precision (A rounded to bf16, B in bf16, f32 sums; see mrg info).\n"
            "  --device D   cpu, opencl, opencl:N (default: the default device)\n"
            "  --sizes L    up to %d comma-separated sizes, 1..65536 each (default\n"
            "               256,512,1024,2048,4096)\n"
            "  --max N      skip sizes above N (1..65536)\n"
            "  --repeat R   timed calls per measurement after one warm-up, 1..1000000\n"
            "               (default 5)\n"
            "  --budget S   stop before a size whose estimated time exceeds S > 0 seconds\n"
            "               (default 60; slow devices stop early)\n"
            "  --json       one JSON object instead of the table: device, threads, repeat\n"
            "               and per size the GFLOP/s of mrg f32, mrg bf16 B, mrg\n"
            "               bf16-mixed and the raw library\n",
            MAX_SIZES);
    return code;
}

typedef struct bench_case {
    mrg_device *dev;
    int64_t n;
    mrg_tensor *a, *b, *b16, *c;
    float *ha, *hb, *hc; /* host copies for OpenBLAS */
} bench_case;

/* One C = A·B through the library, B f32 or bf16, optionally under
 * bf16-mixed; the product (a step tensor) is dropped at once, so every call
 * writes the same memory. */
static mrg_status run_backend(bench_case *bc, bool bf16, bool mixed) {
    mrg_precision prev = mrg_set_precision(bc->dev, mixed ? MRG_PRECISION_BF16_MIXED : MRG_PRECISION_F32);
    mrg_tensor *c = mrg_matmul(bc->a, bf16 ? bc->b16 : bc->b, false, false);
    mrg_set_precision(bc->dev, prev);
    mrg_step_reset(bc->dev);
    return c ? MRG_OK : MRG_ERR_DEVICE; /* the message is set */
}

/* One C = A·B through the raw library. */
static mrg_status run_raw(bench_case *bc) {
    int n = (int)bc->n;
    if (mrg_device_is_cpu(bc->dev)) {
        /* the backend keeps OpenBLAS single-threaded (it splits GEMMs over
         * its OpenMP threads itself); raw OpenBLAS gets every core */
        openblas_set_num_threads(omp_get_max_threads());
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, bc->ha, n, bc->hb,
                    n, 0.0f, bc->hc, n);
        openblas_set_num_threads(1);
        return MRG_OK;
    }
#ifdef MRG_HAVE_OPENCL
    void *queue, *a, *b, *c;
    size_t oa, ob, oc;
    mrg_status st = mrg_opencl_queue(bc->dev, &queue);
    if (st == MRG_OK) st = mrg_opencl_buffer(bc->a, &a, &oa);
    if (st == MRG_OK) st = mrg_opencl_buffer(bc->b, &b, &ob);
    if (st == MRG_OK) st = mrg_opencl_buffer(bc->c, &c, &oc);
    if (st != MRG_OK) return st;
    cl_command_queue q = (cl_command_queue)queue;
    /* CLBlast takes offsets in elements */
    CLBlastStatusCode s = CLBlastSgemm(
        CLBlastLayoutRowMajor, CLBlastTransposeNo, CLBlastTransposeNo, (size_t)n, (size_t)n,
        (size_t)n, 1.0f, (cl_mem)a, oa / sizeof(float), (size_t)n, (cl_mem)b, ob / sizeof(float),
        (size_t)n, 0.0f, (cl_mem)c, oc / sizeof(float), (size_t)n, &q, NULL);
    if (s != CLBlastSuccess) return mrg_error(MRG_ERR_DEVICE, "CLBlastSgemm: status %d", (int)s);
    return MRG_OK;
#else
    return mrg_error(MRG_ERR_UNSUPPORTED, "no raw reference for this device");
#endif
}

/* Seconds per call: one warm-up call (kernel builds, tuning caches), then
 * `repeat` calls enqueued back to back and one sync. which: 0 mrg f32,
 * 1 mrg bf16, 2 raw, 3 mrg bf16-mixed. */
static mrg_status time_it(bench_case *bc, int which, int repeat, double *sec) {
    mrg_status st = MRG_OK;
    for (int r = -1; r < repeat && st == MRG_OK; r++) {
        if (r == 0) {
            st = mrg_device_sync(bc->dev);
            *sec = mrg_now_s();
        }
        if (st == MRG_OK)
            st = which == 2 ? run_raw(bc) : run_backend(bc, which != 0, which == 3);
    }
    if (st == MRG_OK) st = mrg_device_sync(bc->dev);
    *sec = (mrg_now_s() - *sec) / repeat;
    return st;
}

static void free_case(bench_case *bc) {
    mrg_tensor_free(bc->a);
    mrg_tensor_free(bc->b);
    mrg_tensor_free(bc->b16);
    mrg_tensor_free(bc->c);
    free(bc->ha);
    free(bc->hb);
    free(bc->hc);
}

static mrg_status setup_case(bench_case *bc, mrg_device *dev, int64_t n) {
    memset(bc, 0, sizeof *bc);
    bc->dev = dev;
    bc->n = n;
    int64_t shape[2] = {n, n};
    bc->a = mrg_tensor_new_persistent(dev, MRG_F32, 2, shape);
    bc->b = mrg_tensor_new_persistent(dev, MRG_F32, 2, shape);
    bc->b16 = mrg_tensor_new_persistent(dev, MRG_BF16, 2, shape);
    bc->c = mrg_tensor_new_persistent(dev, MRG_F32, 2, shape);
    bc->ha = malloc((size_t)(n * n) * sizeof(float));
    bc->hb = malloc((size_t)(n * n) * sizeof(float));
    bc->hc = malloc((size_t)(n * n) * sizeof(float));
    if (!bc->a || !bc->b || !bc->b16 || !bc->c) return MRG_ERR_OOM; /* message already set */
    if (!bc->ha || !bc->hb || !bc->hc) return mrg_error(MRG_ERR_OOM, "out of host memory");
    unsigned s = 1234567u;
    for (int64_t i = 0; i < n * n; i++) {
        s = s * 1664525u + 1013904223u;
        bc->ha[i] = (float)(s >> 8) / 16777216.0f - 0.5f;
        s = s * 1664525u + 1013904223u;
        bc->hb[i] = (float)(s >> 8) / 16777216.0f - 0.5f;
    }
    mrg_status st = mrg_tensor_upload_f32(bc->a, bc->ha);
    if (st == MRG_OK) st = mrg_tensor_upload_f32(bc->b, bc->hb);
    if (st == MRG_OK) st = mrg_tensor_upload_f32(bc->b16, bc->hb);
    return st;
}

/* The JSON report: {"device", "description", "threads", "repeat",
 * "sizes": [{"n", "mrg_f32_gflops", "mrg_bf16_gflops", "raw_gflops",
 * "raw"}]}; the sizes array is filled as sizes finish. */
static cJSON *json_report(mrg_device *dev, int repeat) {
    cJSON *j = cJSON_CreateObject();
    if (!j) return NULL;
    bool ok = cJSON_AddStringToObject(j, "device", mrg_device_name(dev)) &&
              cJSON_AddStringToObject(j, "description", mrg_device_description(dev)) &&
              cJSON_AddNumberToObject(j, "threads", omp_get_max_threads()) &&
              cJSON_AddNumberToObject(j, "repeat", repeat) &&
              cJSON_AddStringToObject(j, "raw", mrg_device_is_cpu(dev) ? "OpenBLAS cblas_sgemm"
                                                                          : "CLBlastSgemm") &&
              cJSON_AddArrayToObject(j, "sizes");
    if (!ok) {
        cJSON_Delete(j);
        return NULL;
    }
    return j;
}

static bool json_add_size(cJSON *j, int64_t n, const double t[4]) {
    double flop = 2.0 * (double)n * (double)n * (double)n;
    cJSON *row = cJSON_CreateObject();
    if (!row) return false;
    cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(j, "sizes"), row);
    return cJSON_AddNumberToObject(row, "n", (double)n) &&
           cJSON_AddNumberToObject(row, "mrg_f32_gflops", flop / t[0] * 1e-9) &&
           cJSON_AddNumberToObject(row, "mrg_bf16_gflops", flop / t[1] * 1e-9) &&
           cJSON_AddNumberToObject(row, "raw_gflops", flop / t[2] * 1e-9) &&
           cJSON_AddNumberToObject(row, "mrg_bf16_mixed_gflops", flop / t[3] * 1e-9);
}

int bench_gemm(int argc, char **argv) {
    const char *device = NULL, *size_list = NULL;
    int64_t sizes[MAX_SIZES] = {256, 512, 1024, 2048, 4096};
    int n_sizes = 5, repeat = 5, max_n = 0;
    float budget = 60.0f;
    bool json = false;
    opt_spec specs[] = {
        OPT_STRING("--device", &device),
        OPT_STRING("--sizes", &size_list),
        OPT_INTEGER("--max", &max_n, 1, 65536),
        OPT_INTEGER("--repeat", &repeat, 1, 1000000),
        OPT_POSITIVE("--budget", &budget, INFINITY),
        OPT_SET("--json", &json),
    };
    int rc = opts_parse("bench gemm", argc, argv, specs, OPTS_COUNT(specs));
    if (rc) return rc == 1 ? usage(0) : rc;
    if (size_list) {
        int64_t *list = NULL;
        n_sizes = opts_int_list(size_list, 1, 65536, &list);
        if (n_sizes >= 1 && n_sizes <= MAX_SIZES) memcpy(sizes, list, sizeof *list * (size_t)n_sizes);
        free(list);
        if (n_sizes < 1 || n_sizes > MAX_SIZES)
            return opts_fail("bench gemm",
                             "--sizes must be 1 to %d sizes from 1 to 65536 separated by commas, not '%s'",
                             MAX_SIZES, size_list);
    }
    mrg_device *dev = opts_device("bench gemm", device ? device : mrg_default_device_name());
    if (!dev) return 2;
    mrg_grad_set_enabled(dev, false);
    bool cpu = mrg_device_is_cpu(dev);
    cJSON *report = NULL;
    if (json) {
        report = json_report(dev, repeat);
        if (!report) {
            fprintf(stderr, "mrg bench gemm: out of memory\n");
            mrg_device_free(dev);
            return 1;
        }
    } else {
        printf("device %s: %s\n", mrg_device_name(dev), mrg_device_description(dev));
        printf("C = A·B, row-major, square; mean of %d calls after 1 warm-up\n", repeat);
        printf("%6s  %12s  %12s  %7s  %12s  %12s\n", "N", "mrg f32", cpu ? "OpenBLAS" : "CLBlast",
               "ratio", "mrg bf16 B", "bf16-mixed");
    }
    int code = 0;
    double last_call = 0; /* seconds per call at the previous size */
    int64_t last_n = 0;
    for (int k = 0; k < n_sizes; k++) {
        int64_t n = sizes[k];
        if (max_n > 0 && n > max_n) continue;
        if (last_n > 0) {
            double scale = (double)n / (double)last_n;
            double est = last_call * scale * scale * scale * (3.0 * (repeat + 1));
            if (est > budget) {
                /* on stderr under --json, so stdout stays one object */
                fprintf(json ? stderr : stdout,
                        "stopping before N = %lld: about %.0f s estimated (--budget %.0f)\n",
                        (long long)n, est, budget);
                break;
            }
        }
        bench_case bc;
        mrg_status st = setup_case(&bc, dev, n);
        double t[4] = {0, 0, 0, 0};
        for (int w = 0; w < 4 && st == MRG_OK; w++) st = time_it(&bc, w, repeat, &t[w]);
        free_case(&bc);
        if (st != MRG_OK) {
            fprintf(stderr, "mrg bench gemm: N = %lld: %s\n", (long long)n, mrg_last_error());
            code = 1;
            break;
        }
        double flop = 2.0 * (double)n * (double)n * (double)n;
        if (json) {
            if (!json_add_size(report, n, t)) {
                fprintf(stderr, "mrg bench gemm: out of memory\n");
                code = 1;
                break;
            }
        } else {
            printf("%6lld  %8.1f GF/s  %8.1f GF/s  %7.2f  %8.1f GF/s  %8.1f GF/s\n", (long long)n,
                   flop / t[0] * 1e-9, flop / t[2] * 1e-9, t[2] / t[0], flop / t[1] * 1e-9,
                   flop / t[3] * 1e-9);
            fflush(stdout);
        }
        last_call = 0;
        for (int w = 0; w < 4; w++) last_call = t[w] > last_call ? t[w] : last_call;
        last_n = n;
    }
    if (report && code == 0) {
        char *s = cJSON_PrintUnformatted(report);
        if (s) printf("%s\n", s);
        else {
            fprintf(stderr, "mrg bench gemm: out of memory\n");
            code = 1;
        }
        free(s);
    }
    cJSON_Delete(report);
    mrg_device_free(dev);
    return code;
}

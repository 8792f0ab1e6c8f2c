/* The CPU backend: host buffers, the vtable, device description, `mrg info`
 * output and the registry entry (core/registry.h). Kernels live in
 * cpu_*.c. */
#include <cblas.h>
#include <inttypes.h>
#include <omp.h>
#include <stdlib.h>

#include "core/registry.h"
#include "cpu/cpu.h"
#include "cpu/cpu_isa.h"

/* ---- argument checks shared by the kernels ------------------------------ */

static mrg_status check_dtype(const char *kernel, const char *name, mrg_ptr p, unsigned dtypes) {
    if ((unsigned)p.dt > MRG_I32 || !(dtypes & CPU_DT(p.dt)))
        return mrg_error(MRG_ERR_UNSUPPORTED, "cpu %s: %s has unsupported dtype %s", kernel,
                         name, mrg_dtype_name(p.dt));
    return MRG_OK;
}

mrg_status cpu_check(const char *kernel, const char *name, mrg_ptr p, int64_t n,
                     unsigned dtypes) {
    if (!p.buf || !p.buf->handle)
        return mrg_error(MRG_ERR_INVALID_ARG, "cpu %s: %s has no buffer", kernel, name);
    mrg_status st = check_dtype(kernel, name, p, dtypes);
    if (st != MRG_OK) return st;
    if (n < 0 || p.off < 0)
        return mrg_error(MRG_ERR_INVALID_ARG, "cpu %s: %s has a negative size or offset",
                         kernel, name);
    size_t es = cpu_dtype_size(p.dt);
    if ((uint64_t)(p.off + n) > p.buf->bytes / es)
        return mrg_error(MRG_ERR_INVALID_ARG,
                         "cpu %s: %s elements [%" PRId64 ", %" PRId64 ") exceed its buffer of %zu bytes",
                         kernel, name, p.off, p.off + n, p.buf->bytes);
    return MRG_OK;
}

mrg_status cpu_check_f32(const char *kernel, int n_args, const cpu_arg *args) {
    for (int i = 0; i < n_args; i++) {
        mrg_status st = cpu_check(kernel, args[i].name, args[i].p, args[i].n, CPU_DT(MRG_F32));
        if (st != MRG_OK) return st;
    }
    return MRG_OK;
}

mrg_status cpu_check_strided(const char *kernel, const char *name, mrg_ptr p, int ndim,
                             const int64_t *shape, const int64_t *stride, unsigned dtypes) {
    int64_t last = 0; /* index of the last element touched, relative to p.off */
    for (int k = 0; k < ndim; k++) {
        if (shape[k] == 0) return check_dtype(kernel, name, p, dtypes); /* nothing touched */
        if (shape[k] < 0 || stride[k] < 0)
            return mrg_error(MRG_ERR_INVALID_ARG,
                             "cpu %s: %s has a negative extent or stride on axis %d", kernel,
                             name, k);
        last += (shape[k] - 1) * stride[k];
    }
    return cpu_check(kernel, name, p, last + 1, dtypes);
}

/* ---- lifetime and memory ------------------------------------------------ */

static void cpu_destroy(mrg_device *dev) {
    cpu_ctx *c = cpu_ctx_of(dev);
    if (c) {
        free(c->scratch);
        free(c);
    }
    dev->ctx = NULL;
}

static mrg_status cpu_buffer_alloc(mrg_device *dev, mrg_buffer *buf, size_t bytes) {
    (void)dev;
    if (bytes == 0) bytes = 1;
    if (bytes > SIZE_MAX - 64)
        return mrg_error(MRG_ERR_OOM, "cpu: cannot allocate %zu bytes", bytes);
    size_t rounded = (bytes + 63) & ~(size_t)63; /* aligned_alloc wants a multiple */
    void *p = aligned_alloc(64, rounded);
    if (!p) {
        buf->handle = NULL;
        buf->bytes = 0;
        return mrg_error(MRG_ERR_OOM, "cpu: out of host memory allocating %.1f MiB",
                         (double)bytes / (1024.0 * 1024.0));
    }
    buf->handle = p;
    buf->bytes = bytes;
    return MRG_OK;
}

static void cpu_buffer_free(mrg_device *dev, mrg_buffer *buf) {
    (void)dev;
    if (!buf) return;
    free(buf->handle);
    buf->handle = NULL;
    buf->bytes = 0;
}

static mrg_status check_range(const char *what, const mrg_buffer *buf, size_t off, size_t bytes) {
    if (!buf || !buf->handle)
        return mrg_error(MRG_ERR_INVALID_ARG, "cpu %s: no buffer", what);
    if (off > buf->bytes || bytes > buf->bytes - off)
        return mrg_error(MRG_ERR_INVALID_ARG,
                         "cpu %s: bytes [%zu, %zu) exceed the buffer of %zu bytes", what, off,
                         off + bytes, buf->bytes);
    return MRG_OK;
}

static mrg_status cpu_upload(mrg_device *dev, mrg_buffer *buf, size_t off_bytes, const void *src,
                             size_t bytes) {
    (void)dev;
    mrg_status st = check_range("upload", buf, off_bytes, bytes);
    if (st != MRG_OK) return st;
    if (bytes) memmove((char *)buf->handle + off_bytes, src, bytes);
    return MRG_OK;
}

static mrg_status cpu_download(mrg_device *dev, mrg_buffer *buf, size_t off_bytes, void *dst,
                               size_t bytes) {
    (void)dev;
    mrg_status st = check_range("download", buf, off_bytes, bytes);
    if (st != MRG_OK) return st;
    if (bytes) memmove(dst, (const char *)buf->handle + off_bytes, bytes);
    return MRG_OK;
}

/* Kernels run synchronously: nothing is ever pending. */
static mrg_status cpu_sync(mrg_device *dev) {
    (void)dev;
    return MRG_OK;
}

static const mrg_backend cpu_backend = {
    .kind = "cpu",
    .destroy = cpu_destroy,
    .buffer_alloc = cpu_buffer_alloc,
    .buffer_free = cpu_buffer_free,
    .upload = cpu_upload,
    .download = cpu_download,
    .sync = cpu_sync,
    .fill = cpu_fill,
    .convert = cpu_convert,
    .copy_strided = cpu_copy_strided,
    .convert_strided = cpu_convert_strided,
    .binary = cpu_binary,
    .unary = cpu_unary,
    .unary_backward = cpu_unary_backward,
    .gemm = cpu_gemm,
    .gemm_bf16 = cpu_gemm_bf16,
    .softmax = cpu_softmax,
    .softmax_backward = cpu_softmax_backward,
    .sdpa = cpu_sdpa,
    .sdpa_backward = cpu_sdpa_backward,
    .layernorm = cpu_layernorm,
    .layernorm_backward = cpu_layernorm_backward,
    .rmsnorm = cpu_rmsnorm,
    .rmsnorm_backward = cpu_rmsnorm_backward,
    .rope = cpu_rope,
    .embedding = cpu_embedding,
    .embedding_backward = cpu_embedding_backward,
    .reduce_sum = cpu_reduce_sum,
    .l2norm = cpu_l2norm,
    .l2norm_backward = cpu_l2norm_backward,
    .cross_entropy = cpu_cross_entropy,
    .cross_entropy_backward = cpu_cross_entropy_backward,
    .adamw = cpu_adamw,
    .sum_squares = cpu_sum_squares,
    .clip_scale = cpu_clip_scale,
    .select_topk = cpu_select_topk,
};

/* ---- init and description ----------------------------------------------- */

static const char *blas_parallel_name(void) {
    switch (openblas_get_parallel()) {
    case 0: return "sequential";
    case 1: return "pthread";
    case 2: return "OpenMP";
    }
    return "unknown threading";
}

/* "0.3.21" out of openblas_get_config() ("OpenBLAS 0.3.21 DYNAMIC_ARCH ..."). */
static void blas_version(char *out, size_t n) {
    const char *cfg = openblas_get_config();
    const char *p = cfg ? strstr(cfg, "OpenBLAS ") : NULL;
    size_t len = 0;
    if (p) {
        p += 9;
        while (p[len] && p[len] != ' ' && len + 1 < n) len++;
    }
    if (!p || len == 0) {
        snprintf(out, n, "?");
        return;
    }
    memcpy(out, p, len);
    out[len] = '\0';
}

/* OpenBLAS always runs single-threaded, whatever OPENBLAS_NUM_THREADS says:
 * cpu_matmul.c splits each GEMM over the OpenMP threads itself, and
 * OpenBLAS's own threads on top of those make two pools on the same cores
 * (with OPENBLAS_NUM_THREADS=2 on 2 cores, the paper preset's training step
 * took 19.2-19.3 s instead of 17.0-17.2 s, best of 2, Zen 3). */
static void blas_single_threaded(void) {
    if (openblas_get_parallel() != 0) openblas_set_num_threads(1);
}

/* OpenMP threads: OMP_NUM_THREADS when set, else one per available core
 * (omp_get_max_threads() already defaults to that). */
static mrg_status cpu_init(mrg_device *dev, int index) {
    (void)index; /* one device: the registry entry is not numbered */
    cpu_ctx *c = calloc(1, sizeof *c);
    if (!c) return mrg_error(MRG_ERR_OOM, "cpu: out of host memory");
    c->threads = omp_get_max_threads();
    if (c->threads < 1) c->threads = 1;
    /* one thread pool: GEMMs are split over the OpenMP threads (cpu_matmul.c) */
    blas_single_threaded();
    /* a program whose OpenBLAS runs kernels below the CPU hears it once */
    cpu_blas_warn_once();
    dev->be = &cpu_backend;
    dev->ctx = c;
    char ver[32];
    blas_version(ver, sizeof ver);
    int bt = openblas_get_num_threads();
    snprintf(dev->description, sizeof dev->description,
             "CPU: OpenBLAS %s (%s, %s kernels, %d thread%s per call), %d OpenMP thread%s", ver,
             blas_parallel_name(), openblas_get_corename(), bt, bt == 1 ? "" : "s", c->threads,
             c->threads == 1 ? "" : "s");
    return MRG_OK;
}

/* "model name : AMD EPYC 7B13" from /proc/cpuinfo, when there is one. */
static void cpu_model_name(char *out, size_t n) {
    snprintf(out, n, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) != 0) continue;
        char *colon = strchr(line, ':');
        if (!colon) continue;
        char *v = colon + 1;
        while (*v == ' ' || *v == '\t') v++;
        size_t len = strcspn(v, "\r\n");
        if (len >= n) len = n - 1;
        memcpy(out, v, len);
        out[len] = '\0';
        break;
    }
    fclose(f);
}

static mrg_status cpu_describe(FILE *out) {
    char model[256], ver[32];
    cpu_model_name(model, sizeof model);
    blas_version(ver, sizeof ver);
    fprintf(out, "cpu\n");
    fprintf(out, "  processor:      %s\n", model);
    fprintf(out, "  cores:          %d available\n", omp_get_num_procs());
    fprintf(out, "  OpenMP threads: %d\n", omp_get_max_threads());
    const char *cfg = openblas_get_config();
    /* listing the devices changes nothing: the cpu device sets OpenBLAS to
     * one thread when it is opened (its description then shows the count) */
    fprintf(out,
            "  BLAS:           OpenBLAS %s (%s build, core %s), single-threaded once the device "
            "is open: mrg splits each GEMM over its OpenMP threads\n",
            ver, blas_parallel_name(), openblas_get_corename());
    fprintf(out, "  BLAS config:    %s\n", cfg ? cfg : "?");
    char blas_core[512];
    cpu_blas_describe(blas_core, sizeof blas_core);
    fprintf(out, "  BLAS kernels:   %s\n", blas_core);
    const mrg_cpu_isa *isa = mrg_cpu_isa_get();
    char simd[512];
    mrg_cpu_isa_string(isa, simd, sizeof simd);
    fprintf(out, "  SIMD:           %s (%s%s%s)%s\n", simd, isa->arch, isa->vendor[0] ? ", " : "",
            isa->vendor, isa->amx_denied ? "; AMX present but Linux refused its permission" : "");
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
#if CPU_HAVE_AVX512_GEMV
    bool avx512_gemv = cpu_gemv_avx512();
#else
    bool avx512_gemv = false; /* a build without the AVX-512 kernel (clang) */
#endif
    fprintf(out, "  bf16/f16 GEMV:  %s code path\n",
            avx512_gemv                                                       ? "AVX-512 (16 lanes)"
            : __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? "AVX2+FMA"
                                                                              : "generic");
#endif
    fprintf(out, "  dtypes:         f32 compute; bf16/f16 weight storage\n");
    fprintf(out, "  bf16-mixed GEMM: %s\n",
            cpu_bf16_native() ? "AVX512-BF16 (mrg's vdpbf16ps kernel)"
                              : "converted: bf16-rounded operands, f32 sgemm (no AVX512-BF16)");
    return ferror(out) ? mrg_error(MRG_ERR_IO, "cpu: cannot write device info") : MRG_OK;
}

static int cpu_count(void) { return 1; }

/* The CPU kernels take every storage dtype the interface allows. */
static bool cpu_supports(const mrg_device *dev, mrg_kernel k, mrg_dtype dt) {
    (void)dev;
    return mrg_kernel_dtype_allowed(k, dt);
}

const mrg_backend_reg mrg_cpu_registry = {
    .prefix = "cpu",
    .title = "CPU",
    .needs = "OpenMP and OpenBLAS",
    .count = cpu_count,
    .init = cpu_init,
    .describe = cpu_describe,
    .supports = cpu_supports,
};

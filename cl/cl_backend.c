/* The OpenCL backend: device selection, context, queue, memory and the
 * vtable. Each op family's host code lives in cl_<family>.c (the table at
 * the top of lib/core/backend.h lists them). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cl/cl.h"

/* ---- launching ---------------------------------------------------------- */

mrg_status mrg_cl_enqueue(mrg_cl_ctx *c, const mrg_cl_args *a, cl_uint dims,
                          const size_t *global, const size_t *local, const char *op) {
    if (a->err != CL_SUCCESS) return mrg_cl_fail(a->err, op);
    size_t g[3];
    for (cl_uint d = 0; d < dims; d++) {
        g[d] = global[d];
        if (local && local[d] > 0) g[d] = (g[d] + local[d] - 1) / local[d] * local[d];
        if (g[d] == 0) return MRG_OK; /* nothing to do */
    }
    cl_int err = clEnqueueNDRangeKernel(c->queue, a->k, dims, NULL, g, local, 0, NULL, NULL);
    if (err != CL_SUCCESS) return mrg_cl_fail(err, op);
    return MRG_OK;
}

mrg_status mrg_cl_enqueue_1d(mrg_cl_ctx *c, const mrg_cl_args *a, int64_t n, const char *op) {
    if (n <= 0) return a->err != CL_SUCCESS ? mrg_cl_fail(a->err, op) : MRG_OK;
    size_t local = c->tune.wg1d;
    /* enough groups to fill any GPU; larger n loops inside the kernel */
    size_t cap = local * 65536;
    size_t global = (size_t)n < cap ? (size_t)n : cap;
    return mrg_cl_enqueue(c, a, 1, &global, &local, op);
}

mrg_status mrg_cl_enqueue_rows(mrg_cl_ctx *c, const mrg_cl_args *a, int64_t rows,
                               const char *op) {
    if (rows <= 0) return a->err != CL_SUCCESS ? mrg_cl_fail(a->err, op) : MRG_OK;
    size_t local = c->tune.red_wg;
    size_t global = (size_t)rows * local;
    return mrg_cl_enqueue(c, a, 1, &global, &local, op);
}

mrg_status mrg_cl_scratch(mrg_cl_ctx *c, size_t bytes, cl_mem *out) {
    if (bytes < 256) bytes = 256;
    if (c->scratch_bytes < bytes) {
        /* Releasing is safe while queued kernels still use the old buffer:
         * OpenCL frees it only after they finish. */
        if (c->scratch) clReleaseMemObject(c->scratch);
        c->scratch = NULL;
        c->scratch_bytes = 0;
        cl_int err;
        cl_mem m = clCreateBuffer(c->context, CL_MEM_READ_WRITE, bytes, NULL, &err);
        if (err != CL_SUCCESS) return mrg_cl_fail(err, "allocating scratch");
        c->scratch = m;
        c->scratch_bytes = bytes;
    }
    *out = c->scratch;
    return MRG_OK;
}

/* ---- argument checks shared by the kernel files ------------------------- */

mrg_status mrg_cl_check_f32(const char *op, int n, const mrg_ptr *ps) {
    for (int i = 0; i < n; i++)
        if (ps[i].buf && ps[i].dt != MRG_F32)
            return mrg_error(MRG_ERR_UNSUPPORTED, "opencl: %s: operand %d is %s, not f32", op, i,
                             mrg_dtype_name(ps[i].dt));
    return MRG_OK;
}

/* ---- lifetime and memory -------------------------------------------------- */

static void cl_destroy(mrg_device *dev) {
    mrg_cl_ctx *c = mrg_cl_of(dev);
    if (!c) return;
    if (c->queue) clFinish(c->queue);
    if (c->scratch) clReleaseMemObject(c->scratch);
    free(c->staging); /* after clFinish: no write reads it any more */
    mrg_cl_release_program(c);
    if (c->queue) clReleaseCommandQueue(c->queue);
    if (c->context) clReleaseContext(c->context);
    free(c);
    dev->ctx = NULL;
}

static mrg_status cl_buffer_alloc(mrg_device *dev, mrg_buffer *buf, size_t bytes) {
    mrg_cl_ctx *c = mrg_cl_of(dev);
    buf->handle = NULL;
    buf->bytes = 0;
    if (bytes == 0) return mrg_error(MRG_ERR_INVALID_ARG, "opencl: zero-byte allocation");
    /* Some drivers (PoCL) accept any size here and fail later: check the
     * device limits first. */
    if ((cl_ulong)bytes > c->max_alloc)
        return mrg_error(MRG_ERR_OOM,
                         "opencl: cannot allocate %.3f GiB: the device's largest allocation "
                         "(CL_DEVICE_MAX_MEM_ALLOC_SIZE, or MRG_CL_MAX_ALLOC) is %.3f GiB",
                         (double)bytes / (1 << 30), (double)c->max_alloc / (1 << 30));
    cl_int err;
    cl_mem m = clCreateBuffer(c->context, CL_MEM_READ_WRITE, bytes, NULL, &err);
    if (err != CL_SUCCESS) {
        char what[96];
        snprintf(what, sizeof what, "allocating %.3f GiB", (double)bytes / (1 << 30));
        mrg_status st = mrg_cl_fail(err, what);
        /* clCreateBuffer reports a too-large size as an invalid size */
        if (err == CL_INVALID_BUFFER_SIZE) st = mrg_error_context(MRG_ERR_OOM, "out of memory");
        return st;
    }
    buf->handle = m;
    buf->bytes = bytes;
    return MRG_OK;
}

static void cl_buffer_free(mrg_device *dev, mrg_buffer *buf) {
    (void)dev;
    if (buf && buf->handle) clReleaseMemObject((cl_mem)buf->handle);
    if (buf) {
        buf->handle = NULL;
        buf->bytes = 0;
    }
}

static mrg_status check_range(const mrg_buffer *buf, size_t off, size_t bytes, const char *op) {
    if (!buf || !buf->handle) return mrg_error(MRG_ERR_INVALID_ARG, "opencl: %s: no buffer", op);
    if (off > buf->bytes || bytes > buf->bytes - off)
        return mrg_error(MRG_ERR_INVALID_ARG,
                         "opencl: %s of %zu bytes at %zu exceeds the buffer of %zu bytes", op,
                         bytes, off, buf->bytes);
    return MRG_OK;
}

/* A host transfer: an upload's source may be freed as soon as it returns
 * (a small one is copied to the host staging area and enqueued without
 * waiting, a large one blocks); a download waits for the queued kernels,
 * whose errors surface here. src for an upload, dst for a download. */
static mrg_status transfer(mrg_device *dev, mrg_buffer *buf, size_t off, const void *src,
                           void *dst, size_t bytes) {
    const char *op = src ? "upload" : "download";
    if (bytes == 0) return MRG_OK;
    mrg_status st = check_range(buf, off, bytes, op);
    if (st != MRG_OK) return st;
    mrg_cl_ctx *c = mrg_cl_of(dev);
    cl_command_queue q = c->queue;
    cl_mem m = (cl_mem)buf->handle;
    cl_int err;
    if (src && bytes <= MRG_CL_STAGED_MAX && c->staging &&
        c->staging_used + bytes <= MRG_CL_STAGING_BYTES) {
        /* small: staged, not waited for (a decoded token's ids) */
        unsigned char *slot = c->staging + c->staging_used;
        memcpy(slot, src, bytes);
        c->staging_used += (bytes + 63) / 64 * 64;
        err = clEnqueueWriteBuffer(q, m, CL_FALSE, off, bytes, slot, 0, NULL, NULL);
    } else if (src) {
        err = clEnqueueWriteBuffer(q, m, CL_TRUE, off, bytes, src, 0, NULL, NULL);
        c->staging_used = 0; /* everything before has completed */
    } else {
        err = clEnqueueReadBuffer(q, m, CL_TRUE, off, bytes, dst, 0, NULL, NULL);
        if (err == CL_SUCCESS) c->staging_used = 0;
    }
    return err == CL_SUCCESS ? MRG_OK : mrg_cl_fail(err, op);
}

static mrg_status cl_upload(mrg_device *dev, mrg_buffer *buf, size_t off, const void *src,
                            size_t bytes) {
    return transfer(dev, buf, off, src, NULL, bytes);
}

static mrg_status cl_download(mrg_device *dev, mrg_buffer *buf, size_t off, void *dst,
                              size_t bytes) {
    return transfer(dev, buf, off, NULL, dst, bytes);
}

static mrg_status cl_sync(mrg_device *dev) {
    cl_int err = clFinish(mrg_cl_of(dev)->queue);
    if (err == CL_SUCCESS) mrg_cl_of(dev)->staging_used = 0;
    return err == CL_SUCCESS ? MRG_OK : mrg_cl_fail(err, "clFinish");
}

static const mrg_backend cl_backend = {
    .kind = "opencl",
    .destroy = cl_destroy,
    .buffer_alloc = cl_buffer_alloc,
    .buffer_free = cl_buffer_free,
    .upload = cl_upload,
    .download = cl_download,
    .sync = cl_sync,
    .fill = mrg_cl_fill,
    .convert = mrg_cl_convert,
    .copy_strided = mrg_cl_copy_strided,
    .convert_strided = mrg_cl_convert_strided,
    .binary = mrg_cl_binary,
    .unary = mrg_cl_unary,
    .unary_backward = mrg_cl_unary_backward,
    .gemm = mrg_cl_gemm,
    .softmax = mrg_cl_softmax,
    .softmax_backward = mrg_cl_softmax_backward,
    .sdpa = mrg_cl_sdpa,
    .sdpa_backward = mrg_cl_sdpa_backward,
    .layernorm = mrg_cl_layernorm,
    .layernorm_backward = mrg_cl_layernorm_backward,
    .rmsnorm = mrg_cl_rmsnorm,
    .rmsnorm_backward = mrg_cl_rmsnorm_backward,
    .rope = mrg_cl_rope,
    .embedding = mrg_cl_embedding,
    .embedding_backward = mrg_cl_embedding_backward,
    .reduce_sum = mrg_cl_reduce_sum,
    .l2norm = mrg_cl_l2norm,
    .l2norm_backward = mrg_cl_l2norm_backward,
    .cross_entropy = mrg_cl_cross_entropy,
    .cross_entropy_backward = mrg_cl_cross_entropy_backward,
    .adamw = mrg_cl_adamw,
    .sum_squares = mrg_cl_sum_squares,
    .clip_scale = mrg_cl_clip_scale,
    .gemv_fused = mrg_cl_gemv_fused,
    .rope_store_kv = mrg_cl_rope_store_kv,
    .sdpa_decode = mrg_cl_sdpa_decode,
    .select_topk = mrg_cl_select_topk,
};

/* ---- init ------------------------------------------------------------------ */

#define MAX_ENUM 256

/* *out = the whole number in environment variable name (1 to max), 0 when
 * it is unset or empty; anything else is an error naming the variable. */
static mrg_status env_limit(const char *name, uint64_t max, uint64_t *out) {
    *out = 0;
    const char *s = getenv(name);
    if (!s || !*s) return MRG_OK;
    size_t len = strspn(s, "0123456789");
    uint64_t v = 0;
    bool ok = len >= 1 && len <= 16 && !s[len];
    for (size_t i = 0; ok && i < len; i++) v = 10 * v + (uint64_t)(s[i] - '0');
    if (!ok || v < 1 || v > max)
        return mrg_error(MRG_ERR_INVALID_ARG,
                         "opencl: %s must be a whole number from 1 to %llu, not '%s'", name,
                         (unsigned long long)max, s);
    *out = v;
    return MRG_OK;
}

static void dev_str(cl_device_id d, cl_device_info what, char *buf, size_t n) {
    buf[0] = 0;
    if (clGetDeviceInfo(d, what, n, buf, NULL) != CL_SUCCESS) snprintf(buf, n, "?");
    buf[n - 1] = 0;
}

mrg_status mrg_cl_backend_init(mrg_device *dev, int index) {
    mrg_cl_devref refs[MAX_ENUM];
    int def = -1;
    int count = mrg_cl_enumerate(refs, MAX_ENUM, &def);
    if (count == 0)
        return mrg_error(MRG_ERR_NOT_FOUND,
                         "opencl: no OpenCL device found (no platform, or no device on any "
                         "platform); use --device cpu");
    if (index < 0) index = def;
    if (index >= count || index >= MAX_ENUM)
        return mrg_error(MRG_ERR_NOT_FOUND,
                         "opencl: no device opencl:%d (valid: opencl:0%s%.0d; see `mrg info`)",
                         index, count > 1 ? " .. opencl:" : "", count > 1 ? count - 1 : 0);

    mrg_cl_ctx *c = calloc(1, sizeof *c);
    if (!c) return mrg_error(MRG_ERR_OOM, "opencl: out of host memory");
    c->platform = refs[index].platform;
    c->device = refs[index].device;
    c->staging = malloc(MRG_CL_STAGING_BYTES); /* NULL: every upload blocks */
    clGetDeviceInfo(c->device, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof c->max_wg, &c->max_wg, NULL);
    clGetDeviceInfo(c->device, CL_DEVICE_LOCAL_MEM_SIZE, sizeof c->local_mem, &c->local_mem, NULL);
    clGetDeviceInfo(c->device, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof c->max_alloc, &c->max_alloc,
                    NULL);
    clGetDeviceInfo(c->device, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof c->global_mem, &c->global_mem,
                    NULL);
    /* Limits that the environment may lower (never raise): debugging aids,
     * ways around drivers that overstate them, and how the tests reach the
     * paths of large buffers with small ones.
     *   MRG_CL_MAX_WG      work-group size (the small fallback geometries)
     *   MRG_CL_MAX_ALLOC   bytes of one allocation (arena chunks)
     *   MRG_CL_MAX_OFFSET  largest element index handed to CLBlast, whose
     *                      kernels take 32-bit int offsets (cl_matmul.c) */
    uint64_t v;
    mrg_status est = env_limit("MRG_CL_MAX_WG", 65536, &v);
    if (est == MRG_OK && v && v < c->max_wg) c->max_wg = (size_t)v;
    if (est == MRG_OK) est = env_limit("MRG_CL_MAX_ALLOC", (uint64_t)1 << 50, &v);
    if (est == MRG_OK && v && v < c->max_alloc) c->max_alloc = v;
    c->clblast_max_index = INT32_MAX;
    if (est == MRG_OK) est = env_limit("MRG_CL_MAX_OFFSET", INT32_MAX, &v);
    if (est == MRG_OK && v) c->clblast_max_index = (int64_t)v;
    if (est != MRG_OK) {
        free(c->staging);
        free(c);
        return est;
    }
    cl_uint align_bits = 0;
    clGetDeviceInfo(c->device, CL_DEVICE_MEM_BASE_ADDR_ALIGN, sizeof align_bits, &align_bits,
                    NULL);
    c->base_align = align_bits >= 8 ? align_bits / 8 : 128;
    if (c->base_align % 4) c->base_align *= 4; /* whole f32 elements */
    if (c->max_wg == 0) c->max_wg = 1;
    if (c->local_mem == 0) c->local_mem = 16384;
    const char *no64 = getenv("MRG_CL_NO_FP64");
    c->fp64 = mrg_cl_device_fp64(c->device) && !(no64 && *no64 && strcmp(no64, "0") != 0);

    cl_int err;
    cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)c->platform, 0};
    c->context = clCreateContext(props, 1, &c->device, NULL, NULL, &err);
    mrg_status st = MRG_OK;
    if (err != CL_SUCCESS) st = mrg_cl_fail(err, "clCreateContext");
    if (st == MRG_OK) {
        /* in order: kernels run in the order they are enqueued */
        c->queue = clCreateCommandQueue(c->context, c->device, 0, &err);
        if (err != CL_SUCCESS) st = mrg_cl_fail(err, "clCreateCommandQueue");
    }
    /* dev->ctx must be set for destroy to clean up on failure */
    dev->ctx = c;
    if (st == MRG_OK) st = mrg_cl_build(c);
    if (st != MRG_OK) {
        cl_destroy(dev);
        return mrg_error_context(st, "opening opencl:%d", index);
    }

    char name[96], vendor[64], version[64];
    dev_str(c->device, CL_DEVICE_NAME, name, sizeof name);
    dev_str(c->device, CL_DEVICE_VENDOR, vendor, sizeof vendor);
    dev_str(c->device, CL_DEVICE_VERSION, version, sizeof version);
    snprintf(dev->description, sizeof dev->description, "%.95s, %.63s (%.63s)", name, vendor,
             version);
    /* lib/core/device.c names the device; for index -1 it relies on the
     * backend to leave the resolved index here */
    snprintf(dev->name, sizeof dev->name, "opencl:%d", index);
    dev->be = &cl_backend;
    /* no arena chunk larger than one allocation may be */
    dev->arena_max_chunk = c->max_alloc > (cl_ulong)SIZE_MAX ? SIZE_MAX : (size_t)c->max_alloc;
    return MRG_OK;
}

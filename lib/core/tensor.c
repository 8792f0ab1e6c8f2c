/* Tensor allocation (step arena or persistent), views, host transfers. */
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"

int64_t mrg_numel(const mrg_tensor *t) {
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->shape[i];
    return n;
}

size_t mrg_nbytes(const mrg_tensor *t) { return (size_t)mrg_numel(t) * mrg_dtype_size(t->dtype); }

bool mrg_same_shape(const mrg_tensor *a, const mrg_tensor *b) {
    if (a->ndim != b->ndim) return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return false;
    return true;
}

const char *mrg_shape_str(const mrg_tensor *t, char *buf, size_t n) {
    size_t len = 0;
    len += (size_t)snprintf(buf + len, n - len, "(");
    for (int i = 0; i < t->ndim && len < n; i++)
        len += (size_t)snprintf(buf + len, n - len, i ? ", %lld" : "%lld", (long long)t->shape[i]);
    if (len < n) snprintf(buf + len, n - len, t->ndim == 1 ? ",)" : ")");
    return buf;
}

static mrg_status check_shape(mrg_dtype dt, int ndim, const int64_t *shape) {
    if (ndim < 0 || ndim > MRG_MAX_DIMS)
        return mrg_error(MRG_ERR_INVALID_ARG, "tensor rank %d outside 0..%d", ndim, MRG_MAX_DIMS);
    if (mrg_dtype_size(dt) == 0) return mrg_error(MRG_ERR_INVALID_ARG, "unknown dtype %d", (int)dt);
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) return mrg_error(MRG_ERR_INVALID_ARG, "negative dimension %lld", (long long)shape[i]);
        if (shape[i] && n > INT64_MAX / 8 / shape[i])
            return mrg_error(MRG_ERR_INVALID_ARG, "tensor too large");
        n *= shape[i];
    }
    return MRG_OK;
}

static void set_shape(mrg_tensor *t, mrg_device *dev, mrg_dtype dt, int ndim, const int64_t *shape) {
    t->dev = dev;
    t->dtype = dt;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
}

mrg_tensor *mrg_tensor_new(mrg_device *dev, mrg_dtype dt, int ndim, const int64_t *shape) {
    if (!dev) {
        mrg_error(MRG_ERR_INVALID_ARG, "tensor: no device");
        return NULL;
    }
    if (check_shape(dt, ndim, shape) != MRG_OK) return NULL;
    mrg_tensor *t = mrg_step_malloc(dev, sizeof *t);
    if (!t) {
        mrg_error(MRG_ERR_OOM, "out of host memory");
        return NULL;
    }
    set_shape(t, dev, dt, ndim, shape);
    int64_t off_bytes;
    if (mrg_arena_alloc(dev, mrg_nbytes(t), &t->buf, &off_bytes) != MRG_OK) return NULL;
    t->offset = off_bytes / (int64_t)mrg_dtype_size(dt);
    return t;
}

mrg_tensor *mrg_tensor_like(const mrg_tensor *like, mrg_dtype dt) {
    return mrg_tensor_new(like->dev, dt, like->ndim, like->shape);
}

mrg_tensor *mrg_tensor_zeros(mrg_device *dev, mrg_dtype dt, int ndim, const int64_t *shape) {
    mrg_tensor *t = mrg_tensor_new(dev, dt, ndim, shape);
    if (t && mrg_tensor_fill(t, 0.0f) != MRG_OK) return NULL;
    return t;
}

mrg_tensor *mrg_tensor_view(mrg_tensor *x, int ndim, const int64_t *shape, int64_t offset) {
    if (check_shape(x->dtype, ndim, shape) != MRG_OK) return NULL;
    mrg_tensor *t = mrg_step_malloc(x->dev, sizeof *t);
    if (!t) {
        mrg_error(MRG_ERR_OOM, "out of host memory");
        return NULL;
    }
    set_shape(t, x->dev, x->dtype, ndim, shape);
    t->buf = x->buf;
    t->offset = x->offset + offset;
    return t;
}

mrg_tensor *mrg_tensor_new_persistent(mrg_device *dev, mrg_dtype dt, int ndim,
                                      const int64_t *shape) {
    if (!dev) {
        mrg_error(MRG_ERR_INVALID_ARG, "tensor: no device");
        return NULL;
    }
    if (check_shape(dt, ndim, shape) != MRG_OK) return NULL;
    mrg_tensor *t = calloc(1, sizeof *t);
    mrg_buffer *buf = calloc(1, sizeof *buf);
    if (!t || !buf) {
        free(t);
        free(buf);
        mrg_error(MRG_ERR_OOM, "out of host memory");
        return NULL;
    }
    set_shape(t, dev, dt, ndim, shape);
    size_t bytes = mrg_nbytes(t);
    mrg_status st = dev->be->buffer_alloc(dev, buf, bytes ? bytes : 4);
    if (st != MRG_OK) {
        char s[96];
        mrg_error_context(st, "allocating a %s %s tensor (%zu bytes) on %s", mrg_dtype_name(dt),
                          mrg_shape_str(t, s, sizeof s), bytes, dev->name);
        free(t);
        free(buf);
        return NULL;
    }
    buf->bytes = bytes ? bytes : 4;
    t->buf = buf;
    t->persistent = true;
    t->owns_buffer = true;
    dev->persistent_bytes += buf->bytes;
    if (mrg_tensor_fill(t, 0.0f) != MRG_OK) {
        mrg_tensor_free(t);
        return NULL;
    }
    return t;
}

mrg_tensor *mrg_param_new(mrg_device *dev, mrg_dtype dt, int ndim, const int64_t *shape,
                          bool trainable, const char *name) {
    if (trainable && dt != MRG_F32) {
        mrg_error(MRG_ERR_INVALID_ARG, "parameter %s: trainable parameters must be f32 (got %s)",
                  name ? name : "?", mrg_dtype_name(dt));
        return NULL;
    }
    mrg_tensor *t = mrg_tensor_new_persistent(dev, dt, ndim, shape);
    if (!t) return NULL;
    if (name) snprintf(t->name, sizeof t->name, "%s", name);
    if (trainable) {
        t->trainable = true;
        t->requires_grad = true;
        t->grad = mrg_tensor_new_persistent(dev, MRG_F32, ndim, shape);
        if (!t->grad) {
            mrg_tensor_free(t);
            return NULL;
        }
    }
    return t;
}

void mrg_tensor_free(mrg_tensor *t) {
    if (!t || !t->persistent) return;
    if (t->grad && t->grad->persistent) mrg_tensor_free(t->grad);
    if (t->owns_buffer && t->buf) {
        t->dev->persistent_bytes -= t->buf->bytes;
        t->dev->be->buffer_free(t->dev, t->buf);
        free(t->buf);
    }
    free(t);
}

void mrg_step_reset(mrg_device *dev) {
    if (!dev) return;
    mrg_tape_clear(dev);
    mrg_step_structs_free(dev);
    mrg_arena_reset(dev);
    mrg_grad_pool_reset(dev);
}

/* ---- transfers -------------------------------------------------------- */

/* Records the value range of host ids (see mrg_tensor.id_range_known).
 * The ids may be unaligned (a safetensors mapping): read with memcpy. */
static void note_id_range(mrg_tensor *t, const void *host) {
    const unsigned char *p = host;
    int64_t n = mrg_numel(t);
    int32_t lo = 0, hi = 0;
    for (int64_t i = 0; i < n; i++) {
        int32_t v;
        memcpy(&v, p + (size_t)i * sizeof v, sizeof v);
        if (i == 0 || v < lo) lo = v;
        if (i == 0 || v > hi) hi = v;
    }
    t->id_range_known = n > 0;
    t->id_min = lo;
    t->id_max = hi;
}

mrg_status mrg_tensor_upload(mrg_tensor *t, const void *host) {
    if (!t) return mrg_error(MRG_ERR_INVALID_ARG, "upload: no tensor");
    if (t->dtype == MRG_I32) note_id_range(t, host);
    size_t es = mrg_dtype_size(t->dtype);
    return t->dev->be->upload(t->dev, t->buf, (size_t)t->offset * es, host, mrg_nbytes(t));
}

mrg_status mrg_tensor_download(const mrg_tensor *t, void *host) {
    if (!t) return mrg_error(MRG_ERR_INVALID_ARG, "download: no tensor");
    size_t es = mrg_dtype_size(t->dtype);
    return t->dev->be->download(t->dev, t->buf, (size_t)t->offset * es, host, mrg_nbytes(t));
}

mrg_status mrg_tensor_upload_f32(mrg_tensor *t, const float *host) {
    if (!t) return mrg_error(MRG_ERR_INVALID_ARG, "upload: no tensor");
    int64_t n = mrg_numel(t);
    if (t->dtype == MRG_F32) return mrg_tensor_upload(t, host);
    void *tmp = malloc((size_t)n * mrg_dtype_size(t->dtype) + 1);
    if (!tmp) return mrg_error(MRG_ERR_OOM, "out of host memory");
    for (int64_t i = 0; i < n; i++) {
        switch (t->dtype) {
        case MRG_BF16: ((uint16_t *)tmp)[i] = mrg_f32_to_bf16(host[i]); break;
        case MRG_F16: ((uint16_t *)tmp)[i] = mrg_f32_to_f16(host[i]); break;
        case MRG_I32: ((int32_t *)tmp)[i] = (int32_t)host[i]; break;
        case MRG_F32: break;
        }
    }
    mrg_status st = mrg_tensor_upload(t, tmp);
    free(tmp);
    return st;
}

mrg_status mrg_tensor_to_f32(const mrg_tensor *t, float *host) {
    if (!t) return mrg_error(MRG_ERR_INVALID_ARG, "download: no tensor");
    int64_t n = mrg_numel(t);
    if (t->dtype == MRG_F32) return mrg_tensor_download(t, host);
    void *tmp = malloc((size_t)n * mrg_dtype_size(t->dtype) + 1);
    if (!tmp) return mrg_error(MRG_ERR_OOM, "out of host memory");
    mrg_status st = mrg_tensor_download(t, tmp);
    for (int64_t i = 0; st == MRG_OK && i < n; i++) {
        switch (t->dtype) {
        case MRG_BF16: host[i] = mrg_bf16_to_f32(((uint16_t *)tmp)[i]); break;
        case MRG_F16: host[i] = mrg_f16_to_f32(((uint16_t *)tmp)[i]); break;
        case MRG_I32: host[i] = (float)((int32_t *)tmp)[i]; break;
        case MRG_F32: break;
        }
    }
    free(tmp);
    return st;
}

mrg_tensor *mrg_tensor_from_f32(mrg_device *dev, int ndim, const int64_t *shape,
                                const float *data) {
    mrg_tensor *t = mrg_tensor_new(dev, MRG_F32, ndim, shape);
    if (t && mrg_tensor_upload(t, data) != MRG_OK) return NULL;
    return t;
}

mrg_tensor *mrg_tensor_from_i32(mrg_device *dev, int ndim, const int64_t *shape,
                                const int32_t *data) {
    mrg_tensor *t = mrg_tensor_new(dev, MRG_I32, ndim, shape);
    if (t && mrg_tensor_upload(t, data) != MRG_OK) return NULL;
    return t;
}

mrg_status mrg_tensor_item(const mrg_tensor *t, float *out) {
    if (!t) return mrg_error(MRG_ERR_INVALID_ARG, "item: no tensor");
    if (mrg_numel(t) != 1) {
        char s[96];
        return mrg_error(MRG_ERR_INVALID_ARG, "item: tensor %s has more than one element",
                         mrg_shape_str(t, s, sizeof s));
    }
    return mrg_tensor_to_f32(t, out);
}

mrg_status mrg_tensor_fill(mrg_tensor *t, float value) {
    if (!t) return mrg_error(MRG_ERR_INVALID_ARG, "fill: no tensor");
    if (t->dtype == MRG_F32 || t->dtype == MRG_I32)
        return t->dev->be->fill(t->dev, mrg_ptr_of(t), mrg_numel(t), value);
    /* 16-bit storage: only zero fill is needed (fresh buffers) */
    if (value != 0.0f)
        return mrg_error(MRG_ERR_UNSUPPORTED, "fill: non-zero fill of a %s tensor",
                         mrg_dtype_name(t->dtype));
    mrg_ptr p = mrg_ptr_of(t);
    /* two 16-bit zeros are one 32-bit zero; fill the even part, then the tail */
    int64_t n = mrg_numel(t);
    if (t->offset % 2 == 0 && n % 2 == 0) {
        p.dt = MRG_F32;
        p.off = t->offset / 2;
        return t->dev->be->fill(t->dev, p, n / 2, 0.0f);
    }
    uint16_t *zeros = calloc((size_t)n + 1, 2);
    if (!zeros) return mrg_error(MRG_ERR_OOM, "out of host memory");
    mrg_status st = mrg_tensor_upload(t, zeros);
    free(zeros);
    return st;
}

mrg_status mrg_tensor_copy(mrg_tensor *dst, const mrg_tensor *src) {
    if (!dst || !src) return mrg_error(MRG_ERR_INVALID_ARG, "copy: no tensor");
    if (mrg_numel(dst) != mrg_numel(src))
        return mrg_error(MRG_ERR_INVALID_ARG, "copy: %lld elements into %lld",
                         (long long)mrg_numel(src), (long long)mrg_numel(dst));
    if (dst->dev != src->dev) {
        /* across devices: through the host */
        size_t bytes = mrg_nbytes(src);
        void *tmp = malloc(bytes + 1);
        if (!tmp) return mrg_error(MRG_ERR_OOM, "out of host memory");
        mrg_status st = mrg_tensor_download(src, tmp);
        if (st == MRG_OK) {
            if (src->dtype == dst->dtype) st = mrg_tensor_upload(dst, tmp);
            else st = mrg_error(MRG_ERR_UNSUPPORTED, "copy across devices changes dtype");
        }
        free(tmp);
        return st;
    }
    if (dst->dtype == MRG_F32)
        return dst->dev->be->convert(dst->dev, mrg_ptr_of(src), mrg_ptr_of(dst), mrg_numel(src));
    if (dst->dtype == src->dtype && mrg_dtype_size(src->dtype) == 4) {
        int64_t n = mrg_numel(src), one = 1;
        return dst->dev->be->copy_strided(dst->dev, mrg_ptr_of(src), mrg_ptr_of(dst), 1, &n,
                                          &one, &one, false);
    }
    return mrg_error(MRG_ERR_UNSUPPORTED, "copy: %s into %s", mrg_dtype_name(src->dtype),
                     mrg_dtype_name(dst->dtype));
}

/* ---- argument helpers -------------------------------------------------- */

bool mrg_any_null(int n, mrg_tensor *const *ts) {
    for (int i = 0; i < n; i++)
        if (!ts[i]) return true;
    return false;
}

mrg_status mrg_check_same_device(const char *op, int n, mrg_tensor *const *ts) {
    mrg_device *dev = NULL;
    for (int i = 0; i < n; i++) {
        if (!ts[i]) continue;
        if (!dev) dev = ts[i]->dev;
        else if (ts[i]->dev != dev)
            return mrg_error(MRG_ERR_INVALID_ARG, "%s: inputs live on different devices (%s, %s)",
                             op, dev->name, ts[i]->dev->name);
    }
    return MRG_OK;
}

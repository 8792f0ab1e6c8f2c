/* Devices and tensors.
 *
 * A tensor is a contiguous row-major view (shape + element offset) over a
 * device buffer. Reshape and slices along the first axis are views; every
 * other layout change (permute, transpose, slice on an inner axis) is a copy
 * kernel. Keeping every tensor contiguous keeps each kernel simple on both
 * backends.
 *
 * Lifetimes:
 *   - step tensors (mrg_tensor_new, and every op result) come from the
 *     device's step arena and die at mrg_step_reset();
 *   - persistent tensors (parameters, optimizer state, KV caches) live until
 *     mrg_tensor_free(). */
#ifndef MRG_TENSOR_H
#define MRG_TENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "mrg/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MRG_MAX_DIMS 6

typedef enum mrg_dtype {
    MRG_F32 = 0,
    MRG_BF16 = 1, /* storage only: converted to f32 inside kernels */
    MRG_F16 = 2,  /* storage only */
    MRG_I32 = 3,  /* token ids, targets */
} mrg_dtype;

size_t mrg_dtype_size(mrg_dtype dt);
const char *mrg_dtype_name(mrg_dtype dt);

typedef struct mrg_device mrg_device;
typedef struct mrg_buffer mrg_buffer;

typedef struct mrg_tensor {
    mrg_device *dev;
    mrg_dtype dtype;
    int ndim;
    int64_t shape[MRG_MAX_DIMS];
    int64_t offset;   /* in elements, into buf */
    mrg_buffer *buf;
    /* autograd */
    struct mrg_tensor *grad; /* f32, same shape; NULL until a gradient arrives */
    bool requires_grad;      /* a trainable parameter, or computed from one */
    bool trainable;          /* a leaf parameter that receives a gradient */
    bool persistent;         /* not from the step arena */
    bool owns_buffer;        /* persistent tensor that frees buf */
    bool pooled;             /* a step tensor's gradient, in a buffer reused within the backward */
    char name[64];           /* optional, for messages and checkpoints */
    /* I32 tensors filled from the host remember their value range, so that
     * ops such as mrg_embedding can reject bad ids without a device read. */
    bool id_range_known;
    int32_t id_min, id_max;
} mrg_tensor;

/* ---- devices ---------------------------------------------------------- */

/* Opens "cpu", "opencl" (first GPU, else first device) or "opencl:N".
 * NULL with a message for an unknown name or a missing backend. */
mrg_device *mrg_device_open(const char *name);
/* mrg_device_open for one of local_size processes on this host (the ranks
 * of a data-parallel job, local_rank among them): a backend's default
 * device ("opencl", "gpu", or the default name) becomes its accelerator
 * local_rank mod count (OpenCL GPUs round-robin); a named one ("cpu",
 * "opencl:K") is opened as named. local_size 1: mrg_device_open. */
mrg_device *mrg_device_open_shared(const char *name, int local_rank, int local_size);
void mrg_device_free(mrg_device *dev);
/* "cpu" or "opencl:N" */
const char *mrg_device_name(const mrg_device *dev);
/* One line describing the hardware, e.g. "NVIDIA H200 (OpenCL 3.0 CUDA)". */
const char *mrg_device_description(const mrg_device *dev);
bool mrg_device_is_cpu(const mrg_device *dev);
/* Waits for every queued kernel. */
mrg_status mrg_device_sync(mrg_device *dev);
/* Name of the default device: "opencl" when an OpenCL GPU exists, else "cpu"
 * (an OpenCL CPU device such as PoCL is slower than the CPU backend);
 * the environment variable MRG_DEVICE overrides it. */
const char *mrg_default_device_name(void);
/* Prints the CPU backend and every OpenCL platform/device (mrg info). */
mrg_status mrg_print_devices(FILE *out);
/* Names of all usable devices ("cpu", "opencl:0", ...); returns count. */
int mrg_list_devices(char names[][32], int max);
/* Bytes currently held by the step arena / persistent buffers. */
size_t mrg_device_arena_bytes(const mrg_device *dev);
size_t mrg_device_persistent_bytes(const mrg_device *dev);

/* Precision: the arithmetic of mrg_matmul (mrg/ops.h; so mrg_linear and
 * the attention products) on a device, like PyTorch's autocast:
 *   f32         f32 × f32 → f32 (the default);
 *   bf16-mixed  both operands rounded to bf16 (round to nearest even),
 *               products summed in f32 (bf16 instructions where the CPU has
 *               them, AVX512-BF16; the same values through the f32 GEMM
 *               elsewhere, with a one-time notice); the backward products
 *               likewise. Results and gradients stay f32 (autocast would
 *               round a linear's output to bf16; mrg keeps the f32 sum), and
 *               so do weights, optimizer state, norms, softmax and losses.
 * A product takes the precision in force when it is recorded; its backward
 * uses the same. Returns the previous precision. */
typedef enum mrg_precision { MRG_PRECISION_F32 = 0, MRG_PRECISION_BF16_MIXED = 1 } mrg_precision;
mrg_precision mrg_set_precision(mrg_device *dev, mrg_precision p);
mrg_precision mrg_get_precision(const mrg_device *dev);
/* "f32", "bf16-mixed"; NULL for another value. */
const char *mrg_precision_name(mrg_precision p);
/* Parses those names (a clear error for anything else). */
mrg_status mrg_precision_parse(const char *s, mrg_precision *out);

/* Frees every step tensor and clears the autograd tape. Persistent tensors
 * (and the gradients of trainable parameters) are kept. */
void mrg_step_reset(mrg_device *dev);
/* A zero-filled heap block freed at the next mrg_step_reset(): host data
 * that must live as long as the step's tensors, e.g. the ctx of
 * mrg_checkpoint. NULL with a message when out of memory. */
void *mrg_step_malloc(mrg_device *dev, size_t bytes);

/* ---- tensors ---------------------------------------------------------- */

int64_t mrg_numel(const mrg_tensor *t);
size_t mrg_nbytes(const mrg_tensor *t);
bool mrg_same_shape(const mrg_tensor *a, const mrg_tensor *b);
/* "(2, 3, 4)" into buf; returns buf. */
const char *mrg_shape_str(const mrg_tensor *t, char *buf, size_t n);

/* Step tensor, uninitialised. */
mrg_tensor *mrg_tensor_new(mrg_device *dev, mrg_dtype dt, int ndim, const int64_t *shape);
/* Step tensor filled with zeros. */
mrg_tensor *mrg_tensor_zeros(mrg_device *dev, mrg_dtype dt, int ndim, const int64_t *shape);
/* Persistent tensor, zero-filled. */
mrg_tensor *mrg_tensor_new_persistent(mrg_device *dev, mrg_dtype dt, int ndim,
                                      const int64_t *shape);
/* Persistent parameter; a trainable one gets a zeroed f32 gradient buffer,
 * a frozen one gets none (gradients still flow through it to its inputs). */
mrg_tensor *mrg_param_new(mrg_device *dev, mrg_dtype dt, int ndim, const int64_t *shape,
                          bool trainable, const char *name);
/* Frees a persistent tensor (and its gradient). Step tensors are ignored. */
void mrg_tensor_free(mrg_tensor *t);

/* Raw copy of host data in the tensor's own dtype. */
mrg_status mrg_tensor_upload(mrg_tensor *t, const void *host);
mrg_status mrg_tensor_download(const mrg_tensor *t, void *host);
/* f32 host data into a tensor of any float dtype (converted on the way). */
mrg_status mrg_tensor_upload_f32(mrg_tensor *t, const float *host);
/* Any float dtype out as f32 (I32 is converted too). */
mrg_status mrg_tensor_to_f32(const mrg_tensor *t, float *host);
/* Convenience: new step tensor from host f32 / int32 data. */
mrg_tensor *mrg_tensor_from_f32(mrg_device *dev, int ndim, const int64_t *shape,
                                const float *data);
mrg_tensor *mrg_tensor_from_i32(mrg_device *dev, int ndim, const int64_t *shape,
                                const int32_t *data);
/* Reads the single element of a 1-element tensor (synchronises). */
mrg_status mrg_tensor_item(const mrg_tensor *t, float *out);
/* Device-to-device copy of equal shapes (dtype conversion allowed to f32). */
mrg_status mrg_tensor_copy(mrg_tensor *dst, const mrg_tensor *src);
mrg_status mrg_tensor_fill(mrg_tensor *t, float value);

/* Shape helper: MRG_SHAPE(2, 3) → (const int64_t[]){2, 3} with its rank. */
#define MRG_SHAPE(...) (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (const int64_t[]){__VA_ARGS__}

/* ---- host dtype helpers ---------------------------------------------- */
float mrg_bf16_to_f32(uint16_t v);
uint16_t mrg_f32_to_bf16(float v); /* round to nearest even */
float mrg_f16_to_f32(uint16_t v);
uint16_t mrg_f32_to_f16(float v);  /* round to nearest even */

#ifdef __cplusplus
}
#endif
#endif

/* The device registry (internal): what lib/core knows about backends.
 *
 * Each backend folder (cpu/, cl/) defines one mrg_backend_reg, and
 * lib/backends.c lists them, in order. lib/core only walks that list to
 * open devices by name, pick the default device, list devices and print
 * `mrg info`, so a new backend (CUDA, Vulkan) or a new kind of device is a
 * folder plus one line in lib/backends.c: nothing in lib/core changes.
 *
 * A backend left out of the build keeps its entry with the names and the
 * `needs` text but no functions, so that asking for its devices says what
 * to install instead of "unknown device". */
#ifndef MRG_CORE_REGISTRY_H
#define MRG_CORE_REGISTRY_H

#include <stdbool.h>
#include <stdio.h>

#include "mrg/tensor.h"

/* Kernels with an operand that may be stored in a dtype other than f32 (see
 * core/backend.h): the B operand of gemm, the table of embedding, the
 * weight of rmsnorm, the source of convert. Every other operand is f32 (or
 * i32 ids and targets) on every backend. */
typedef enum mrg_kernel {
    MRG_KERNEL_GEMM,
    MRG_KERNEL_EMBEDDING,
    MRG_KERNEL_RMSNORM,
    MRG_KERNEL_CONVERT,
} mrg_kernel;

/* The dtypes core/backend.h allows for that operand: f32, bf16, f16, and
 * also i32 for convert. A backend's supports() answers within these. */
static inline bool mrg_kernel_dtype_allowed(mrg_kernel k, mrg_dtype dt) {
    return dt == MRG_F32 || dt == MRG_BF16 || dt == MRG_F16 ||
           (k == MRG_KERNEL_CONVERT && dt == MRG_I32);
}

typedef struct mrg_backend_reg {
    /* Device names: the prefix alone names the backend's default device;
     * with `numbered`, "prefix:N" names device N < count() (N <= 1000),
     * otherwise the backend has one device, named by the prefix. */
    const char *prefix; /* "cpu", "opencl" */
    const char *alias;  /* another name for the default device ("gpu"), or NULL */
    bool numbered;
    const char *title;  /* in messages: "OpenCL" */
    const char *needs;  /* what a build with this backend needs: "OpenCL and CLBlast" */

    /* NULL in a build without this backend. */
    /* Devices on this machine. */
    int (*count)(void);
    /* Devices that make this backend the default one (GPUs); NULL when it
     * never is (the first entry of the list is the default otherwise). */
    int (*accelerators)(void);
    /* The device index of accelerator k < accelerators() (the ranks of a
     * data-parallel job on one host share them round-robin); NULL when the
     * backend has none. */
    int (*accelerator_index)(int k);
    /* Opens device `index` (< 0: the backend's default device) into dev:
     * sets dev->be, dev->ctx and dev->description, and dev->name when the
     * index is resolved by the backend (lib/core names the device
     * otherwise). On failure sets a message, leaves dev->ctx NULL or
     * released, and returns the status. */
    mrg_status (*init)(mrg_device *dev, int index);
    /* The `mrg info` section: the backend and each of its devices. */
    mrg_status (*describe)(FILE *out);
    /* Whether the kernel k of device dev takes an operand of storage dtype
     * dt (only asked for dtypes mrg_kernel_dtype_allowed accepts). The op
     * front ends ask before they dispatch, so a backend without, say, f16
     * weights gives a clear MRG_ERR_UNSUPPORTED instead of a kernel error. */
    bool (*supports)(const mrg_device *dev, mrg_kernel k, mrg_dtype dt);
} mrg_backend_reg;

/* Every known backend, NULL-terminated, in the order device names are
 * matched and `mrg info` prints them (lib/backends.c). */
extern const mrg_backend_reg *const mrg_backends[];

/* True when dev's backend takes dt for the operand of kernel k. */
bool mrg_device_supports(const mrg_device *dev, mrg_kernel k, mrg_dtype dt);

#endif

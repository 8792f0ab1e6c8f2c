/* OpenCL interop: the handles behind an OpenCL device and its tensors, for
 * code that runs another OpenCL library on mrg's own queue and data
 * (`mrg bench gemm` times CLBlast this way, on the same buffers as mrg's
 * GEMM). Present only in libraries built with the OpenCL backend (the build
 * defines MRG_HAVE_OPENCL for its own tools). The handles stay mrg's: do not
 * release them, and keep the tensor alive while the queue may use them. */
#ifndef MRG_OPENCL_H
#define MRG_OPENCL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "mrg/tensor.h"

/* *queue = the device's in-order cl_command_queue.
 * MRG_ERR_UNSUPPORTED for a device of another backend. */
mrg_status mrg_opencl_queue(mrg_device *dev, void **queue);

/* *mem = the cl_mem holding t's elements and *offset_bytes = where they
 * start in it (arena tensors share one cl_mem).
 * MRG_ERR_UNSUPPORTED for a tensor on a device of another backend. */
mrg_status mrg_opencl_buffer(const mrg_tensor *t, void **mem, size_t *offset_bytes);

/* How an OpenCL device has run its GEMMs so far: CLBlast on the buffers as
 * they are, CLBlast on sub-buffers (operands beyond the 32-bit element
 * offsets CLBlast's kernels take), or mrg's own kernels. */
typedef struct mrg_opencl_gemm_counts {
    uint64_t clblast, clblast_subbuffer, own;
} mrg_opencl_gemm_counts;
mrg_status mrg_opencl_gemm_counts_get(mrg_device *dev, mrg_opencl_gemm_counts *out);

/* `mrg tune`: searches the own GEMM kernels' parameters (tile sizes,
 * vector widths, work-group shapes, the small-M path's split) on dev for
 * the shape classes mrg uses, installs the winner on dev and caches it in
 * $XDG_CACHE_HOME/mrg/opencl-gemm.json (else ~/.cache/mrg/), keyed by the
 * device's name and driver version; devices opened later use it. Every
 * candidate is checked against a double-precision product first. Progress
 * and timings go to log (NULL: quiet). */
typedef struct mrg_opencl_tune_opts {
    int budget;    /* candidates tried per class, 0: all */
    bool quick;    /* small shapes: a fast run (CPU devices, tests) */
    bool no_write; /* keep the cache file as it is */
} mrg_opencl_tune_opts;
mrg_status mrg_opencl_tune(mrg_device *dev, const mrg_opencl_tune_opts *opts, FILE *log);
/* One line: the GEMM parameters dev uses and where they came from
 * ("default", "tuned (<cache file>)"). */
mrg_status mrg_opencl_gemm_describe(mrg_device *dev, char *buf, size_t n);

#endif

/* OpenCL interop: the handles behind an OpenCL device and its tensors, for
 * code that runs another OpenCL library on mrg's own queue and data
 * (`mrg bench gemm` times CLBlast this way, on the same buffers as mrg's
 * GEMM). Present only in libraries built with the OpenCL backend (the build
 * defines MRG_HAVE_OPENCL for its own tools). The handles stay mrg's: do not
 * release them, and keep the tensor alive while the queue may use them. */
#ifndef MRG_OPENCL_H
#define MRG_OPENCL_H

#include <stddef.h>

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

#endif

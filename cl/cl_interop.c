/* OpenCL interop (mrg/opencl.h): the queue and the cl_mem of a tensor, for
 * other OpenCL libraries working on mrg's data. */
#include <string.h>

#include "cl/cl.h"
#include "mrg/opencl.h"

static bool is_opencl(const mrg_device *dev) {
    return dev && dev->be && !strcmp(dev->be->kind, "opencl");
}

mrg_status mrg_opencl_queue(mrg_device *dev, void **queue) {
    if (!queue) return mrg_error(MRG_ERR_INVALID_ARG, "opencl queue: no output");
    if (!is_opencl(dev))
        return mrg_error(MRG_ERR_UNSUPPORTED, "opencl queue: %s is not an OpenCL device",
                         mrg_device_name(dev));
    *queue = mrg_cl_of(dev)->queue;
    return MRG_OK;
}

mrg_status mrg_opencl_buffer(const mrg_tensor *t, void **mem, size_t *offset_bytes) {
    if (!t || !mem || !offset_bytes) return mrg_error(MRG_ERR_INVALID_ARG, "opencl buffer: no tensor or output");
    if (!is_opencl(t->dev) || !t->buf)
        return mrg_error(MRG_ERR_UNSUPPORTED, "opencl buffer: the tensor is not on an OpenCL device");
    *mem = t->buf->handle;
    *offset_bytes = (size_t)t->offset * mrg_dtype_size(t->dtype);
    return MRG_OK;
}

mrg_status mrg_opencl_gemm_counts_get(mrg_device *dev, mrg_opencl_gemm_counts *out) {
    if (!out) return mrg_error(MRG_ERR_INVALID_ARG, "opencl gemm counts: no output");
    if (!is_opencl(dev))
        return mrg_error(MRG_ERR_UNSUPPORTED, "opencl gemm counts: %s is not an OpenCL device",
                         mrg_device_name(dev));
    const mrg_cl_ctx *c = mrg_cl_of(dev);
    out->clblast = c->gemm_clblast;
    out->clblast_subbuffer = c->gemm_clblast_subbuffer;
    out->own = c->gemm_own;
    return MRG_OK;
}

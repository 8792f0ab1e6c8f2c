/* The OpenCL backend's registry entry (core/registry.h). This file is
 * compiled in every build: without OpenCL it is the entry without
 * functions, so that `--device opencl` says the backend was not built and
 * what it needs, and `mrg info` says so too. */
#include "core/registry.h"

#ifdef MRG_HAVE_OPENCL
#include "cl/cl.h"

/* The kernels convert bf16/f16 operands to f32 as they load them, which
 * needs no half arithmetic (NVIDIA's OpenCL has none), so every OpenCL
 * device takes every storage dtype the interface allows. */
static bool cl_supports(const mrg_device *dev, mrg_kernel k, mrg_dtype dt) {
    (void)dev;
    return mrg_kernel_dtype_allowed(k, dt);
}
#endif

const mrg_backend_reg mrg_cl_registry = {
    .prefix = "opencl",
    .alias = "gpu",
    .numbered = true,
    .title = "OpenCL",
    .needs = "OpenCL and CLBlast",
#ifdef MRG_HAVE_OPENCL
    .count = mrg_cl_device_count,
    .accelerators = mrg_cl_gpu_count,
    .accelerator_index = mrg_cl_gpu_index,
    .init = mrg_cl_backend_init,
    .describe = mrg_cl_print_devices,
    .supports = cl_supports,
#endif
};

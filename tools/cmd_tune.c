/* mrg tune: searches the OpenCL GEMM kernels' parameters on a device and
 * caches the winners for it (mrg_opencl_tune in mrg/opencl.h). */
#include <stdio.h>

#include "commands.h"
#include "opts.h"
#include "mrg/mrg.h"
#ifdef MRG_HAVE_OPENCL
#include "mrg/opencl.h"
#endif

int cmd_tune(int argc, char **argv) {
    const char *device = NULL;
    int budget = 0;
    bool quick = false, dry = false;
    opt_spec specs[] = {OPT_STRING("--device", &device),
                        OPT_INTEGER("--budget", &budget, 1, 100000),
                        OPT_SET("--quick", &quick), OPT_SET("--dry-run", &dry)};
    int rc = opts_parse("tune", argc, argv, specs, OPTS_COUNT(specs));
    if (rc == 1) {
        printf("usage: mrg tune [--device D] [--budget N] [--quick] [--dry-run]\n\n"
               "Searches the parameters of mrg's own OpenCL GEMM kernels on the device: the\n"
               "register-blocked kernel (tile sizes, K slice, outputs per work-item, vector\n"
               "width of the loads) on training shapes, then the small-M split-K kernels\n"
               "(work-group size, lanes per column, K chunk) on decoding shapes (M = 1, 3, 16).\n"
               "Every candidate is first checked against a double-precision product; the\n"
               "fastest correct one is cached in $XDG_CACHE_HOME/mrg/opencl-gemm.json (else\n"
               "~/.cache/mrg/opencl-gemm.json), keyed by the device's name and driver\n"
               "version, and used automatically whenever that device is opened. Untuned\n"
               "devices use defaults for their class (NVIDIA/AMD GPUs, Intel GPUs, CPUs).\n"
               "  --device D   an OpenCL device: opencl, opencl:N (default: opencl)\n"
               "  --budget N   try at most N candidates per kernel class, spread evenly over\n"
               "               the search space (default: all, several hundred)\n"
               "  --quick      small shapes: a fast run (timings on CPU devices such as PoCL\n"
               "               say little about a GPU)\n"
               "  --dry-run    search and report, but leave the cache file as it is\n"
               "f32 GEMMs with M > 16 run on CLBlast on CPU devices (PoCL), on mrg's own\n"
               "kernels on GPUs; MRG_CL_GEMM=clblast or own chooses either way.\n"
               "`mrg bench gemm` times mrg's GEMM beside CLBlast in the same run.\n");
        return 0;
    }
    if (rc) return rc;
#ifndef MRG_HAVE_OPENCL
    (void)budget, (void)quick, (void)dry, (void)device;
    fprintf(stderr, "mrg tune: this build has no OpenCL backend\n");
    return 2;
#else
    mrg_device *dev = opts_device("tune", device ? device : "opencl");
    if (!dev) return 2;
    if (mrg_device_is_cpu(dev)) {
        fprintf(stderr, "mrg tune: %s is not an OpenCL device (the CPU backend uses OpenBLAS)\n",
                mrg_device_name(dev));
        mrg_device_free(dev);
        return 2;
    }
    printf("tuning %s: %s\n", mrg_device_name(dev), mrg_device_description(dev));
    fflush(stdout);
    mrg_opencl_tune_opts o = {budget, quick, dry};
    mrg_status st = mrg_opencl_tune(dev, &o, stdout);
    if (st != MRG_OK) fprintf(stderr, "mrg tune: %s\n", mrg_last_error());
    mrg_device_free(dev);
    return st == MRG_OK ? 0 : 1;
#endif
}

/* mrg info: the backends and devices this build can use. */
#include <stdio.h>

#include "commands.h"
#include "opts.h"
#include "mrg/mrg.h"

int cmd_info(int argc, char **argv) {
    const char *device = NULL;
    opt_spec specs[] = {OPT_STRING("--device", &device)};
    int rc = opts_parse("info", argc, argv, specs, OPTS_COUNT(specs));
    if (rc == 1) {
        printf("usage: mrg info [--device D]\n\n"
               "Lists the CPU backend (threads, BLAS, the OpenBLAS kernel set in use and who\n"
               "chose it, the instruction sets found: SIMD) and every OpenCL platform and device\n"
               "(name, vendor, memory, compute units, OpenCL C version, fp16/fp64, max\n"
               "work-group size) and names the default device. With --device D it opens D\n"
               "and prints its one-line description (exit code 2 when D is unknown).\n");
        return 0;
    }
    if (rc) return rc;
    if (device) {
        mrg_device *dev = opts_device("info", device);
        if (!dev) return 2;
        printf("%s: %s\n", mrg_device_name(dev), mrg_device_description(dev));
        mrg_device_free(dev);
        return 0;
    }
    if (mrg_print_devices(stdout) != MRG_OK) {
        fprintf(stderr, "mrg info: %s\n", mrg_last_error());
        return 1;
    }
    return 0;
}

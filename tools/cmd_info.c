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
               "and prints its one-line description (exit code 2 when D is unknown).\n"
               "Last, whether MPI (data-parallel training and generation) is built in and,\n"
               "under mpirun or srun, every rank with its host, local rank and device\n"
               "(`mpirun -np 2 mrg info`).\n");
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
    /* under a launcher only rank 0 lists the devices (every rank would
     * print the same list); the layout comes from all of them */
    if (mrg_dist_rank() == 0 && mrg_print_devices(stdout) != MRG_OK) {
        fprintf(stderr, "mrg info: %s\n", mrg_last_error());
        return 1;
    }
    fflush(stdout);
    if (mrg_dist_print(stdout) != MRG_OK) {
        fprintf(stderr, "mrg info: %s\n", mrg_last_error());
        return 1;
    }
    return 0;
}

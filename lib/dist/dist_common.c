/* The parts of lib/dist that do not depend on MPI (see mrg/dist.h). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dist/dist_internal.h"
#include "mrg/dist.h"

void dist_hostname(char *buf, size_t n) {
    if (gethostname(buf, n) != 0) snprintf(buf, n, "?");
    buf[n - 1] = 0;
}

mrg_status mrg_dist_print(FILE *out) {
    if (!mrg_dist_built()) {
        fprintf(out, "MPI: not built in (configure found no MPI; data-parallel runs need it)\n");
        return MRG_OK;
    }
    if (mrg_dist_size() <= 1) {
        fprintf(out, "MPI: built in (%s)\n", mrg_dist_library());
        fprintf(out, "  not started by an MPI launcher: a job of 1 process (mpirun -np N mrg ... for N)\n");
        return MRG_OK;
    }
    /* every rank's line, printed by rank 0 in rank order */
    char line[512], *all = NULL;
    int n = snprintf(line, sizeof line, "  rank %d on %s, local rank %d of %d\n", mrg_dist_rank(),
                     mrg_dist_host(), mrg_dist_local_rank(), mrg_dist_local_size());
    size_t counts[4096];
    if (mrg_dist_size() > 4096) return mrg_error(MRG_ERR_INVALID_ARG, "info: more than 4096 ranks");
    mrg_status st = mrg_dist_gather_bytes(line, (size_t)(n < (int)sizeof line ? n : (int)sizeof line - 1), &all,
                                          counts);
    if (st) return st;
    if (mrg_dist_rank() == 0) {
        size_t total = 0;
        for (int r = 0; r < mrg_dist_size(); r++) total += counts[r];
        fprintf(out, "MPI: built in (%s)\n  a job of %d ranks:\n", mrg_dist_library(), mrg_dist_size());
        fwrite(all, 1, total, out);
    }
    free(all);
    return MRG_OK;
}

/* lib/dist in a build without MPI: the job is this process alone, rank 0 of
 * 1 (see mrg/dist.h); every collective is a copy or nothing. */
#include <stdlib.h>
#include <string.h>

#include "dist/dist_internal.h"
#include "mrg/dist.h"

static char host[256];

mrg_status mrg_dist_init(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    /* N copies of one process would each train alone into the same RUN */
    static const char *const sizes[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", NULL};
    for (int i = 0; sizes[i]; i++) {
        const char *v = getenv(sizes[i]);
        if (v && atoi(v) > 1)
            return mrg_error(MRG_ERR_UNSUPPORTED,
                             "started by an MPI launcher with %s=%s, but this mrg was built without MPI "
                             "(install libopenmpi-dev and rebuild; CMake then prints 'mrg: MPI ON')",
                             sizes[i], v);
    }
    return MRG_OK;
}
void mrg_dist_finalize(void) {}
bool mrg_dist_built(void) { return false; }
const char *mrg_dist_library(void) { return "not built in"; }
int mrg_dist_rank(void) { return 0; }
int mrg_dist_size(void) { return 1; }
int mrg_dist_local_rank(void) { return 0; }
int mrg_dist_local_size(void) { return 1; }
const char *mrg_dist_host(void) {
    if (!host[0]) dist_hostname(host, sizeof host);
    return host;
}

mrg_status mrg_dist_sum_f32(float *buf, int64_t n) {
    (void)buf;
    (void)n;
    return MRG_OK;
}
mrg_status mrg_dist_sum_f32_start(float *buf, int64_t n) {
    (void)buf;
    (void)n;
    return MRG_OK;
}
mrg_status mrg_dist_progress(void) { return MRG_OK; }
mrg_status mrg_dist_sum_wait_all(void) { return MRG_OK; }
mrg_status mrg_dist_sum_f64(double *buf, int n) {
    (void)buf;
    (void)n;
    return MRG_OK;
}
mrg_status mrg_dist_any(bool *flag) {
    (void)flag;
    return MRG_OK;
}
mrg_status mrg_dist_bcast(void *buf, size_t bytes, int root) {
    (void)buf;
    (void)bytes;
    (void)root;
    return MRG_OK;
}
mrg_status mrg_dist_allgather_f32(const float *mine, int n_mine, float **all, int *counts) {
    *all = malloc(sizeof(float) * (size_t)(n_mine > 0 ? n_mine : 1));
    if (!*all) return mrg_error(MRG_ERR_OOM, "dist: out of memory");
    if (n_mine > 0) memcpy(*all, mine, sizeof(float) * (size_t)n_mine);
    counts[0] = n_mine;
    return MRG_OK;
}
mrg_status mrg_dist_gather_bytes(const void *mine, size_t n, char **all, size_t *counts) {
    *all = malloc(n ? n : 1);
    if (!*all) return mrg_error(MRG_ERR_OOM, "dist: out of memory");
    if (n) memcpy(*all, mine, n);
    counts[0] = n;
    return MRG_OK;
}
mrg_status mrg_dist_barrier(void) { return MRG_OK; }
void mrg_dist_abort(int code, const char *msg) {
    fprintf(stderr, "mrg: %s\n", msg);
    exit(code);
}

/* lib/dist over MPI (see mrg/dist.h). A process that no launcher started
 * never calls MPI_Init (Open MPI's singleton start spawns a helper daemon
 * and is slow), so `mrg` run by hand is the job of one it always was. */
#define _POSIX_C_SOURCE 200809L
#include <limits.h>
#include <mpi.h>
#include <stdlib.h>
#include <string.h>

#include "dist/dist_internal.h"
#include "mrg/dist.h"

static struct {
    bool joined; /* MPI_Init done by us */
    int rank, size, local_rank, local_size;
    char host[MPI_MAX_PROCESSOR_NAME + 1];
    char library[MPI_MAX_LIBRARY_VERSION_STRING + 1];
} job = {false, 0, 1, 0, 1, "", ""};

/* The variables a launcher puts in the environment of each process it
 * starts: Open MPI's mpirun, PMIx (Open MPI, srun --mpi=pmix), PMI-1/2
 * (MPICH's hydra, srun --mpi=pmi2). Only whether one is present matters:
 * rank and size come from MPI. */
static bool started_by_launcher(void) {
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE", NULL};
    for (int i = 0; vars[i]; i++)
        if (getenv(vars[i])) return true;
    return false;
}

static mrg_status mpi_fail(int rc, const char *what) {
    char msg[MPI_MAX_ERROR_STRING + 1] = "";
    int len = 0;
    if (MPI_Error_string(rc, msg, &len) != MPI_SUCCESS) snprintf(msg, sizeof msg, "MPI error %d", rc);
    return mrg_error(MRG_ERR_IO, "rank %d of %d (%s): %s failed: %s (another rank may have died)", job.rank,
                     job.size, job.host, what, msg);
}

mrg_status mrg_dist_init(int *argc, char ***argv) {
    int inited = 0;
    MPI_Initialized(&inited);
    if (inited || !started_by_launcher()) return MRG_OK;
    int rc = MPI_Init(argc, argv);
    if (rc != MPI_SUCCESS) return mrg_error(MRG_ERR_IO, "MPI_Init failed (error %d)", rc);
    job.joined = true;
    /* errors come back as codes, so a failed collective gives a message
     * (the default handler would abort without saying which call) */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &job.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &job.size);
    int len = 0;
    MPI_Get_processor_name(job.host, &len);
    MPI_Comm local;
    if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, job.rank, MPI_INFO_NULL, &local) == MPI_SUCCESS) {
        MPI_Comm_rank(local, &job.local_rank);
        MPI_Comm_size(local, &job.local_size);
        MPI_Comm_free(&local);
    }
    return MRG_OK;
}

void mrg_dist_finalize(void) {
    if (!job.joined) return;
    job.joined = false;
    MPI_Finalize();
}

bool mrg_dist_built(void) { return true; }

const char *mrg_dist_library(void) {
    if (!job.library[0]) {
        int len = 0;
        MPI_Get_library_version(job.library, &len);
        char *nl = strchr(job.library, '\n'); /* the first line says enough */
        if (nl) *nl = 0;
        for (char *c = job.library; *c; c++)
            if (*c == ',') { *c = 0; break; } /* "Open MPI v4.1.4" */
    }
    return job.library;
}

int mrg_dist_rank(void) { return job.rank; }
int mrg_dist_size(void) { return job.size; }
int mrg_dist_local_rank(void) { return job.local_rank; }
int mrg_dist_local_size(void) { return job.local_size; }
const char *mrg_dist_host(void) {
    if (!job.host[0]) dist_hostname(job.host, sizeof job.host);
    return job.host;
}

mrg_status mrg_dist_sum_f32(float *buf, int64_t n) {
    if (job.size <= 1) return MRG_OK;
    for (int64_t off = 0; off < n;) { /* MPI counts are int */
        int k = n - off > INT_MAX / 2 ? INT_MAX / 2 : (int)(n - off);
        int rc = MPI_Allreduce(MPI_IN_PLACE, buf + off, k, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS) return mpi_fail(rc, "MPI_Allreduce");
        off += k;
    }
    return MRG_OK;
}

/* The sums started and not yet waited for (mrg_dist_sum_f32_start). */
static struct {
    MPI_Request *req;
    int n, cap;
} pending;

mrg_status mrg_dist_sum_f32_start(float *buf, int64_t n) {
    if (job.size <= 1) return MRG_OK;
    if (n > INT_MAX / 2) return mrg_dist_sum_f32(buf, n); /* one request counts an int */
    if (pending.n == pending.cap) {
        int cap = pending.cap ? 2 * pending.cap : 32;
        MPI_Request *r = realloc(pending.req, sizeof *r * (size_t)cap);
        if (!r) return mrg_error(MRG_ERR_OOM, "dist: out of memory for a request");
        pending.req = r;
        pending.cap = cap;
    }
    int rc = MPI_Iallreduce(MPI_IN_PLACE, buf, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD,
                            &pending.req[pending.n]);
    if (rc != MPI_SUCCESS) return mpi_fail(rc, "MPI_Iallreduce");
    pending.n++;
    return MRG_OK;
}

mrg_status mrg_dist_progress(void) {
    if (pending.n == 0) return MRG_OK;
    int flag = 0; /* MPI_Testall moves the started sums on (Open MPI has no progress thread) */
    int rc = MPI_Testall(pending.n, pending.req, &flag, MPI_STATUSES_IGNORE);
    return rc == MPI_SUCCESS ? MRG_OK : mpi_fail(rc, "MPI_Testall");
}

mrg_status mrg_dist_sum_wait_all(void) {
    if (pending.n == 0) return MRG_OK;
    int rc = MPI_Waitall(pending.n, pending.req, MPI_STATUSES_IGNORE);
    pending.n = 0;
    free(pending.req);
    pending.req = NULL;
    pending.cap = 0;
    return rc == MPI_SUCCESS ? MRG_OK : mpi_fail(rc, "MPI_Waitall");
}

mrg_status mrg_dist_sum_f64(double *buf, int n) {
    if (job.size <= 1) return MRG_OK;
    int rc = MPI_Allreduce(MPI_IN_PLACE, buf, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    return rc == MPI_SUCCESS ? MRG_OK : mpi_fail(rc, "MPI_Allreduce");
}

mrg_status mrg_dist_any(bool *flag) {
    if (job.size <= 1) return MRG_OK;
    int v = *flag ? 1 : 0;
    int rc = MPI_Allreduce(MPI_IN_PLACE, &v, 1, MPI_INT, MPI_LOR, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS) return mpi_fail(rc, "MPI_Allreduce");
    *flag = v != 0;
    return MRG_OK;
}

mrg_status mrg_dist_bcast(void *buf, size_t bytes, int root) {
    if (job.size <= 1) return MRG_OK;
    for (size_t off = 0; off < bytes;) {
        int k = bytes - off > (size_t)INT_MAX ? INT_MAX : (int)(bytes - off);
        int rc = MPI_Bcast((char *)buf + off, k, MPI_BYTE, root, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS) return mpi_fail(rc, "MPI_Bcast");
        off += (size_t)k;
    }
    return MRG_OK;
}

mrg_status mrg_dist_allgather_f32(const float *mine, int n_mine, float **all, int *counts) {
    *all = NULL;
    if (job.size <= 1) {
        *all = malloc(sizeof(float) * (size_t)(n_mine > 0 ? n_mine : 1));
        if (!*all) return mrg_error(MRG_ERR_OOM, "dist: out of memory");
        if (n_mine > 0) memcpy(*all, mine, sizeof(float) * (size_t)n_mine);
        counts[0] = n_mine;
        return MRG_OK;
    }
    int rc = MPI_Allgather(&n_mine, 1, MPI_INT, counts, 1, MPI_INT, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS) return mpi_fail(rc, "MPI_Allgather");
    int *displs = malloc(sizeof(int) * (size_t)job.size);
    int64_t off = 0;
    for (int r = 0; displs && r < job.size; r++) {
        displs[r] = (int)off;
        off += counts[r];
    }
    /* the same sizes on every rank: all fail here together, or none */
    if (!displs || off > INT_MAX || !(*all = malloc(sizeof(float) * (size_t)(off > 0 ? off : 1)))) {
        free(displs);
        return mrg_error(MRG_ERR_OOM, "dist: cannot hold an all-gather of %lld floats", (long long)off);
    }
    rc = MPI_Allgatherv(mine, n_mine, MPI_FLOAT, *all, counts, displs, MPI_FLOAT, MPI_COMM_WORLD);
    free(displs);
    if (rc != MPI_SUCCESS) {
        free(*all);
        *all = NULL;
        return mpi_fail(rc, "MPI_Allgatherv");
    }
    return MRG_OK;
}

mrg_status mrg_dist_gather_bytes(const void *mine, size_t n, char **all, size_t *counts) {
    *all = NULL;
    if (job.size <= 1) {
        *all = malloc(n ? n : 1);
        if (!*all) return mrg_error(MRG_ERR_OOM, "dist: out of memory");
        if (n) memcpy(*all, mine, n);
        counts[0] = n;
        return MRG_OK;
    }
    if (n > INT_MAX) return mrg_error(MRG_ERR_INVALID_ARG, "dist: gather of %zu bytes is too large", n);
    int k = (int)n, *ks = NULL, *displs = NULL;
    if (job.rank == 0) {
        ks = malloc(sizeof(int) * (size_t)job.size);
        displs = malloc(sizeof(int) * (size_t)job.size);
        if (!ks || !displs) { free(ks); free(displs); return mrg_error(MRG_ERR_OOM, "dist: out of memory"); }
    }
    /* every rank goes through both calls, so none is left waiting */
    int rc = MPI_Gather(&k, 1, MPI_INT, ks, 1, MPI_INT, 0, MPI_COMM_WORLD);
    mrg_status st = rc == MPI_SUCCESS ? MRG_OK : mpi_fail(rc, "MPI_Gather");
    if (!st && job.rank == 0) {
        int64_t off = 0;
        for (int r = 0; r < job.size; r++) {
            displs[r] = (int)off;
            counts[r] = (size_t)ks[r];
            off += ks[r];
        }
        if (off > INT_MAX) st = mrg_error(MRG_ERR_INVALID_ARG, "dist: gather of %lld bytes is too large", (long long)off);
        else if (!(*all = malloc(off ? (size_t)off : 1))) st = mrg_error(MRG_ERR_OOM, "dist: out of memory");
        if (st) mrg_dist_abort(1, mrg_last_error()); /* the others are already in the Gatherv */
    }
    if (!st) {
        rc = MPI_Gatherv(mine, k, MPI_BYTE, *all, ks, displs, MPI_BYTE, 0, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS) st = mpi_fail(rc, "MPI_Gatherv");
    }
    free(ks);
    free(displs);
    if (st) { free(*all); *all = NULL; }
    return st;
}

mrg_status mrg_dist_barrier(void) {
    if (job.size <= 1) return MRG_OK;
    int rc = MPI_Barrier(MPI_COMM_WORLD);
    return rc == MPI_SUCCESS ? MRG_OK : mpi_fail(rc, "MPI_Barrier");
}

void mrg_dist_abort(int code, const char *msg) {
    fprintf(stderr, "mrg: rank %d of %d (%s): %s\n", job.rank, job.size, mrg_dist_host(), msg);
    fflush(stderr);
    if (job.joined && job.size > 1) MPI_Abort(MPI_COMM_WORLD, code);
    exit(code);
}

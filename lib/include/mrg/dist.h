/* Data parallelism: the processes of one job (ranks) and what they exchange
 * (lib/dist). Built over MPI when MRG_MPI found it at configure time
 * (dist_mpi.c); otherwise, and in a process that no MPI launcher started,
 * the job is this process alone: rank 0 of 1, every collective a copy or
 * nothing (dist_serial.c and the serial paths of dist_mpi.c). The trainer
 * and the commands are the same code in both builds.
 *
 * Every collective must be called by every rank, in the same order, with
 * the same sizes unless said otherwise; a failed collective is reported with
 * a message naming the peer when MPI knows it. */
#ifndef MRG_DIST_H
#define MRG_DIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "mrg/autograd.h"
#include "mrg/status.h"
#include "mrg/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Joins the job when an MPI launcher (mpirun, mpiexec, srun) started this
 * process: MPI_Init, rank and size from MPI_COMM_WORLD, local rank from the
 * ranks sharing this host (MPI_COMM_TYPE_SHARED). A process started
 * otherwise stays a job of one and never touches MPI. Idempotent. */
mrg_status mrg_dist_init(int *argc, char ***argv);
/* MPI_Finalize when init joined a job; nothing otherwise. */
void mrg_dist_finalize(void);

/* True when this build has MPI. */
bool mrg_dist_built(void);
/* "Open MPI v4.1.4, ..." (MPI_Get_library_version) or "not built in". */
const char *mrg_dist_library(void);
int mrg_dist_rank(void);
int mrg_dist_size(void);
int mrg_dist_local_rank(void);  /* among the ranks on this host */
int mrg_dist_local_size(void);
/* This host's name (as MPI_Get_processor_name gives it). */
const char *mrg_dist_host(void);

/* In-place sum over the ranks (MPI_Allreduce); every rank gets the same
 * values. */
mrg_status mrg_dist_sum_f32(float *buf, int64_t n);
mrg_status mrg_dist_sum_f64(double *buf, int n);
/* The same sum started in the background (MPI_Iallreduce): buf must stay
 * as it is until mrg_dist_sum_wait_all returns, which waits for every sum
 * started. Every rank starts the same sums in the same order. Without a
 * progress thread the sums advance only inside MPI calls:
 * mrg_dist_progress makes them advance (call it often while computing). */
mrg_status mrg_dist_sum_f32_start(float *buf, int64_t n);
mrg_status mrg_dist_progress(void);
mrg_status mrg_dist_sum_wait_all(void);

/* True on every rank when flag is true on any. */
mrg_status mrg_dist_any(bool *flag);
/* Rank root's bytes into every rank's buf. */
mrg_status mrg_dist_bcast(void *buf, size_t bytes, int root);
/* Every rank's n_mine floats, in rank order, into *all (malloc'd, freed by
 * the caller) on every rank; counts (size entries) gets each rank's n.
 * Sizes may differ. */
mrg_status mrg_dist_allgather_f32(const float *mine, int n_mine, float **all, int *counts);
/* Every rank's n bytes, concatenated in rank order, into *all on rank 0
 * (malloc'd; freed by the caller; counts, size entries, gets each rank's
 * n); *all = NULL elsewhere. */
mrg_status mrg_dist_gather_bytes(const void *mine, size_t n, char **all, size_t *counts);
/* Waits for every rank. */
mrg_status mrg_dist_barrier(void);
/* Ends the whole job: prints "mrg: rank R of N (host): msg" on stderr and
 * MPI_Abort(code) (exit(code) in a job of one). Never returns. */
void mrg_dist_abort(int code, const char *msg);

/* ---- tensors (dist_grads.c) --------------------------------------------- */

/* Rank root's values of ts[0..n) into every rank's tensors (initial weights
 * of a data-parallel run), through the host. */
mrg_status mrg_dist_bcast_tensors(mrg_tensor *const *ts, int n, int root);
/* Sums the gradients of params[0..n) over the ranks, in place, in buckets of
 * up to MRG_DIST_BUCKET floats of consecutive parameters (one all-reduce per
 * bucket; frozen parameters send nothing, a trainable one without a
 * gradient sends zeros). *bytes (may be NULL) gets the bytes each rank
 * contributed. Nothing in a job of one. */
#define MRG_DIST_BUCKET (4 << 20)
mrg_status mrg_dist_sum_grads(mrg_tensor *const *params, int n, int64_t *bytes);

/* The same sum overlapped with the backward: begin before the backward,
 * pass mrg_grad_sync_watch(s) to mrg_backward_watched (each bucket is
 * copied to the host and its sum started as soon as its gradients are
 * complete, the buckets always in the same order on every rank: the last
 * parameters' first, which the backward completes first), then finish
 * (sends any bucket not yet sent, waits for the sums and writes them into
 * the gradients) and free. mrg_dist_sum_grads is begin + finish. */
typedef struct mrg_grad_sync mrg_grad_sync;
mrg_grad_sync *mrg_grad_sync_begin(mrg_tensor *const *params, int n);
mrg_grad_watch mrg_grad_sync_watch(mrg_grad_sync *s);
mrg_status mrg_grad_sync_finish(mrg_grad_sync *s, int64_t *bytes);
void mrg_grad_sync_free(mrg_grad_sync *s);

/* The layout of the job for `mrg info`: built in or not, the library, and
 * under a launcher every rank with its host and local rank (collective:
 * every rank calls it, rank 0 prints). */
mrg_status mrg_dist_print(FILE *out);

#ifdef __cplusplus
}
#endif
#endif

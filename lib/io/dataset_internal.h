/* Internals of the dataset (lib/io/dataset*.c): the parsed studies, the
 * per-epoch order and the prefetch queue. */
#ifndef MRG_DATASET_INTERNAL_H
#define MRG_DATASET_INTERNAL_H

#include <pthread.h>

#include "mrg/dataset.h"

typedef struct mrg_study {
    char *id;
    char *report;        /* cleaned (opts.clean) or as in the annotation */
    char **paths;        /* n_paths full paths DIR/images/<p>, n_views of them
                            (last repeated / extra dropped); NULL when none */
    int n_paths;
    int32_t *ids;        /* report tokens (truncated) then </s>; NULL without tok */
    int n_ids;
} mrg_study;

/* One prepared element of the stream of an epoch: a batch, the end of the
 * epoch, or an error with its message (errors are thread-local). */
typedef struct mrg_ds_item {
    mrg_status st;       /* MRG_OK: batch; MRG_END; otherwise an error */
    mrg_batch batch;
    char *msg;           /* error message (malloc'd) */
} mrg_ds_item;

struct mrg_dataset {
    mrg_dataset_opts opts;
    mrg_split split;
    mrg_study *studies;
    int n;
    char *images_dir;    /* realpath of DIR/images (NULL when it does not
                            resolve): no image is read from outside it */
    int n_batches;       /* per epoch */
    int epoch, batch;    /* position of the next batch handed out */

    /* order of the epoch `perm_epoch` for the synchronous path */
    int *perm;
    int perm_epoch;

    /* prefetch (opts.prefetch > 0): a producer thread fills a ring of
     * opts.prefetch items starting at the position it was started from */
    pthread_t thread;
    bool running;
    bool stop;
    pthread_mutex_t mu;
    pthread_cond_t not_empty, not_full;
    mrg_ds_item *ring;
    int head, count;
    int prod_epoch, prod_batch; /* producer cursor */
};

/* The order of epoch e: identity without shuffle, else a permutation that
 * depends only on (seed, e). perm has ds->n entries. */
void mrg_ds_epoch_order(const mrg_dataset *ds, int epoch, int *perm);
/* Builds batch b of an epoch whose order is perm. Thread-safe (reads only
 * immutable dataset state). Errors name the study. */
mrg_status mrg_ds_build_batch(const mrg_dataset *ds, const int *perm, int b, bool parallel,
                              mrg_batch *out);
/* Builds the item at (epoch, batch) into *it: batch == n_batches gives END. */
void mrg_ds_build_item(const mrg_dataset *ds, const int *perm, int batch, bool parallel,
                       mrg_ds_item *it);
void mrg_ds_item_clear(mrg_ds_item *it);

/* Prefetch thread (dataset_thread.c). */
mrg_status mrg_ds_thread_start(mrg_dataset *ds);
void mrg_ds_thread_stop(mrg_dataset *ds);
/* Takes the next item from the ring (waits for it). */
void mrg_ds_thread_take(mrg_dataset *ds, mrg_ds_item *it);

#endif

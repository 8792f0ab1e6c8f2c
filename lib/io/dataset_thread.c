/* The dataset's prefetch thread: builds the batches that follow the
 * caller's position into a ring of opts.prefetch items while the caller
 * trains. It produces exactly the stream the synchronous path would (same
 * order, the end-of-epoch marks included), so results do not depend on
 * prefetch. It stops after an error (the caller restarts it from its own
 * position), on seek and in mrg_dataset_free. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "dataset_internal.h"

static void *producer(void *arg) {
    mrg_dataset *ds = arg;
    int *perm = malloc((size_t)(ds->n > 0 ? ds->n : 1) * sizeof *perm);
    int perm_epoch = -1;
    for (;;) {
        pthread_mutex_lock(&ds->mu);
        while (!ds->stop && ds->count >= ds->opts.prefetch)
            pthread_cond_wait(&ds->not_full, &ds->mu);
        bool stop = ds->stop;
        int e = ds->prod_epoch, b = ds->prod_batch;
        pthread_mutex_unlock(&ds->mu);
        if (stop) break;

        /* build outside the lock: the caller keeps taking ready items */
        mrg_ds_item it;
        if (!perm) {
            memset(&it, 0, sizeof it);
            it.st = MRG_ERR_OOM;
            it.msg = strdup("dataset: out of memory in the prefetch thread");
        } else {
            if (perm_epoch != e) {
                mrg_ds_epoch_order(ds, e, perm);
                perm_epoch = e;
            }
            /* serial decoding here: the caller's compute owns the cores */
            mrg_ds_build_item(ds, perm, b, false, &it);
        }
        bool failed = it.st != MRG_OK && it.st != MRG_END;

        pthread_mutex_lock(&ds->mu);
        if (ds->stop) {
            pthread_mutex_unlock(&ds->mu);
            mrg_ds_item_clear(&it);
            break;
        }
        ds->ring[(ds->head + ds->count) % ds->opts.prefetch] = it;
        ds->count++;
        if (it.st == MRG_END) {
            ds->prod_epoch++;
            ds->prod_batch = 0;
        } else {
            ds->prod_batch++;
        }
        pthread_cond_signal(&ds->not_empty);
        pthread_mutex_unlock(&ds->mu);
        if (failed) break; /* the caller gets the error, then restarts us */
    }
    free(perm);
    return NULL;
}

mrg_status mrg_ds_thread_start(mrg_dataset *ds) {
    if (ds->running) return MRG_OK;
    ds->stop = false;
    ds->head = ds->count = 0;
    ds->prod_epoch = ds->epoch;
    ds->prod_batch = ds->batch;
    if (pthread_create(&ds->thread, NULL, producer, ds) != 0)
        return mrg_error(MRG_ERR_OOM, "dataset: cannot start the prefetch thread");
    ds->running = true;
    return MRG_OK;
}

void mrg_ds_thread_stop(mrg_dataset *ds) {
    if (!ds->running) return;
    pthread_mutex_lock(&ds->mu);
    ds->stop = true;
    pthread_cond_broadcast(&ds->not_full);
    pthread_mutex_unlock(&ds->mu);
    pthread_join(ds->thread, NULL);
    ds->running = false;
    /* batches prepared ahead of a seek are dropped */
    while (ds->count > 0) {
        mrg_ds_item_clear(&ds->ring[ds->head]);
        ds->head = (ds->head + 1) % ds->opts.prefetch;
        ds->count--;
    }
    ds->head = 0;
}

void mrg_ds_thread_take(mrg_dataset *ds, mrg_ds_item *it) {
    pthread_mutex_lock(&ds->mu);
    /* the producer always delivers: it stops only on ds->stop (set by this
     * thread alone) or right after pushing an error */
    while (ds->count == 0) pthread_cond_wait(&ds->not_empty, &ds->mu);
    *it = ds->ring[ds->head];
    memset(&ds->ring[ds->head], 0, sizeof *it);
    ds->head = (ds->head + 1) % ds->opts.prefetch;
    ds->count--;
    pthread_cond_signal(&ds->not_full);
    pthread_mutex_unlock(&ds->mu);
}

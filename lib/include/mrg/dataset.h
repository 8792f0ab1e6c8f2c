/* Datasets in the R2Gen layout: DIR/annotation.json with "train", "val" and
 * "test" lists of {"id", "report", "image_path": [...]} and the images at
 * DIR/images/<image_path>. Reports are cleaned with the R2Gen IU rule,
 * tokenized and truncated; images are loaded (PNG/JPEG, 8/16-bit, gray or
 * RGB), resized to the model's input and normalised. Batches are built on a
 * background thread so the device never waits for decoding. */
#ifndef MRG_DATASET_H
#define MRG_DATASET_H

#include <stdbool.h>
#include <stdint.h>

#include "mrg/status.h"
#include "mrg/tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A batch on the host, as the dataset hands it out. */
typedef struct mrg_batch {
    int B;                 /* studies */
    int V;                 /* views per study */
    int S;                 /* image side */
    float *images;         /* (B, V, 3, S, S), normalised */
    int T;                 /* longest report in the batch, tokens incl. </s> */
    int32_t *report_ids;   /* (B, T): report tokens then </s>, padded with -1 */
    int *report_len;       /* (B) tokens incl. </s> */
    char **ids;            /* (B) study ids */
    char **reports;        /* (B) cleaned reference reports */
} mrg_batch;

void mrg_batch_free(mrg_batch *b);

typedef enum mrg_split { MRG_SPLIT_TRAIN = 0, MRG_SPLIT_VAL = 1, MRG_SPLIT_TEST = 2 } mrg_split;
const char *mrg_split_name(mrg_split s);
/* "train"/"val"/"test" → split; MRG_ERR_INVALID_ARG otherwise. */
mrg_status mrg_split_parse(const char *name, mrg_split *out);

typedef struct mrg_dataset_opts {
    int image_size;            /* S */
    float mean[3], std[3];
    int n_views;               /* views per study; studies with fewer repeat the last */
    int max_report_tokens;     /* truncation, before </s> */
    const mrg_tokenizer *tok;  /* NULL: no tokenization (report_ids NULL) */
    bool clean;                /* apply the R2Gen IU cleaning rule (default on) */
    int batch_size;
    bool shuffle;              /* reshuffled every epoch with a seeded RNG */
    uint64_t seed;
    bool drop_last;
    int prefetch;              /* batches prepared ahead on a thread; 0: none */
    bool load_images;          /* false: report-only batches (images NULL, no image
                                  files read; used by `mrg pretrain-lm`) (default on) */
    /* Data parallelism: with shard_count > 1 every batch is this rank's
     * share of the global batch of batch_size studies (the same seeded
     * order on every rank): the contiguous studies [B·r/n, B·(r+1)/n) of a
     * batch of B, r = shard_rank, n = shard_count. 0 or 1: whole batches. */
    int shard_rank, shard_count;
} mrg_dataset_opts;

/* S 224, mean = std = 0.5, 2 views, 60 tokens, no tokenizer, cleaning on,
 * batch 8, shuffled with seed 42, all batches kept, prefetch 2, images on. */
mrg_dataset_opts mrg_dataset_defaults(void);

typedef struct mrg_dataset mrg_dataset;

mrg_dataset *mrg_dataset_open(const char *dir, mrg_split split, const mrg_dataset_opts *opts);
void mrg_dataset_free(mrg_dataset *ds);
int mrg_dataset_size(const mrg_dataset *ds);
int mrg_dataset_batches_per_epoch(const mrg_dataset *ds);
/* The batch size it was opened with (batch k holds studies k·size onward
 * of the epoch's order; the global batch when sharded). */
int mrg_dataset_batch_size(const mrg_dataset *ds);
/* The study at index i of the split (file order): id and cleaned report. */
const char *mrg_dataset_id(const mrg_dataset *ds, int i);
const char *mrg_dataset_report(const mrg_dataset *ds, int i);
/* Paths of the views of study i (n_views entries). */
const char *const *mrg_dataset_image_paths(const mrg_dataset *ds, int i, int *n);

/* Next batch of the current epoch into *out (freed with mrg_batch_free);
 * MRG_END at the end of an epoch (the next call starts a new epoch). */
mrg_status mrg_dataset_next(mrg_dataset *ds, mrg_batch *out);
/* Position for checkpoints: epoch and batch index within it. Restoring it
 * reproduces the same order (the shuffle of an epoch depends only on seed
 * and epoch). */
void mrg_dataset_position(const mrg_dataset *ds, int *epoch, int *batch);
mrg_status mrg_dataset_seek(mrg_dataset *ds, int epoch, int batch);

#ifdef __cplusplus
}
#endif
#endif

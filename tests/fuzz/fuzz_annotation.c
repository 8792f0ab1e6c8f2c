/* Fuzzes dataset annotation.json files (mrg_dataset_open of each split,
 * with the tokenizer of tests/golden/model/lm) and the batches built from
 * them: every split with images (its images/ is tests/golden/dataset/images,
 * so the seeds' image paths decode real PNG and JPEG files, a missing and a
 * corrupt one included), and "train" report-only as `mrg pretrain-lm` reads
 * it. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "mrg/dataset.h"

static mrg_tokenizer *tok;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    tok = fuzz_golden_tokenizer();
    char link[1024];
    snprintf(link, sizeof link, "%s/images", fuzz_tmpdir());
    if (symlink(fuzz_golden("dataset/images"), link) != 0) {
        perror(link);
        abort();
    }
    return 0;
}

static void one_split(mrg_split split, bool images) {
    mrg_dataset_opts o = mrg_dataset_defaults();
    o.tok = tok;
    o.image_size = 16;
    o.n_views = 2;
    o.batch_size = 3;
    o.prefetch = 0;
    o.max_report_tokens = 40;
    o.load_images = images;
    mrg_clear_error();
    mrg_dataset *ds = mrg_dataset_open(fuzz_tmpdir(), split, &o);
    fuzz_expect_message(ds ? MRG_OK : MRG_ERR_FORMAT, "mrg_dataset_open");
    if (!ds) return;
    int n = mrg_dataset_size(ds);
    for (int i = 0; i < n; i++) {
        int nv = 0;
        if (!mrg_dataset_id(ds, i) || !mrg_dataset_report(ds, i)) abort();
        mrg_dataset_image_paths(ds, i, &nv);
        if (images && nv != o.n_views) abort();
    }
    /* one epoch; a batch that fails (a missing or corrupt image) must say why */
    for (int b = 0; b <= mrg_dataset_batches_per_epoch(ds); b++) {
        mrg_batch batch;
        mrg_clear_error();
        mrg_status st = mrg_dataset_next(ds, &batch);
        fuzz_expect_message(st, "mrg_dataset_next");
        if (st == MRG_OK) {
            for (int k = 0; k < batch.B; k++)
                if (batch.report_len[k] < 1 || batch.report_len[k] > batch.T) abort();
            mrg_batch_free(&batch);
        }
        if (st != MRG_OK) break;
    }
    mrg_dataset_free(ds);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_write("annotation.json", data, size);
    one_split(MRG_SPLIT_TRAIN, true);
    one_split(MRG_SPLIT_TRAIN, false);
    one_split(MRG_SPLIT_VAL, true);
    one_split(MRG_SPLIT_TEST, true);
    return 0;
}

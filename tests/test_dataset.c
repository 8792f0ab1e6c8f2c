/* Datasets in the R2Gen layout on the fixture in tests/golden/dataset
 * (made by its make_fixtures.py: every view is a uniform colour listed in
 * `views` below): order and images per study, view repetition, cleaning,
 * drop_last, seeded shuffling and seek, prefetch equivalence, errors for
 * missing/corrupt images and malformed annotations; with ../shared, report
 * tokens (truncation, </s>, -1 padding) with stories260K's tokenizer and the
 * 590 IU X-Ray test reports with the LLaMA-2 tokenizer. Host-only code: no
 * device. */
#define _GNU_SOURCE
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "mrg/dataset.h"
#include "mrg/limits.h"
#include "testutil.h"

static char fixture[4096];

/* Expected colour (0..1 per channel) of view v (n_views = 2) per study. */
typedef struct view_colour {
    const char *id;
    float rgb[2][3];
    float tol; /* JPEG decoders differ by a level or two */
} view_colour;

#define G8(x) {(x) / 255.0f, (x) / 255.0f, (x) / 255.0f}
#define G16(x) {(x) / 65535.0f, (x) / 65535.0f, (x) / 65535.0f}
#define RGB8(r, g, b) {(r) / 255.0f, (g) / 255.0f, (b) / 255.0f}
static const view_colour views[] = {
    {"s0", {G8(20), G8(30)}, 1e-6f},
    {"s1", {RGB8(40, 50, 60), RGB8(40, 50, 60)}, 1e-6f}, /* one view, repeated */
    {"s2", {G8(70), G8(80)}, 1e-6f},                     /* third view dropped */
    {"s3", {G16(16384), G16(49152)}, 1e-6f},             /* 16-bit PNG */
    {"s4", {G8(128), G8(64)}, 2.5f / 255.0f},            /* grayscale JPEG */
    {"s5", {RGB8(200, 100, 50), RGB8(10, 110, 210)}, 3.5f / 255.0f}, /* JPEG + RGBA PNG */
    {"s6", {G8(150), G8(160)}, 1e-6f},
    {"t0", {G8(110), G8(120)}, 1e-6f},
};
static const char *const train_ids[] = {"s0", "s1", "s2", "s3", "s4", "s5", "s6"};
static const float mean[3] = {0.5f, 0.4f, 0.3f}, stdv[3] = {0.25f, 0.5f, 0.2f};

static mrg_dataset_opts base_opts(void) {
    mrg_dataset_opts o = mrg_dataset_defaults();
    o.image_size = 4;
    memcpy(o.mean, mean, sizeof mean);
    memcpy(o.std, stdv, sizeof stdv);
    o.n_views = 2;
    o.batch_size = 3;
    o.shuffle = false;
    o.prefetch = 0;
    return o;
}

static mrg_dataset *open_fixture(mrg_split split, const mrg_dataset_opts *o) {
    mrg_dataset *ds = mrg_dataset_open(fixture, split, o);
    CHECK(ds != NULL);
    if (!ds) fprintf(stderr, "  open: %s\n", mrg_last_error());
    return ds;
}

/* Every pixel of every view of b matches the study's colour, normalised. */
static bool images_match(const mrg_batch *b) {
    if (!b->images || b->V != 2) return false;
    const int S = b->S;
    for (int i = 0; i < b->B; i++) {
        const view_colour *vc = NULL;
        for (size_t k = 0; k < sizeof views / sizeof views[0]; k++)
            if (!strcmp(views[k].id, b->ids[i])) vc = &views[k];
        if (!vc) return false;
        for (int v = 0; v < 2; v++)
            for (int c = 0; c < 3; c++) {
                const float *p = b->images + (((size_t)i * 2 + v) * 3 + c) * S * S;
                float want = (vc->rgb[v][c] - mean[c]) / stdv[c];
                for (int k = 0; k < S * S; k++)
                    if (fabsf(p[k] - want) > vc->tol / stdv[c] + 1e-5f) {
                        fprintf(stderr, "  %s view %d channel %d: got %g want %g\n", b->ids[i], v,
                                c, p[k], want);
                        return false;
                    }
            }
    }
    return true;
}

static void test_split_names(void) {
    mrg_split s;
    CHECK_OK(mrg_split_parse("val", &s));
    CHECK(s == MRG_SPLIT_VAL);
    CHECK(mrg_split_parse("dev", &s) == MRG_ERR_INVALID_ARG);
    CHECK(strstr(mrg_last_error(), "dev") != NULL);
    CHECK(!strcmp(mrg_split_name(MRG_SPLIT_TEST), "test"));
}

/* File order, batch sizes, epochs, images, views, cleaning, drop_last. */
static void test_order_and_content(void) {
    mrg_dataset_opts o = base_opts();
    mrg_dataset *ds = open_fixture(MRG_SPLIT_TRAIN, &o);
    if (!ds) return;
    CHECK(mrg_dataset_size(ds) == 7);
    CHECK(mrg_dataset_batches_per_epoch(ds) == 3);
    for (int i = 0; i < 7; i++) CHECK(!strcmp(mrg_dataset_id(ds, i), train_ids[i]));
    CHECK(mrg_dataset_id(ds, 7) == NULL);
    /* cleaning on by default */
    CHECK(!strcmp(mrg_dataset_report(ds, 1), "no pleural effusion . no pneumothorax ."));
    CHECK(!strcmp(mrg_dataset_report(ds, 0), "the heart is normal in size . the lungs are clear ."));
    int n;
    const char *const *p = mrg_dataset_image_paths(ds, 1, &n);
    CHECK(n == 2 && p && strstr(p[0], "/images/s1/0.png") && strstr(p[1], "/images/s1/0.png"));
    p = mrg_dataset_image_paths(ds, 2, &n);
    CHECK(n == 2 && p && strstr(p[0], "/images/s2/0.png") && strstr(p[1], "/images/s2/1.png"));

    static const int sizes[3] = {3, 3, 1};
    for (int epoch = 0; epoch < 2; epoch++) {
        int k = 0;
        for (int b = 0; b < 3; b++) {
            int e, bi;
            mrg_dataset_position(ds, &e, &bi);
            CHECK(e == epoch && bi == b);
            mrg_batch batch;
            CHECK_OK(mrg_dataset_next(ds, &batch));
            CHECK(batch.B == sizes[b] && batch.V == 2 && batch.S == 4);
            CHECK(batch.report_ids == NULL && batch.report_len == NULL && batch.T == 0);
            for (int i = 0; i < batch.B; i++, k++) {
                CHECK(!strcmp(batch.ids[i], train_ids[k]));
                CHECK(!strcmp(batch.reports[i], mrg_dataset_report(ds, k)));
            }
            CHECK(images_match(&batch));
            mrg_batch_free(&batch);
            CHECK(batch.images == NULL && batch.B == 0);
        }
        mrg_batch end;
        CHECK(mrg_dataset_next(ds, &end) == MRG_END);
        int e, bi;
        mrg_dataset_position(ds, &e, &bi);
        CHECK(e == epoch + 1 && bi == 0);
    }
    mrg_dataset_free(ds);

    /* clean off: the report as written */
    o.clean = false;
    o.drop_last = true;
    ds = open_fixture(MRG_SPLIT_TRAIN, &o);
    if (!ds) return;
    CHECK(!strcmp(mrg_dataset_report(ds, 1), "1. No pleural effusion.. 2. No pneumothorax!"));
    CHECK(mrg_dataset_batches_per_epoch(ds) == 2);
    mrg_batch b;
    int got = 0;
    while (mrg_dataset_next(ds, &b) == MRG_OK) {
        CHECK(b.B == 3);
        got += b.B;
        mrg_batch_free(&b);
    }
    CHECK(got == 6);
    mrg_dataset_free(ds);
}

/* The ids of `epochs` epochs, concatenated (7 per epoch). */
static void run_epochs(mrg_dataset *ds, int epochs, char out[][8]) {
    int k = 0;
    for (int e = 0; e < epochs; e++) {
        mrg_batch b;
        mrg_status st;
        while ((st = mrg_dataset_next(ds, &b)) == MRG_OK) {
            CHECK(images_match(&b));
            for (int i = 0; i < b.B && k < epochs * 7; i++) snprintf(out[k++], 8, "%s", b.ids[i]);
            mrg_batch_free(&b);
        }
        CHECK(st == MRG_END);
    }
    CHECK(k == epochs * 7);
}

static bool same_ids(char a[][8], char b[][8], int n) {
    for (int i = 0; i < n; i++)
        if (strcmp(a[i], b[i])) return false;
    return true;
}

static void test_shuffle_and_seek(void) {
    mrg_dataset_opts o = base_opts();
    o.shuffle = true;
    o.seed = 7;
    o.batch_size = 2;
    mrg_dataset *ds = open_fixture(MRG_SPLIT_TRAIN, &o);
    if (!ds) return;
    char a[28][8], b[28][8];
    run_epochs(ds, 4, a);
    mrg_dataset_free(ds);
    /* every epoch is a permutation of the split */
    for (int e = 0; e < 4; e++)
        for (int i = 0; i < 7; i++) {
            int seen = 0;
            for (int k = 0; k < 7; k++) seen += !strcmp(a[e * 7 + k], train_ids[i]);
            CHECK(seen == 1);
        }
    /* reshuffled per epoch, and not the file order */
    CHECK(!same_ids(a, a + 7, 7));
    CHECK(!same_ids(a + 7, a + 14, 7));
    bool identity = true;
    for (int i = 0; i < 7; i++) identity = identity && !strcmp(a[i], train_ids[i]);
    CHECK(!identity);

    /* same seed: same order; another seed: another order */
    ds = open_fixture(MRG_SPLIT_TRAIN, &o);
    if (!ds) return;
    run_epochs(ds, 4, b);
    CHECK(same_ids(a, b, 28));
    mrg_dataset_free(ds);
    o.seed = 8;
    ds = open_fixture(MRG_SPLIT_TRAIN, &o);
    if (!ds) return;
    run_epochs(ds, 1, b);
    CHECK(!same_ids(a, b, 7));
    mrg_dataset_free(ds);

    /* a restart at (epoch 2, batch 1) continues exactly where a run was */
    o.seed = 7;
    ds = open_fixture(MRG_SPLIT_TRAIN, &o);
    if (!ds) return;
    CHECK_OK(mrg_dataset_seek(ds, 2, 1));
    int e, bi;
    mrg_dataset_position(ds, &e, &bi);
    CHECK(e == 2 && bi == 1);
    char c[28][8];
    int k = 0;
    mrg_batch batch;
    while (mrg_dataset_next(ds, &batch) == MRG_OK) {
        for (int i = 0; i < batch.B; i++) snprintf(c[k++], 8, "%s", batch.ids[i]);
        mrg_batch_free(&batch);
    }
    CHECK(k == 5 && same_ids(c, a + 14 + 2, 5));
    run_epochs(ds, 1, c); /* epoch 3 */
    CHECK(same_ids(c, a + 21, 7));
    /* seeking backwards works as well */
    CHECK_OK(mrg_dataset_seek(ds, 0, 0));
    run_epochs(ds, 1, c);
    CHECK(same_ids(c, a, 7));
    CHECK(mrg_dataset_seek(ds, 0, 5) == MRG_ERR_INVALID_ARG);
    CHECK(mrg_dataset_seek(ds, -1, 0) == MRG_ERR_INVALID_ARG);
    /* seeking to the end of an epoch gives its end mark */
    CHECK_OK(mrg_dataset_seek(ds, 1, mrg_dataset_batches_per_epoch(ds)));
    CHECK(mrg_dataset_next(ds, &batch) == MRG_END);
    mrg_dataset_position(ds, &e, &bi);
    CHECK(e == 2 && bi == 0);
    mrg_dataset_free(ds);
}

static bool batches_equal(const mrg_batch *x, const mrg_batch *y) {
    if (x->B != y->B || x->V != y->V || x->S != y->S || x->T != y->T) return false;
    for (int i = 0; i < x->B; i++)
        if (strcmp(x->ids[i], y->ids[i]) || strcmp(x->reports[i], y->reports[i])) return false;
    if ((x->images == NULL) != (y->images == NULL)) return false;
    if (x->images &&
        memcmp(x->images, y->images, sizeof(float) * (size_t)x->B * x->V * 3 * x->S * x->S))
        return false;
    if ((x->report_ids == NULL) != (y->report_ids == NULL)) return false;
    if (x->report_ids && (memcmp(x->report_ids, y->report_ids, sizeof(int32_t) * x->B * x->T) ||
                          memcmp(x->report_len, y->report_len, sizeof(int) * x->B)))
        return false;
    return true;
}

/* Next into out[*n] (must succeed). */
static void take(mrg_dataset *ds, mrg_batch *out, int *n, int cap) {
    if (*n >= cap) return;
    mrg_status st = mrg_dataset_next(ds, &out[*n]);
    CHECK_OK(st);
    if (st == MRG_OK) (*n)++;
}

static void seek_to(mrg_dataset *ds, int epoch, int batch) {
    CHECK_OK(mrg_dataset_seek(ds, epoch, batch));
    int e, b;
    mrg_dataset_position(ds, &e, &b);
    CHECK(e == epoch && b == batch);
}

/* A script of calls like a trainer's (4 batches per epoch): a whole epoch
 * without reading its end mark, seek to the next epoch, seek to the same
 * position, seek backwards and forwards, then two epoch ends. */
static int run_script(mrg_dataset *ds, mrg_batch *out, int cap) {
    int n = 0;
    for (int i = 0; i < 4; i++) take(ds, out, &n, cap);
    seek_to(ds, 1, 0);
    take(ds, out, &n, cap);
    seek_to(ds, 1, 1);
    take(ds, out, &n, cap);
    seek_to(ds, 0, 3);
    take(ds, out, &n, cap);
    seek_to(ds, 1, 2);
    int ends = 0;
    while (ends < 2 && n < cap) {
        mrg_status st = mrg_dataset_next(ds, &out[n]);
        if (st == MRG_END) {
            ends++;
            continue;
        }
        CHECK_OK(st);
        if (st != MRG_OK) break;
        n++;
    }
    return n;
}

static void test_prefetch(const mrg_tokenizer *tok) {
    mrg_dataset_opts o = base_opts();
    o.shuffle = true;
    o.seed = 3;
    o.batch_size = 2;
    o.tok = tok;
    o.max_report_tokens = 10;
    enum { CAP = 16 };
    mrg_batch ref[CAP], got[CAP];
    mrg_dataset *ds = open_fixture(MRG_SPLIT_TRAIN, &o);
    if (!ds) return;
    int nref = run_script(ds, ref, CAP);
    CHECK(nref == 4 + 1 + 1 + 1 + 2 + 4);
    mrg_dataset_free(ds);
    static const int prefetch[] = {1, 2, 5};
    for (int p = 0; p < 3; p++) {
        o.prefetch = prefetch[p];
        ds = open_fixture(MRG_SPLIT_TRAIN, &o);
        if (!ds) continue;
        int n = run_script(ds, got, CAP);
        CHECK(n == nref);
        for (int i = 0; i < n && i < nref; i++) {
            bool eq = batches_equal(&ref[i], &got[i]);
            if (!eq) fprintf(stderr, "  prefetch %d: batch %d differs\n", prefetch[p], i);
            CHECK(eq);
        }
        for (int i = 0; i < n; i++) mrg_batch_free(&got[i]);
        mrg_dataset_free(ds);
        /* freeing while the thread is filling its ring must not hang */
        ds = open_fixture(MRG_SPLIT_TRAIN, &o);
        if (!ds) continue;
        CHECK_OK(mrg_dataset_next(ds, &got[0]));
        CHECK(batches_equal(&ref[0], &got[0]));
        mrg_batch_free(&got[0]);
        mrg_dataset_free(ds);
    }
    for (int i = 0; i < nref; i++) mrg_batch_free(&ref[i]);
}

/* Missing and corrupt images: the error comes from next and names the
 * study and the file; the position stays, so a retry fails the same way. */
static void test_image_errors(void) {
    for (int prefetch = 0; prefetch <= 2; prefetch += 2) {
        mrg_dataset_opts o = base_opts();
        o.prefetch = prefetch;
        mrg_dataset *ds = open_fixture(MRG_SPLIT_VAL, &o); /* images are read lazily */
        if (!ds) continue;
        for (int retry = 0; retry < 2; retry++) {
            mrg_batch b;
            mrg_status st = mrg_dataset_next(ds, &b);
            CHECK(st == MRG_ERR_NOT_FOUND || st == MRG_ERR_IO);
            CHECK(strstr(mrg_last_error(), "\"v0\"") != NULL);
            CHECK(strstr(mrg_last_error(), "missing/1.png") != NULL);
            CHECK(b.B == 0 && b.images == NULL);
            int e, bi;
            mrg_dataset_position(ds, &e, &bi);
            CHECK(e == 0 && bi == 0);
        }
        if (prefetch == 0) fprintf(stderr, "  (expected) %s\n", mrg_last_error());
        mrg_dataset_free(ds);

        o.batch_size = 1;
        ds = open_fixture(MRG_SPLIT_TEST, &o);
        if (!ds) continue;
        mrg_batch b;
        CHECK_OK(mrg_dataset_next(ds, &b));
        CHECK(b.B == 1 && !strcmp(b.ids[0], "t0") && images_match(&b));
        mrg_batch_free(&b);
        CHECK(mrg_dataset_next(ds, &b) == MRG_ERR_FORMAT);
        CHECK(strstr(mrg_last_error(), "\"t1\"") && strstr(mrg_last_error(), "t1/0.png"));
        mrg_dataset_free(ds);

        /* report-only iteration reads no image */
        o.load_images = false;
        o.batch_size = 4;
        ds = open_fixture(MRG_SPLIT_TEST, &o);
        if (!ds) continue;
        CHECK_OK(mrg_dataset_next(ds, &b));
        CHECK(b.B == 2 && b.images == NULL && !strcmp(b.ids[1], "t1"));
        CHECK(!strcmp(b.reports[1], "corrupt image study ."));
        mrg_batch_free(&b);
        CHECK(mrg_dataset_next(ds, &b) == MRG_END);
        mrg_dataset_free(ds);
    }
}

static char tmpdir[64];

static void write_annotation(const char *text) {
    char path[128];
    snprintf(path, sizeof path, "%s/annotation.json", tmpdir);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

/* Opening text as the annotation fails with a message naming the file and
 * holding both needles (needle2 may be NULL). */
static void expect_open_error(const char *text, mrg_split split, bool load_images,
                              const char *needle1, const char *needle2) {
    write_annotation(text);
    mrg_dataset_opts o = base_opts();
    o.load_images = load_images;
    mrg_clear_error();
    mrg_dataset *ds = mrg_dataset_open(tmpdir, split, &o);
    CHECK(ds == NULL);
    mrg_dataset_free(ds);
    const char *msg = mrg_last_error();
    bool ok = strstr(msg, needle1) && (!needle2 || strstr(msg, needle2));
    if (!ok) fprintf(stderr, "  message: %s\n", msg);
    CHECK(ok);
    CHECK(strstr(msg, "annotation.json") != NULL);
}

static void test_annotation_errors(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/mrg_ds_XXXXXX");
    CHECK(mkdtemp(tmpdir) != NULL);
    mrg_dataset_opts o = base_opts();

    /* no annotation at all */
    mrg_clear_error();
    CHECK(mrg_dataset_open(tmpdir, MRG_SPLIT_TRAIN, &o) == NULL);
    CHECK(strstr(mrg_last_error(), "annotation.json") != NULL);

    expect_open_error("{\"train\": [{\"id\": \"a\", \"report\": \n", MRG_SPLIT_TRAIN, true, "malformed JSON", "line 2");
    expect_open_error("[1, 2]", MRG_SPLIT_TRAIN, true, "not an object", NULL);
    expect_open_error("{\"val\": []}", MRG_SPLIT_TRAIN, true, "\"train\"", NULL);
    expect_open_error("{\"train\": 5}", MRG_SPLIT_TRAIN, true, "not a list", NULL);
    expect_open_error("{\"train\": [{\"report\": \"x\", \"image_path\": [\"a.png\"]}]}",
                      MRG_SPLIT_TRAIN, true, "train[0]", "\"id\"");
    expect_open_error("{\"train\": [{\"id\": \"ok\", \"report\": \"x\", \"image_path\": [\"a\"]},"
                      " {\"id\": \"q7\", \"image_path\": [\"a.png\"]}]}",
                      MRG_SPLIT_TRAIN, true, "\"q7\"", "\"report\"");
    expect_open_error("{\"test\": [{\"id\": \"q8\", \"report\": \"x\"}]}", MRG_SPLIT_TEST, true, "\"q8\"", "image_path");
    expect_open_error("{\"test\": [{\"id\": \"q9\", \"report\": \"x\", \"image_path\": \"a.png\"}]}",
                      MRG_SPLIT_TEST, false, "\"q9\"", "not a list");
    expect_open_error("{\"test\": [{\"id\": \"q10\", \"report\": \"x\", \"image_path\": [3]}]}",
                      MRG_SPLIT_TEST, true, "\"q10\"", "image_path");

    /* limits (mrg/limits.h) and paths that leave DIR/images */
    expect_open_error("{\"test\": [{\"id\": \"e1\", \"report\": \"x\", \"image_path\": [\"../x.png\"]}]}",
                      MRG_SPLIT_TEST, true, "\"e1\"", "leaves the dataset's images directory");
    expect_open_error("{\"test\": [{\"id\": \"e2\", \"report\": \"x\", \"image_path\": [\"/etc/passwd\"]}]}",
                      MRG_SPLIT_TEST, false, "\"e2\"", "leaves the dataset's images directory");
    expect_open_error("{\"test\": [{\"id\": \"e3\", \"report\": \"x\", \"image_path\": [\"a/b/../../../c.png\"]}]}",
                      MRG_SPLIT_TEST, true, "\"e3\"", "\"..\"");
    {
        char *big = malloc(MRG_MAX_REPORT_BYTES + 200);
        int k = snprintf(big, 200, "{\"test\": [{\"id\": \"e4\", \"image_path\": [\"a.png\"], \"report\": \"");
        memset(big + k, 'a', MRG_MAX_REPORT_BYTES + 1);
        snprintf(big + k + MRG_MAX_REPORT_BYTES + 1, 20, "\"}]}");
        expect_open_error(big, MRG_SPLIT_TEST, true, "\"e4\"", "MRG_MAX_REPORT_BYTES");
        k = snprintf(big, 200, "{\"test\": [{\"id\": \"e5\", \"report\": \"x\", \"image_path\": [");
        for (int i = 0; i <= MRG_MAX_IMAGES_PER_STUDY; i++) k += snprintf(big + k, 20, "%s\"%d.png\"", i ? "," : "", i);
        snprintf(big + k, 20, "]}]}");
        expect_open_error(big, MRG_SPLIT_TEST, true, "\"e5\"", "MRG_MAX_IMAGES_PER_STUDY");
        k = snprintf(big, 200, "{\"test\": ");
        for (int i = 0; i < MRG_MAX_JSON_DEPTH + 5; i++) big[k++] = '[';
        big[k] = 0;
        expect_open_error(big, MRG_SPLIT_TEST, true, "nested deeper than 1000", NULL);
        free(big);
    }

    /* other splits may be absent or empty; report-only needs no image_path */
    write_annotation("{\"val\": [], \"test\": [{\"id\": \"q8\", \"report\": \"Fine.\"}]}");
    mrg_dataset *ds = mrg_dataset_open(tmpdir, MRG_SPLIT_VAL, &o);
    CHECK(ds != NULL);
    if (ds) {
        CHECK(mrg_dataset_size(ds) == 0 && mrg_dataset_batches_per_epoch(ds) == 0);
        mrg_batch b;
        CHECK(mrg_dataset_next(ds, &b) == MRG_END);
        mrg_dataset_free(ds);
    }
    o.load_images = false;
    ds = mrg_dataset_open(tmpdir, MRG_SPLIT_TEST, &o);
    CHECK(ds != NULL);
    if (ds) {
        int n = -1;
        mrg_dataset_image_paths(ds, 0, &n);
        CHECK(n == 0 && !strcmp(mrg_dataset_report(ds, 0), "fine ."));
        mrg_dataset_free(ds);
    }

    /* bad options */
    o = base_opts();
    o.batch_size = 0;
    CHECK(mrg_dataset_open(fixture, MRG_SPLIT_TRAIN, &o) == NULL);
    CHECK(strstr(mrg_last_error(), "batch_size") != NULL);
    o = base_opts();
    o.prefetch = -1;
    CHECK(mrg_dataset_open(fixture, MRG_SPLIT_TRAIN, &o) == NULL);

    char path[128];
    snprintf(path, sizeof path, "%s/annotation.json", tmpdir);
    unlink(path);
    rmdir(tmpdir);
}

/* Loads the one test study of the annotation in dir; returns the status of
 * its first batch (the message is left in mrg_last_error()). */
static mrg_status load_one(const char *dir, const char *image_path) {
    char path[4200];
    snprintf(path, sizeof path, "%s/annotation.json", dir);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f) return MRG_ERR_IO;
    fprintf(f, "{\"test\": [{\"id\": \"l1\", \"report\": \"x\", \"image_path\": [\"%s\"]}]}", image_path);
    fclose(f);
    mrg_dataset_opts o = base_opts();
    mrg_dataset *ds = mrg_dataset_open(dir, MRG_SPLIT_TEST, &o);
    CHECK(ds != NULL);
    if (!ds) return MRG_ERR_FORMAT;
    mrg_batch b;
    mrg_status st = mrg_dataset_next(ds, &b);
    if (st == MRG_OK) mrg_batch_free(&b);
    mrg_dataset_free(ds);
    return st;
}

/* A symbolic link inside images/ that leads out of it is refused when the
 * image is read; links within it, and images/ itself being a link (to
 * share one image folder between datasets), are fine. */
static void test_symlinks(void) {
    char dir[64] = "/tmp/mrg_ds_link_XXXXXX", p[4400], q[4400], *fix = realpath(fixture, NULL);
    CHECK(mkdtemp(dir) != NULL && fix != NULL);
    if (!fix) return;
    snprintf(p, sizeof p, "%s/images", dir);
    CHECK(mkdir(p, 0755) == 0);
    snprintf(p, sizeof p, "%s/images/out.png", dir);
    snprintf(q, sizeof q, "%s/images/s0/0.png", fix);
    CHECK(symlink(q, p) == 0);
    mrg_clear_error();
    CHECK(load_one(dir, "out.png") == MRG_ERR_FORMAT);
    CHECK(strstr(mrg_last_error(), "outside the dataset's images directory") != NULL);
    CHECK(strstr(mrg_last_error(), "l1") != NULL);
    /* a directory link inside images/ pointing out is refused the same way */
    snprintf(p, sizeof p, "%s/images/s0", dir);
    snprintf(q, sizeof q, "%s/images/s0", fix);
    CHECK(symlink(q, p) == 0);
    CHECK(load_one(dir, "s0/0.png") == MRG_ERR_FORMAT);
    /* images/ itself a link: its target is the dataset's images directory */
    char dir2[64] = "/tmp/mrg_ds_link_XXXXXX";
    CHECK(mkdtemp(dir2) != NULL);
    snprintf(p, sizeof p, "%s/images", dir2);
    snprintf(q, sizeof q, "%s/images", fix);
    CHECK(symlink(q, p) == 0);
    CHECK_OK(load_one(dir2, "s0/0.png"));
    snprintf(p, sizeof p, "rm -rf %s %s", dir, dir2);
    CHECK(system(p) == 0);
    free(fix);
}

/* Report tokens: cleaned report encoded without BOS, truncated to
 * max_report_tokens, then </s>; rows padded with -1 to the longest. */
static void test_tokens(const mrg_tokenizer *tok) {
    mrg_dataset_opts o = base_opts();
    o.tok = tok;
    o.max_report_tokens = 12;
    o.batch_size = 7;
    o.load_images = false;
    mrg_dataset *ds = open_fixture(MRG_SPLIT_TRAIN, &o);
    if (!ds) return;
    mrg_batch b;
    CHECK_OK(mrg_dataset_next(ds, &b));
    CHECK(b.B == 7 && b.report_ids && b.report_len && b.images == NULL);
    const int32_t eos = mrg_tokenizer_eos(tok);
    int longest = 0, truncated = 0, padded = 0;
    for (int i = 0; i < b.B; i++) {
        int32_t *ids;
        int n;
        CHECK_OK(mrg_tokenizer_encode(tok, mrg_dataset_report(ds, i), false, &ids, &n));
        int keep = n < 12 ? n : 12;
        truncated += n > 12;
        const int32_t *row = b.report_ids + (size_t)i * b.T;
        CHECK(b.report_len[i] == keep + 1);
        CHECK(!memcmp(row, ids, sizeof(int32_t) * (size_t)keep));
        CHECK(row[keep] == eos);
        for (int t = keep + 1; t < b.T; t++, padded++) CHECK(row[t] == -1);
        if (keep + 1 > longest) longest = keep + 1;
        free(ids);
    }
    CHECK(b.T == longest && b.T == 13);
    CHECK(truncated >= 2 && padded > 0); /* s2 and s4 are long, s3 short */
    CHECK(b.report_len[3] < 13);
    /* the tokens decode back to the start of the cleaned report */
    char *text = mrg_tokenizer_decode(tok, b.report_ids, b.report_len[0]);
    CHECK(text && !strncmp(text, "the heart is normal", 19));
    free(text);
    mrg_batch_free(&b);
    mrg_dataset_free(ds);
}

/* Raw reports of one split of an annotation, by id (a cJSON tree). */
static cJSON *read_json(const char *path) {
    char *buf = test_read_file(path, NULL);
    if (!buf) return NULL;
    cJSON *j = cJSON_Parse(buf);
    free(buf);
    return j;
}

/* The 590 IU X-Ray test reports, report-only, with the LLaMA-2 tokenizer. */
static void test_iu(const char *shared) {
    char dir[4096], tokpath[4096], ann[4200];
    snprintf(dir, sizeof dir, "%s/data/iu_xray", shared);
    snprintf(tokpath, sizeof tokpath, "%s/models/llama2/tokenizer.model", shared);
    snprintf(ann, sizeof ann, "%s/annotation.json", dir);
    mrg_tokenizer *tok = mrg_tokenizer_load(tokpath);
    cJSON *root = read_json(ann);
    if (!tok || !root) {
        fprintf(stderr, "  skipping the IU X-Ray check: %s or %s unreadable\n", tokpath, ann);
        mrg_tokenizer_free(tok);
        cJSON_Delete(root);
        return;
    }
    const cJSON *test = cJSON_GetObjectItem(root, "test");
    mrg_dataset_opts o = mrg_dataset_defaults();
    o.tok = tok;
    o.load_images = false;
    o.shuffle = false;
    o.batch_size = 16;
    o.prefetch = 2;
    o.max_report_tokens = 60;
    mrg_dataset *ds = mrg_dataset_open(dir, MRG_SPLIT_TEST, &o);
    CHECK(ds != NULL);
    if (ds) {
        CHECK(mrg_dataset_size(ds) == 590 && cJSON_GetArraySize(test) == 590);
        const cJSON *e = test ? test->child : NULL;
        int k = 0, truncated = 0, bad = 0;
        mrg_batch b;
        while (mrg_dataset_next(ds, &b) == MRG_OK) {
            for (int i = 0; i < b.B; i++, k++, e = e ? e->next : NULL) {
                const cJSON *id = cJSON_GetObjectItem(e, "id");
                const cJSON *rep = cJSON_GetObjectItem(e, "report");
                char *clean = mrg_clean_report_iu(rep ? rep->valuestring : "");
                int32_t *ids = NULL;
                int n = 0;
                mrg_tokenizer_encode(tok, clean ? clean : "", false, &ids, &n);
                int keep = n < 60 ? n : 60;
                truncated += n > 60;
                const int32_t *row = b.report_ids + (size_t)i * b.T;
                bool ok = id && !strcmp(id->valuestring, b.ids[i]) && clean &&
                          !strcmp(clean, b.reports[i]) && b.report_len[i] == keep + 1 &&
                          b.report_len[i] <= 61 && ids &&
                          !memcmp(row, ids, sizeof(int32_t) * (size_t)keep) && row[keep] == 2;
                for (int t = keep + 1; t < b.T; t++) ok = ok && row[t] == -1;
                if (!ok && bad++ < 3) fprintf(stderr, "  IU study %s differs\n", b.ids[i]);
                free(clean);
                free(ids);
            }
            CHECK(b.T <= 61);
            mrg_batch_free(&b);
        }
        CHECK(k == 590 && bad == 0);
        CHECK(truncated > 0);
        fprintf(stderr, "  IU X-Ray test: %d reports, %d truncated to 60 tokens\n", k, truncated);
        mrg_dataset_free(ds);
    }
    cJSON_Delete(root);
    mrg_tokenizer_free(tok);
}

int main(void) {
    snprintf(fixture, sizeof fixture, "%s", test_golden_path("dataset"));
    test_split_names();
    test_order_and_content();
    test_shuffle_and_seek();
    test_image_errors();
    test_annotation_errors();
    test_symlinks();

    const char *shared = test_shared_dir();
    mrg_tokenizer *tok = NULL;
    if (shared) {
        char path[4096];
        snprintf(path, sizeof path, "%s/models/stories260K/tok512.model", shared);
        tok = mrg_tokenizer_load(path);
        CHECK(tok != NULL);
    }
    test_prefetch(tok); /* with report tokens when a tokenizer is there */
    if (tok) {
        test_tokens(tok);
        test_iu(shared);
        mrg_tokenizer_free(tok);
    } else {
        fprintf(stderr, "  ../shared absent: skipping the tokenizer and IU X-Ray checks\n");
    }
    return test_finish("dataset");
}

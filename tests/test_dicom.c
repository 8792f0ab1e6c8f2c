/* DICOM input (lib/io/dicom_read.cc, dicom_render.c) against pydicom.
 *
 * At test time a phantom radiograph is drawn (mrg_phantom_render, never
 * patient data), written as PGM and PNG, and tools/ref/dicom_ref.py turns it
 * into DICOM files covering MONOCHROME1/2, 8/12/16 bits, signed pixels,
 * rescale, windows (LINEAR, LINEAR_EXACT, SIGMOID), VOI and modality LUTs,
 * several frames, big endian, deflate, a bare implicit-VR data set, RLE,
 * JPEG and JPEG-LS, and malformed or unsupported files, each with its expected
 * rendering (pydicom's modality/VOI functions) or the error it must give.
 * Each readable file must match within 1/255; those holding the phantom's
 * pixels under an identity window must give exactly the PNG's tensor, also
 * through `mrg generate` (one image and a --data set) and `mrg vit`.
 * Without pydicom the test skips (77); a build without DCMTK checks that a
 * DICOM file is refused with a clear message. */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mrg/image.h"
#include "mrg/phantom.h"
#include "testutil.h"

#define ROWS 64
#define COLS 48

static char dir[] = "/tmp/mrg_test_dicom_XXXXXX";
static const char *bin;
static char out[65536];

/* Runs a printf-formatted command through sh (stderr joined to stdout,
 * kept in out); returns the exit code. */
#define run(...) test_run_cmdf(out, sizeof out, __VA_ARGS__)

/* A build without DCMTK refuses DICOM by content and by name. */
static void test_without_dicom(void) {
    unsigned char file[256] = {0};
    memcpy(file + 128, "DICM", 4);
    mrg_image img;
    CHECK(mrg_image_decode(file, sizeof file, "x.bin", &img) == MRG_ERR_UNSUPPORTED);
    CHECK(strstr(mrg_last_error(), "without DICOM support") && strstr(mrg_last_error(), "x.bin"));
    CHECK(mrg_image_decode(file + 8, 64, "study.DCM", &img) == MRG_ERR_UNSUPPORTED);
    CHECK(strstr(mrg_last_error(), "without DICOM support") != NULL);
    printf("built without DICOM: DICOM files are refused with a clear message\n");
}

/* The phantom (cropped to ROWS x COLS, so rows and columns differ),
 * quantised to 8 bits as PNG writing does; written as PGM and PNG. */
static void write_phantom(const char *pgm, const char *png) {
    mrg_phantom_case c;
    mrg_phantom_case_draw(mrg_phantom_study_seed(11, 3), &c);
    mrg_image full = {0}, crop = {0};
    CHECK_OK(mrg_phantom_render(&c, ROWS, &full, NULL));
    CHECK_OK(mrg_image_alloc(&crop, 1, ROWS, COLS));
    if (!full.data || !crop.data) return;
    FILE *f = fopen(pgm, "wb");
    CHECK(f != NULL);
    if (f) fprintf(f, "P5\n%d %d\n255\n", COLS, ROWS);
    for (int y = 0; y < ROWS; y++)
        for (int x = 0; x < COLS; x++) {
            float v = full.data[(size_t)y * ROWS + (size_t)x + 8]; /* columns 8..55 */
            v = v < 0 ? 0 : v > 1 ? 1 : v;
            unsigned char q = (unsigned char)(v * 255.0f + 0.5f);
            crop.data[(size_t)y * COLS + (size_t)x] = (float)q / 255.0f;
            if (f) fputc(q, f);
        }
    if (f) fclose(f);
    CHECK_OK(mrg_image_save_png(png, &crop));
    mrg_image_free(&full);
    mrg_image_free(&crop);
}

static bool same_tensor(const mrg_image *a, const mrg_image *b) {
    return a->channels == b->channels && a->height == b->height && a->width == b->width &&
           !memcmp(a->data, b->data, sizeof(float) * 3 * (size_t)a->height * (size_t)a->width);
}

static mrg_status status_named(const char *s) {
    return !strcmp(s, "unsupported") ? MRG_ERR_UNSUPPORTED : MRG_ERR_FORMAT;
}

static void test_cases(const char *cases, const mrg_image *png) {
    char path[4400];
    snprintf(path, sizeof path, "%s/cases.json", cases);
    char *text = test_read_file(path, NULL);
    cJSON *list = text ? cJSON_Parse(text) : NULL;
    free(text);
    CHECK(cJSON_IsArray(list) && cJSON_GetArraySize(list) > 20);
    int n_ok = 0, n_err = 0, n_exact = 0;
    cJSON *c;
    cJSON_ArrayForEach(c, list) {
        const char *file = cJSON_GetStringValue(cJSON_GetObjectItem(c, "file"));
        const char *expect = cJSON_GetStringValue(cJSON_GetObjectItem(c, "expect"));
        if (!file || !expect) {
            CHECK(false);
            continue;
        }
        snprintf(path, sizeof path, "%s/%s", cases, file);
        mrg_image img = {0};
        mrg_status st = mrg_image_load(path, &img);
        if (!strcmp(expect, "error")) {
            const char *want = cJSON_GetStringValue(cJSON_GetObjectItem(c, "error"));
            const char *kind = cJSON_GetStringValue(cJSON_GetObjectItem(c, "status"));
            bool good = st == status_named(kind ? kind : "") && want &&
                        strstr(mrg_last_error(), want) && strstr(mrg_last_error(), file);
            CHECK(good);
            if (!good)
                fprintf(stderr, "  %s: status %s, message \"%s\"; want %s with \"%s\"\n", file,
                        mrg_status_name(st), mrg_last_error(), kind, want);
            mrg_image_free(&img);
            n_err++;
            continue;
        }
        CHECK_OK(st);
        if (st != MRG_OK) {
            fprintf(stderr, "  %s: %s\n", file, mrg_last_error());
            continue;
        }
        CHECK(img.channels == 3 && img.height == ROWS && img.width == COLS);
        const char *ref = cJSON_GetStringValue(cJSON_GetObjectItem(c, "ref"));
        char rpath[4400];
        snprintf(rpath, sizeof rpath, "%s/%s", cases, ref ? ref : "");
        size_t len = 0;
        float *want = (float *)test_read_file(rpath, &len);
        const size_t plane = (size_t)ROWS * COLS;
        CHECK(want && len == plane * sizeof(float));
        if (want && len == plane * sizeof(float) && img.height == ROWS && img.width == COLS) {
            char what[300];
            for (int ch = 0; ch < 3; ch++) {
                snprintf(what, sizeof what, "%s channel %d", file, ch);
                CHECK(test_close(what, img.data + (size_t)ch * plane, want, (int64_t)plane, 0,
                                 1.0 / 255));
            }
        }
        free(want);
        if (cJSON_IsTrue(cJSON_GetObjectItem(c, "png_exact"))) {
            CHECK(same_tensor(&img, png));
            if (!same_tensor(&img, png)) fprintf(stderr, "  %s: not the PNG's tensor\n", file);
            n_exact++;
        }
        mrg_image_free(&img);
        n_ok++;
    }
    cJSON_Delete(list);
    printf("%d DICOM files read as pydicom renders them (%d exactly as the PNG), %d refused\n",
           n_ok, n_exact, n_err);
    CHECK(n_ok >= 15 && n_err >= 10 && n_exact >= 4);
}

/* The same file in memory without a preamble: a name ending in .dcm is
 * tried as DICOM, another name is not. */
static void test_detection(const char *cases, const mrg_image *png) {
    char path[4400];
    snprintf(path, sizeof path, "%s/mono2_u8_identity.dcm", cases);
    size_t len = 0;
    char *file = test_read_file(path, &len);
    CHECK(file && len > 132);
    if (!file) return;
    mrg_image img = {0};
    CHECK_OK(mrg_image_decode(file, len, "in-memory.png", &img)); /* by content */
    CHECK(img.data && same_tensor(&img, png));
    mrg_image_free(&img);
    /* the preamble's "DICM" overwritten: only a .dcm name makes it DICOM */
    memset(file + 128, 'x', 4);
    CHECK(mrg_image_decode(file, len, "study.png", &img) == MRG_ERR_FORMAT);
    CHECK(strstr(mrg_last_error(), "not a PNG or JPEG file") != NULL);
    CHECK(mrg_image_decode(file, len, "study.dcm", &img) == MRG_ERR_FORMAT);
    CHECK(strstr(mrg_last_error(), "study.dcm") != NULL);
    free(file);
}

/* Every command that takes an image takes the DICOM file alike. */
static void test_commands(const char *cases, const char *png) {
    char dcm[256], multi[256], trunc[256], out_png[65536];
    snprintf(dcm, sizeof dcm, "%s/mono2_u8_identity.dcm", cases);
    snprintf(multi, sizeof multi, "%s/multiframe.dcm", cases);
    snprintf(trunc, sizeof trunc, "%s/truncated_half.dcm", cases);
    char ckpt[4200], vitdir[4200]; /* test_golden_path's buffer is static */
    snprintf(ckpt, sizeof ckpt, "%s", test_golden_path("model/ckpt"));
    snprintf(vitdir, sizeof vitdir, "%s", test_golden_path("vit"));
    const char *gen = "%s generate --model %s --image %s --image %s --greedy --max-new 8 "
                      "--min-new 1 --device cpu 2>&1";
    CHECK(run(gen, bin, ckpt, png, png) == 0);
    snprintf(out_png, sizeof out_png, "%s", out);
    CHECK(run(gen, bin, ckpt, dcm, dcm) == 0);
    CHECK(!strcmp(out, out_png));
    /* several frames: the first, with a warning */
    CHECK(run(gen, bin, ckpt, multi, multi) == 0);
    CHECK(strstr(out, "has 3 frames; only the first is used") != NULL);
    CHECK(run(gen, bin, ckpt, trunc, png) == 1);
    CHECK(strstr(out, "truncated_half.dcm") && strstr(out, "truncated"));
    if (!strstr(out, "truncated")) fprintf(stderr, "  truncated: %s\n", out);

    const char *vit = "%s vit --model %s --image %s --top 3 --device cpu 2>&1";
    CHECK(run(vit, bin, vitdir, png) == 0);
    snprintf(out_png, sizeof out_png, "%s", out);
    CHECK(run(vit, bin, vitdir, dcm) == 0);
    CHECK(!strcmp(out, out_png) && strlen(out) > 0);

    /* a data set whose image_path entries are DICOM files */
    char data[256], p[2048];
    snprintf(data, sizeof data, "%s/data", dir);
    snprintf(p, sizeof p, "%s/images", data);
    CHECK(mkdir(data, 0755) == 0 && mkdir(p, 0755) == 0);
    snprintf(p, sizeof p, "cp %s %s/images/a.dcm && cp %s %s/images/a.png", dcm, data, png, data);
    CHECK(system(p) == 0);
    const char *ann[2] = {"a.dcm", "a.png"};
    char preds[2][300];
    for (int k = 0; k < 2; k++) {
        snprintf(p, sizeof p, "%s/annotation.json", data);
        FILE *f = fopen(p, "w");
        CHECK(f != NULL);
        if (!f) return;
        fprintf(f,
                "{\"test\": [{\"id\": \"d1\", \"report\": \"no effusion.\", \"image_path\": "
                "[\"%s\", \"%s\"]}]}",
                ann[k], ann[k]);
        fclose(f);
        snprintf(preds[k], sizeof preds[k], "%s/pred%d.jsonl", dir, k);
        int rc = run("%s generate --model %s --data %s --split test --out %s --greedy "
                     "--max-new 8 --min-new 1 --device cpu 2>&1",
                     bin, ckpt, data, preds[k]);
        CHECK(rc == 0);
        if (rc != 0) fprintf(stderr, "  generate --data (%s): %s\n", ann[k], out);
    }
    char *a = test_read_file(preds[0], NULL), *b = test_read_file(preds[1], NULL);
    CHECK(a && b && strlen(a) > 10 && !strcmp(a, b));
    free(a);
    free(b);
}

int main(void) {
    if (!mrg_image_reads_dicom()) {
        test_without_dicom();
        return test_finish("dicom");
    }
    const char *py = getenv("MRG_PYTHON") ? getenv("MRG_PYTHON") : "/usr/bin/python3";
    char cmd[16384];
    snprintf(cmd, sizeof cmd, "%s -c 'import pydicom, numpy' >/dev/null 2>&1", py);
    if (system(cmd) != 0) {
        printf("skipping: %s has no pydicom and numpy (Debian: python3-pydicom)\n", py);
        return 77;
    }
    bin = getenv("MRG_BIN");
    CHECK(mkdtemp(dir) != NULL);
    char pgm[128], png[128], cases[128];
    snprintf(pgm, sizeof pgm, "%s/phantom.pgm", dir);
    snprintf(png, sizeof png, "%s/phantom.png", dir);
    snprintf(cases, sizeof cases, "%s/cases", dir);
    write_phantom(pgm, png);
    /* MRG_TEST_DATA is <source>/tests/golden */
    snprintf(cmd, sizeof cmd, "%s %s/../../tools/ref/dicom_ref.py %s %s", py,
             test_golden_path(""), pgm, cases);
    CHECK(system(cmd) == 0);
    mrg_image ref = {0};
    CHECK_OK(mrg_image_load(png, &ref));
    if (ref.data) {
        test_cases(cases, &ref);
        test_detection(cases, &ref);
        if (bin)
            test_commands(cases, png);
        else
            fprintf(stderr, "MRG_BIN not set: the commands are not tested\n");
    }
    mrg_image_free(&ref);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return test_finish("dicom");
}

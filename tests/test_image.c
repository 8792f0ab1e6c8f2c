/* Images: PNG (8/16-bit, gray, gray+alpha, RGB, RGBA, palette) and JPEG
 * loading, bilinear resize and the load → resize → normalise pipeline
 * against PyTorch goldens (tools/ref/image_ref.py), the PNG writer, and
 * clear errors for missing and corrupt files. Host-only code: no device. */
#define _GNU_SOURCE
#include <string.h>
#include <unistd.h>

#include "mrg/image.h"
#include "testutil.h"

static const float imagenet_mean[3] = {0.485f, 0.456f, 0.406f};
static const float imagenet_std[3] = {0.229f, 0.224f, 0.225f};

/* Compares img with golden tensor name (shape and values). */
static void check_image(const mrg_st_file *g, const char *name, const mrg_image *img, double atol) {
    const mrg_st_tensor *t = mrg_st_find(g, name);
    CHECK(t != NULL);
    if (!t) return;
    bool shape = t->ndim == 3 && t->shape[0] == img->channels && t->shape[1] == img->height &&
                 t->shape[2] == img->width;
    if (!shape)
        fprintf(stderr, "  %s: got (%d, %d, %d), want (%lld, %lld, %lld)\n", name, img->channels,
                img->height, img->width, (long long)t->shape[0], (long long)t->shape[1],
                (long long)t->shape[2]);
    CHECK(shape);
    if (!shape) return;
    int64_t n;
    float *want = test_golden_f32(g, name, &n);
    CHECK(test_close(name, img->data, want, n, 0.0, atol));
    free(want);
}

static void test_loading(const mrg_st_file *g) {
    static const char *const pngs[] = {"gray8",  "graya8", "rgb8",   "rgba8",
                                       "gray16", "rgb16",  "palette"};
    for (size_t i = 0; i < sizeof pngs / sizeof pngs[0]; i++) {
        char file[64];
        snprintf(file, sizeof file, "io/img_%s.png", pngs[i]);
        mrg_image img;
        mrg_status st = mrg_image_load(test_golden_path(file), &img);
        CHECK_OK(st);
        if (st != MRG_OK) continue;
        CHECK(img.channels == 3);
        /* exact: both sides compute integer / 255 (or 65535) in float32 */
        check_image(g, pngs[i], &img, 0.0);
        mrg_image_free(&img);
        CHECK(img.data == NULL);
    }
    /* JPEG: stb_image and libjpeg (PIL) differ by a few levels at most. */
    mrg_image img;
    CHECK_OK(mrg_image_load(test_golden_path("io/img_rgb.jpg"), &img));
    if (img.data) {
        check_image(g, "jpeg", &img, 4.0 / 255.0);
        mrg_image_free(&img);
    }
    CHECK_OK(mrg_image_load(test_golden_path("io/img_progressive.jpg"), &img));
    if (img.data) {
        check_image(g, "jpeg_progressive", &img, 6.0 / 255.0);
        mrg_image_free(&img);
    }
}

/* Random byte flips and truncations of valid files, decoded from memory:
 * each must decode or fail with a message, never crash (run under ASan). */
static uint64_t rng = 0x2545F4914F6CDD1Dull;
static uint32_t rnd(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 11);
}

static void test_fuzz(int iters) {
    static const char *const files[] = {"io/img_rgb.jpg", "io/img_progressive.jpg",
                                        "io/img_rgb8.png", "io/img_gray16.png",
                                        "io/img_palette.png"};
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        FILE *fp = fopen(test_golden_path(files[f]), "rb");
        CHECK(fp != NULL);
        if (!fp) continue;
        static uint8_t orig[1 << 16], buf[1 << 16];
        size_t n = fread(orig, 1, sizeof orig, fp);
        fclose(fp);
        int ok = 0, bad = 0, wrong = 0;
        for (int it = 0; it < iters; it++) {
            memcpy(buf, orig, n);
            int flips = 1 + (int)(rnd() % 4);
            for (int k = 0; k < flips; k++) buf[rnd() % n] ^= (uint8_t)(1u << (rnd() % 8));
            size_t len = rnd() % 8 ? n : rnd() % n;
            mrg_image img;
            mrg_clear_error();
            if (mrg_image_decode(buf, len, "fuzz", &img) == MRG_OK) {
                ok++;
                wrong += img.channels != 3 || img.height <= 0 || img.width <= 0 || !img.data;
                mrg_image_free(&img);
            } else {
                bad++;
                wrong += img.data != NULL || !strstr(mrg_last_error(), "fuzz");
            }
        }
        fprintf(stderr, "  fuzz %s: %d decoded, %d rejected\n", files[f], ok, bad);
        CHECK(wrong == 0 && bad > 0);
    }
}

static void test_resize(const mrg_st_file *g) {
    const mrg_st_tensor *t = mrg_st_find(g, "resize_in");
    CHECK(t && t->ndim == 3);
    if (!t) return;
    mrg_image in;
    CHECK_OK(mrg_image_alloc(&in, (int)t->shape[0], (int)t->shape[1], (int)t->shape[2]));
    memcpy(in.data, t->data, t->nbytes);
    const int sizes[][2] = {{7, 10}, {30, 25}, {13, 40}, {5, 17}, {1, 1}, {13, 17}};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "resize_%dx%d", sizes[i][0], sizes[i][1]);
        mrg_image out;
        CHECK_OK(mrg_image_resize(&in, sizes[i][0], sizes[i][1], &out));
        if (!out.data) continue;
        check_image(g, name, &out, 1e-6);
        if (sizes[i][0] == in.height && sizes[i][1] == in.width)
            CHECK(!memcmp(out.data, in.data, t->nbytes)); /* same size is the identity */
        mrg_image_free(&out);
    }
    mrg_image out;
    CHECK(mrg_image_resize(&in, 0, 5, &out) == MRG_ERR_INVALID_ARG);
    CHECK(mrg_image_resize(&in, 5, 5, &in) == MRG_ERR_INVALID_ARG);
    mrg_image_free(&in);
}

static void test_pipeline(const mrg_st_file *g) {
    mrg_image img;
    CHECK_OK(mrg_image_load_for_model(test_golden_path("io/img_rgb8.png"), 16, 16, imagenet_mean,
                                      imagenet_std, &img));
    if (img.data) {
        check_image(g, "pipeline_rgb8_16x16", &img, 1e-5);
        mrg_image_free(&img);
    }
    /* no resize when the size matches, no normalisation without mean/std */
    CHECK_OK(mrg_image_load_for_model(test_golden_path("io/img_rgb8.png"), 6, 5, NULL, NULL, &img));
    if (img.data) {
        check_image(g, "rgb8", &img, 0.0);
        mrg_image_free(&img);
    }
    const float bad_std[3] = {1, 0, 1};
    CHECK(mrg_image_load_for_model(test_golden_path("io/img_rgb8.png"), 6, 5, imagenet_mean,
                                   bad_std, &img) == MRG_ERR_INVALID_ARG);
    CHECK(img.data == NULL);
}

static void expect_load_error(const char *path, mrg_status want) {
    mrg_image img;
    mrg_clear_error();
    mrg_status st = mrg_image_load(path, &img);
    bool ok = st == want && img.data == NULL && strstr(mrg_last_error(), path) != NULL;
    if (!ok)
        fprintf(stderr, "  loading %s: status %s, message '%s'\n", path, mrg_status_name(st),
                mrg_last_error());
    CHECK(ok);
}

static void test_errors(void) {
    expect_load_error("/nonexistent/image.png", MRG_ERR_NOT_FOUND);
    char trunc[4096];
    snprintf(trunc, sizeof trunc, "%s", test_golden_path("io/img_truncated.png"));
    expect_load_error(trunc, MRG_ERR_FORMAT);
    char notimg[4096];
    snprintf(notimg, sizeof notimg, "%s", test_golden_path("io/st_python.safetensors"));
    expect_load_error(notimg, MRG_ERR_FORMAT);
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", test_golden_path("io"));
    expect_load_error(dir, MRG_ERR_IO);
    char empty[] = "/tmp/mrg_img_XXXXXX";
    int fd = mkstemp(empty);
    CHECK(fd >= 0);
    if (fd >= 0) {
        close(fd);
        expect_load_error(empty, MRG_ERR_FORMAT);
        /* a PNG signature followed by garbage */
        FILE *fp = fopen(empty, "wb");
        fwrite("\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR\xff\xff\xff\xff", 1, 20, fp);
        fclose(fp);
        expect_load_error(empty, MRG_ERR_FORMAT);
        unlink(empty);
    }
}

/* Decodes a file made of a header only and checks the message. */
static void expect_header_refused(const char *what, const void *data, size_t n, const char *want) {
    mrg_image img;
    mrg_clear_error();
    mrg_status st = mrg_image_decode(data, n, what, &img);
    bool ok = st == MRG_ERR_FORMAT && img.data == NULL && strstr(mrg_last_error(), what) &&
              strstr(mrg_last_error(), want);
    if (!ok) fprintf(stderr, "  %s: status %s, message '%s'\n", what, mrg_status_name(st), mrg_last_error());
    CHECK(ok);
}

/* The size a header states is checked against MRG_MAX_IMAGE_SIDE and
 * MRG_MAX_IMAGE_PIXELS before anything is decoded, with a message that
 * says so (stb alone said "unknown image type"). */
static void test_size_limits(void) {
    uint8_t png[33] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R'};
    const uint32_t sizes[][2] = {{100000, 100000}, {16384, 16384}, {16385, 1}, {8192, 4097}};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        for (int k = 0; k < 4; k++) {
            png[16 + k] = (uint8_t)(sizes[i][0] >> (24 - 8 * k));
            png[20 + k] = (uint8_t)(sizes[i][1] >> (24 - 8 * k));
        }
        png[24] = 8; /* 8-bit gray */
        char want[64];
        snprintf(want, sizeof want, "%u x %u pixels", sizes[i][0], sizes[i][1]);
        expect_header_refused("huge.png", png, sizeof png, want);
        CHECK(strstr(mrg_last_error(), "MRG_MAX_IMAGE_PIXELS") != NULL);
    }
    /* at the limit the header passes: the (truncated) data is what fails */
    png[16] = 0, png[17] = 0, png[18] = 0x20, png[19] = 0; /* 8192 */
    png[20] = 0, png[21] = 0, png[22] = 0x10, png[23] = 0; /* 4096 */
    mrg_image img;
    CHECK(mrg_image_decode(png, sizeof png, "edge.png", &img) == MRG_ERR_FORMAT);
    CHECK(strstr(mrg_last_error(), "pixels") == NULL);
    /* a JPEG frame header (SOF0) after an APP0 segment: 60000 x 50000 */
    const uint8_t jpg[] = {0xFF, 0xD8, 0xFF, 0xE0, 0, 4, 0, 0, 0xFF, 0xC0, 0, 11, 8,
                           0xC3, 0x50, 0xEA, 0x60, 1, 1, 0x11, 0, 0xFF, 0xD9};
    expect_header_refused("huge.jpg", jpg, sizeof jpg, "60000 x 50000 pixels");
    /* the same behind stray bytes after the APP0 segment, which stb skips
     * to find the frame header (fuzzing found one that allocated 1.5 GB):
     * the size stb reads is checked too */
    const uint8_t junk[] = {0xFF, 0xD8, 0xFF, 0xE0, 0, 4, 0, 0, 0x14, 0x14, 0x14, 0xFF, 0xC0, 0, 11, 8,
                            0x1F, 0x40, 0x1F, 0x40, 1, 1, 0x11, 0, 0xFF, 0xD9};
    expect_header_refused("junk.jpg", junk, sizeof junk, "8000 x 8000 pixels");
    expect_header_refused("text.txt", "hello world", 11, "not a PNG or JPEG file");
}

static void test_write_png(void) {
    char path[] = "/tmp/mrg_png_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0) return;
    close(fd);
    /* RGB: values on the 1/255 grid round-trip exactly; others are rounded
     * to nearest and clamped. */
    mrg_image img;
    CHECK_OK(mrg_image_alloc(&img, 3, 4, 5));
    int64_t n = 3 * 4 * 5;
    for (int64_t i = 0; i < n; i++) img.data[i] = (float)((i * 37) % 256) / 255.0f;
    img.data[0] = -0.5f;
    img.data[1] = 1.7f;
    img.data[2] = 0.5f; /* 127.5 → 128 */
    CHECK_OK(mrg_image_save_png(path, &img));
    mrg_image back;
    CHECK_OK(mrg_image_load(path, &back));
    if (back.data) {
        CHECK(back.channels == 3 && back.height == 4 && back.width == 5);
        CHECK(back.data[0] == 0.0f && back.data[1] == 1.0f && back.data[2] == 128.0f / 255.0f);
        CHECK(test_close("png rgb", back.data + 3, img.data + 3, n - 3, 0.0, 0.0));
        mrg_image_free(&back);
    }
    /* gray: one channel written, three read back */
    mrg_image gray;
    CHECK_OK(mrg_image_alloc(&gray, 1, 3, 2));
    for (int i = 0; i < 6; i++) gray.data[i] = (float)(i * 50) / 255.0f;
    CHECK_OK(mrg_image_save_png(path, &gray));
    CHECK_OK(mrg_image_load(path, &back));
    if (back.data) {
        for (int c = 0; c < 3; c++)
            CHECK(test_close("png gray", back.data + 6 * c, gray.data, 6, 0, 0));
        mrg_image_free(&back);
    }
    CHECK(mrg_image_save_png("/nonexistent-dir/x.png", &gray) == MRG_ERR_IO);
    CHECK(strstr(mrg_last_error(), "/nonexistent-dir/x.png") != NULL);
    mrg_image two;
    CHECK_OK(mrg_image_alloc(&two, 2, 2, 2));
    CHECK(mrg_image_save_png(path, &two) == MRG_ERR_INVALID_ARG);
    mrg_image_free(&two);
    mrg_image_free(&gray);
    mrg_image_free(&img);
    unlink(path);
}

int main(void) {
    mrg_st_file *g = test_golden_open("io/image_golden.safetensors");
    if (!g) return test_finish("image");
    test_loading(g);
    test_resize(g);
    test_size_limits();
    test_pipeline(g);
    test_errors();
    test_write_png();
    test_fuzz(getenv("MRG_TEST_QUICK") ? 300 : 1000); /* shorter in the sanitizer run */
    mrg_st_close(g);
    return test_finish("image");
}

/* safetensors: fixtures written by Python (tools/ref/safetensors_ref.py, one
 * by the official `safetensors` package), sharded checkpoints, writer round
 * trips, dtype conversion into device tensors, a corruption suite and a
 * byte-flip fuzz loop. Every malformed file must give an error status with a
 * message naming the file, never a crash. */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

static char tmpdir[256];

static const char *tmp_path(const char *name) {
    static char p[512];
    snprintf(p, sizeof p, "%s/%s", tmpdir, name);
    return p;
}

static void write_bytes(const char *path, const void *data, size_t n) {
    FILE *fp = fopen(path, "wb");
    CHECK(fp != NULL);
    if (!fp) return;
    CHECK(fwrite(data, 1, n, fp) == n);
    fclose(fp);
}

/* A file made of a u64 header length, the header text and n data bytes. */
static void write_st(const char *path, const char *header, size_t data_bytes) {
    size_t h = strlen(header);
    uint8_t *buf = calloc(1, 8 + h + data_bytes + 1);
    for (int i = 0; i < 8; i++) buf[i] = (uint8_t)((uint64_t)h >> (8 * i));
    memcpy(buf + 8, header, h);
    for (size_t i = 0; i < data_bytes; i++) buf[8 + h + i] = (uint8_t)(i * 7 + 1);
    write_bytes(path, buf, 8 + h + data_bytes);
    free(buf);
}

static float f32_at(const mrg_st_tensor *t, int i) {
    float v;
    memcpy(&v, (const char *)t->data + 4 * i, 4);
    return v;
}
static float half_at(const mrg_st_tensor *t, int i) {
    uint16_t h;
    memcpy(&h, (const char *)t->data + 2 * i, 2);
    return t->dtype == MRG_BF16 ? mrg_bf16_to_f32(h) : mrg_f16_to_f32(h);
}
static int32_t i32_at(const mrg_st_tensor *t, int i) {
    int32_t v;
    memcpy(&v, (const char *)t->data + 4 * i, 4);
    return v;
}

/* The values written by tools/ref/safetensors_ref.py. */
static void check_fixture_values(const mrg_st_file *f, bool has_bf16) {
    const mrg_st_tensor *a = mrg_st_require(f, "a.f32", MRG_SHAPE(2, 3));
    CHECK(a && a->dtype == MRG_F32 && a->nbytes == 24);
    for (int i = 0; a && i < 6; i++) CHECK(f32_at(a, i) == 0.5f * (float)i - 1.0f);
    if (has_bf16) {
        const mrg_st_tensor *b = mrg_st_require(f, "b.bf16", MRG_SHAPE(4));
        const float bv[4] = {1.0f, -2.0f, 0.5f, 3.140625f};
        CHECK(b && b->dtype == MRG_BF16 && b->nbytes == 8);
        for (int i = 0; b && i < 4; i++) CHECK(half_at(b, i) == bv[i]);
    }
    const mrg_st_tensor *c = mrg_st_require(f, "c.f16", MRG_SHAPE(2, 2));
    CHECK(c && c->dtype == MRG_F16);
    for (int i = 0; c && i < 4; i++) CHECK(half_at(c, i) == 0.25f * (float)i - 0.5f);
    const mrg_st_tensor *d = mrg_st_require(f, "d.i32", MRG_SHAPE(3));
    CHECK(d && d->dtype == MRG_I32);
    if (d) CHECK(i32_at(d, 0) == 1 && i32_at(d, 1) == -2 && i32_at(d, 2) == INT32_MAX);
}

static void test_python_fixtures(void) {
    mrg_st_file *f = test_golden_open("io/st_python.safetensors");
    if (f) {
        CHECK(mrg_st_count(f) == 6);
        check_fixture_values(f, true);
        const mrg_st_tensor *e = mrg_st_require(f, "e.scalar", 0, NULL);
        CHECK(e && e->ndim == 0 && e->nbytes == 4 && f32_at(e, 0) == 7.25f);
        const mrg_st_tensor *z = mrg_st_require(f, "z.empty", MRG_SHAPE(0, 3));
        CHECK(z && z->nbytes == 0);
        CHECK(mrg_st_metadata(f, "format") && !strcmp(mrg_st_metadata(f, "format"), "pt"));
        CHECK(mrg_st_metadata(f, "nope") == NULL);
        CHECK(mrg_st_find(f, "missing") == NULL);
        mrg_clear_error();
        CHECK(mrg_st_require(f, "missing", -1, NULL) == NULL);
        CHECK(strstr(mrg_last_error(), "missing") && strstr(mrg_last_error(), "st_python"));
        CHECK(mrg_st_require(f, "a.f32", MRG_SHAPE(3, 2)) == NULL);
        CHECK(strstr(mrg_last_error(), "(2, 3)") && strstr(mrg_last_error(), "(3, 2)"));
        /* mrg_st_get covers every tensor exactly once */
        int seen = 0;
        for (int i = 0; i < mrg_st_count(f); i++)
            seen += mrg_st_find(f, mrg_st_get(f, i)->name) == mrg_st_get(f, i);
        CHECK(seen == 6 && mrg_st_get(f, 6) == NULL && mrg_st_get(f, -1) == NULL);
        mrg_st_close(f);
    }
    f = mrg_st_open(test_golden_path("io/st_official.safetensors"));
    CHECK(f != NULL);
    if (f) {
        CHECK(mrg_st_count(f) == 3);
        check_fixture_values(f, false);
        CHECK(mrg_st_metadata(f, "format") && !strcmp(mrg_st_metadata(f, "format"), "np"));
        mrg_st_close(f);
    }
}

static void test_sharded(void) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s", test_golden_path("io/sharded"));
    mrg_st_file *f = mrg_st_open_dir(dir);
    CHECK(f != NULL);
    if (f) {
        CHECK(mrg_st_count(f) == 5);
        const char *names[] = {"layers.0.w", "layers.0.b", "layers.1.w", "layers.1.b",
                               "norm.weight"};
        const float base[] = {0, 0, 1, 1, 2};
        for (int k = 0; k < 5; k++) {
            const mrg_st_tensor *t = mrg_st_find(f, names[k]);
            CHECK(t != NULL);
            for (int i = 0; t && i < (int)(t->nbytes / 4); i++)
                CHECK(f32_at(t, i) == base[k] + 0.125f * (float)i);
        }
        CHECK(mrg_st_metadata(f, "total_size") && !strcmp(mrg_st_metadata(f, "total_size"), "108"));
        mrg_st_close(f);
    }
    /* A directory without checkpoint files. */
    CHECK(mrg_st_open_dir(tmpdir) == NULL);
    CHECK(strstr(mrg_last_error(), tmpdir) != NULL);
}

static void test_roundtrip(void) {
    mrg_st_writer *w = mrg_st_writer_new();
    float a[6] = {1.5f, -2, 3, 1e-30f, -0.0f, 65504};
    uint16_t b[3] = {mrg_f32_to_bf16(1.0f), mrg_f32_to_bf16(-3.5f), 0x7f80};
    uint16_t h[2] = {mrg_f32_to_f16(0.333f), mrg_f32_to_f16(-1024)};
    int32_t ids[5] = {0, 1, -1, INT32_MIN, 31999};
    CHECK_OK(mrg_st_writer_add(w, "layer.0/weight \"q\" \xc3\xa9", MRG_F32, MRG_SHAPE(2, 3), a));
    CHECK_OK(mrg_st_writer_add(w, "b", MRG_BF16, MRG_SHAPE(3), b));
    CHECK_OK(mrg_st_writer_add(w, "h", MRG_F16, MRG_SHAPE(1, 2, 1), h));
    CHECK_OK(mrg_st_writer_add(w, "ids", MRG_I32, MRG_SHAPE(5), ids));
    CHECK_OK(mrg_st_writer_add(w, "empty", MRG_F32, MRG_SHAPE(0), NULL));
    CHECK(mrg_st_writer_add(w, "b", MRG_F32, MRG_SHAPE(1), a) == MRG_ERR_INVALID_ARG);
    CHECK(mrg_st_writer_add(w, "__metadata__", MRG_F32, MRG_SHAPE(1), a) == MRG_ERR_INVALID_ARG);
    CHECK(mrg_st_writer_add(w, "neg", MRG_F32, MRG_SHAPE(-1), a) == MRG_ERR_INVALID_ARG);
    CHECK_OK(mrg_st_writer_meta(w, "step", "12"));
    CHECK_OK(mrg_st_writer_meta(w, "note", "tab\there \"quoted\""));
    CHECK_OK(mrg_st_writer_meta(w, "step", "13")); /* replaces */
    const char *path = tmp_path("rt.safetensors");
    write_bytes(path, "old contents", 12); /* replaced atomically */
    CHECK_OK(mrg_st_writer_save(w, path));
    mrg_st_writer_free(w);

    /* Header: length a multiple of 8, padded with spaces; no temp files. */
    size_t n;
    uint8_t *raw = (uint8_t *)test_read_file(path, &n);
    CHECK(raw && n > 8);
    uint64_t hl = 0;
    for (int i = 7; raw && i >= 0; i--) hl = (hl << 8) | raw[i];
    CHECK(hl % 8 == 0 && hl + 8 <= n);
    free(raw);
    DIR *d = opendir(tmpdir);
    int leftovers = 0;
    for (struct dirent *e; d && (e = readdir(d));) leftovers += strstr(e->d_name, ".tmp.") != NULL;
    if (d) closedir(d);
    CHECK(leftovers == 0);

    mrg_st_file *f = mrg_st_open(path);
    CHECK(f != NULL);
    if (!f) return;
    CHECK(mrg_st_count(f) == 5);
    const mrg_st_tensor *t = mrg_st_require(f, "layer.0/weight \"q\" \xc3\xa9", MRG_SHAPE(2, 3));
    CHECK(t && !memcmp(t->data, a, sizeof a));
    t = mrg_st_require(f, "b", MRG_SHAPE(3));
    CHECK(t && t->dtype == MRG_BF16 && !memcmp(t->data, b, sizeof b));
    t = mrg_st_require(f, "h", MRG_SHAPE(1, 2, 1));
    CHECK(t && t->dtype == MRG_F16 && !memcmp(t->data, h, sizeof h));
    t = mrg_st_require(f, "ids", MRG_SHAPE(5));
    CHECK(t && t->dtype == MRG_I32 && !memcmp(t->data, ids, sizeof ids));
    CHECK(mrg_st_require(f, "empty", MRG_SHAPE(0)) != NULL);
    /* Every tensor starts aligned to its element size (data order by size). */
    for (int i = 0; i < mrg_st_count(f); i++) {
        const mrg_st_tensor *x = mrg_st_get(f, i);
        CHECK(((uintptr_t)x->data % mrg_dtype_size(x->dtype)) == 0);
    }
    CHECK(mrg_st_metadata(f, "step") && !strcmp(mrg_st_metadata(f, "step"), "13"));
    CHECK(mrg_st_metadata(f, "note") &&
          !strcmp(mrg_st_metadata(f, "note"), "tab\there \"quoted\""));
    mrg_st_close(f);

    /* Saving into a missing directory fails with a message. */
    w = mrg_st_writer_new();
    CHECK(mrg_st_writer_save(w, "/nonexistent-dir/x.safetensors") == MRG_ERR_IO);
    CHECK(strstr(mrg_last_error(), "/nonexistent-dir/x.safetensors") != NULL);
    mrg_st_writer_free(w);
}

/* Loading into device tensors with dtype conversion, and saving them back. */
static void test_device(const char *name) {
    mrg_device *dev = mrg_device_open(name);
    CHECK(dev != NULL);
    if (!dev) return;
    mrg_st_file *f = test_golden_open("io/st_python.safetensors");
    if (!f) {
        mrg_device_free(dev);
        return;
    }
    const mrg_st_tensor *a = mrg_st_find(f, "a.f32"), *b = mrg_st_find(f, "b.bf16"),
                        *c = mrg_st_find(f, "c.f16"), *d = mrg_st_find(f, "d.i32");
    const float av[6] = {-1, -0.5f, 0, 0.5f, 1, 1.5f}, bv[4] = {1, -2, 0.5f, 3.140625f},
                cv[4] = {-0.5f, -0.25f, 0, 0.25f};
    const mrg_dtype floats[3] = {MRG_F32, MRG_BF16, MRG_F16};
    float out[8];
    for (int k = 0; k < 3; k++) {
        /* every stored float dtype into every tensor float dtype; the
         * fixture values are exact in all three */
        mrg_tensor *ta = mrg_tensor_new(dev, floats[k], MRG_SHAPE(2, 3));
        mrg_tensor *tb = mrg_tensor_new(dev, floats[k], MRG_SHAPE(4));
        mrg_tensor *tc = mrg_tensor_new(dev, floats[k], MRG_SHAPE(2, 2));
        CHECK_OK(mrg_st_load_into(a, ta));
        CHECK_OK(mrg_tensor_to_f32(ta, out));
        CHECK(!memcmp(out, av, sizeof av));
        CHECK_OK(mrg_st_load_into(b, tb));
        CHECK_OK(mrg_tensor_to_f32(tb, out));
        CHECK(!memcmp(out, bv, sizeof bv) ||
              (floats[k] == MRG_F16 && fabsf(out[3] - 3.140625f) < 2e-3f));
        CHECK_OK(mrg_st_load_into(c, tc));
        CHECK_OK(mrg_tensor_to_f32(tc, out));
        CHECK(!memcmp(out, cv, sizeof cv));
    }
    /* rounding: f32 → bf16 is round-to-nearest-even */
    {
        const float v[2] = {1.00390625f /* 1 + 2^-8: tie → 1 */, 1.01171875f /* → 1.015625 */};
        mrg_st_writer *w = mrg_st_writer_new();
        CHECK_OK(mrg_st_writer_add(w, "v", MRG_F32, MRG_SHAPE(2), v));
        CHECK_OK(mrg_st_writer_save(w, tmp_path("round.safetensors")));
        mrg_st_writer_free(w);
        mrg_st_file *g = mrg_st_open(tmp_path("round.safetensors"));
        mrg_tensor *t = mrg_tensor_new(dev, MRG_BF16, MRG_SHAPE(2));
        CHECK(g && t);
        if (g && t) {
            CHECK_OK(mrg_st_load_into(mrg_st_find(g, "v"), t));
            CHECK_OK(mrg_tensor_to_f32(t, out));
            CHECK(out[0] == 1.0f && out[1] == 1.015625f);
        }
        mrg_st_close(g);
    }
    mrg_tensor *ti = mrg_tensor_new(dev, MRG_I32, MRG_SHAPE(3));
    CHECK_OK(mrg_st_load_into(d, ti));
    int32_t iv[3];
    CHECK_OK(mrg_tensor_download(ti, iv));
    CHECK(iv[0] == 1 && iv[1] == -2 && iv[2] == INT32_MAX);
    mrg_tensor *tf = mrg_tensor_new(dev, MRG_F32, MRG_SHAPE(3));
    CHECK(mrg_st_load_into(d, tf) == MRG_ERR_INVALID_ARG); /* i32 only into i32 */
    CHECK(mrg_st_load_into(a, ti) == MRG_ERR_INVALID_ARG);
    mrg_tensor *wrong = mrg_tensor_new(dev, MRG_F32, MRG_SHAPE(3, 2));
    CHECK(mrg_st_load_into(a, wrong) == MRG_ERR_INVALID_ARG);
    CHECK(strstr(mrg_last_error(), "a.f32") != NULL);

    /* Writer from device tensors: bf16 persistent parameter + f32 step tensor. */
    mrg_tensor *p = mrg_tensor_new_persistent(dev, MRG_BF16, MRG_SHAPE(4));
    CHECK_OK(mrg_st_load_into(b, p));
    mrg_st_writer *w = mrg_st_writer_new();
    CHECK_OK(mrg_st_writer_add_tensor(w, "p", p));
    mrg_tensor *ta = mrg_tensor_new(dev, MRG_F32, MRG_SHAPE(2, 3));
    CHECK_OK(mrg_st_load_into(a, ta));
    CHECK_OK(mrg_st_writer_add_tensor(w, "a", ta));
    CHECK_OK(mrg_st_writer_add_tensor(w, "i", ti));
    CHECK_OK(mrg_st_writer_save(w, tmp_path("dev.safetensors")));
    mrg_st_writer_free(w);
    mrg_st_file *g = mrg_st_open(tmp_path("dev.safetensors"));
    CHECK(g != NULL);
    if (g) {
        const mrg_st_tensor *x = mrg_st_require(g, "p", MRG_SHAPE(4));
        CHECK(x && x->dtype == MRG_BF16 && !memcmp(x->data, b->data, 8));
        x = mrg_st_require(g, "a", MRG_SHAPE(2, 3));
        CHECK(x && x->dtype == MRG_F32 && !memcmp(x->data, a->data, 24));
        x = mrg_st_require(g, "i", MRG_SHAPE(3));
        CHECK(x && x->dtype == MRG_I32 && !memcmp(x->data, d->data, 12));
        mrg_st_close(g);
    }
    mrg_tensor_free(p);
    mrg_step_reset(dev);
    mrg_st_close(f);
    mrg_device_free(dev);
}

/* ---- corruption suite ------------------------------------------------------ */

static void expect_bad(const char *what, const char *path, const char *needle) {
    mrg_st_file *f = NULL;
    mrg_clear_error();
    mrg_status st = mrg_st_try_open(path, &f);
    bool ok = f == NULL &&
              (st == MRG_ERR_FORMAT || st == MRG_ERR_IO || st == MRG_ERR_NOT_FOUND ||
               st == MRG_ERR_UNSUPPORTED) &&
              mrg_last_error()[0] && (!needle || strstr(mrg_last_error(), needle));
    if (!ok)
        fprintf(stderr, "  corrupt case '%s': status %s, message '%s' (want '%s')\n", what,
                mrg_status_name(st), mrg_last_error(), needle ? needle : "");
    CHECK(ok);
    mrg_st_close(f);
}

static void bad_header(const char *what, const char *header, size_t data, const char *needle) {
    const char *p = tmp_path("bad.safetensors");
    write_st(p, header, data);
    expect_bad(what, p, needle);
}

static void test_corrupt(void) {
    /* sanity: the helper makes valid files */
    write_st(tmp_path("ok.safetensors"),
             "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8);
    mrg_st_file *ok = mrg_st_open(tmp_path("ok.safetensors"));
    CHECK(ok != NULL);
    mrg_st_close(ok);

    expect_bad("missing file", tmp_path("nope.safetensors"), "nope.safetensors");
    CHECK(mrg_st_try_open(tmp_path("nope.safetensors"), &ok) == MRG_ERR_NOT_FOUND);
    expect_bad("directory", tmpdir, tmpdir);
    write_bytes(tmp_path("short.safetensors"), "\x10\0\0", 3);
    expect_bad("shorter than 8 bytes", tmp_path("short.safetensors"), "short.safetensors");
    write_bytes(tmp_path("empty.safetensors"), "", 0);
    expect_bad("empty file", tmp_path("empty.safetensors"), "too short");

    /* a header past MRG_MAX_SAFETENSORS_HEADER (a sparse file: no data is
     * written) is refused before it is parsed, with the limit named */
    {
        const char *big = tmp_path("bighdr.safetensors");
        uint64_t hl = (uint64_t)MRG_MAX_SAFETENSORS_HEADER + 1;
        uint8_t len8[8];
        for (int i = 0; i < 8; i++) len8[i] = (uint8_t)(hl >> (8 * i));
        write_bytes(big, len8, 8);
        CHECK(truncate(big, (off_t)(8 + hl + 8)) == 0);
        expect_bad("header over the limit", big, "MRG_MAX_SAFETENSORS_HEADER");
        unlink(big);
    }

    /* header length beyond the file */
    uint8_t buf[64] = {0};
    buf[0] = 0xff;
    buf[1] = 0x01;
    write_bytes(tmp_path("hlen.safetensors"), buf, 40);
    expect_bad("header length > file", tmp_path("hlen.safetensors"), "exceeds the file size");
    memset(buf, 0xff, 8);
    write_bytes(tmp_path("hlen2.safetensors"), buf, 40);
    expect_bad("header length 2^64-1", tmp_path("hlen2.safetensors"), "exceeds the file size");

    /* truncated: a valid file cut inside the data and inside the header */
    const char *good = "{\"x\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}";
    write_st(tmp_path("trunc.safetensors"), good, 10);
    expect_bad("truncated data", tmp_path("trunc.safetensors"), "out of range");
    size_t n;
    uint8_t *full = (uint8_t *)test_read_file(tmp_path("ok.safetensors"), &n);
    write_bytes(tmp_path("trunc2.safetensors"), full, 30);
    free(full);
    expect_bad("truncated header", tmp_path("trunc2.safetensors"), "exceeds the file size");

    bad_header("bad JSON", "{\"x\":{\"dtype\":\"F32\",", 0, "not valid JSON");
    bad_header("not an object", "[1, 2, 3]", 0, "not a JSON object");
    bad_header("trailing garbage",
               "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}xyz", 8,
               "trailing");
    bad_header("entry not an object", "{\"x\":5}", 0, "'x'");
    bad_header("missing fields", "{\"x\":{\"dtype\":\"F32\"}}", 0, "'x'");
    bad_header("offsets out of range",
               "{\"x\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[8,24]}}", 16,
               "out of range");
    bad_header("offsets reversed",
               "{\"x\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,4]}}", 16, "'x'");
    bad_header("offsets not integers",
               "{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0.5,4.5]}}", 16, "'x'");
    bad_header("offsets count", "{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}",
               16, "'x'");
    bad_header("negative offset",
               "{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", 16, "'x'");
    bad_header("shape/size mismatch",
               "{\"x\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,16]}}", 16,
               "needs 12 bytes");
    bad_header("shape dtype mismatch",
               "{\"x\":{\"dtype\":\"BF16\",\"shape\":[4],\"data_offsets\":[0,16]}}", 16,
               "needs 8 bytes");
    bad_header("shape overflow",
               "{\"x\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,16],"
               "\"data_offsets\":[0,0]}}",
               0, "2^64");
    bad_header("negative dim", "{\"x\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}",
               4, "'x'");
    bad_header("fractional dim",
               "{\"x\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4, "'x'");
    bad_header("too many dims",
               "{\"x\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4,
               "dimensions");
    bad_header("overlap",
               "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
               "\"y\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
               16, "overlap");
    bad_header("identical ranges",
               "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
               "\"y\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
               16, "overlap");
    bad_header("unknown dtype", "{\"x\":{\"dtype\":\"Q7\",\"shape\":[2],\"data_offsets\":[0,8]}}",
               8, "unsupported dtype Q7 for tensor 'x'");
    bad_header("unsupported dtype",
               "{\"w\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8,
               "unsupported dtype F64 for tensor 'w'");
    write_st(tmp_path("f64.safetensors"),
             "{\"w\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8);
    CHECK(mrg_st_try_open(tmp_path("f64.safetensors"), &ok) == MRG_ERR_UNSUPPORTED);
    bad_header("duplicate names",
               "{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
               "\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
               8, "duplicate");
    bad_header("metadata not strings", "{\"__metadata__\":{\"a\":1}}", 0, "__metadata__");
    bad_header("metadata not an object", "{\"__metadata__\":[]}", 0, "__metadata__");
    {
        char deep[2100] = "{\"x\":";
        for (int i = 0; i < 1000; i++) strcat(deep, "[");
        for (int i = 0; i < 1000; i++) strcat(deep, "]");
        strcat(deep, "}");
        bad_header("deep nesting", deep, 0, NULL);
    }

    /* sharded checkpoints: missing shard, tensor not in its shard, bad index */
    char idx[512];
    snprintf(idx, sizeof idx, "%s", tmp_path("model.safetensors.index.json"));
    const char *index_missing =
        "{\"weight_map\":{\"x\":\"ok.safetensors\",\"y\":\"gone.safetensors\"}}";
    write_bytes(idx, index_missing, strlen(index_missing));
    expect_bad("missing shard", idx, "gone.safetensors");
    const char *index_wrong =
        "{\"weight_map\":{\"x\":\"ok.safetensors\",\"y\":\"ok.safetensors\"}}";
    write_bytes(idx, index_wrong, strlen(index_wrong));
    expect_bad("tensor absent from its shard", idx, "'y'");
    const char *index_nomap = "{\"metadata\":{}}";
    write_bytes(idx, index_nomap, strlen(index_nomap));
    expect_bad("no weight_map", idx, "weight_map");
    write_bytes(idx, "{\"weight_map\":", 14);
    expect_bad("index bad JSON", idx, "not valid JSON");
    const char *index_escape = "{\"weight_map\":{\"x\":\"../etc/passwd\"}}";
    write_bytes(idx, index_escape, strlen(index_escape));
    expect_bad("index path escape", idx, "shard");
    const char *index_bad_shard = "{\"weight_map\":{\"x\":\"bad.safetensors\"}}";
    bad_header("for index", "{\"x\":5}", 0, NULL); /* leaves a corrupt bad.safetensors */
    write_bytes(idx, index_bad_shard, strlen(index_bad_shard));
    expect_bad("corrupt shard", idx, "bad.safetensors");
    /* open_dir picks up the index when model.safetensors is absent */
    const char *index_ok = "{\"weight_map\":{\"x\":\"ok.safetensors\"}}";
    write_bytes(idx, index_ok, strlen(index_ok));
    mrg_st_file *g = mrg_st_open_dir(tmpdir);
    CHECK(g && mrg_st_count(g) == 1 && mrg_st_find(g, "x"));
    mrg_st_close(g);
    unlink(idx);
}

/* ---- fuzz: random byte flips and truncations of a valid file --------------- */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 11);
}

static void test_fuzz(int iters) {
    size_t n;
    uint8_t *orig = (uint8_t *)test_read_file(test_golden_path("io/st_python.safetensors"), &n);
    CHECK(orig != NULL);
    if (!orig) return;
    uint8_t *buf = malloc(n);
    const char *p = tmp_path("fuzz.safetensors");
    const char *interesting = "{}[]\":,0123456789-. e";
    int opened = 0, rejected = 0, bad_status = 0;
    for (int it = 0; it < iters; it++) {
        memcpy(buf, orig, n);
        size_t len = n;
        int flips = 1 + (int)(rnd() % 4);
        for (int k = 0; k < flips; k++) {
            /* mostly inside the length + header, where the parsing is */
            size_t pos = rnd() % 4 ? rnd() % (n < 400 ? n : 400) : rnd() % n;
            switch (rnd() % 3) {
                case 0:
                    buf[pos] ^= (uint8_t)(1u << (rnd() % 8));
                    break;
                case 1:
                    buf[pos] = (uint8_t)rnd();
                    break;
                default:
                    buf[pos] = (uint8_t)interesting[rnd() % strlen(interesting)];
                    break;
            }
        }
        if (rnd() % 8 == 0) len = rnd() % n; /* truncation */
        write_bytes(p, buf, len);
        mrg_st_file *f = NULL;
        mrg_status st = mrg_st_try_open(p, &f);
        if (f) {
            opened++;
            /* touch every byte the reader hands out */
            unsigned sum = 0;
            for (int i = 0; i < mrg_st_count(f); i++) {
                const mrg_st_tensor *t = mrg_st_get(f, i);
                for (size_t b = 0; b < t->nbytes; b++) sum += ((const uint8_t *)t->data)[b];
                if (mrg_st_find(f, t->name) != t) bad_status++;
            }
            (void)sum;
            mrg_st_close(f);
        } else {
            rejected++;
            if (st == MRG_OK || !mrg_last_error()[0]) bad_status++;
        }
    }
    fprintf(stderr, "  fuzz: %d iterations, %d opened, %d rejected\n", iters, opened, rejected);
    CHECK(bad_status == 0);
    CHECK(opened > 0 && rejected > 0);
    free(buf);
    free(orig);
}

static void cleanup_tmpdir(void) {
    DIR *d = opendir(tmpdir);
    for (struct dirent *e; d && (e = readdir(d));)
        if (e->d_name[0] != '.') unlink(tmp_path(e->d_name));
    if (d) closedir(d);
    rmdir(tmpdir);
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "%s/mrg_st_XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_python_fixtures();
    test_sharded();
    test_roundtrip();
    test_corrupt();
    /* MRG_TEST_QUICK (the sanitizer run in CI) shortens the fuzz loop */
    test_fuzz(getenv("MRG_TEST_QUICK") ? 500 : 3000);
    char names[8][32];
    int nd = test_devices(names, 8);
    for (int i = 0; i < nd; i++) {
        fprintf(stderr, "device %s\n", names[i]);
        test_device(names[i]);
    }
    cleanup_tmpdir();
    return test_finish("safetensors");
}

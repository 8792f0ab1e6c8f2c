/* Test harness helpers (see testutil.h). */
#include "testutil.h"

#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "core/files.h"

int mrg_test_failures = 0;
int mrg_test_checks = 0;

int test_devices(char names[][32], int max) {
    const char *env = getenv("MRG_TEST_DEVICES");
    if (!env || !*env) return mrg_list_devices(names, max);
    /* space-separated names, e.g. "cpu opencl:0" */
    int n = 0;
    const char *p = env;
    while (*p && n < max) {
        while (*p == ' ' || *p == '\t' || *p == ',') p++;
        if (!*p) break;
        size_t len = strcspn(p, " \t,");
        if (len >= 32) len = 31;
        memcpy(names[n], p, len);
        names[n][len] = '\0';
        n++;
        p += strcspn(p, " \t,");
    }
    return n;
}

mrg_device *test_device_open(const char *name) {
    mrg_device *dev = mrg_device_open(name);
    if (!dev) fprintf(stderr, "cannot open %s: %s\n", name, mrg_last_error());
    CHECK(dev != NULL);
    return dev;
}

bool test_next_device(test_device_iter *it) {
    if (!it->started) {
        it->count = test_devices(it->names, 8);
        it->started = true;
    }
    mrg_device_free(it->dev);
    it->dev = NULL;
    while (it->next < it->count) {
        it->name = it->names[it->next++];
        it->dev = test_device_open(it->name);
        if (it->dev) {
            fprintf(stderr, "device %s\n", it->name);
            return true;
        }
    }
    return false;
}

char *test_read_file(const char *path, size_t *len) {
    char *text;
    return mrg_read_file(path, SIZE_MAX, NULL, &text, len) == MRG_OK ? text : NULL;
}

void test_write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f) return;
    CHECK(fputs(text, f) >= 0);
    CHECK(fclose(f) == 0);
}

mrg_status test_pretrain_micro_lm(mrg_device *dev, const char *data, const char *out, int steps) {
    mrg_model_config cfg;
    mrg_status st = mrg_model_preset("micro", &cfg);
    if (st != MRG_OK) return st;
    mrg_pretrain_opts po = mrg_pretrain_defaults();
    po.vocab_size = 300;
    po.steps = steps;
    po.log_every = 1000;
    return mrg_pretrain_lm(data, &cfg.lm, &po, dev, out, NULL, NULL);
}

mrg_st_file *test_golden_open(const char *file) {
    mrg_st_file *f = mrg_st_open(test_golden_path(file));
    if (!f) fprintf(stderr, "%s\n", mrg_last_error());
    CHECK(f != NULL);
    return f;
}

/* An element passes when |got − want| <= max(rtol·|want|, atol): relative
 * error with atol as the floor for values near zero. Infinite expected
 * values must match exactly; NaN never passes. */
bool test_close(const char *what, const float *got, const float *want, int64_t n,
                double rtol, double atol) {
    double worst = 0.0;
    int64_t worst_i = -1;
    int64_t bad = 0;
    for (int64_t i = 0; i < n; i++) {
        double g = got[i], w = want[i];
        double ratio;
        if (isinf(w) || isinf(g)) {
            ratio = (g == w) ? 0.0 : INFINITY;
        } else if (isnan(g) || isnan(w)) {
            ratio = INFINITY;
        } else {
            double tol = fmax(rtol * fabs(w), atol);
            ratio = fabs(g - w) / tol; /* <= 1 passes */
        }
        if (ratio > 1.0) bad++;
        if (ratio > worst || worst_i < 0) {
            worst = ratio;
            worst_i = i;
        }
    }
    if (bad == 0) return true;
    fprintf(stderr,
            "  %s: %lld of %lld elements outside tolerance (rtol %.1e, atol %.1e); worst [%lld]: "
            "got %.8g want %.8g\n",
            what, (long long)bad, (long long)n, rtol, atol, (long long)worst_i,
            (double)got[worst_i], (double)want[worst_i]);
    return false;
}

float *test_download(const mrg_tensor *t) {
    if (!t) {
        CHECK(t != NULL);
        return NULL;
    }
    int64_t n = mrg_numel(t);
    float *h = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    if (!h) return NULL;
    if (mrg_tensor_to_f32(t, h) != MRG_OK) {
        fprintf(stderr, "  download failed: %s\n", mrg_last_error());
        CHECK(false);
        free(h);
        return NULL;
    }
    return h;
}

bool test_tensor_close(const char *what, const mrg_tensor *t, const float *want, double rtol,
                       double atol) {
    if (!t) {
        fprintf(stderr, "  %s: tensor is NULL (%s)\n", what, mrg_last_error());
        return false;
    }
    float *h = test_download(t);
    if (!h) return false;
    bool ok = test_close(what, h, want, mrg_numel(t), rtol, atol);
    free(h);
    return ok;
}

const char *test_golden_path(const char *file) {
    static char path[4096];
    const char *dir = getenv("MRG_TEST_DATA");
    if (!dir || !*dir) dir = "tests/golden";
    snprintf(path, sizeof path, "%s/%s", dir, file);
    return path;
}

const char *test_shared_dir(void) {
    static char dir[4096];
    const char *env = getenv("MRG_SHARED");
    snprintf(dir, sizeof dir, "%s", (env && *env) ? env : "../shared");
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) return NULL;
    return dir;
}

static const mrg_st_tensor *find_golden(const mrg_st_file *f, const char *name) {
    const mrg_st_tensor *st = f ? mrg_st_find(f, name) : NULL;
    if (!st) {
        fprintf(stderr, "  golden tensor '%s' is missing\n", name);
        CHECK(st != NULL);
    }
    return st;
}

mrg_tensor *test_load(mrg_device *dev, const mrg_st_file *f, const char *name) {
    const mrg_st_tensor *st = find_golden(f, name);
    if (!st) return NULL;
    mrg_dtype dt = st->dtype == MRG_I32 ? MRG_I32 : MRG_F32;
    mrg_tensor *t = mrg_tensor_new(dev, dt, st->ndim, st->shape);
    if (!t || mrg_st_load_into(st, t) != MRG_OK) {
        fprintf(stderr, "  loading '%s': %s\n", name, mrg_last_error());
        CHECK(false);
        return NULL;
    }
    return t;
}

mrg_tensor *test_param(mrg_device *dev, const mrg_st_file *f, const char *name, mrg_dtype dt,
                       bool trainable) {
    const mrg_st_tensor *st = find_golden(f, name);
    if (!st) return NULL;
    mrg_tensor *t = mrg_param_new(dev, dt, st->ndim, st->shape, trainable, name);
    if (!t || mrg_st_load_into(st, t) != MRG_OK) {
        fprintf(stderr, "  loading '%s' as %s: %s\n", name, mrg_dtype_name(dt), mrg_last_error());
        CHECK(false);
        mrg_tensor_free(t);
        return NULL;
    }
    return t;
}

mrg_tensor *test_param_f32(mrg_device *dev, mrg_dtype dt, int ndim, const int64_t *shape,
                           const float *data, bool trainable, const char *name) {
    mrg_tensor *t = mrg_param_new(dev, dt, ndim, shape, trainable && dt != MRG_I32, name);
    if (!t) {
        fprintf(stderr, "  creating '%s': %s\n", name, mrg_last_error());
        CHECK(false);
        return NULL;
    }
    mrg_status st;
    if (dt == MRG_I32) {
        int64_t n = mrg_numel(t);
        int32_t *ids = malloc((size_t)(n > 0 ? n : 1) * sizeof(int32_t));
        if (!ids) {
            mrg_tensor_free(t);
            return NULL;
        }
        for (int64_t i = 0; i < n; i++) ids[i] = (int32_t)lrintf(data[i]);
        st = mrg_tensor_upload(t, ids);
        free(ids);
    } else {
        st = mrg_tensor_upload_f32(t, data);
    }
    if (st != MRG_OK) {
        fprintf(stderr, "  uploading '%s': %s\n", name, mrg_last_error());
        CHECK(false);
        mrg_tensor_free(t);
        return NULL;
    }
    return t;
}

float *test_golden_f32(const mrg_st_file *f, const char *name, int64_t *n) {
    const mrg_st_tensor *st = find_golden(f, name);
    if (!st) return NULL;
    int64_t cnt = 1;
    for (int i = 0; i < st->ndim; i++) cnt *= st->shape[i];
    float *h = malloc((size_t)(cnt > 0 ? cnt : 1) * sizeof(float));
    if (!h) return NULL;
    for (int64_t i = 0; i < cnt; i++) {
        switch (st->dtype) {
        case MRG_F32: {
            float v;
            memcpy(&v, (const char *)st->data + 4 * i, 4);
            h[i] = v;
            break;
        }
        case MRG_I32: {
            int32_t v;
            memcpy(&v, (const char *)st->data + 4 * i, 4);
            h[i] = (float)v;
            break;
        }
        case MRG_BF16:
        case MRG_F16: {
            uint16_t v;
            memcpy(&v, (const char *)st->data + 2 * i, 2);
            h[i] = st->dtype == MRG_BF16 ? mrg_bf16_to_f32(v) : mrg_f16_to_f32(v);
            break;
        }
        }
    }
    if (n) *n = cnt;
    return h;
}

mrg_tensor *test_dot_loss(mrg_tensor *out, mrg_tensor *g) {
    if (!out || !g) return NULL;
    int64_t n = mrg_numel(out);
    mrg_tensor *prod = mrg_mul(out, g);                           /* out's shape */
    mrg_tensor *flat = mrg_reshape(prod, MRG_SHAPE(1, n));         /* (1, n) */
    return mrg_sum(flat, 1, false);                                /* (1) */
}

double test_max_abs(const float *x, int64_t n) {
    double m = 0.0;
    for (int64_t i = 0; i < n; i++)
        if (fabs(x[i]) > m) m = fabs(x[i]);
    return m;
}

bool test_golden_close(const char *what, const mrg_tensor *t, const mrg_st_file *exp,
                       const char *name, double rtol, double tiny) {
    int64_t n = 0;
    float *want = test_golden_f32(exp, name, &n);
    if (!want) return false;
    double m = test_max_abs(want, n);
    bool ok = t && mrg_numel(t) == n &&
              test_tensor_close(what, t, want, rtol, fmax(rtol * m, tiny * (m < tiny)));
    if (t && mrg_numel(t) != n)
        fprintf(stderr, "  %s: %lld elements, want %lld\n", what, (long long)mrg_numel(t),
                (long long)n);
    free(want);
    return ok;
}

/* xorshift32 → [lo, hi) */
void test_fill_uniform(float *x, int64_t n, unsigned seed, float lo, float hi) {
    uint32_t s = seed * 2654435761u + 0x9E3779B9u;
    if (!s) s = 1;
    for (int64_t i = 0; i < n; i++) {
        s ^= s << 13;
        s ^= s >> 17;
        s ^= s << 5;
        double u = (s >> 8) * (1.0 / 16777216.0);
        x[i] = (float)(lo + (hi - lo) * u);
    }
}

int test_finish(const char *suite) {
    int passed = mrg_test_checks - mrg_test_failures;
    fprintf(stderr, "%s: %s\n", suite, mrg_test_failures ? "FAILED" : "ok");
    printf("%d passed, %d failed\n", passed, mrg_test_failures);
    fflush(stdout);
    return mrg_test_failures ? 1 : 0;
}

int test_run_cmdf(char *out, size_t cap, const char *fmt, ...) {
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    return test_run_cmd(cmd, out, cap);
}

int test_run_cmd(const char *cmd, char *out, size_t cap) {
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

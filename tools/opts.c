/* Table-driven option parsing for the commands (see opts.h). */
#include "opts.h"
#include "mrg/dist.h"

#include <errno.h>
#include <float.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int opts_fail(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "mrg %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 2;
}

/* "[+-]digits" with nothing else; strtoll/strtoull alone would take
 * leading blanks and stop at junk. */
static bool is_whole(const char *v, bool sign) {
    if (*v == '+' || (sign && *v == '-')) v++;
    if (!*v) return false;
    for (; *v; v++)
        if (*v < '0' || *v > '9') return false;
    return true;
}

/* The allowed values of s, for its message: "a whole number from 1 to 64". */
static void describe(const opt_spec *s, char *buf, size_t cap) {
    switch (s->kind) {
    case OPT_INT:
    case OPT_I64:
        snprintf(buf, cap, "a whole number from %lld to %lld", (long long)s->lo, (long long)s->hi);
        return;
    case OPT_U64:
        snprintf(buf, cap, "a whole number from 0 to %llu", (unsigned long long)UINT64_MAX);
        return;
    case OPT_FLOAT: {
        bool low = isfinite(s->flo), high = isfinite(s->fhi);
        if (!low && !high) snprintf(buf, cap, "a finite number");
        else if (!high) snprintf(buf, cap, "a number %s %g", s->above ? ">" : ">=", s->flo);
        else if (!low) snprintf(buf, cap, "a number <= %g", s->fhi);
        else snprintf(buf, cap, "a number %s %g and <= %g", s->above ? ">" : ">=", s->flo, s->fhi);
        return;
    }
    case OPT_CHOICE: {
        size_t used = (size_t)snprintf(buf, cap, "one of");
        for (int i = 0; s->choices[i] && used < cap; i++)
            used += (size_t)snprintf(buf + used, cap - used, "%s %s", i ? "," : "", s->choices[i]);
        return;
    }
    default:
        snprintf(buf, cap, "a value");
    }
}

/* Stores v into s->dst; false when it is malformed or out of range. */
static bool store(opt_spec *s, const char *v) {
    char *end = NULL;
    errno = 0;
    switch (s->kind) {
    case OPT_STR:
        *(const char **)s->dst = v;
        return true;
    case OPT_STRS:
        ((const char **)s->dst)[s->given - 1] = v;
        return true;
    case OPT_INT:
    case OPT_I64: {
        if (!is_whole(v, true)) return false;
        long long x = strtoll(v, &end, 10);
        if (errno || *end || x < s->lo || x > s->hi) return false;
        if (s->kind == OPT_INT) *(int *)s->dst = (int)x; /* the range is inside int */
        else *(int64_t *)s->dst = (int64_t)x;
        return true;
    }
    case OPT_U64: {
        if (!is_whole(v, false)) return false;
        unsigned long long x = strtoull(v, &end, 10);
        if (errno || *end) return false;
        *(uint64_t *)s->dst = (uint64_t)x;
        return true;
    }
    case OPT_FLOAT: {
        /* decimal only: no hex floats, no blanks, no "nan"/"inf" */
        if (!*v || strspn(v, "0123456789+-.eE") != strlen(v)) return false;
        double x = strtod(v, &end);
        if (errno || *end || !isfinite(x) || fabs(x) > FLT_MAX) return false;
        if (x != 0 && fabs(x) < FLT_MIN) return false; /* would become 0 or a denormal */
        if (s->above ? !(x > s->flo) : !(x >= s->flo)) return false;
        if (!(x <= s->fhi)) return false;
        *(float *)s->dst = (float)x;
        return true;
    }
    case OPT_CHOICE:
        for (int i = 0; s->choices[i]; i++)
            if (!strcmp(v, s->choices[i])) {
                *(int *)s->dst = i;
                return true;
            }
        return false;
    case OPT_FLAG:
        break;
    }
    return false;
}

static opt_spec *find(opt_spec *specs, int n, const char *name, size_t len) {
    for (int k = 0; k < n; k++)
        if (strlen(specs[k].name) == len && !strncmp(name, specs[k].name, len)) return &specs[k];
    return NULL;
}

int opts_parse_args(const char *cmd, int argc, char **argv, opt_spec *specs, int n,
                    const char **rest, int *n_rest) {
    if (n_rest) *n_rest = 0;
    bool only_args = false; /* after "--" */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (only_args || a[0] != '-' || !a[1]) {
            /* an argument, not an option ("-" alone: standard input) */
            if (!rest) return opts_fail(cmd, "unexpected argument '%s' (see mrg %s --help)", a, cmd);
            rest[(*n_rest)++] = a;
            continue;
        }
        if (!strcmp(a, "--") && rest) {
            only_args = true;
            continue;
        }
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) return 1;
        /* --name value, or --name=value */
        const char *eq = strchr(a, '=');
        opt_spec *s = find(specs, n, a, eq ? (size_t)(eq - a) : strlen(a));
        if (!s) return opts_fail(cmd, "unknown option '%s' (see mrg %s --help)", a, cmd);
        if (s->given && s->kind != OPT_STRS) return opts_fail(cmd, "%s is given twice", s->name);
        if (s->kind == OPT_STRS && s->given >= s->cap)
            return opts_fail(cmd, "%s may be given at most %d times", s->name, s->cap);
        s->given++;
        if (s->kind == OPT_FLAG) {
            if (eq) return opts_fail(cmd, "%s takes no value", s->name);
            *(bool *)s->dst = s->value;
            continue;
        }
        const char *v = eq ? eq + 1 : NULL;
        if (!v) {
            if (i + 1 >= argc) return opts_fail(cmd, "%s needs a value", s->name);
            v = argv[++i];
        }
        if (!store(s, v)) {
            char what[256];
            describe(s, what, sizeof what);
            double x = s->kind == OPT_FLOAT ? strtod(v, NULL) : 0;
            return opts_fail(cmd, "%s must be %s, not '%s'%s", s->name, what, v,
                             x != 0 && fabs(x) < FLT_MIN ? " (too close to 0 for a float)" : "");
        }
    }
    return 0;
}

int opts_given(const opt_spec *specs, int n, const char *name) {
    for (int k = 0; k < n; k++)
        if (!strcmp(specs[k].name, name)) return specs[k].given;
    return 0;
}

int opts_exclusive(const char *cmd, const opt_spec *specs, int n, const char *a, const char *b) {
    if (opts_given(specs, n, a) && opts_given(specs, n, b))
        return opts_fail(cmd, "%s and %s exclude each other", a, b);
    return 0;
}

int opts_require(const char *cmd, const opt_spec *specs, int n, ...) {
    va_list ap;
    va_start(ap, n);
    int rc = 0;
    for (const char *name; !rc && (name = va_arg(ap, const char *));)
        if (!opts_given(specs, n, name)) rc = opts_fail(cmd, "%s is required (see mrg %s --help)", name, cmd);
    va_end(ap);
    return rc;
}

int opts_int_list(const char *s, int64_t lo, int64_t hi, int64_t **out) {
    *out = NULL;
    int n = 0, cap = 0;
    int64_t *v = NULL;
    const char *p = s;
    for (;;) {
        p += strspn(p, ", \t\n");
        if (!*p) break;
        size_t len = strcspn(p, ", \t\n");
        char num[32];
        if (len >= sizeof num) goto bad;
        memcpy(num, p, len);
        num[len] = 0;
        p += len;
        if (!is_whole(num, true)) goto bad;
        errno = 0;
        long long x = strtoll(num, NULL, 10);
        if (errno || x < lo || x > hi) goto bad;
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            int64_t *t = realloc(v, sizeof *v * (size_t)cap);
            if (!t) goto bad;
            v = t;
        }
        v[n++] = (int64_t)x;
    }
    *out = v;
    return n;
bad:
    free(v);
    return -1;
}

int opts_model_config(const char *cmd, const char *preset, const char *config, mrg_model_config *cfg) {
    if (mrg_model_preset(preset, cfg) || (config && mrg_model_config_apply_file(cfg, config)))
        return opts_fail(cmd, "%s", mrg_last_error());
    return 0;
}

const mrg_dtype opts_float_dtype[3] = {MRG_F32, MRG_BF16, MRG_F16};

const char *const *opts_float_dtype_names(void) {
    static const char *names[4];
    for (int i = 0; i < 3; i++) names[i] = mrg_dtype_name(opts_float_dtype[i]);
    return names;
}

void opts_progress(bool *bar, bool *jsonl_stdout) {
    *bar = isatty(2);
    *jsonl_stdout = !*bar || !isatty(1);
}

mrg_device *opts_device(const char *cmd, const char *name) {
    /* under an MPI launcher the ranks of a host share its GPUs round-robin */
    mrg_device *dev = mrg_device_open_shared(name, mrg_dist_local_rank(), mrg_dist_local_size());
    if (!dev) opts_fail(cmd, "%s", mrg_last_error());
    return dev;
}

/* Table-driven option parsing for the subcommands (see opts.h). */
#include "opts.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Stores v into s->dst; false when it is not a number of the right kind. */
static bool store(const opt_spec *s, const char *v) {
    char *end = NULL;
    errno = 0;
    switch (s->kind) {
    case OPT_STR:
        *(const char **)s->dst = v;
        return true;
    case OPT_INT: {
        long x = strtol(v, &end, 10);
        if (errno || *end || end == v || x < -2147483647L || x > 2147483647L) return false;
        *(int *)s->dst = (int)x;
        return true;
    }
    case OPT_I64: {
        long long x = strtoll(v, &end, 10);
        if (errno || *end || end == v) return false;
        *(int64_t *)s->dst = (int64_t)x;
        return true;
    }
    case OPT_U64: {
        if (*v == '-') return false;
        unsigned long long x = strtoull(v, &end, 10);
        if (errno || *end || end == v) return false;
        *(uint64_t *)s->dst = (uint64_t)x;
        return true;
    }
    case OPT_FLOAT: {
        float x = strtof(v, &end);
        if (errno || *end || end == v) return false;
        *(float *)s->dst = x;
        return true;
    }
    case OPT_FLAG:
        break;
    }
    return false;
}

int opts_parse(const char *cmd, int argc, char **argv, const opt_spec *specs, int n) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) return 1;
        const opt_spec *s = NULL;
        for (int k = 0; k < n && !s; k++)
            if (!strcmp(a, specs[k].name)) s = &specs[k];
        if (!s) {
            fprintf(stderr, "mrg %s: unknown option %s\n", cmd, a);
            return 2;
        }
        if (s->kind == OPT_FLAG) {
            *(bool *)s->dst = s->value;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "mrg %s: %s needs a value\n", cmd, a);
            return 2;
        }
        const char *v = argv[++i];
        if (!store(s, v)) {
            fprintf(stderr, "mrg %s: bad value for %s: %s\n", cmd, a, v);
            return 2;
        }
    }
    return 0;
}

int opts_model_config(const char *cmd, const char *preset, const char *config, mrg_model_config *cfg) {
    if (mrg_model_preset(preset, cfg) || (config && mrg_model_config_apply_file(cfg, config))) {
        fprintf(stderr, "mrg %s: %s\n", cmd, mrg_last_error());
        return 2;
    }
    return 0;
}

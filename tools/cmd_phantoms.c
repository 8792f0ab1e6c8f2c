/* mrg phantoms: renders a synthetic two-view chest X-ray data set with
 * IU-style reports in the R2Gen layout (lib/include/mrg/phantom.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "mrg/mrg.h"
#include "mrg/phantom.h"
#include "out_guard.h"

static int usage(int code) {
    fprintf(code ? stderr : stdout,
            "usage: mrg phantoms --out DIR --n N [--seed S] [--size PX] [--force]\n\n"
            "Renders N synthetic chest radiograph studies, each a frontal and a lateral\n"
            "view (PX x PX grayscale PNG, default %d) of a drawn thorax with lungs,\n"
            "heart, diaphragm, spine and ribs, and some of the findings cardiomegaly,\n"
            "left/right pleural effusion, left/right pneumothorax, lobar opacity and\n"
            "nodule (about a quarter of the studies are normal). Each study gets an\n"
            "IU X-Ray style report that states every finding as present or absent.\n\n"
            "Output (the R2Gen layout, split 80/10/10 into train/val/test):\n"
            "  DIR/annotation.json         {\"train\": [{\"id\", \"report\", \"image_path\",\n"
            "                              \"split\", \"labels\"}, ...], \"val\": [...], \"test\": "
            "[...]}\n"
            "  DIR/images/<id>/0.png       frontal view\n"
            "  DIR/images/<id>/1.png       lateral view\n\n"
            "The same --seed (default 1) gives byte-identical files. DIR is replaced\n"
            "atomically; it must be new, empty or an earlier output of `mrg phantoms`\n"
            "(DIR/.mrg-output says so), unless --force, which writes into it and keeps\n"
            "what phantoms does not write.\n",
            MRG_PHANTOM_DEFAULT_SIZE);
    return code;
}

/* Whole-string integer parse; false on junk or overflow. */
static bool parse_ll(const char *s, long long *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end) return false;
    *out = v;
    return true;
}

int cmd_phantoms(int argc, char **argv) {
    const char *out = NULL, *n_arg = NULL, *seed_arg = NULL, *size_arg = NULL;
    bool force = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) return usage(0);
        if (!strcmp(argv[i], "--force")) { force = true; continue; }
        if (i + 1 >= argc) {
            fprintf(stderr, "mrg phantoms: %s needs a value\n\n", argv[i]);
            return usage(2);
        }
        if (!strcmp(argv[i], "--out"))
            out = argv[++i];
        else if (!strcmp(argv[i], "--n"))
            n_arg = argv[++i];
        else if (!strcmp(argv[i], "--seed"))
            seed_arg = argv[++i];
        else if (!strcmp(argv[i], "--size"))
            size_arg = argv[++i];
        else {
            fprintf(stderr, "mrg phantoms: unknown option '%s'\n\n", argv[i]);
            return usage(2);
        }
    }
    if (!out || !n_arg) {
        fprintf(stderr, "mrg phantoms: --out and --n are required\n\n");
        return usage(2);
    }
    long long n, size = MRG_PHANTOM_DEFAULT_SIZE, seed = 1;
    if (!parse_ll(n_arg, &n) || n < 1 || n > 10000000) {
        fprintf(stderr, "mrg phantoms: --n must be a whole number from 1 to 10000000, not '%s'\n",
                n_arg);
        return 2;
    }
    if (size_arg && (!parse_ll(size_arg, &size) || size < MRG_PHANTOM_MIN_SIZE ||
                     size > MRG_PHANTOM_MAX_SIZE)) {
        fprintf(stderr, "mrg phantoms: --size must be a whole number from %d to %d, not '%s'\n",
                MRG_PHANTOM_MIN_SIZE, MRG_PHANTOM_MAX_SIZE, size_arg);
        return 2;
    }
    if (seed_arg && (!parse_ll(seed_arg, &seed) || seed < 0)) {
        fprintf(stderr, "mrg phantoms: --seed must be a non-negative whole number, not '%s'\n",
                seed_arg);
        return 2;
    }
    if (out_dir_guard("phantoms", out, force, NULL, 0)) return 2;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    mrg_phantom_summary sum;
    mrg_status st = out_phantoms(out, (int)n, (uint64_t)seed, (int)size, &sum);
    if (st != MRG_OK) {
        fprintf(stderr, "mrg phantoms: %s\n", mrg_last_error());
        return mrg_status_exit_code(st);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    printf("wrote %lld studies (%d train, %d val, %d test), %lldx%lld px, to %s in %.2f s\n", n,
           sum.n_train, sum.n_val, sum.n_test, size, size, out, secs);
    printf("normal studies: %d\n", sum.n_normal);
    for (int f = 0; f < MRG_N_FINDINGS; f++)
        printf("%-24s %d\n", mrg_finding_name((mrg_finding)f), sum.positives[f]);
    return 0;
}

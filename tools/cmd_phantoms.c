/* mrg phantoms: renders a synthetic two-view chest X-ray data set with
 * IU-style reports in the R2Gen layout (lib/include/mrg/phantom.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "opts.h"
#include "mrg/clock.h"
#include "mrg/limits.h"
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
            "  --out DIR   the data set directory, replaced atomically; it must be new,\n"
            "              empty or an earlier output of `mrg phantoms` (DIR/.mrg-output)\n"
            "  --force     write into another non-empty DIR anyway (replaces what\n"
            "              phantoms writes, keeps the rest)\n"
            "  --n N       studies, 1..10000000\n"
            "  --seed S    0..2^64-1 (default 1)\n"
            "  --size PX   image side, %d..%d (default %d)\n\n"
            "Output (the R2Gen layout, split 80/10/10 into train/val/test):\n"
            "  DIR/annotation.json         {\"train\": [{\"id\", \"report\", \"image_path\",\n"
            "                              \"split\", \"labels\"}, ...], \"val\": [...], \"test\": "
            "[...]}\n"
            "  DIR/images/<id>/0.png       frontal view\n"
            "  DIR/images/<id>/1.png       lateral view\n\n"
            "The same --seed gives byte-identical files.\n",
            MRG_PHANTOM_DEFAULT_SIZE, MRG_PHANTOM_MIN_SIZE, MRG_PHANTOM_MAX_SIZE, MRG_PHANTOM_DEFAULT_SIZE);
    return code;
}

int cmd_phantoms(int argc, char **argv) {
    const char *out = NULL;
    int n = 0, size = MRG_PHANTOM_DEFAULT_SIZE;
    uint64_t seed = 1;
    bool force = false;
    opt_spec specs[] = {
        OPT_STRING("--out", &out),
        OPT_INTEGER("--n", &n, 1, MRG_MAX_STUDIES),
        OPT_SEED("--seed", &seed),
        OPT_INTEGER("--size", &size, MRG_PHANTOM_MIN_SIZE, MRG_PHANTOM_MAX_SIZE),
        OPT_SET("--force", &force),
    };
    int rc = opts_parse("phantoms", argc, argv, specs, OPTS_COUNT(specs));
    if (rc) return rc == 1 ? usage(0) : rc;
    if ((rc = opts_require("phantoms", specs, OPTS_COUNT(specs), "--out", "--n", NULL))) return rc;
    if (out_dir_guard("phantoms", out, force, NULL, 0)) return 2;
    double t0 = mrg_now_s();
    mrg_phantom_summary sum;
    mrg_status st = out_phantoms(out, n, seed, size, &sum);
    if (st != MRG_OK) {
        fprintf(stderr, "mrg phantoms: %s\n", mrg_last_error());
        return mrg_status_exit_code(st);
    }
    double secs = mrg_now_s() - t0;
    printf("wrote %d studies (%d train, %d val, %d test), %dx%d px, to %s in %.2f s\n", n,
           sum.n_train, sum.n_val, sum.n_test, size, size, out, secs);
    printf("normal studies: %d\n", sum.n_normal);
    for (int f = 0; f < MRG_N_FINDINGS; f++)
        printf("%-24s %d\n", mrg_finding_name((mrg_finding)f), sum.positives[f]);
    return 0;
}

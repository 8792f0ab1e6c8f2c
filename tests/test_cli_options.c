/* Every command's --help exits 0 on stdout and writes nothing, and good
 * values in both the --name value and --name=value forms are taken. The
 * bad command lines (exit 2 and a message naming the option and its range)
 * are rows of the catalogue, test_cli_catalogue.c. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

static int entries(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

int main(void) {
    const char *bin = getenv("MRG_BIN");
    if (!bin) {
        fprintf(stderr, "MRG_BIN not set; skipping\n");
        return TEST_SKIP;
    }
    char tmp[] = "/tmp/mrg_test_cli_options_XXXXXX";
    CHECK(mkdtemp(tmp) != NULL);
    char work[128], err_path[160];
    snprintf(work, sizeof work, "%s/work", tmp);
    snprintf(err_path, sizeof err_path, "%s/stderr", tmp);
    CHECK(mkdir(work, 0755) == 0);
    static char out[1 << 16];
    char cmd[4096];
    /* --help: exit 0, on stdout, for every command and bench mode */
    static const char *const helps[] = {"", "info", "tokenize", "eval", "toy-train", "vit", "lm",
                                        "phantoms", "pretrain-lm", "pretrain-vit", "train",
                                        "generate", "demo", "bench", "bench gemm", "bench lm",
                                        "bench step", "bench vit", "bench bandwidth"};
    for (size_t i = 0; i < sizeof helps / sizeof helps[0]; i++) {
        snprintf(cmd, sizeof cmd, "cd '%s' && '%s' %s --help 2>'%s'", work, bin, helps[i], err_path);
        int rc = test_run_cmd(cmd, out, sizeof out);
        char *err = test_read_file(err_path, NULL);
        CHECK(rc == 0 && strstr(out, "usage: mrg") != NULL && err && !err[0]);
        if (rc != 0 || !strstr(out, "usage: mrg")) fprintf(stderr, "  mrg %s --help: exit %d\n", helps[i], rc);
        free(err);
    }
    CHECK(entries(work) == 0);

    /* good values are taken, in both forms (and 0 where 0 is in range) */
    snprintf(cmd, sizeof cmd, "'%s' phantoms --out=%s/ok --n=3 --size 48 --seed=0 2>&1", bin, tmp);
    CHECK(test_run_cmd(cmd, out, sizeof out) == 0 && strstr(out, "wrote 3 studies") != NULL);
    snprintf(cmd, sizeof cmd, "%s/ok/annotation.json", tmp);
    CHECK(access(cmd, F_OK) == 0);

    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    CHECK(system(cmd) == 0);
    return test_finish("cli_options");
}

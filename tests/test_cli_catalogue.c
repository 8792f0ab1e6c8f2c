/* The catalogue of bad input (issue 16): every row of cli_catalogue_rows.h
 * runs the real `mrg` binary once and must
 *   - exit with the row's code,
 *   - print the row's piece of message on stderr (and nothing on stdout
 *     when it exits 2, the code of refused input),
 *   - leave every file that existed before it as it was (same size, mtime
 *     and inode: nothing modified, replaced or deleted) and add no file
 *     anywhere in the scratch tree (a refused or failed command leaves no
 *     half-written output).
 * The fixtures are made once in a scratch directory: a phantom dataset, the
 * golden tiny LM, a trained micro run with and without a best checkpoint,
 * eval files and the golden checkpoints; each row runs in its own empty
 * directory, where its setup (a shell command: a truncated copy, garbage
 * bytes, a wrong JSON type, ...) may first prepare the mutated input.
 * MRG_CATALOGUE_VERBOSE=1 prints every row's exit code and stderr. */
#define _GNU_SOURCE
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

/* One case. In setup and args, @ stands for the fixture directory and ^
 * for tests/golden; both run through sh in the row's empty directory. An
 * args that starts with "=VAR=value " runs mrg with that variable set. */
typedef struct catalogue_row {
    const char *setup; /* NULL: none */
    const char *args;  /* after `mrg` */
    int exit;
    const char *want; /* on stderr */
} catalogue_row;

#include "cli_catalogue_rows.h"

/* The fixtures, made with the binary under test (fast: a few tenths of a
 * second in all). */
static const char *const fixture_steps[] = {
    "cp -r ^/model/lm lm && cp ^/llama/l2c_mha_cls.bin l2c.bin && cp -r ^/llama/hf_mha_f32 hf",
    "$MRG phantoms --out ph --n 8 --size 32 > /dev/null",
    "$MRG train --data ph --preset micro --lm lm --out run --epochs 1 --batch 2 --eval-max 1 "
    "--device cpu > /dev/null",
    "$MRG train --data ph --preset micro --lm lm --out nobest --max-steps 1 --batch 2 --no-eval "
    "--device cpu > /dev/null",
    "printf '{\"id\": \"a\", \"report\": \"no effusion.\"}\\n{\"id\": \"b\", \"report\": "
    "\"heart normal.\"}\\n' > pred.jsonl && cp pred.jsonl ref.jsonl",
    "mkdir empty && mkdir mine && echo 'my thesis' > mine/thesis.txt",
};

/* ---- the files of the scratch tree ------------------------------------- */

typedef struct file_state {
    char *path;
    mode_t mode;
    off_t size;
    ino_t ino;
    struct timespec mtime;
} file_state;

static file_state *snap;
static int n_snap, cap_snap;

static int record(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)flag;
    (void)ftw;
    if (n_snap == cap_snap) {
        cap_snap = cap_snap ? 2 * cap_snap : 256;
        snap = realloc(snap, sizeof *snap * (size_t)cap_snap);
        if (!snap) abort();
    }
    file_state *s = &snap[n_snap++];
    s->path = strdup(path);
    s->mode = sb->st_mode;
    s->size = sb->st_size;
    s->ino = sb->st_ino;
    s->mtime = sb->st_mtim;
    return 0;
}

static void snapshot(const char *root, file_state **out, int *n) {
    snap = NULL;
    n_snap = cap_snap = 0;
    nftw(root, record, 16, FTW_PHYS);
    *out = snap;
    *n = n_snap;
}

static void snapshot_free(file_state *s, int n) {
    for (int i = 0; i < n; i++) free(s[i].path);
    free(s);
}

static const file_state *find(const file_state *s, int n, const char *path) {
    for (int i = 0; i < n; i++)
        if (!strcmp(s[i].path, path)) return &s[i];
    return NULL;
}

/* Every file of before is unchanged in after (directories need only still
 * exist), and after holds nothing new. Names what differs. */
static bool same_files(const file_state *before, int nb, const file_state *after, int na) {
    bool ok = true;
    for (int i = 0; i < nb; i++) {
        const file_state *b = &before[i], *a = find(after, na, b->path);
        if (!a) {
            fprintf(stderr, "    removed: %s\n", b->path);
            ok = false;
        } else if (!S_ISDIR(b->mode) &&
                   (a->mode != b->mode || a->size != b->size || a->ino != b->ino ||
                    a->mtime.tv_sec != b->mtime.tv_sec || a->mtime.tv_nsec != b->mtime.tv_nsec)) {
            fprintf(stderr, "    modified: %s\n", b->path);
            ok = false;
        }
    }
    for (int i = 0; i < na; i++)
        if (!find(before, nb, after[i].path)) {
            fprintf(stderr, "    written: %s\n", after[i].path);
            ok = false;
        }
    return ok;
}

/* ---- running rows -------------------------------------------------------- */

/* in with @ → fx and ^ → golden. */
static void expand(const char *in, const char *fx, const char *golden, char *out, size_t cap) {
    size_t n = 0;
    for (; *in && n + 1 < cap; in++) {
        const char *sub = *in == '@' ? fx : *in == '^' ? golden : NULL;
        if (sub) n += (size_t)snprintf(out + n, cap - n, "%s", sub);
        else out[n++] = *in;
        if (n >= cap) n = cap - 1;
    }
    out[n] = 0;
}

int main(void) {
    const char *bin = getenv("MRG_BIN");
    if (!bin) {
        fprintf(stderr, "MRG_BIN not set; skipping\n");
        return TEST_SKIP;
    }
    bool verbose = getenv("MRG_CATALOGUE_VERBOSE") != NULL;
    char root[] = "/tmp/mrg_test_cli_catalogue_XXXXXX";
    CHECK(mkdtemp(root) != NULL);
    char fx[128], work[128], err_path[128], golden[1024];
    snprintf(fx, sizeof fx, "%s/fx", root);
    snprintf(work, sizeof work, "%s/case", root);
    snprintf(err_path, sizeof err_path, "%s/stderr", root);
    snprintf(golden, sizeof golden, "%s", test_golden_path(""));
    size_t gl = strlen(golden);
    if (gl && golden[gl - 1] == '/') golden[gl - 1] = 0;
    CHECK(mkdir(fx, 0755) == 0);

    static char out[1 << 16];
    char cmd[8192], exp[4096];
    setenv("MRG", bin, 1);
    for (size_t i = 0; i < sizeof fixture_steps / sizeof fixture_steps[0]; i++) {
        expand(fixture_steps[i], fx, golden, exp, sizeof exp);
        snprintf(cmd, sizeof cmd, "cd '%s' && { %s ; } 2>&1", fx, exp);
        int rc = test_run_cmd(cmd, out, sizeof out);
        CHECK(rc == 0);
        if (rc != 0) {
            fprintf(stderr, "  fixture: %s\n    exit %d: %s\n", exp, rc, out);
            return test_finish("cli_catalogue");
        }
    }

    char args[4096], setup[4096], want[1024];
    int n_rows = (int)(sizeof rows / sizeof rows[0]);
    for (int i = 0; i < n_rows; i++) {
        const catalogue_row *r = &rows[i];
        snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir '%s'", work, work);
        CHECK(system(cmd) == 0);
        if (r->setup) {
            expand(r->setup, fx, golden, setup, sizeof setup);
            snprintf(cmd, sizeof cmd, "cd '%s' && { %s ; } 2>&1", work, setup);
            int rc = test_run_cmd(cmd, out, sizeof out);
            CHECK(rc == 0);
            if (rc != 0) {
                fprintf(stderr, "  row %d setup: %s\n    exit %d: %s\n", i + 1, setup, rc, out);
                continue;
            }
        }
        const char *a = r->args, *env = "";
        char env_buf[128] = "";
        if (a[0] == '=') { /* "=VAR=value args": an environment variable */
            const char *sp = strchr(a, ' ');
            snprintf(env_buf, sizeof env_buf, "%.*s ", (int)(sp - a - 1), a + 1);
            env = env_buf;
            a = sp + 1;
        }
        expand(a, fx, golden, args, sizeof args);
        expand(r->want, fx, golden, want, sizeof want);
        file_state *before, *after;
        int nb, na;
        snapshot(root, &before, &nb);
        snprintf(cmd, sizeof cmd, "cd '%s' && %s'%s' %s 2>'%s'", work, env, bin, args, err_path);
        int rc = test_run_cmd(cmd, out, sizeof out);
        char *err_text = test_read_file(err_path, NULL);
        const char *err = err_text ? err_text : "";
        unlink(err_path);
        snapshot(root, &after, &na);
        bool ok_rc = rc == r->exit, ok_msg = strstr(err, want) != NULL,
             ok_out = r->exit != 2 || out[0] == 0,
             ok_files = same_files(before, nb, after, na);
        snapshot_free(before, nb);
        snapshot_free(after, na);
        CHECK(ok_rc && ok_msg && ok_out && ok_files);
        if (verbose || !ok_rc || !ok_msg || !ok_out || !ok_files)
            fprintf(stderr, "%s row %d: mrg %s\n    exit %d (want %d), stderr \"%.400s\"%s%.200s%s\n",
                    ok_rc && ok_msg && ok_out && ok_files ? "  " : "FAIL", i + 1, args, rc, r->exit, err,
                    out[0] ? ", stdout \"" : "", out, out[0] ? "\"" : "");
        free(err_text);
    }
    fprintf(stderr, "%d rows\n", n_rows);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    CHECK(system(cmd) == 0);
    return test_finish("cli_catalogue");
}

/* Safe outputs and content hashes (mrg/outputs.h, mrg/content_hash.h):
 *   - a file hashes as its bytes do, across the reader's chunk boundary;
 *     any changed byte changes the hash; an LM directory's hash covers its
 *     config and safetensors (names and contents), nothing else;
 *   - mrg_path_within on existing and not-yet-existing paths, "..",
 *     symbolic links and name prefixes;
 *   - the output checks: absent, empty, own, foreign (refused unless
 *     force), another command's, a file; inputs inside outputs and back;
 *   - commits: a swap when every old entry is rewritten, else a merge that
 *     keeps the other entries and replaces (never follows) links;
 *   - the clean-up removes temporaries of dead processes only, by their
 *     exact names, and repairs an interrupted swap;
 *   - output files: written atomically, an earlier file untouched when a
 *     write is abandoned; a device written directly, never replaced, a
 *     full one an error with the reason. */
#define _GNU_SOURCE
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mrg/content_hash.h"
#include "mrg/outputs.h"
#include "core/files.h"
#include "mrg/checkpoint.h"
#include "mrg/train_run.h"
#include "mrg/trainer.h"
#include "testutil.h"

static char root[256];

static const char *at(const char *rel) {
    static char p[8][600];
    static int k;
    k = (k + 1) % 8;
    snprintf(p[k], sizeof p[k], "%s/%s", root, rel);
    return p[k];
}

static bool put(const char *rel, const void *data, size_t n) {
    FILE *f = fopen(at(rel), "wb");
    if (!f) return false;
    bool ok = fwrite(data, 1, n, f) == n;
    return fclose(f) == 0 && ok;
}

static bool put_text(const char *rel, const char *text) { return put(rel, text, strlen(text)); }

static bool text_is(const char *rel, const char *text) {
    char buf[256] = {0};
    FILE *f = fopen(at(rel), "rb");
    if (!f) return false;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    return n == strlen(text) && !memcmp(buf, text, n);
}

static bool is(const char *rel, mode_t type) {
    struct stat sb;
    return lstat(at(rel), &sb) == 0 && (sb.st_mode & S_IFMT) == type;
}

static bool gone(const char *rel) {
    struct stat sb;
    return lstat(at(rel), &sb) != 0;
}

static void test_hash(void) {
    /* sizes around the 32-byte blocks and the 1 MiB read chunks */
    size_t sizes[] = {0, 1, 31, 32, 33, 100, (1u << 20) - 1, 1u << 20, (1u << 20) + 37};
    unsigned char *buf = malloc((1u << 20) + 64);
    CHECK(buf != NULL);
    if (!buf) return;
    for (size_t i = 0; i < (1u << 20) + 64; i++) buf[i] = (unsigned char)(i * 131u + (i >> 9));
    uint64_t prev = 0;
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        uint64_t hf = 0, hb = mrg_hash_bytes(buf, sizes[k]);
        CHECK(put("blob", buf, sizes[k]));
        CHECK_OK(mrg_hash_file(at("blob"), &hf));
        CHECK(hf == hb);
        CHECK(hb != prev); /* the length counts */
        prev = hb;
    }
    /* one changed bit anywhere changes the hash */
    uint64_t h0 = mrg_hash_bytes(buf, 1000);
    for (size_t pos = 0; pos < 1000; pos += 97) {
        buf[pos] ^= 4;
        CHECK(mrg_hash_bytes(buf, 1000) != h0);
        buf[pos] ^= 4;
    }
    free(buf);
    char hex[17];
    uint64_t back = 0;
    mrg_hash_hex(0x0123456789abcdefull, hex);
    CHECK(!strcmp(hex, "0123456789abcdef") && mrg_hash_parse(hex, &back) && back == 0x0123456789abcdefull);
    CHECK(!mrg_hash_parse("0123", &back) && !mrg_hash_parse("0123456789abcdeg", &back));
    CHECK(mrg_hash_file(at("no-such-file"), &back) == MRG_ERR_NOT_FOUND);

    /* an LM directory: config.json and safetensors count, other files not */
    CHECK_OK(mrg_mkdirs(at("lm")));
    CHECK(put_text("lm/config.json", "{\"dim\": 8}") && put_text("lm/model.safetensors", "weights"));
    uint64_t a = 0, b = 0;
    CHECK_OK(mrg_hash_lm(at("lm"), &a));
    CHECK(put_text("lm/tokenizer.model", "pieces") && put_text("lm/.mrg-output", "{}") && put_text("lm/notes.txt", "x"));
    CHECK_OK(mrg_hash_lm(at("lm"), &b));
    CHECK(a == b);
    CHECK(put_text("lm/model.safetensors", "weightz"));
    CHECK_OK(mrg_hash_lm(at("lm"), &b));
    CHECK(a != b);
    CHECK(put_text("lm/model.safetensors", "weights") && rename(at("lm/model.safetensors"), at("lm/model-2.safetensors")) == 0);
    CHECK_OK(mrg_hash_lm(at("lm"), &b));
    CHECK(a != b); /* names count too */
    CHECK(mrg_hash_lm(at("no-lm"), &b) == MRG_ERR_NOT_FOUND);
}

static void test_within(void) {
    CHECK_OK(mrg_mkdirs(at("w/data/images")));
    CHECK_OK(mrg_mkdirs(at("w/database")));
    CHECK(mrg_path_within(at("w/data"), at("w/data")));
    CHECK(mrg_path_within(at("w/data/images"), at("w/data")));
    CHECK(mrg_path_within(at("w/data/new/deeper"), at("w/data")));      /* does not exist yet */
    CHECK(mrg_path_within(at("w/x/../data/new"), at("w/data/")));       /* ".." through a missing dir */
    CHECK(!mrg_path_within(at("w/database"), at("w/data")));            /* a name prefix is not inside */
    CHECK(!mrg_path_within(at("w/data"), at("w/data/images")));
    CHECK(!mrg_path_within(at("w/data/../database/x"), at("w/data")));
    CHECK(symlink(at("w/data"), at("w/link")) == 0);
    CHECK(mrg_path_within(at("w/link/out"), at("w/data")));             /* through a symbolic link */
    /* relative to the working directory */
    char cwd[512];
    CHECK(getcwd(cwd, sizeof cwd) != NULL);
    CHECK(chdir(at("w")) == 0);
    CHECK(mrg_path_within("data/images", at("w/data")) && mrg_path_within(at("w/data"), "./data"));
    CHECK(chdir(cwd) == 0);
}

static void test_checks(void) {
    bool ours = true;
    char data[600];
    snprintf(data, sizeof data, "%s", at("w/data"));
    const mrg_named_path in[] = {{"--data", data}, {"--lm", NULL}};
    CHECK_OK(mrg_output_dir_check("cmd", at("c/absent"), false, in, 2, &ours));
    CHECK(!ours);
    CHECK_OK(mrg_mkdirs(at("c/empty")));
    CHECK_OK(mrg_output_dir_check("cmd", at("c/empty"), false, in, 2, NULL));
    CHECK_OK(mrg_mkdirs(at("c/mine")));
    CHECK(put_text("c/mine/thesis.txt", "mine"));
    CHECK(mrg_output_dir_check("cmd", at("c/mine"), false, in, 2, NULL) == MRG_ERR_INVALID_ARG);
    CHECK(strstr(mrg_last_error(), "--force") != NULL);
    CHECK_OK(mrg_output_dir_check("cmd", at("c/mine"), true, in, 2, &ours));
    CHECK(!ours);
    CHECK_OK(mrg_output_mark(at("c/mine"), "cmd"));
    CHECK(mrg_output_is_ours(at("c/mine"), "cmd") && !mrg_output_is_ours(at("c/mine"), "other"));
    CHECK_OK(mrg_output_dir_check("cmd", at("c/mine"), false, in, 2, &ours));
    CHECK(ours);
    CHECK(mrg_output_dir_check("other", at("c/mine"), false, in, 2, NULL) == MRG_ERR_INVALID_ARG);
    CHECK(mrg_output_dir_check("cmd", at("c/mine/thesis.txt"), true, in, 2, NULL) == MRG_ERR_INVALID_ARG);
    /* inputs: out is one, lies inside one, or holds one */
    CHECK(mrg_output_dir_check("cmd", at("w/data"), true, in, 2, NULL) == MRG_ERR_INVALID_ARG);
    CHECK(mrg_output_dir_check("cmd", at("w/data/out"), true, in, 2, NULL) == MRG_ERR_INVALID_ARG);
    CHECK(mrg_output_dir_check("cmd", at("w"), true, in, 2, NULL) == MRG_ERR_INVALID_ARG);
    CHECK(strstr(mrg_last_error(), "--data") != NULL);
    /* files */
    CHECK_OK(mrg_output_file_check("cmd", at("c/new.jsonl"), false, NULL, in, 2));
    CHECK(put_text("c/empty.jsonl", ""));
    CHECK_OK(mrg_output_file_check("cmd", at("c/empty.jsonl"), false, NULL, in, 2));
    CHECK(mrg_output_file_check("cmd", at("c/mine/thesis.txt"), false, NULL, in, 2) == MRG_ERR_INVALID_ARG);
    CHECK_OK(mrg_output_file_check("cmd", at("c/mine/thesis.txt"), true, NULL, in, 2));
    CHECK(mrg_output_file_check("cmd", at("c/mine"), true, NULL, in, 2) == MRG_ERR_INVALID_ARG);
    CHECK(mrg_output_file_check("cmd", at("w/data/preds.jsonl"), true, NULL, in, 2) == MRG_ERR_INVALID_ARG);
}

/* A finished temporary for out holding a.txt ("new") and sub/b.txt. */
static bool stage(const char *out, char *tmp, size_t cap) {
    char p[700];
    if (mrg_ckpt_begin(at(out), tmp, cap)) return false;
    snprintf(p, sizeof p, "%s/a.txt", tmp);
    FILE *f = fopen(p, "w");
    if (!f) return false;
    fputs("new", f);
    fclose(f);
    snprintf(p, sizeof p, "%s/sub", tmp);
    if (mkdir(p, 0755)) return false;
    snprintf(p, sizeof p, "%s/sub/b.txt", tmp);
    f = fopen(p, "w");
    if (!f) return false;
    fputs("new b", f);
    return fclose(f) == 0;
}

static void test_commit(void) {
    char tmp[700];
    /* into nothing */
    CHECK(stage("m/out", tmp, sizeof tmp) == false); /* the parent must exist */
    CHECK_OK(mrg_mkdirs(at("m")));
    CHECK(stage("m/out", tmp, sizeof tmp));
    CHECK_OK(mrg_output_commit(tmp, at("m/out")));
    CHECK(text_is("m/out/a.txt", "new") && text_is("m/out/sub/b.txt", "new b") && gone(tmp));
    /* every old entry rewritten: one swap, the old tree gone whole */
    CHECK(put_text("m/out/sub/old.txt", "old"));
    CHECK(stage("m/out", tmp, sizeof tmp));
    CHECK_OK(mrg_output_commit(tmp, at("m/out")));
    CHECK(text_is("m/out/a.txt", "new") && gone("m/out/sub/old.txt") && gone(tmp));
    /* other entries: merged; theirs kept, links replaced and not followed */
    CHECK(put_text("m/out/thesis.txt", "mine") && put_text("m/out/sub/notes.txt", "notes"));
    CHECK(put_text("m/target.txt", "target") && !unlink(at("m/out/a.txt")) &&
          symlink(at("m/target.txt"), at("m/out/a.txt")) == 0);
    CHECK(stage("m/out", tmp, sizeof tmp));
    CHECK_OK(mrg_output_commit(tmp, at("m/out")));
    CHECK(text_is("m/out/thesis.txt", "mine") && text_is("m/out/sub/notes.txt", "notes"));
    CHECK(is("m/out/a.txt", S_IFREG) && text_is("m/out/a.txt", "new") && text_is("m/target.txt", "target"));
    CHECK(text_is("m/out/sub/b.txt", "new b") && gone(tmp));
    /* a directory of ours where the user has a file: an error, their file kept */
    CHECK(mrg_rm_tree(at("m/out/sub")) == MRG_OK && put_text("m/out/sub", "a file"));
    CHECK(stage("m/out", tmp, sizeof tmp));
    CHECK(mrg_output_commit(tmp, at("m/out")) != MRG_OK);
    CHECK(text_is("m/out/sub", "a file"));
    mrg_rm_tree(tmp);
}

static void test_clean(void) {
    CHECK_OK(mrg_mkdirs(at("k/last")));
    /* a pid that has exited */
    pid_t child = fork();
    if (child == 0) _exit(0);
    CHECK(child > 0 && waitpid(child, NULL, 0) == child);
    char dead[64], dead_best[64], live[64];
    snprintf(dead, sizeof dead, "k/.tmp-last-%ld-0", (long)child);
    snprintf(dead_best, sizeof dead_best, "k/.tmp-best-%ld-2", (long)child);
    snprintf(live, sizeof live, "k/.tmp-last-%ld-1", (long)getppid()); /* our parent runs */
    const char *keep[] = {"k/.tmp-last-x-1", "k/.tmp-last-12-", "k/.tmp-lastx-1-1", live};
    CHECK_OK(mrg_mkdirs(at(dead)));
    CHECK(put_text("k/.tmp-last-1-1", "a file, not our directory"));
    for (int i = 0; i < 4; i++) CHECK_OK(mrg_mkdirs(at(keep[i])));
    CHECK_OK(mrg_mkdirs(at(dead_best)));
    CHECK_OK(mrg_ckpt_clean(at("k/last")));
    CHECK(gone(dead) && !gone(dead_best)); /* only last's */
    for (int i = 0; i < 4; i++) CHECK(!gone(keep[i]));
    CHECK(!gone("k/.tmp-last-1-1"));
    /* an interrupted swap: .old-last put back when last is missing, removed beside it */
    CHECK(rename(at("k/last"), at("k/.old-last")) == 0);
    CHECK_OK(mrg_ckpt_clean(at("k/last/")));
    CHECK(is("k/last", S_IFDIR) && gone("k/.old-last"));
    CHECK_OK(mrg_mkdirs(at("k/.old-last")));
    CHECK_OK(mrg_ckpt_clean(at("k/last")));
    CHECK(is("k/last", S_IFDIR) && gone("k/.old-last"));
}

static void test_files(void) {
    char tmp[700];
    CHECK_OK(mrg_mkdirs(at("f")));
    CHECK(put_text("f/preds.jsonl", "old\n"));
    mrg_atomic_file af;
    if (mrg_atomic_begin(&af, at("f/preds.jsonl"), true) != MRG_OK) {
        CHECK(!"mrg_atomic_begin");
        return;
    }
    snprintf(tmp, sizeof tmp, "%s", af.tmp);
    fputs("half", af.f);
    CHECK(text_is("f/preds.jsonl", "old\n")); /* nothing seen before the rename */
    mrg_atomic_abort(&af);
    struct stat sb;
    CHECK(text_is("f/preds.jsonl", "old\n") && lstat(tmp, &sb) != 0);
    if (mrg_atomic_begin(&af, at("f/preds.jsonl"), true) != MRG_OK) {
        CHECK(!"mrg_atomic_begin");
        return;
    }
    snprintf(tmp, sizeof tmp, "%s", af.tmp);
    fputs("new\n", af.f);
    CHECK_OK(mrg_atomic_commit(&af));
    CHECK(text_is("f/preds.jsonl", "new\n") && lstat(tmp, &sb) != 0);
    /* a temporary that a killed process left is removed the next time */
    CHECK(put_text("f/.preds.jsonl.tmp-999999999", "junk"));
    CHECK_OK(mrg_write_file_atomic(at("f/preds.jsonl"), "again\n", 6, false));
    CHECK(text_is("f/preds.jsonl", "again\n") && gone("f/.preds.jsonl.tmp-999999999"));
    /* a device is written as it is, never replaced */
    CHECK_OK(mrg_output_file_check("cmd", "/dev/null", false, NULL, NULL, 0));
    if (mrg_atomic_begin(&af, "/dev/null", true) == MRG_OK) {
        CHECK(af.tmp == NULL);
        fputs("x", af.f);
        CHECK_OK(mrg_atomic_commit(&af));
    }
    CHECK(stat("/dev/null", &sb) == 0 && S_ISCHR(sb.st_mode));
    /* a full disk is an error with the reason */
    if (mrg_atomic_begin(&af, "/dev/full", true) == MRG_OK) {
        fputs("x", af.f);
        CHECK(mrg_atomic_commit(&af) == MRG_ERR_IO);
        CHECK(strstr(mrg_last_error(), "cannot write /dev/full: No space left on device") != NULL);
    }
    CHECK(stat("/dev/full", &sb) == 0 && S_ISCHR(sb.st_mode));
}

int main(void) {
    snprintf(root, sizeof root, "/tmp/mrg_test_outputs_%ld", (long)getpid());
    if (mrg_mkdirs(root)) return 1;
    test_hash();
    test_within();
    test_checks();
    test_commit();
    test_clean();
    test_files();
    if (mrg_test_failures == 0) mrg_rm_tree(root);
    return test_finish("outputs");
}

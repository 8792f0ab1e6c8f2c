/* Sentencepiece tokenizer: the LLaMA-2 and stories260K models from
 * ../shared (skipped when absent), checked against known ids, against Python
 * sentencepiece on every IU X-Ray report (reference ids made at test time by
 * tools/ref/tokenizer_ref.py into a temporary file: the reports may not be
 * redistributed), and through the `mrg tokenize` command. */
#define _GNU_SOURCE
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mrg/tokenizer.h"
#include "testutil.h"

static char shared_models[4096], annotation[4096];

static bool ids_equal(const int32_t *a, int na, const int32_t *b, int nb) {
    return na == nb && (na == 0 || !memcmp(a, b, sizeof(int32_t) * (size_t)na));
}

static void check_encode(const mrg_tokenizer *tok, const char *text, bool bos, const int32_t *want,
                         int nwant) {
    int32_t *ids = NULL;
    int n = -1;
    CHECK_OK(mrg_tokenizer_encode(tok, text, bos, &ids, &n));
    bool ok = ids && ids_equal(ids, n, want, nwant);
    if (!ok) {
        fprintf(stderr, "  encode('%s'): got", text);
        for (int i = 0; i < n; i++) fprintf(stderr, " %d", (int)ids[i]);
        fprintf(stderr, "\n");
    }
    CHECK(ok);
    free(ids);
}

static void check_decode(const mrg_tokenizer *tok, const int32_t *ids, int n, const char *want) {
    char *s = mrg_tokenizer_decode(tok, ids, n);
    CHECK(s && !strcmp(s, want));
    if (s && strcmp(s, want)) fprintf(stderr, "  decode: got '%s' want '%s'\n", s, want);
    free(s);
}

static void test_errors(void) {
    mrg_clear_error();
    CHECK(mrg_tokenizer_load("/nonexistent/tokenizer.model") == NULL);
    CHECK(strstr(mrg_last_error(), "/nonexistent/tokenizer.model") != NULL);
    char path[] = "/tmp/mrg_tok_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0) return;
    CHECK(write(fd, "this is not a protobuf \xff\xff\xff\x01", 27) == 27);
    close(fd);
    mrg_clear_error();
    CHECK(mrg_tokenizer_load(path) == NULL);
    CHECK(strstr(mrg_last_error(), path) != NULL);
    unlink(path);
    /* an empty file is not a model either */
    fd = mkstemp(path);
    if (fd >= 0) close(fd);
    CHECK(mrg_tokenizer_load(path) == NULL);
    unlink(path);
}

static void test_llama2(const mrg_tokenizer *tok) {
    CHECK(mrg_tokenizer_vocab_size(tok) == 32000);
    CHECK(mrg_tokenizer_bos(tok) == 1 && mrg_tokenizer_eos(tok) == 2 &&
          mrg_tokenizer_unk(tok) == 0 && mrg_tokenizer_pad(tok) == -1);
    const int32_t heart[] = {1, 450, 5192, 338, 4226, 297, 2159, 29889};
    check_encode(tok, "The heart is normal in size.", false, heart + 1, 7);
    check_encode(tok, "The heart is normal in size.", true, heart, 8);
    check_encode(tok, "", false, NULL, 0);
    const int32_t bos_only[] = {1};
    check_encode(tok, "", true, bos_only, 1);
    /* decode drops BOS/EOS */
    check_decode(tok, heart, 8, "The heart is normal in size.");
    const int32_t with_eos[] = {1, 450, 5192, 2};
    check_decode(tok, with_eos, 4, "The heart");
    check_decode(tok, NULL, 0, "");
    const int32_t bad[] = {450, 32000};
    mrg_clear_error();
    CHECK(mrg_tokenizer_decode(tok, bad, 2) == NULL);
    CHECK(strstr(mrg_last_error(), "32000") != NULL);
    const int32_t neg[] = {-1};
    CHECK(mrg_tokenizer_decode(tok, neg, 1) == NULL);

    /* pieces */
    CHECK(mrg_tokenizer_piece(tok, 450) &&
          !strcmp(mrg_tokenizer_piece(tok, 450), "\xe2\x96\x81The"));
    CHECK(mrg_tokenizer_piece(tok, 1) && !strcmp(mrg_tokenizer_piece(tok, 1), "<s>"));
    CHECK(mrg_tokenizer_piece(tok, 0) && !strcmp(mrg_tokenizer_piece(tok, 0), "<unk>"));
    CHECK(mrg_tokenizer_piece(tok, 32000) == NULL && mrg_tokenizer_piece(tok, -1) == NULL);
    CHECK(mrg_tokenizer_piece_id(tok, "\xe2\x96\x81The") == 450);
    CHECK(mrg_tokenizer_piece_id(tok, "<unk>") == 0);
    CHECK(mrg_tokenizer_piece_id(tok, "no such piece at all") == -1);
    CHECK(mrg_tokenizer_piece_id(tok, "<0x0A>") == 13);
    CHECK(mrg_tokenizer_is_control(tok, 1) && mrg_tokenizer_is_control(tok, 2) &&
          !mrg_tokenizer_is_control(tok, 450));

    /* byte fallback: an emoji has no piece, so it becomes its UTF-8 bytes */
    const int32_t emoji[] = {29871, 243, 162, 155, 131, 904, 13};
    check_encode(tok, "\xf0\x9f\x98\x80 \xc3\xa9\n", false, emoji, 7);
    check_decode(tok, emoji, 7, "\xf0\x9f\x98\x80 \xc3\xa9\n");
    uint8_t byte = 0;
    CHECK(mrg_tokenizer_is_byte(tok, 243, &byte) && byte == 0xF0);
    CHECK(mrg_tokenizer_is_byte(tok, 13, &byte) && byte == '\n');
    CHECK(!mrg_tokenizer_is_byte(tok, 450, &byte));

    /* streaming text of single tokens reproduces the text */
    char buf[64], all[256] = "";
    for (int i = 0; i < 8; i++) {
        size_t n = mrg_tokenizer_token_text(tok, heart[i], buf, sizeof buf);
        CHECK(n == strlen(buf));
        strcat(all, buf);
    }
    CHECK(!strcmp(all, " The heart is normal in size."));
    all[0] = 0;
    for (int i = 0; i < 7; i++) {
        mrg_tokenizer_token_text(tok, emoji[i], buf, sizeof buf);
        strcat(all, buf);
    }
    CHECK(!strcmp(all, " \xf0\x9f\x98\x80 \xc3\xa9\n"));
    CHECK(mrg_tokenizer_token_text(tok, 99999, buf, sizeof buf) == 0 && buf[0] == 0);
}

static void test_tok512(const mrg_tokenizer *tok) {
    CHECK(mrg_tokenizer_vocab_size(tok) == 512);
    CHECK(mrg_tokenizer_bos(tok) == 1 && mrg_tokenizer_eos(tok) == 2 &&
          mrg_tokenizer_unk(tok) == 0);
    const int32_t once[] = {403, 407, 261, 378, 432, 383, 286, 261,
                            376, 298, 315, 421, 395, 317, 426};
    check_encode(tok, "Once upon a time, there was a little girl named Lily.", false, once, 15);
    check_decode(tok, once, 15, "Once upon a time, there was a little girl named Lily.");
    const int32_t emoji[] = {410, 243, 162, 155, 131, 410, 485, 13};
    check_encode(tok, "\xf0\x9f\x98\x80 \xc3\xa9\n", false, emoji, 8);
    check_decode(tok, emoji, 8, "\xf0\x9f\x98\x80 \xc3\xa9\n");
}

static int hexval(char c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Runs tools/ref/tokenizer_ref.py for model and compares every line. Returns
 * false when Python sentencepiece is unavailable (skipped). */
static bool compare_with_python(const mrg_tokenizer *tok, const char *model, const char *label) {
    char ref[4096];
    snprintf(ref, sizeof ref, "%s/../../tools/ref/tokenizer_ref.py", test_golden_path(""));
    char out[] = "/tmp/mrg_tokref_XXXXXX";
    int fd = mkstemp(out);
    CHECK(fd >= 0);
    if (fd < 0) return false;
    close(fd);
    const char *py = getenv("MRG_PYTHON");
    const char *cands[] = {py && *py ? py : "/usr/bin/python3", "python3"};
    int rc = -1;
    for (int c = 0; c < 2; c++) {
        char cmd[16384];
        snprintf(cmd, sizeof cmd, "'%s' '%s' --model '%s' --annotation '%s' --out '%s' 2>&1",
                 cands[c], ref, model, annotation, out);
        int st = system(cmd);
        rc = st == -1 || !WIFEXITED(st) ? -1 : WEXITSTATUS(st);
        if (rc == 0) break; /* 77: no sentencepiece module, 127: no python */
    }
    if (rc != 0) {
        unlink(out);
        fprintf(stderr,
                "  %s: Python sentencepiece unavailable (exit %d): IU X-Ray comparison "
                "skipped\n",
                label, rc);
        return false;
    }
    FILE *fp = fopen(out, "r");
    CHECK(fp != NULL);
    char *line = NULL;
    size_t cap = 0;
    int lines = 0, mismatches = 0, raw = 0;
    while (fp && getline(&line, &cap, fp) > 0) {
        char *kind = strtok(line, "\t"), *hex = strtok(NULL, "\t"), *ids = strtok(NULL, "\n");
        if (!kind || !hex) {
            mismatches++;
            continue;
        }
        size_t hl = strlen(hex);
        char *text = malloc(hl / 2 + 1);
        for (size_t i = 0; i + 1 < hl; i += 2)
            text[i / 2] = (char)(hexval(hex[i]) * 16 + hexval(hex[i + 1]));
        text[hl / 2] = 0;
        int32_t want[4096];
        int nw = 0;
        for (char *p = ids ? strtok(ids, " ") : NULL; p && nw < 4096; p = strtok(NULL, " "))
            want[nw++] = (int32_t)atoi(p);
        int32_t *got = NULL;
        int ng = 0;
        bool ok = mrg_tokenizer_encode(tok, text, false, &got, &ng) == MRG_OK &&
                  ids_equal(got, ng, want, nw);
        if (!ok && mismatches < 3) fprintf(stderr, "  %s mismatch (%s): '%s'\n", label, kind, text);
        mismatches += !ok;
        raw += !strcmp(kind, "raw");
        lines++;
        free(got);
        free(text);
    }
    free(line);
    if (fp) fclose(fp);
    unlink(out);
    fprintf(stderr,
            "  %s: %d texts (%d raw reports) compared with Python sentencepiece, %d "
            "mismatches\n",
            label, lines, raw, mismatches);
    CHECK(raw == 2955); /* 2069 train + 296 val + 590 test */
    CHECK(lines == 2 * raw);
    CHECK(mismatches == 0);
    return true;
}

/* `mrg tokenize` through the built command (MRG_BIN). */
static void test_cli(const char *model) {
    const char *bin = getenv("MRG_BIN");
    if (!bin || access(bin, X_OK) != 0) {
        fprintf(stderr, "  MRG_BIN not set or not executable: CLI checks skipped\n");
        return;
    }
    char cmd[8192], buf[4096];
    snprintf(cmd, sizeof cmd, "'%s' tokenize --tokenizer '%s' --bos 'The heart is normal in size.'",
             bin, model);
    FILE *p = popen(cmd, "r");
    CHECK(p && fgets(buf, sizeof buf, p));
    CHECK(!strcmp(buf, "1 450 5192 338 4226 297 2159 29889\n"));
    CHECK(p && pclose(p) == 0);
    snprintf(cmd, sizeof cmd,
             "printf 'The heart\\n\\nNo effusion.\\n' | '%s' tokenize --tokenizer '%s' -", bin,
             model);
    p = popen(cmd, "r");
    size_t n = p ? fread(buf, 1, sizeof buf - 1, p) : 0;
    buf[n] = 0;
    CHECK(!strcmp(buf, "450 5192\n\n1939 1801 3958 29889\n"));
    if (strcmp(buf, "450 5192\n\n1939 1801 3958 29889\n")) fprintf(stderr, "  got '%s'\n", buf);
    CHECK(p && pclose(p) == 0);
    snprintf(cmd, sizeof cmd, "'%s' tokenize --tokenizer '%s' --decode '1 450 5192 338 4226'", bin,
             model);
    p = popen(cmd, "r");
    CHECK(p && fgets(buf, sizeof buf, p));
    CHECK(!strcmp(buf, "The heart is normal\n"));
    CHECK(p && pclose(p) == 0);
    snprintf(cmd, sizeof cmd, "'%s' tokenize --tokenizer /nonexistent.model x 2>/dev/null", bin);
    int st = system(cmd);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 1);
    snprintf(cmd, sizeof cmd, "'%s' tokenize --tokenizer '%s' --decode '1 x' 2>/dev/null", bin,
             model);
    st = system(cmd);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 2);
}

int main(void) {
    test_errors();
    const char *shared = test_shared_dir();
    if (!shared) {
        fprintf(stderr, "../shared not found (MRG_SHARED): tokenizer model tests skipped\n");
        test_finish("tokenizer");
        return mrg_test_failures ? 1 : 77;
    }
    snprintf(annotation, sizeof annotation, "%s/data/iu_xray/annotation.json", shared);
    snprintf(shared_models, sizeof shared_models, "%s/models/llama2/tokenizer.model", shared);
    mrg_tokenizer *tok = mrg_tokenizer_load(shared_models);
    CHECK(tok != NULL);
    if (tok) {
        test_llama2(tok);
        if (access(annotation, R_OK) == 0) compare_with_python(tok, shared_models, "llama2");
        test_cli(shared_models);
        mrg_tokenizer_free(tok);
    }
    char tiny[4096];
    snprintf(tiny, sizeof tiny, "%s/models/stories260K/tok512.model", shared);
    tok = mrg_tokenizer_load(tiny);
    CHECK(tok != NULL);
    if (tok) {
        test_tok512(tok);
        if (access(annotation, R_OK) == 0) compare_with_python(tok, tiny, "tok512");
        mrg_tokenizer_free(tok);
    }
    return test_finish("tokenizer");
}

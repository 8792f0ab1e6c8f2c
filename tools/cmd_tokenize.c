/* mrg tokenize: text → token ids (or ids → text) with a sentencepiece model. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "mrg/mrg.h"
#include "mrg/tokenizer.h"

static void usage(FILE *out) {
    fprintf(out,
            "usage: mrg tokenize --tokenizer FILE [--bos] [--pieces] TEXT\n"
            "       mrg tokenize --tokenizer FILE [--bos] [--pieces] -\n"
            "       mrg tokenize --tokenizer FILE --decode \"1 2 3\"\n\n"
            "Encodes TEXT with a sentencepiece .model file and prints the ids separated by\n"
            "spaces. With TEXT '-' it reads standard input and prints one line of ids per\n"
            "input line. --bos prepends the model's BOS id; --pieces prints the pieces\n"
            "instead of the ids. --decode prints the text of the given ids (separated by\n"
            "spaces or commas).\n\n"
            "options:\n"
            "  --tokenizer FILE  sentencepiece model (e.g. tokenizer.model)\n"
            "  --bos             prepend BOS\n"
            "  --pieces          print pieces, not ids\n"
            "  --decode IDS      decode instead of encoding\n");
}

/* Prints one encoded line; returns false (message set) on error. */
static bool print_encoded(const mrg_tokenizer *tok, const char *text, bool bos, bool pieces) {
    int32_t *ids = NULL;
    int n = 0;
    if (mrg_tokenizer_encode(tok, text, bos, &ids, &n) != MRG_OK) return false;
    for (int i = 0; i < n; i++) {
        if (i) putchar(' ');
        if (pieces)
            fputs(mrg_tokenizer_piece(tok, ids[i]), stdout);
        else
            printf("%d", (int)ids[i]);
    }
    putchar('\n');
    free(ids);
    return true;
}

/* "1 2,3" → ids; returns the count, or -1 for a malformed list. */
static int parse_ids(const char *s, int32_t **out) {
    size_t cap = 16;
    int n = 0;
    int32_t *ids = malloc(cap * sizeof *ids);
    if (!ids) return -1;
    const char *p = s;
    for (;;) {
        while (*p == ' ' || *p == ',' || *p == '\t' || *p == '\n') p++;
        if (!*p) break;
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v < INT32_MIN || v > INT32_MAX ||
            (*end && *end != ' ' && *end != ',' && *end != '\t' && *end != '\n')) {
            free(ids);
            return -1;
        }
        if ((size_t)n == cap) {
            int32_t *b = realloc(ids, 2 * cap * sizeof *ids);
            if (!b) {
                free(ids);
                return -1;
            }
            ids = b;
            cap *= 2;
        }
        ids[n++] = (int32_t)v;
        p = end;
    }
    *out = ids;
    return n;
}

int cmd_tokenize(int argc, char **argv) {
    const char *model = NULL, *decode = NULL;
    bool bos = false, pieces = false;
    char *text = NULL;
    size_t text_len = 0;
    int rc = 0;
    bool only_text = false; /* after "--" */
    for (int i = 1; i < argc; i++) {
        if (!only_text && !strcmp(argv[i], "--")) {
            only_text = true;
        } else if (only_text) {
            goto add_text;
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            free(text);
            return 0;
        } else if (!strcmp(argv[i], "--tokenizer") && i + 1 < argc) {
            model = argv[++i];
        } else if (!strcmp(argv[i], "--decode") && i + 1 < argc) {
            decode = argv[++i];
        } else if (!strcmp(argv[i], "--bos")) {
            bos = true;
        } else if (!strcmp(argv[i], "--pieces")) {
            pieces = true;
        } else if (argv[i][0] == '-' && argv[i][1] && strcmp(argv[i], "--")) {
            fprintf(stderr, "mrg tokenize: unknown option '%s' (see mrg tokenize --help)\n",
                    argv[i]);
            free(text);
            return 2;
        } else {
        add_text:;
            /* several words are joined with spaces */
            size_t add = strlen(argv[i]);
            char *t = realloc(text, text_len + add + 2);
            if (!t) {
                free(text);
                fprintf(stderr, "mrg tokenize: out of memory\n");
                return 1;
            }
            text = t;
            if (text_len) text[text_len++] = ' ';
            memcpy(text + text_len, argv[i], add + 1);
            text_len += add;
        }
    }
    if (!model || (!decode && !text) || (decode && text)) {
        fprintf(stderr, "mrg tokenize: %s\n\n",
                !model   ? "--tokenizer FILE is required"
                : decode ? "give either TEXT or --decode, not both"
                         : "TEXT is required");
        usage(stderr);
        free(text);
        return 2;
    }
    mrg_tokenizer *tok = mrg_tokenizer_load(model);
    if (!tok) {
        fprintf(stderr, "mrg tokenize: %s\n", mrg_last_error());
        free(text);
        return 1;
    }
    if (decode) {
        int32_t *ids = NULL;
        int n = parse_ids(decode, &ids);
        if (n < 0) {
            fprintf(stderr, "mrg tokenize: --decode needs integer ids, got '%s'\n", decode);
            rc = 2;
        } else {
            char *s = mrg_tokenizer_decode(tok, ids, n);
            if (s)
                printf("%s\n", s);
            else {
                fprintf(stderr, "mrg tokenize: %s\n", mrg_last_error());
                rc = 2;
            }
            free(s);
            free(ids);
        }
    } else if (!strcmp(text, "-")) {
        char *line = NULL;
        size_t cap = 0;
        ssize_t len;
        while ((len = getline(&line, &cap, stdin)) >= 0) {
            if (len && line[len - 1] == '\n') line[--len] = 0;
            if (len && line[len - 1] == '\r') line[--len] = 0;
            if (!print_encoded(tok, line, bos, pieces)) {
                fprintf(stderr, "mrg tokenize: %s\n", mrg_last_error());
                rc = 1;
                break;
            }
        }
        free(line);
    } else if (!print_encoded(tok, text, bos, pieces)) {
        fprintf(stderr, "mrg tokenize: %s\n", mrg_last_error());
        rc = 1;
    }
    if (fflush(stdout) != 0 && !rc) {
        fprintf(stderr, "mrg tokenize: cannot write output: %s\n", strerror(errno));
        rc = 1;
    }
    mrg_tokenizer_free(tok);
    free(text);
    return rc;
}

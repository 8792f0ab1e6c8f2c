/* mrg tokenize: text → token ids (or ids → text) with a sentencepiece model. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "opts.h"
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
            "spaces or commas). Words after -- are text even when they start with '-'.\n\n"
            "options:\n"
            "  --tokenizer FILE  sentencepiece model (e.g. tokenizer.model)\n"
            "  --bos             prepend BOS\n"
            "  --pieces          print pieces, not ids\n"
            "  --decode IDS      decode instead of encoding (no TEXT, --bos or --pieces)\n");
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

int cmd_tokenize(int argc, char **argv) {
    const char *model = NULL, *decode = NULL;
    bool bos = false, pieces = false;
    opt_spec specs[] = {
        OPT_STRING("--tokenizer", &model),
        OPT_STRING("--decode", &decode),
        OPT_SET("--bos", &bos),
        OPT_SET("--pieces", &pieces),
    };
    const int n = OPTS_COUNT(specs);
    const char **words = malloc(sizeof *words * (size_t)argc);
    int n_words = 0;
    if (!words) {
        fprintf(stderr, "mrg tokenize: out of memory\n");
        return 1;
    }
    int rc = opts_parse_args("tokenize", argc, argv, specs, n, words, &n_words);
    if (rc == 1) {
        usage(stdout);
        free(words);
        return 0;
    }
    if (!rc && !(rc = opts_require("tokenize", specs, n, "--tokenizer", NULL)) && decode) {
        if (n_words) rc = opts_fail("tokenize", "give either TEXT or --decode, not both");
        else if (bos || pieces) rc = opts_fail("tokenize", "%s applies to encoding, not to --decode", bos ? "--bos" : "--pieces");
    }
    if (!rc && !decode && !n_words) rc = opts_fail("tokenize", "TEXT is required (see mrg tokenize --help)");
    int32_t *ids = NULL;
    int n_ids = 0;
    if (!rc && decode) {
        int64_t *list = NULL;
        n_ids = opts_int_list(decode, 0, INT32_MAX, &list);
        if (n_ids < 0)
            rc = opts_fail("tokenize", "--decode must be token ids (0..%d) separated by commas or spaces, not '%s'",
                           INT32_MAX, decode);
        else if (!(ids = malloc(sizeof *ids * (size_t)(n_ids + 1)))) {
            fprintf(stderr, "mrg tokenize: out of memory\n");
            rc = 1;
        }
        for (int i = 0; ids && i < n_ids; i++) ids[i] = (int32_t)list[i];
        free(list);
    }
    /* several words are one text, joined with spaces */
    char *text = NULL;
    size_t text_len = 0;
    for (int i = 0; !rc && i < n_words; i++) text_len += strlen(words[i]) + 1;
    if (!rc && n_words && !(text = malloc(text_len))) {
        fprintf(stderr, "mrg tokenize: out of memory\n");
        rc = 1;
    }
    for (int i = 0, used = 0; text && i < n_words; i++)
        used += sprintf(text + used, "%s%s", i ? " " : "", words[i]);
    free(words);
    if (rc) {
        free(ids);
        free(text);
        return rc;
    }
    mrg_tokenizer *tok = mrg_tokenizer_load(model);
    if (!tok) {
        fprintf(stderr, "mrg tokenize: %s\n", mrg_last_error());
        free(ids);
        free(text);
        return 1;
    }
    if (decode) {
        char *s = mrg_tokenizer_decode(tok, ids, n_ids);
        if (s)
            printf("%s\n", s);
        else {
            fprintf(stderr, "mrg tokenize: %s\n", mrg_last_error());
            rc = 2;
        }
        free(s);
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
    free(ids);
    free(text);
    return rc;
}

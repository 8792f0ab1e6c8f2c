/* mrg lm --perplexity: per-token perplexity of the lines of a file.
 *
 * Each non-empty line is one text: the context (BOS, or BOS + the prompt),
 * then the line's tokens (encoded on their own, without BOS), then EOS. The
 * line's tokens and EOS are predicted and counted; the context is given.
 * perplexity = exp(Σ NLL / Σ tokens) over the whole file, every token
 * weighing the same. Rules:
 *   - empty lines (nothing before the newline) are skipped and counted;
 *   - a line that does not fit the model's positions (context + tokens must
 *     be at most max_seq: the final EOS is predicted, never fed) is refused,
 *     naming the line, with exit code 2: a perplexity that silently drops
 *     or cuts long texts would not be comparable. */
#define _GNU_SOURCE
#include "lm_perplexity.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "mrg/mrg.h"
#include "scores_json.h"

int lm_perplexity(const char *file, mrg_llama *m, const mrg_tokenizer *tok, const int32_t *context,
                  int n_context, bool json) {
    const bool is_stdin = !strcmp(file, "-");
    FILE *f = is_stdin ? stdin : fopen(file, "r");
    if (!f) {
        fprintf(stderr, "mrg lm: cannot open %s: %s\n", file, strerror(errno));
        return 2;
    }
    const int max_seq = m->cfg.max_seq;
    int32_t *seq = malloc(sizeof(int32_t) * ((size_t)max_seq + 1));
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long lineno = 0, lines = 0, empty = 0;
    double nll = 0;
    int64_t tokens = 0;
    int rc = 0;
    if (!seq) {
        fprintf(stderr, "mrg lm: out of host memory\n");
        rc = 1;
    }
    else
        memcpy(seq, context, sizeof(int32_t) * (size_t)n_context);
    errno = 0;
    while (!rc && (len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        if (len > 0 && line[len - 1] == '\n') line[--len] = 0;
        if (len > 0 && line[len - 1] == '\r') line[--len] = 0;
        if (len == 0) {
            empty++;
            continue;
        }
        int32_t *ids = NULL;
        int k = 0;
        if (mrg_tokenizer_encode(tok, line, false, &ids, &k) != MRG_OK) {
            fprintf(stderr, "mrg lm: %s line %ld: %s\n", file, lineno, mrg_last_error());
            rc = 1;
            break;
        }
        if (n_context + k > max_seq) {
            fprintf(stderr,
                    "mrg lm: %s line %ld has %d tokens; with the %d of the context the model's %d "
                    "positions hold at most %d (long texts are refused, not cut)\n",
                    file, lineno, k, n_context, max_seq, max_seq - n_context);
            free(ids);
            rc = 2;
            break;
        }
        if (k) memcpy(seq + n_context, ids, sizeof(int32_t) * (size_t)k);
        free(ids);
        seq[n_context + k] = m->cfg.eos_id;
        double s = 0;
        if (mrg_llama_nll(m, seq, n_context + k + 1, n_context, &s) != MRG_OK) {
            fprintf(stderr, "mrg lm: %s line %ld: %s\n", file, lineno, mrg_last_error());
            rc = 1;
            break;
        }
        nll += s;
        tokens += k + 1;
        lines++;
    }
    if (!rc && ferror(f)) {
        fprintf(stderr, "mrg lm: cannot read %s: %s\n", file, strerror(errno));
        rc = 2;
    }
    if (!rc && lines == 0) {
        fprintf(stderr, "mrg lm: %s has no non-empty line to score\n", file);
        rc = 2;
    }
    free(line);
    free(seq);
    if (!is_stdin) fclose(f);
    if (rc) return rc;
    const double mean = nll / (double)tokens, ppl = exp(mean);
    if (empty) fprintf(stderr, "mrg lm: skipped %ld empty line%s\n", empty, empty == 1 ? "" : "s");
    if (!json) {
        printf("perplexity %.4f (%lld tokens in %ld lines, EOS counted; mean NLL %.4f nats/token)\n", ppl,
               (long long)tokens, lines, mean);
        return 0;
    }
    cJSON *o = cJSON_CreateObject();
    if (o) {
        cJSON_AddNumberToObject(o, "perplexity", ppl);
        cJSON_AddNumberToObject(o, "nll_per_token", mean);
        cJSON_AddNumberToObject(o, "tokens", (double)tokens);
        cJSON_AddNumberToObject(o, "lines", (double)lines);
        cJSON_AddNumberToObject(o, "empty_lines", (double)empty);
        cJSON_AddNumberToObject(o, "context_tokens", n_context);
    }
    return json_print(o);
}

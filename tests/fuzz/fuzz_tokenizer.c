/* Fuzzes tokenizer input: arbitrary bytes (invalid UTF-8 included) encoded
 * with the small sentencepiece model of tests/golden/model/lm, then decoded
 * whole and token by token. Every id must be inside the vocabulary. */
#include <stdio.h>
#include <stdlib.h>

#include "fuzz_common.h"
#include "mrg/tokenizer.h"

static mrg_tokenizer *tok;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    tok = fuzz_golden_tokenizer();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = fuzz_cstr(data, size);
    int V = mrg_tokenizer_vocab_size(tok);
    for (int bos = 0; bos < 2; bos++) {
        int32_t *ids = NULL;
        int n = 0;
        mrg_clear_error();
        mrg_status st = mrg_tokenizer_encode(tok, text, bos, &ids, &n);
        fuzz_expect_message(st, "mrg_tokenizer_encode");
        if (st != MRG_OK) continue;
        if (!ids || n < 0) abort();
        char buf[64];
        for (int i = 0; i < n; i++) {
            if (ids[i] < 0 || ids[i] >= V) {
                fprintf(stderr, "fuzz: id %d outside the vocabulary of %d\n", ids[i], V);
                abort();
            }
            uint8_t byte;
            if (!mrg_tokenizer_piece(tok, ids[i])) abort();
            mrg_tokenizer_is_byte(tok, ids[i], &byte);
            mrg_tokenizer_is_control(tok, ids[i]);
            mrg_tokenizer_token_text(tok, ids[i], buf, sizeof buf);
        }
        mrg_clear_error();
        char *back = mrg_tokenizer_decode(tok, ids, n);
        if (!back) {
            fprintf(stderr, "fuzz: encoded ids do not decode: %s\n", mrg_last_error());
            abort();
        }
        free(back);
        free(ids);
    }
    free(text);
    return 0;
}

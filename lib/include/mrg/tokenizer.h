/* Sentencepiece tokenizer (.model files) behind a small C interface.
 *
 * Encoding is sentencepiece's own (libsentencepiece), so ids match Python
 * sentencepiece exactly, byte fallback included. BOS is never added by
 * sentencepiece itself; add_bos prepends bos_id when the model has one. */
#ifndef MRG_TOKENIZER_H
#define MRG_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mrg/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mrg_tokenizer mrg_tokenizer;

/* NULL with a message naming the file when it is missing or not a valid
 * sentencepiece model. */
mrg_tokenizer *mrg_tokenizer_load(const char *path);
void mrg_tokenizer_free(mrg_tokenizer *tok);

int mrg_tokenizer_vocab_size(const mrg_tokenizer *tok);
/* -1 when the model defines no such token. */
int32_t mrg_tokenizer_bos(const mrg_tokenizer *tok);
int32_t mrg_tokenizer_eos(const mrg_tokenizer *tok);
int32_t mrg_tokenizer_unk(const mrg_tokenizer *tok);
int32_t mrg_tokenizer_pad(const mrg_tokenizer *tok);

/* Encodes UTF-8 text. *ids is malloc'd (free() it; never NULL on success,
 * even for empty text) and holds *n ids. */
mrg_status mrg_tokenizer_encode(const mrg_tokenizer *tok, const char *text, bool add_bos,
                                int32_t **ids, int *n);
/* Decodes ids to malloc'd UTF-8 text (free() it); BOS/EOS and other control
 * tokens decode to nothing. NULL with a message for an out-of-range id. */
char *mrg_tokenizer_decode(const mrg_tokenizer *tok, const int32_t *ids, int n);

/* The vocabulary entry of id ("▁heart", "<0x0A>", "<s>"), valid while tok
 * lives; NULL for an out-of-range id. */
const char *mrg_tokenizer_piece(const mrg_tokenizer *tok, int32_t id);
/* The id of a piece, or -1 when the piece is not in the vocabulary. */
int32_t mrg_tokenizer_piece_id(const mrg_tokenizer *tok, const char *piece);
/* True for byte-fallback pieces <0xHH>; *byte receives the value. */
bool mrg_tokenizer_is_byte(const mrg_tokenizer *tok, int32_t id, uint8_t *byte);
bool mrg_tokenizer_is_control(const mrg_tokenizer *tok, int32_t id);

/* Text of one token for streaming output: "▁" becomes a space, a byte
 * piece becomes its raw byte, control and unknown-range ids give "".
 * Writes at most cap bytes including the NUL; returns the length. Unlike
 * mrg_tokenizer_decode it keeps the leading space of a word-initial piece,
 * so concatenating the outputs reproduces the text (with one leading space
 * for the first word). */
size_t mrg_tokenizer_token_text(const mrg_tokenizer *tok, int32_t id, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif
#endif

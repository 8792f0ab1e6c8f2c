/* Content fingerprints: a fast 64-bit hash of files, to tell whether a
 * dataset, a config or a frozen LM is still the one a training run was
 * started with. Not cryptographic: it detects changes, not tampering. */
#ifndef MRG_CONTENT_HASH_H
#define MRG_CONTENT_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mrg/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The hash of n bytes. */
uint64_t mrg_hash_bytes(const void *data, size_t n);
/* The hash of a whole file's bytes (read in chunks, any size). */
mrg_status mrg_hash_file(const char *path, uint64_t *out);
/* The hash of what the LLaMA loader reads from path: the file itself (a
 * llama2.c checkpoint), or for a Hugging Face directory its config.json and
 * every *.safetensors and *.safetensors.index.json in it (by name, sorted;
 * names and contents both count). */
mrg_status mrg_hash_lm(const char *path, uint64_t *out);
/* The hash of a dataset in the R2Gen layout: its annotation.json (which
 * names every study, report and image). */
mrg_status mrg_hash_dataset(const char *dir, uint64_t *out);
/* 16 lowercase hex digits and a NUL into out. */
void mrg_hash_hex(uint64_t h, char out[17]);
/* Parses 16 hex digits; false when s is not that. */
bool mrg_hash_parse(const char *s, uint64_t *out);

#ifdef __cplusplus
}
#endif
#endif

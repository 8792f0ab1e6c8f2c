/* `mrg lm --perplexity FILE` (tools/lm_perplexity.c), called by cmd_lm.c
 * once the options are checked. */
#ifndef MRG_TOOLS_LM_PERPLEXITY_H
#define MRG_TOOLS_LM_PERPLEXITY_H

#include <stdbool.h>
#include <stdint.h>

#include "mrg/llama.h"
#include "mrg/tokenizer.h"

/* Prints the perplexity of the lines of file ("-": standard input) under m:
 * each non-empty line is scored as context + its tokens + EOS, the line's
 * tokens and EOS predicted and counted, the context (BOS, or the given
 * prompt ids) given. Returns the exit code (0, 1 failure, 2 bad input). */
int lm_perplexity(const char *file, mrg_llama *m, const mrg_tokenizer *tok, const int32_t *context,
                  int n_context, bool json);

#endif

/* Fuzzes the llama2.c checkpoint reader (mrg_llama_load_llama2c); a model
 * that loads runs one forward pass of its BOS token on the CPU device. */
#include <stdio.h>
#include <stdlib.h>

#include "fuzz_common.h"
#include "mrg/llama.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_write("model.bin", data, size);
    mrg_device *dev = fuzz_cpu();
    mrg_clear_error();
    mrg_llama *m = mrg_llama_load_llama2c(path, dev, NULL);
    fuzz_expect_message(m ? MRG_OK : MRG_ERR_FORMAT, "mrg_llama_load_llama2c");
    if (!m) return 0;
    int32_t bos = m->cfg.bos_id < m->cfg.vocab_size ? m->cfg.bos_id : 0;
    mrg_tensor *ids = mrg_tensor_from_i32(dev, MRG_SHAPE(1, 1), &bos);
    mrg_clear_error();
    mrg_tensor *logits = ids ? mrg_llama_forward_ids(m, ids, NULL, NULL, true) : NULL;
    if (!logits) {
        fprintf(stderr, "fuzz: a loaded llama2.c model cannot run: %s\n", mrg_last_error());
        abort();
    }
    mrg_step_reset(dev);
    mrg_llama_free(m);
    return 0;
}

/* Fuzzes the llama2.c checkpoint reader (mrg_llama_load_llama2c); a model
 * that loads runs one forward pass of its BOS token on the CPU device.
 *
 * The reader refuses every file whose size differs from the one its header
 * implies, which a mutation almost always changes; so each input is also
 * tried cut or padded to that size (when small), to reach the header checks
 * and the weight reading behind the size check. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "mrg/llama.h"

/* The file size a legacy llama2.c header implies (as lib/io/llama2c.c lays
 * the arrays out), or -1 when implausible. */
static int64_t implied_size(const uint8_t *data, size_t size) {
    if (size < 28) return -1;
    int32_t h[7];
    memcpy(h, data, sizeof h);
    /* sizes up to 2^12 with kv heads <= heads <= dim keep every product
     * below 2^40 (the padded file is at most 1 MiB anyway) */
    for (int i = 0; i < 7; i++)
        if (h[i] < -(1 << 12) || (i != 5 && h[i] <= 0) || h[i] > (1 << 12)) return -1;
    if (h[4] > h[3] || h[3] > h[0]) return -1;
    int64_t D = h[0], F = h[1], L = h[2], H = h[3], Hkv = h[4], V = h[5] < 0 ? -h[5] : h[5];
    int64_t S = h[6], Dh = D / H, Dkv = Dh * Hkv;
    int64_t n = V * D + L * D + L * D * D + 2 * L * Dkv * D + L * D * D + L * D + 3 * L * F * D +
                D + 2 * S * (Dh / 2) + (h[5] < 0 ? V * D : 0);
    return 28 + 4 * n;
}

static void load(const uint8_t *data, size_t size) {
    const char *path = fuzz_write("model.bin", data, size);
    mrg_device *dev = fuzz_cpu();
    mrg_clear_error();
    mrg_llama *m = mrg_llama_load_llama2c(path, dev, NULL);
    fuzz_expect_message(m ? MRG_OK : MRG_ERR_FORMAT, "mrg_llama_load_llama2c");
    if (!m) return;
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
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    load(data, size);
    int64_t want = implied_size(data, size);
    if (want < 0 || want == (int64_t)size || want > (1 << 20)) return 0;
    uint8_t *fixed = malloc((size_t)want);
    if (!fixed) abort();
    size_t keep = (size_t)want < size ? (size_t)want : size;
    memcpy(fixed, data, keep);
    for (size_t i = keep; i < (size_t)want; i++) fixed[i] = (uint8_t)(i * 131u >> 3);
    load(fixed, (size_t)want);
    free(fixed);
    return 0;
}

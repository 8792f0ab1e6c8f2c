/* mrg pretrain-lm: trains the preset's small LLaMA from scratch as a causal
 * LM on the cleaned training reports of a dataset, training its own
 * sentencepiece tokenizer when none is given, and writes a Hugging Face
 * directory (config.json, model.safetensors, tokenizer.model) that
 * `mrg train --lm DIR` loads and freezes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "opts.h"
#include "out_guard.h"
#include "mrg/mrg.h"
#include "mrg/model.h"
#include "mrg/tokenizer.h"
#include "mrg/pretrain.h"

static int usage(int code) {
    fprintf(code ? stderr : stdout,
            "usage: mrg pretrain-lm --data DIR --out DIR [--preset P | --config F]\n"
            "                       [--tokenizer FILE]\n"
            "                       [--vocab N] [--steps N | --epochs N] [--batch N] [--lr X]\n"
            "                       [--seed S] [--device D] [--log-every N] [--no-slot-hints]\n"
            "                       [--slot-hints findings|sentences|spans] [--slot-span N]\n"
            "                       [--force] [--skip-nonfinite]\n\n"
            "Trains the language model of a preset (its `lm` shape; the vocabulary comes\n"
            "from the tokenizer) from a random init on the cleaned training reports of DIR\n"
            "in the report generator's context: BOS, the prompt before the image, the\n"
            "image slot (Kc + Kt hints from the report, see --slot-hints), the prompt after,\n"
            "the report, EOS; next-token cross-entropy on the report and EOS, AdamW,\n"
            "warmup + cosine. Writes a Hugging Face directory with tokenizer.model inside.\n\n"
            "  --data DIR        dataset in the R2Gen layout (annotation.json)\n"
            "  --out DIR         output directory, replaced atomically; it must be new,\n"
            "                    empty or an earlier output of pretrain-lm, and not inside\n"
            "                    --data\n"
            "  --force           write into another non-empty --out anyway (replaces the\n"
            "                    files pretrain-lm writes, keeps the others)\n"
            "  --skip-nonfinite  skip an update whose loss or gradient norm is not finite\n"
            "                    instead of stopping (no output is written on a stop)\n"
            "  --preset P        paper, tiny (default) or micro\n"
            "  --config F        JSON overriding any config field (applied to --preset);\n"
            "                    its `lm` shape, prompt, Kc, Kt, lm_weight, con_weight and\n"
            "                    temperature are what counts here\n"
            "  --tokenizer FILE  a sentencepiece .model to use; default: train one on the\n"
            "                    reports and prompt (BPE, byte fallback; unk 0, bos 1,\n"
            "                    eos 2)\n"
            "  --vocab N         pieces of a trained BPE tokenizer, 260..1000000 (default\n"
            "                    1024, or fewer when the reports hold fewer distinct pieces;\n"
            "                    a --vocab N the reports cannot fill is refused)\n"
            "  --steps N         updates, >= 1 (default: from --epochs)\n"
            "  --epochs N        passes over the reports, 1..100000 (default 20)\n"
            "  --batch N         reports per update, 1..4096 (default 16)\n"
            "  --lr X            peak learning rate, 0 < X <= 1 (default 1e-3)\n"
            "  --seed S          initialisation and shuffling seed (default 1234)\n"
            "  --device D        cpu, opencl, opencl:N (default: see mrg --help)\n"
            "  --log-every N     JSONL line every N >= 1 updates (default 10)\n"
            "  --no-slot-hints   leave the image slot empty (by default its Kc + Kt\n"
            "                    positions hold hints made of the report's own tokens, so\n"
            "                    that the frozen LM learns to read the visual prefix)\n"
            "  --slot-hints H    what each slot position holds. findings (default): the\n"
            "                    mean of learned vectors, one per finding and state as the\n"
            "                    finding labeler reads the report, trained with the LM and\n"
            "                    with the config's contrastive term (so that the\n"
            "                    generator's two losses agree), then dropped: the LM learns\n"
            "                    to word a report for given findings. sentences: the mean\n"
            "                    embedding of one whole sentence of the report, in random\n"
            "                    order. spans: of a random contiguous span (--slot-span)\n"
            "  --slot-span N     with --slot-hints spans: spans 1..N tokens long (0: up to\n"
            "                    the whole report, -1: the whole report, 1: single tokens;\n"
            "                    -1..100000, default %d)\n"
            "\n"
            "Progress: a bar on a terminal, JSON lines on stdout otherwise;\n"
            "OUT/pretrain_log.jsonl keeps the JSON lines. After each epoch (and after the last update) the\n"
            "perplexity on the cleaned val reports of DIR, with sequences built as in\n"
            "training, is reported: {\"type\":\"val\",\"epoch\",\"val_perplexity\",\"val_nll\",\n"
            "\"val_tokens\"} (next-token cross-entropy on the report and EOS; without a val\n"
            "split the run goes on without it).\n",
            mrg_pretrain_defaults().slot_span);
    return code;
}

/* Says so when the trained tokenizer has fewer pieces than the default
 * size asked for (the reports held too few distinct pieces). */
static void note_vocab(const char *out, int asked) {
    char path[4200];
    snprintf(path, sizeof path, "%s/tokenizer.model", out);
    mrg_tokenizer *tok = mrg_tokenizer_load(path);
    int got = mrg_tokenizer_vocab_size(tok);
    if (tok && got < asked)
        fprintf(stderr,
                "mrg pretrain-lm: the reports support %d tokenizer pieces: the tokenizer has %d, not "
                "the default %d\n",
                got, got, asked);
    mrg_tokenizer_free(tok);
}

int cmd_pretrain_lm(int argc, char **argv) {
    const char *data = NULL, *out = NULL, *preset = "tiny", *config = NULL, *device = NULL;
    mrg_pretrain_opts o = mrg_pretrain_defaults();
    bool slot_hints = true, force = false;
    static const char *const hint_kinds[] = {"findings", "sentences", "spans", NULL}; /* enum order */
    int hint = (int)o.slot_hint;
    opt_spec specs[] = {
        OPT_STRING("--data", &data),
        OPT_STRING("--out", &out),
        OPT_STRING("--preset", &preset),
        OPT_STRING("--config", &config),
        OPT_STRING("--tokenizer", &o.tokenizer),
        OPT_INTEGER("--vocab", &o.vocab_size, 260, 1000000), /* what mrg_spm_train accepts */
        OPT_INT64("--steps", &o.steps, 1, 1000000000),
        OPT_INTEGER("--epochs", &o.epochs, 1, 100000),
        OPT_INTEGER("--batch", &o.batch_size, 1, 4096),
        OPT_POSITIVE("--lr", &o.lr, 1),
        OPT_SEED("--seed", &o.seed),
        OPT_STRING("--device", &device),
        OPT_INTEGER("--log-every", &o.log_every, 1, INT_MAX),
        OPT_INTEGER("--slot-span", &o.slot_span, -1, 100000),
        OPT_ONE_OF("--slot-hints", &hint, hint_kinds),
        OPT_CLEAR("--no-slot-hints", &slot_hints),
        OPT_SET("--force", &force),
        OPT_SET("--skip-nonfinite", &o.skip_nonfinite),
    };
    const int n = OPTS_COUNT(specs);
    int rc = opts_parse("pretrain-lm", argc, argv, specs, n);
    if (rc) return rc == 1 ? usage(0) : rc;
    if ((rc = opts_require("pretrain-lm", specs, n, "--data", "--out", NULL)) ||
        (rc = opts_exclusive("pretrain-lm", specs, n, "--steps", "--epochs")) ||
        (rc = opts_exclusive("pretrain-lm", specs, n, "--tokenizer", "--vocab")) ||
        (rc = opts_exclusive("pretrain-lm", specs, n, "--no-slot-hints", "--slot-hints")) ||
        (rc = opts_exclusive("pretrain-lm", specs, n, "--no-slot-hints", "--slot-span")))
        return rc;
    o.slot_hint = (mrg_slot_hint)hint;
    if (opts_given(specs, n, "--slot-span") && o.slot_hint != MRG_SLOT_SPANS)
        return opts_fail("pretrain-lm", "--slot-span applies to --slot-hints spans only");
    /* a size the user chose is kept or refused, never lowered in silence */
    o.vocab_exact = opts_given(specs, n, "--vocab") > 0;
    mrg_model_config cfg;
    if (opts_model_config("pretrain-lm", preset, config, &cfg)) return 2;
    const mrg_named_path inputs[] = {{"--data", data}, {"--config", config}};
    if (out_dir_guard("pretrain-lm", out, force, inputs, 2)) return 2;
    o.max_tokens = cfg.max_report_tokens;
    opts_progress(&o.bar, &o.jsonl_stdout);
    mrg_device *dev = opts_device("pretrain-lm", device);
    if (!dev) return 2;
    if (o.bar)
        fprintf(stderr, "pretraining the %s LM (%d layers, width %d) on %s\n", preset, cfg.lm.n_layers,
                cfg.lm.dim, mrg_device_name(dev));
    /* the LM will be frozen inside the report generator: pretrain it in
     * the generator's own context (BOS + prompt + report) */
    o.context_before = cfg.prompt_before;
    o.context_after = cfg.prompt_after;
    /* and teach it to read the image slot (see mrg_pretrain_opts.slot_tokens) */
    if (slot_hints) o.slot_tokens = cfg.Kc + cfg.Kt;
    /* and, with finding hints, the balance of the generator's two losses */
    o.con_weight = cfg.lm_weight > 0 ? cfg.con_weight / cfg.lm_weight : 0;
    o.temperature = cfg.temperature;
    float first = 0, last = 0;
    mrg_status st = mrg_pretrain_lm(data, &cfg.lm, &o, dev, out, &first, &last);
    mrg_device_free(dev);
    if (st) {
        fprintf(stderr, "mrg pretrain-lm: %s\n", mrg_last_error());
        return st == MRG_ERR_INVALID_ARG ? 2 : 1;
    }
    if (o.bar) fprintf(stderr, "loss %.4f -> %.4f; wrote %s\n", first, last, out);
    if (!o.tokenizer) note_vocab(out, o.vocab_size);
    return 0;
}

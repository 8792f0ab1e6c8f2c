#!/usr/bin/python3
"""PyTorch bf16 autocast on the micro model's golden weights: the reference
of mrg's bf16-mixed precision (tests/test_bf16_mixed.c).

    /work/ext/venv/bin/python tools/ref/bf16_ref.py [golden_model_dir]

Reads tests/golden/model (lm/, ckpt/model.safetensors and the batch in
expected.safetensors, all written by model_ref.py) and runs the batched
losses of model_ref.py as R2GenGPT's Lightning "bf16-mixed" does:
torch.autocast("cpu", dtype=torch.bfloat16) around the forward, the frozen
LLaMA held in bf16, the trained parts (and their gradients) in f32. Writes
expected_bf16.safetensors beside it: loss_total, loss_lm, loss_con and
grad/<param> for every trained parameter.

Where mrg differs from autocast (the test's tolerances cover it): autocast
rounds each linear's output to bf16 and the LLaMA's residual stream is bf16
(its weights' dtype); mrg keeps the f32 sums and an f32 residual stream.
"""
import json
import os
import sys

import numpy as np
import torch

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import model_ref  # noqa: E402
from ops_ref import write_safetensors  # noqa: E402
from st_read import read_safetensors  # noqa: E402


def main():
    torch.set_default_dtype(torch.float32)
    d = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "golden", "model")
    exp = read_safetensors(os.path.join(d, "expected.safetensors"))
    w = read_safetensors(os.path.join(d, "ckpt", "model.safetensors"))
    lmw = read_safetensors(os.path.join(d, "lm", "model.safetensors"))
    with open(os.path.join(d, "lm", "config.json")) as f:
        hf = json.load(f)
    with open(os.path.join(d, "ckpt", "config.json")) as f:
        cfg = json.load(f)
    arch = model_ref.Arch(cfg, sdpa=True)
    lm = {"dim": hf["hidden_size"], "heads": hf["num_attention_heads"],
          "kv_heads": hf.get("num_key_value_heads", hf["num_attention_heads"]),
          "layers": hf["num_hidden_layers"], "eps": hf.get("rms_norm_eps", 1e-5),
          "theta": hf.get("rope_theta", 10000.0), "tied": hf.get("tie_word_embeddings", False)}
    # the frozen LLaMA in bf16 (round to nearest even, as mrg loads it)
    W = {k: torch.from_numpy(v).to(torch.bfloat16) for k, v in lmw.items()}
    E = W["model.embed_tokens.weight"]
    p = {k: torch.from_numpy(v).requires_grad_(True) for k, v in w.items()}
    # topic embeddings: the mean of each topic word's pieces, from the bf16
    # table, in f32 (mrg's build_topics); the pieces come from the tokenizer
    import sentencepiece as spm
    sp = spm.SentencePieceProcessor(model_file=os.path.join(d, "lm", "tokenizer.model"))
    topic_emb = torch.stack([E[torch.tensor(sp.encode(t))].float().mean(0) for t in arch.topics])
    images = torch.from_numpy(exp["images"])
    report_ids = exp["report_ids"].astype(np.int64)
    report_len = exp["report_len"].astype(np.int64)
    before = exp["prompt_before"].tolist()
    after = exp["prompt_after"].tolist()
    eos = sp.eos_id()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        total, lml, con = model_ref.losses_batched(p, lm, W, topic_emb, images, report_ids,
                                                   report_len, before, after, eos, arch)
    total.backward()
    out = {"loss_total": np.array([total.item()], dtype=np.float32),
           "loss_lm": np.array([lml.item()], dtype=np.float32),
           "loss_con": np.array([con.item()], dtype=np.float32)}
    for k, v in p.items():
        out["grad/" + k] = v.grad.numpy().astype(np.float32)
    write_safetensors(os.path.join(d, "expected_bf16.safetensors"), out)
    print("autocast bf16: losses total %.6f lm %.6f con %.6f (f32 golden %.6f %.6f %.6f)" %
          (total.item(), lml.item(), con.item(), exp["loss_total"][0], exp["loss_lm"][0],
           exp["loss_con"][0]))


if __name__ == "__main__":
    main()

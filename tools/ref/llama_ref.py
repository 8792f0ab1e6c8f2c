#!/usr/bin/python3
"""Golden reference data for the LLaMA decoder (tests/test_llama.c).

Run with Debian's Python (torch 1.13 CPU + numpy):

    /usr/bin/python3 tools/ref/llama_ref.py [out_dir]     # default tests/golden/llama

It draws tiny random-weight LLaMA models, writes each in a real checkpoint
format, and computes with a plain PyTorch LLaMA (Hugging Face semantics:
RMSNorm, RoPE, grouped-query causal attention, SwiGLU) in float64 from the
stored weight values:

  hf_mha_f32/       Hugging Face directory, multi-head, f32, separate lm_head
  hf_gqa_bf16/      Hugging Face directory, grouped-query, bf16, tied
                    embeddings, rope_theta 5e5, sharded in two files with a
                    model.safetensors.index.json
  l2c_gqa.bin       llama2.c checkpoint, grouped-query, shared classifier
  l2c_mha_cls.bin   llama2.c checkpoint, multi-head, separate classifier

expected.safetensors holds, for each model <m>:
  <m>/prompt   I32 (T)      prompt ids (BOS first)
  <m>/logits   (T, V)       logits at every prompt position
  <m>/greedy   I32 (32)     greedy continuation of the prompt
  <m>/grad_x   (T, D)       d loss / d input embeddings, loss = mean
                            cross-entropy of logits[:-1] against prompt[1:]

Seeds are chosen so that every greedy step has a margin of at least 1e-3
between the best and second-best logit, so an f32 implementation that is
correct to 1e-5 must reproduce the continuation exactly.
"""
import json
import os
import struct
import sys

import numpy as np
import torch

sys.dont_write_bytecode = True  # keep tools/ref free of __pycache__
import st_write  # noqa: E402  (beside this file)

torch.set_default_dtype(torch.float64)

N_NEW = 32
MIN_MARGIN = 1e-3


# ---- file writers -----------------------------------------------------------

def bf16_round(x):
    """f32 array -> (uint16 bf16 bits, f32 values of those bits); RNE."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    u = x.view(np.uint32).astype(np.uint64)
    bits = ((u + ((u >> 16) & 1) + 0x7FFF) >> 16).astype(np.uint16)
    back = (bits.astype(np.uint32) << 16).view(np.float32)
    return bits, back


def write_safetensors(path, tensors):
    """tensors: name -> (dtype tag, shape, raw bytes), in file order."""
    st_write.write_safetensors(path, [(k, *v) for k, v in tensors.items()])


def f32_entry(a):
    a = np.ascontiguousarray(a, dtype="<f4")
    return ("F32", a.shape, a.tobytes())


def i32_entry(a):
    a = np.ascontiguousarray(a, dtype="<i4")
    return ("I32", a.shape, a.tobytes())


# ---- the model --------------------------------------------------------------

def make_weights(cfg, rng, dtype):
    """Random weights (numpy f32, already rounded to the storage dtype) in
    the Hugging Face names. Scales keep the logits O(1) with clear margins."""
    D, F, V, L = cfg["dim"], cfg["hidden"], cfg["vocab"], cfg["layers"]
    H, Hkv = cfg["heads"], cfg["kv_heads"]
    Dh = D // H

    def mat(o, i, scale=1.0):
        return (rng.standard_normal((o, i)) * scale / np.sqrt(i)).astype(np.float32)

    def norm_w(n):
        return (1.0 + 0.2 * rng.standard_normal(n)).astype(np.float32)

    # With a tied classifier the input embedding dominates the residual
    # stream and greedy decoding repeats one token; smaller embeddings and
    # stronger block outputs give varied continuations.
    emb_scale, out_scale = (0.3, 2.0) if cfg["tied"] else (1.0, 1.0)
    w = {"model.embed_tokens.weight": (rng.standard_normal((V, D)) * emb_scale).astype(np.float32)}
    for l in range(L):
        p = f"model.layers.{l}."
        w[p + "input_layernorm.weight"] = norm_w(D)
        w[p + "self_attn.q_proj.weight"] = mat(H * Dh, D, 2.0)
        w[p + "self_attn.k_proj.weight"] = mat(Hkv * Dh, D, 2.0)
        w[p + "self_attn.v_proj.weight"] = mat(Hkv * Dh, D)
        w[p + "self_attn.o_proj.weight"] = mat(D, H * Dh, out_scale)
        w[p + "post_attention_layernorm.weight"] = norm_w(D)
        w[p + "mlp.gate_proj.weight"] = mat(F, D)
        w[p + "mlp.up_proj.weight"] = mat(F, D)
        w[p + "mlp.down_proj.weight"] = mat(D, F, out_scale)
    w["model.norm.weight"] = norm_w(D)
    if not cfg["tied"]:
        w["lm_head.weight"] = mat(V, D, 3.0)
    if dtype == "bf16":
        w = {k: bf16_round(v)[1] for k, v in w.items()}
    return w


def rope(x, pos0, theta, layout):
    """x (T, H, Dh) rotated at positions pos0 + t."""
    T, _, Dh = x.shape
    inv = theta ** (-torch.arange(0, Dh, 2, dtype=torch.float64) / Dh)     # (Dh/2)
    ang = (pos0 + torch.arange(T, dtype=torch.float64))[:, None] * inv    # (T, Dh/2)
    cos, sin = torch.cos(ang)[:, None, :], torch.sin(ang)[:, None, :]
    if layout == "half":  # Hugging Face rotate_half: pairs (i, i + Dh/2)
        x1, x2 = x[..., : Dh // 2], x[..., Dh // 2:]
        return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)
    x1, x2 = x[..., 0::2], x[..., 1::2]   # Meta / llama2.c: pairs (2i, 2i + 1)
    return torch.stack([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1).reshape(x.shape)


def rmsnorm(x, w, eps):
    return x * torch.rsqrt((x * x).mean(-1, keepdim=True) + eps) * w


def forward(cfg, W, x):
    """x (T, D) input embeddings -> logits (T, V)."""
    D, H, Hkv = cfg["dim"], cfg["heads"], cfg["kv_heads"]
    Dh, T = D // H, x.shape[0]
    eps, theta, layout = cfg["eps"], cfg["theta"], cfg["layout"]
    mask = torch.full((T, T), float("-inf")).triu(1)
    for l in range(cfg["layers"]):
        p = f"model.layers.{l}."
        h = rmsnorm(x, W[p + "input_layernorm.weight"], eps)
        q = rope((h @ W[p + "self_attn.q_proj.weight"].T).view(T, H, Dh), 0, theta, layout)
        k = rope((h @ W[p + "self_attn.k_proj.weight"].T).view(T, Hkv, Dh), 0, theta, layout)
        v = (h @ W[p + "self_attn.v_proj.weight"].T).view(T, Hkv, Dh)
        rep = H // Hkv   # query head j uses kv head j // rep
        k = k.repeat_interleave(rep, dim=1)
        v = v.repeat_interleave(rep, dim=1)
        att = torch.einsum("thd,shd->hts", q, k) / np.sqrt(Dh) + mask
        a = torch.einsum("hts,shd->thd", torch.softmax(att, -1), v).reshape(T, D)
        x = x + a @ W[p + "self_attn.o_proj.weight"].T
        h = rmsnorm(x, W[p + "post_attention_layernorm.weight"], eps)
        g = torch.nn.functional.silu(h @ W[p + "mlp.gate_proj.weight"].T)
        x = x + (g * (h @ W[p + "mlp.up_proj.weight"].T)) @ W[p + "mlp.down_proj.weight"].T
    x = rmsnorm(x, W["model.norm.weight"], eps)
    head = W["model.embed_tokens.weight"] if cfg["tied"] else W["lm_head.weight"]
    return x @ head.T


def reference(cfg, w, prompt):
    W = {k: torch.from_numpy(v.astype(np.float64)) for k, v in w.items()}
    E = W["model.embed_tokens.weight"]
    x = E[torch.tensor(prompt)].clone().requires_grad_(True)
    logits = forward(cfg, W, x)
    loss = torch.nn.functional.cross_entropy(logits[:-1], torch.tensor(prompt[1:]))
    loss.backward()
    ids, margin = list(prompt), np.inf
    with torch.no_grad():
        for _ in range(N_NEW):
            last = forward(cfg, W, E[torch.tensor(ids)])[-1]
            top = torch.topk(last, 2).values
            margin = min(margin, float(top[0] - top[1]))
            ids.append(int(torch.argmax(last)))
    return logits.detach().numpy(), ids[len(prompt):], x.grad.numpy(), margin


# ---- checkpoint formats -------------------------------------------------------

def hf_config(cfg):
    return {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_act": "silu",
        "hidden_size": cfg["dim"], "intermediate_size": cfg["hidden"],
        "num_hidden_layers": cfg["layers"], "num_attention_heads": cfg["heads"],
        "num_key_value_heads": cfg["kv_heads"], "vocab_size": cfg["vocab"],
        "max_position_embeddings": cfg["max_seq"], "rms_norm_eps": cfg["eps"],
        "rope_theta": cfg["theta"], "tie_word_embeddings": cfg["tied"],
        "bos_token_id": 1, "eos_token_id": 2, "rope_scaling": None,
        "torch_dtype": "bfloat16" if cfg["dtype"] == "bf16" else "float32",
    }


def write_hf(dirname, cfg, w):
    os.makedirs(dirname, exist_ok=True)
    with open(os.path.join(dirname, "config.json"), "w") as f:
        json.dump(hf_config(cfg), f, indent=2)
    if cfg["dtype"] == "bf16":
        entries = {k: ("BF16", v.shape, bf16_round(v)[0].tobytes()) for k, v in w.items()}
    else:
        entries = {k: f32_entry(v) for k, v in w.items()}
    for stale in ("model.safetensors", "model.safetensors.index.json",
                  "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"):
        if os.path.exists(os.path.join(dirname, stale)):
            os.remove(os.path.join(dirname, stale))
    if not cfg.get("sharded"):
        write_safetensors(os.path.join(dirname, "model.safetensors"), entries)
        return
    names = list(entries)
    half = len(names) // 2
    shards = [names[:half], names[half:]]
    index = {"metadata": {"total_size": sum(len(e[2]) for e in entries.values())},
             "weight_map": {}}
    for i, part in enumerate(shards):
        fn = f"model-0000{i + 1}-of-00002.safetensors"
        write_safetensors(os.path.join(dirname, fn), {k: entries[k] for k in part})
        for k in part:
            index["weight_map"][k] = fn
    with open(os.path.join(dirname, "model.safetensors.index.json"), "w") as f:
        json.dump(index, f, indent=2)


def write_llama2c(path, cfg, w):
    """The legacy llama2.c export: header of 7 int32, then f32 arrays."""
    D, L, H, S = cfg["dim"], cfg["layers"], cfg["heads"], cfg["max_seq"]
    Dh = D // H
    vocab = cfg["vocab"] if cfg["tied"] else -cfg["vocab"]
    hdr = struct.pack("<7i", D, cfg["hidden"], L, H, cfg["kv_heads"], vocab, S)

    def stack(suffix):
        return [w[f"model.layers.{l}.{suffix}"] for l in range(L)]

    arrays = [w["model.embed_tokens.weight"]]
    arrays += stack("input_layernorm.weight")
    arrays += stack("self_attn.q_proj.weight")
    arrays += stack("self_attn.k_proj.weight")
    arrays += stack("self_attn.v_proj.weight")
    arrays += stack("self_attn.o_proj.weight")
    arrays += stack("post_attention_layernorm.weight")
    arrays += stack("mlp.gate_proj.weight")   # w1
    arrays += stack("mlp.down_proj.weight")   # w2
    arrays += stack("mlp.up_proj.weight")     # w3
    arrays.append(w["model.norm.weight"])
    freqs = 10000.0 ** (-np.arange(0, Dh, 2) / Dh)
    ang = np.outer(np.arange(S), freqs)
    arrays += [np.cos(ang), np.sin(ang)]      # freq_cis_real, freq_cis_imag
    if not cfg["tied"]:
        arrays.append(w["lm_head.weight"])
    with open(path, "wb") as f:
        f.write(hdr)
        for a in arrays:
            f.write(np.ascontiguousarray(a, dtype="<f4").tobytes())


MODELS = [
    dict(name="hf_mha_f32", fmt="hf", dim=32, hidden=48, layers=2, heads=4, kv_heads=4,
         vocab=64, max_seq=64, eps=1e-6, theta=10000.0, layout="half", tied=False,
         dtype="f32"),
    dict(name="hf_gqa_bf16", fmt="hf", dim=32, hidden=64, layers=2, heads=4, kv_heads=2,
         vocab=64, max_seq=64, eps=1e-5, theta=500000.0, layout="half", tied=True,
         dtype="bf16", sharded=True),
    dict(name="l2c_gqa", fmt="l2c", dim=32, hidden=56, layers=2, heads=4, kv_heads=2,
         vocab=64, max_seq=48, eps=1e-5, theta=10000.0, layout="interleaved", tied=True,
         dtype="f32"),
    dict(name="l2c_mha_cls", fmt="l2c", dim=32, hidden=40, layers=2, heads=2, kv_heads=2,
         vocab=48, max_seq=48, eps=1e-5, theta=10000.0, layout="interleaved", tied=False,
         dtype="f32"),
]


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "golden", "llama")
    os.makedirs(out, exist_ok=True)
    expected = {}
    for mi, cfg in enumerate(MODELS):
        for seed in range(100 * mi + 1, 100 * mi + 100):
            rng = np.random.default_rng(seed)
            w = make_weights(cfg, rng, cfg["dtype"])
            T = 7
            prompt = [1] + [int(t) for t in rng.integers(3, cfg["vocab"], T - 1)]
            logits, greedy, grad_x, margin = reference(cfg, w, prompt)
            if margin >= MIN_MARGIN and len(set(greedy)) > 3:
                break
        else:
            raise SystemExit(f"{cfg['name']}: no seed gives clear greedy margins")
        name = cfg["name"]
        if cfg["fmt"] == "hf":
            write_hf(os.path.join(out, name), cfg, w)
        else:
            write_llama2c(os.path.join(out, name + ".bin"), cfg, w)
        expected[name + "/prompt"] = i32_entry(np.array(prompt))
        expected[name + "/logits"] = f32_entry(logits)
        expected[name + "/greedy"] = i32_entry(np.array(greedy))
        expected[name + "/grad_x"] = f32_entry(grad_x)
        print(f"{name}: seed {seed}, min greedy margin {margin:.4f}, greedy {greedy}")
    write_safetensors(os.path.join(out, "expected.safetensors"), expected)


if __name__ == "__main__":
    main()

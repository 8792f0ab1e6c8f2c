#!/usr/bin/python3
"""Writes a Hugging Face LLaMA directory with random bf16 weights.

For shape benchmarks (`mrg bench step`, `mrg bench lm`) without a real
checkpoint. The layout is what transformers' LlamaForCausalLM.save_pretrained
writes: config.json, model-0000N-of-0000M.safetensors shards of at most
--shard-gb each and model.safetensors.index.json, tensor names
model.embed_tokens.weight, model.layers.N.self_attn.{q,k,v,o}_proj.weight,
model.layers.N.mlp.{gate,up,down}_proj.weight,
model.layers.N.{input,post_attention}_layernorm.weight, model.norm.weight and
lm_head.weight (rotate_half RoPE layout; random weights have no layout of
their own). Matrices are normal with std 0.02 (Hugging Face's
initializer_range), RMSNorm weights are one.

The default shape is LLaMA-2-7B (13.5 GB); --dim, --layers, --hidden,
--heads, --kv-heads, --vocab, --max-position give smaller ones.

Memory: tensors are drawn and written in chunks of --chunk-mb, so the
process never holds more than one chunk (not even one whole tensor).
Only numpy and the standard library are used.

Example:
  /usr/bin/python3 tools/make_random_llama.py --out /tmp/llama7b \\
      --tokenizer /work/shared/models/llama2/tokenizer.model
"""

import argparse
import json
import os
import shutil
import struct
import sys

import numpy as np


def tensor_shapes(a):
    """(name, shape, is_norm) in the order save_pretrained writes them."""
    head = a.dim // a.heads
    kv = a.kv_heads * head
    out = [("model.embed_tokens.weight", (a.vocab, a.dim), False)]
    for i in range(a.layers):
        p = "model.layers.%d." % i
        out += [
            (p + "self_attn.q_proj.weight", (a.dim, a.dim), False),
            (p + "self_attn.k_proj.weight", (kv, a.dim), False),
            (p + "self_attn.v_proj.weight", (kv, a.dim), False),
            (p + "self_attn.o_proj.weight", (a.dim, a.dim), False),
            (p + "mlp.gate_proj.weight", (a.hidden, a.dim), False),
            (p + "mlp.up_proj.weight", (a.hidden, a.dim), False),
            (p + "mlp.down_proj.weight", (a.dim, a.hidden), False),
            (p + "input_layernorm.weight", (a.dim,), True),
            (p + "post_attention_layernorm.weight", (a.dim,), True),
        ]
    out += [("model.norm.weight", (a.dim,), True), ("lm_head.weight", (a.vocab, a.dim), False)]
    return out


def numel(shape):
    n = 1
    for s in shape:
        n *= s
    return n


def shard_plan(tensors, max_bytes):
    """Consecutive groups of tensors, each at most max_bytes of bf16 (a single
    larger tensor gets a shard of its own), as save_pretrained splits."""
    shards, cur, size = [], [], 0
    for t in tensors:
        nb = 2 * numel(t[1])
        if cur and size + nb > max_bytes:
            shards.append(cur)
            cur, size = [], 0
        cur.append(t)
        size += nb
    if cur:
        shards.append(cur)
    return shards


def f32_to_bf16(x):
    """Round to nearest even, as torch's .to(torch.bfloat16) (no NaNs here)."""
    u = x.view(np.uint32)
    r = (u + np.uint32(0x7FFF) + ((u >> np.uint32(16)) & np.uint32(1))) >> np.uint32(16)
    return r.astype("<u2")


def header_bytes(group):
    """The safetensors header of a shard: u64 length + JSON padded to 8."""
    meta = {"__metadata__": {"format": "pt"}}
    off = 0
    for name, shape, _ in group:
        nb = 2 * numel(shape)
        meta[name] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [off, off + nb]}
        off += nb
    js = json.dumps(meta, separators=(",", ":")).encode()
    js += b" " * ((8 - len(js) % 8) % 8)
    return struct.pack("<Q", len(js)) + js


def write_tensor(f, shape, is_norm, rng, chunk_elems):
    n = numel(shape)
    if is_norm:
        f.write(np.full(n, 0x3F80, dtype="<u2").tobytes())  # bf16 1.0
        return
    done = 0
    while done < n:
        k = min(chunk_elems, n - done)
        x = rng.standard_normal(k, dtype=np.float32)
        x *= np.float32(0.02)
        f.write(f32_to_bf16(x).tobytes())
        done += k


def config_json(a):
    return {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_act": "silu",
        "hidden_size": a.dim,
        "intermediate_size": a.hidden,
        "num_hidden_layers": a.layers,
        "num_attention_heads": a.heads,
        "num_key_value_heads": a.kv_heads,
        "vocab_size": a.vocab,
        "max_position_embeddings": a.max_position,
        "rms_norm_eps": a.rms_eps,
        "rope_theta": a.rope_theta,
        "rope_scaling": None,
        "tie_word_embeddings": False,
        "initializer_range": 0.02,
        "pretraining_tp": 1,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "pad_token_id": 0,
        "torch_dtype": "bfloat16",
        "use_cache": True,
    }


def write_json(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)


def parse_args(argv):
    p = argparse.ArgumentParser(
        description="Write a Hugging Face LLaMA directory with random bf16 weights "
        "(default shape: LLaMA-2-7B).")
    p.add_argument("--out", required=True, help="output directory (created; keep it outside the repo)")
    p.add_argument("--dim", type=int, default=4096)
    p.add_argument("--hidden", type=int, default=11008, help="SwiGLU width (intermediate_size)")
    p.add_argument("--layers", type=int, default=32)
    p.add_argument("--heads", type=int, default=32)
    p.add_argument("--kv-heads", type=int, default=None, help="default: --heads")
    p.add_argument("--vocab", type=int, default=32000)
    p.add_argument("--max-position", type=int, default=4096)
    p.add_argument("--rms-eps", type=float, default=1e-5)
    p.add_argument("--rope-theta", type=float, default=10000.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--shard-gb", type=float, default=5.0, help="largest shard in GB (default 5)")
    p.add_argument("--chunk-mb", type=float, default=64.0,
                   help="f32 values drawn at a time, in MB (default 64)")
    p.add_argument("--tokenizer", help="a sentencepiece tokenizer.model to link into the directory")
    p.add_argument("--copy-tokenizer", action="store_true",
                   help="copy the tokenizer instead of a symbolic link")
    a = p.parse_args(argv)
    if a.kv_heads is None:
        a.kv_heads = a.heads
    bad = None
    if min(a.dim, a.hidden, a.layers, a.heads, a.kv_heads, a.vocab, a.max_position) < 1:
        bad = "sizes must be positive"
    elif a.dim % a.heads or (a.dim // a.heads) % 2:
        bad = "--heads must divide --dim into an even head size"
    elif a.heads % a.kv_heads:
        bad = "--kv-heads must divide --heads"
    elif a.shard_gb <= 0 or a.chunk_mb <= 0:
        bad = "--shard-gb and --chunk-mb must be positive"
    elif a.tokenizer and not os.path.isfile(a.tokenizer):
        bad = "no such tokenizer file: %s" % a.tokenizer
    if bad:
        p.error(bad)
    return a


def main(argv):
    a = parse_args(argv)
    os.makedirs(a.out, exist_ok=True)
    tensors = tensor_shapes(a)
    shards = shard_plan(tensors, int(a.shard_gb * 1e9))
    m = len(shards)
    chunk = max(1, int(a.chunk_mb * 1e6) // 4)
    total = sum(2 * numel(t[1]) for t in tensors)
    weight_map = {}
    idx = 0
    for s, group in enumerate(shards):
        fname = "model-%05d-of-%05d.safetensors" % (s + 1, m)
        path = os.path.join(a.out, fname)
        tmp = path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(header_bytes(group))
            for name, shape, is_norm in group:
                # one stream per tensor: the values do not depend on the chunking
                rng = np.random.default_rng([a.seed, idx])
                write_tensor(f, shape, is_norm, rng, chunk)
                weight_map[name] = fname
                idx += 1
        os.replace(tmp, path)
        print("wrote %s (%d tensors, %.2f GB)" % (
            path, len(group), sum(2 * numel(t[1]) for t in group) / 1e9), flush=True)
    write_json(os.path.join(a.out, "model.safetensors.index.json"),
               {"metadata": {"total_size": total}, "weight_map": weight_map})
    write_json(os.path.join(a.out, "config.json"), config_json(a))
    if a.tokenizer:
        dst = os.path.join(a.out, "tokenizer.model")
        if os.path.lexists(dst):
            os.remove(dst)
        if a.copy_tokenizer:
            shutil.copyfile(a.tokenizer, dst)
        else:
            os.symlink(os.path.abspath(a.tokenizer), dst)
    n_params = total // 2
    print("%s: %d parameters (%.2f B), %.2f GB bf16 in %d shard(s)" % (
        a.out, n_params, n_params / 1e9, total / 1e9, m))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

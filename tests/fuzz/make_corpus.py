#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz harnesses, tests/fuzz/corpus/<target>/
seed-*, from the golden test files (tests/golden) and a few small files made
here (a llama2.c checkpoint of a tiny model, safetensors files in every
dtype, a trainer state). Seeds stay a few KB each. Regression inputs of
fixed findings are committed beside them as regress-* and are not touched.

Run from anywhere: python3 tests/fuzz/make_corpus.py"""
import json
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
GOLDEN = os.path.join(HERE, "..", "golden")
CORPUS = os.path.join(HERE, "corpus")


def golden(rel, limit=None):
    with open(os.path.join(GOLDEN, rel), "rb") as f:
        data = f.read()
    if limit is not None and len(data) > limit:
        # keep whole lines of text files
        data = data[:limit]
        if b"\n" in data:
            data = data[: data.rindex(b"\n") + 1]
    return data


def put(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def safetensors(tensors, metadata=None):
    """tensors: list of (name, dtype tag, shape, raw bytes)."""
    header, blobs, off = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name, dt, shape, raw in tensors:
        header[name] = {"dtype": dt, "shape": shape, "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(blobs)


def llama2c(dim, hidden, layers, heads, kv_heads, vocab, seq, shared):
    head = dim // heads
    kv = head * kv_heads
    n = (vocab * dim + layers * dim + layers * dim * dim + 2 * layers * kv * dim +
         layers * dim * dim + layers * dim + 3 * layers * hidden * dim + dim +
         seq * head + (0 if shared else vocab * dim))
    vals = [((i * 7919) % 200 - 100) / 1000.0 for i in range(n)]
    hdr = struct.pack("<7i", dim, hidden, layers, heads, kv_heads, vocab if shared else -vocab, seq)
    return hdr + struct.pack("<%df" % n, *vals)


def main():
    # safetensors: golden files and one of every supported dtype
    for rel in ["io/st_official.safetensors", "io/st_python.safetensors", "mlp.safetensors",
                "io/sharded/model-00001-of-00002.safetensors", "ops/copy.safetensors"]:
        put("safetensors", os.path.basename(rel), golden(rel))
    put("safetensors", "dtypes.safetensors", safetensors([
        ("f32", "F32", [2, 3], struct.pack("<6f", *range(6))),
        ("bf16", "BF16", [4], struct.pack("<4H", 0x3f80, 0xbf80, 0x7f80, 0x0001)),
        ("f16", "F16", [2, 2], struct.pack("<4H", 0x3c00, 0xbc00, 0x7c00, 0x0001)),
        ("i32", "I32", [3], struct.pack("<3i", -1, 0, 7)),
        ("empty", "F32", [0, 5], b""),
        ("scalar", "F32", [], struct.pack("<f", 1.5)),
    ], {"format": "pt", "note": "dtypes"}))

    # the index of a sharded checkpoint (the harness provides both shards)
    put("st_index", "index.json", golden("io/sharded/model.safetensors.index.json"))
    put("st_index", "index_min.json", json.dumps({"weight_map": {
        "layers.0.w": "model-00001-of-00002.safetensors",
        "norm.weight": "model-00002-of-00002.safetensors"}}))

    # llama2.c: tiny models, shared and separate classifier, GQA and MHA
    put("llama2c", "gqa_shared.bin", llama2c(8, 16, 1, 2, 1, 12, 4, True))
    put("llama2c", "mha_cls.bin", llama2c(8, 12, 2, 2, 2, 10, 2, False))

    # configs: every reader gets every seed
    ckpt = json.loads(golden("model/ckpt/config.json"))
    ckpt.pop("lm_path", None)
    ckpt.pop("tokenizer_path", None)
    put("config", "model_ckpt.json", json.dumps(ckpt, indent=1))
    put("config", "model_small.json", json.dumps({
        "preset": "custom", "n_views": 1, "view_combine": "mean", "Kt": 2,
        "topic_words": ["heart", "lung"], "lm": {"dim": 16, "rope_layout": "interleaved"},
        "vit": {"mean": [0.4, 0.4, 0.4]}, "seed": 7, "lr": 0.0005}))
    for rel in ["llama/hf_gqa_bf16/config.json", "llama/hf_mha_f32/config.json",
                "model/lm/config.json", "vit/config.json", "vit/config_timm.json"]:
        put("config", rel.replace("/", "_"), golden(rel))
    put("config", "timm_model_args.json", json.dumps({
        "architecture": "vit_base_patch16_224.augreg_in21k",
        "model_args": {"img_size": [32, 32], "patch_size": 8, "embed_dim": 48, "depth": 2,
                       "num_heads": 3, "mlp_ratio": 2.0, "in_chans": 3},
        "pretrained_cfg": {"num_classes": 10, "mean": [0.5, 0.5, 0.5],
                           "std": [0.5, 0.5, 0.5]}}))

    # annotation.json: the golden dataset (images resolve in the harness)
    put("annotation", "golden.json", golden("dataset/annotation.json"))
    put("annotation", "report_only.json", json.dumps({
        "train": [{"id": "a", "report": "The heart is normal. No effusion."},
                  {"id": "b", "report": "XXXX  1. Lungs clear..", "image_path": ["s3/0.png"]}],
        "val": [], "test": [{"id": "c", "report": ""}]}))

    # images: every golden PNG/JPEG kind
    for name in sorted(os.listdir(os.path.join(GOLDEN, "io"))):
        if name.startswith("img_"):
            put("image", name, golden("io/" + name))
    put("image", "dataset_s4_0.jpg", golden("dataset/images/s4/0.jpg"))

    # eval JSON lines: predictions, references, several references, raw text
    put("eval_jsonl", "hand.pred.jsonl", golden("metrics/hand.pred.jsonl"))
    put("eval_jsonl", "hand.ref.jsonl", golden("metrics/hand.ref.jsonl"))
    put("eval_jsonl", "clean.raw.jsonl", golden("metrics/clean.raw.jsonl"))
    put("eval_jsonl", "multi.ref.jsonl", golden("metrics/phantom_multi.ref.jsonl", 2048))
    put("eval_jsonl", "odd.jsonl",
        '{"id": 7, "report": ""}\n\n{"id": "x", "reports": ["a b c", "a . b"]}\r\n'
        '{"id": "y", "report": "no pleural effusion or pneumothorax . heart size normal ."}\n')

    # tokenizer input: reports, Unicode, bytes that are not UTF-8
    put("tokenizer", "report.txt", "The heart is normal in size. No focal consolidation.\n")
    put("tokenizer", "unicode.txt", "Pleural effusion \u2014 r\u00e9sum\u00e9 \u65e5\u672c \U0001f600\t\r\n")
    put("tokenizer", "bytes.bin", bytes([0xff, 0xfe, 0x80, 0x41, 0xc3, 0x28, 0xe2, 0x82, 0x20]))
    put("tokenizer", "controls.txt", "<s></s><unk> <0x0A> \u2581heart  \x01\x1f")

    # trainer_state.json as mrg_train_state_write writes it
    put("trainer_state", "run.json", json.dumps({
        "step": 12, "epoch": 1, "batch": 2, "samples": 96, "data_seed": "42",
        "best_score": 0.0132, "best_epoch": 0, "skipped": 1,
        "options": {"epochs": 3, "total_steps": 30, "save_every": 0, "eval_max": 0,
                    "no_eval": False, "eval_beam": False, "lr": 0.0005,
                    "min_lr": 9.9999999747524271e-07, "weight_decay": 0.05,
                    "warmup_frac": 0.1, "clip_norm": 1.0, "data_dir": "data/iu"},
        "config": ckpt}, indent=1))
    put("trainer_state", "fresh.json", json.dumps({
        "step": 0, "epoch": 0, "batch": 0, "samples": 0, "data_seed": "18446744073709551615",
        "best_score": -1, "best_epoch": -1}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

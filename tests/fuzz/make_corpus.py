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


def dicom_element(group, elem, vr, value, explicit=True):
    """One little-endian data element (explicit or implicit VR)."""
    if isinstance(value, str):
        value = value.encode()
        if len(value) % 2:
            value += b"\0" if vr == "UI" else b" "
    tag = struct.pack("<HH", group, elem)
    if not explicit:
        return tag + struct.pack("<I", len(value)) + value
    if vr in ("OB", "OW", "UN", "SQ", "UT"):
        return tag + vr.encode() + b"\0\0" + struct.pack("<I", len(value)) + value
    return tag + vr.encode() + struct.pack("<H", len(value)) + value


def dicom(rows, cols, bits, monochrome="MONOCHROME2", window=None, part10=True, signed=False):
    """A small grayscale DICOM image: a Part 10 file (explicit VR little
    endian) or a bare implicit-VR data set."""
    explicit = part10
    e = lambda g, el, vr, v: dicom_element(g, el, vr, v, explicit)
    us = lambda v: struct.pack("<H", v)
    n = rows * cols
    if bits == 8:
        pixels = bytes((i * 37) % 256 for i in range(n))
    else:
        pixels = struct.pack("<%d%s" % (n, "h" if signed else "H"),
                             *[((i * 997) % 4096) - (2048 if signed else 0) for i in range(n)])
    ds = b"".join([
        e(0x0008, 0x0016, "UI", "1.2.840.10008.5.1.4.1.1.1.1"),
        e(0x0008, 0x0060, "CS", "DX"),
        e(0x0028, 0x0002, "US", us(1)),
        e(0x0028, 0x0004, "CS", monochrome),
        e(0x0028, 0x0010, "US", us(rows)),
        e(0x0028, 0x0011, "US", us(cols)),
        e(0x0028, 0x0100, "US", us(bits)),
        e(0x0028, 0x0101, "US", us(12 if bits == 16 else 8)),
        e(0x0028, 0x0102, "US", us(11 if bits == 16 else 7)),
        e(0x0028, 0x0103, "US", us(1 if signed else 0)),
    ] + ([e(0x0028, 0x1050, "DS", window[0]), e(0x0028, 0x1051, "DS", window[1])]
         if window else []) + [
        e(0x7FE0, 0x0010, "OW" if bits == 16 else "OB", pixels),
    ])
    if not part10:
        return ds
    ts = dicom_element(0x0002, 0x0010, "UI", "1.2.840.10008.1.2.1")
    meta = b"".join([
        dicom_element(0x0002, 0x0001, "OB", b"\0\1"),
        dicom_element(0x0002, 0x0002, "UI", "1.2.840.10008.5.1.4.1.1.1.1"),
        dicom_element(0x0002, 0x0003, "UI", "1.2.3.4"),
        ts,
    ])
    group_len = dicom_element(0x0002, 0x0000, "UL", struct.pack("<I", len(meta)))
    return b"\0" * 128 + b"DICM" + group_len + meta + ds


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

    # DICOM: Part 10 and bare data sets, 8/16 bits, MONOCHROME1, a window
    put("dicom", "mono2_8bit.dcm", dicom(8, 6, 8))
    put("dicom", "mono1_16bit_window.dcm", dicom(6, 8, 16, "MONOCHROME1", ("2048", "4096")))
    put("dicom", "signed_16bit.dcm", dicom(4, 4, 16, signed=True))
    put("dicom", "bare_implicit.dcm", dicom(5, 5, 8, part10=False))

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

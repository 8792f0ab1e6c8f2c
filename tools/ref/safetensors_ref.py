#!/usr/bin/env python3
"""Writes the small safetensors fixtures of tests/test_safetensors.c.

    python3 tools/ref/safetensors_ref.py [OUT_DIR]     (default tests/golden/io)

Files (all tiny, committed):
  st_python.safetensors   written by the minimal struct+json writer below
                          (F32, BF16, F16, I32, a scalar, an empty tensor,
                          __metadata__), laid out like the reference writer.
  st_official.safetensors written by the `safetensors` package (PyPI) when it
                          is importable (numpy API: F32, F16, I32 only).
  sharded/                a two-shard Hugging Face checkpoint with
                          model.safetensors.index.json.

The values are fixed formulas that the C test recomputes, so no expected
output file is needed. Needs only the standard library (numpy and
safetensors are optional, for st_official.safetensors).
"""
import json
import math
import os
import struct
import sys

sys.dont_write_bytecode = True  # keep tools/ref free of __pycache__
import st_write  # noqa: E402  (beside this file)


def f32_bytes(vals):
    return struct.pack("<%df" % len(vals), *vals)


def bf16_bytes(vals):
    # Values are chosen exactly representable in bf16: the top 16 bits of f32.
    out = b""
    for v in vals:
        bits = struct.unpack("<I", struct.pack("<f", v))[0]
        assert bits & 0xFFFF == 0, v
        out += struct.pack("<H", bits >> 16)
    return out


def f16_bytes(vals):
    return struct.pack("<%de" % len(vals), *vals)


def i32_bytes(vals):
    return struct.pack("<%di" % len(vals), *vals)


def write_safetensors(path, tensors, metadata=None):
    """tensors: list of (name, dtype tag, shape, raw bytes). Data ordered by
    element size (largest first) then name, as the reference implementation
    does."""
    size = {"F32": 4, "I32": 4, "BF16": 2, "F16": 2}
    for name, dt, shape, raw in tensors:
        assert len(raw) == size[dt] * math.prod(shape), name
    st_write.write_safetensors(path, sorted(tensors, key=lambda t: (-size[t[1]], t[0])), metadata)


# The formulas the C test checks against (keep in sync with test_safetensors.c).
def a_vals():  # (2, 3) F32
    return [0.5 * i - 1.0 for i in range(6)]


def b_vals():  # (4,) BF16
    return [1.0, -2.0, 0.5, 3.140625]


def c_vals():  # (2, 2) F16
    return [0.25 * i - 0.5 for i in range(4)]


def d_vals():  # (3,) I32
    return [1, -2, 2147483647]


def shard_vals(k, n):  # layer k of the sharded fixture, n values
    return [float(k) + 0.125 * i for i in range(n)]


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join("tests", "golden", "io")
    os.makedirs(os.path.join(out, "sharded"), exist_ok=True)

    write_safetensors(
        os.path.join(out, "st_python.safetensors"),
        [
            ("a.f32", "F32", (2, 3), f32_bytes(a_vals())),
            ("b.bf16", "BF16", (4,), bf16_bytes(b_vals())),
            ("c.f16", "F16", (2, 2), f16_bytes(c_vals())),
            ("d.i32", "I32", (3,), i32_bytes(d_vals())),
            ("e.scalar", "F32", (), f32_bytes([7.25])),
            ("z.empty", "F32", (0, 3), b""),
        ],
        {"format": "pt", "generator": "tools/ref/safetensors_ref.py"},
    )

    # Shards: layers.0.* in shard 1, layers.1.* and norm in shard 2.
    names = {
        "model-00001-of-00002.safetensors": [("layers.0.w", (2, 4)), ("layers.0.b", (4,))],
        "model-00002-of-00002.safetensors": [("layers.1.w", (2, 4)), ("layers.1.b", (4,)),
                                             ("norm.weight", (3,))],
    }
    weight_map, total = {}, 0
    for shard, entries in names.items():
        tensors = []
        for name, shape in entries:
            k = 1 if name.startswith("layers.1") else 0 if name.startswith("layers.0") else 2
            vals = shard_vals(k, math.prod(shape))
            tensors.append((name, "F32", shape, f32_bytes(vals)))
            weight_map[name] = shard
            total += 4 * len(vals)
        write_safetensors(os.path.join(out, "sharded", shard), tensors, {"format": "pt"})
    with open(os.path.join(out, "sharded", "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)
        f.write("\n")

    try:
        import numpy as np
        from safetensors.numpy import save_file
    except ImportError:
        print("safetensors/numpy not importable: st_official.safetensors not written")
        return
    save_file(
        {
            "a.f32": np.array(a_vals(), dtype=np.float32).reshape(2, 3),
            "c.f16": np.array(c_vals(), dtype=np.float16).reshape(2, 2),
            "d.i32": np.array(d_vals(), dtype=np.int32),
        },
        os.path.join(out, "st_official.safetensors"),
        metadata={"format": "np"},
    )


if __name__ == "__main__":
    main()

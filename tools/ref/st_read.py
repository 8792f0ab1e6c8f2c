"""The safetensors reader of the reference generators (numpy): the
counterpart of st_write.py, for the scripts that start from a golden
checkpoint or from another script's golden file."""
import json
import struct

import numpy as np

_DTYPES = {"F32": np.float32, "I32": np.int32, "BF16": np.uint16, "F64": np.float64,
           "I64": np.int64}


def read_safetensors(path, only_f32=False):
    """{name: array} of every tensor in path (not __metadata__); BF16
    tensors come widened to float32 (exactly). only_f32: fail on any
    other dtype (scripts whose inputs must be f32 checkpoints)."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        assert not only_f32 or e["dtype"] == "F32", (name, e["dtype"])
        a, b = e["data_offsets"]
        arr = np.frombuffer(data[a:b], dtype=_DTYPES[e["dtype"]]).reshape(e["shape"])
        if e["dtype"] == "BF16":
            arr = (arr.astype(np.uint32) << 16).view(np.float32)
        out[name] = arr.copy()
    return out

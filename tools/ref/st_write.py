"""The safetensors writer of the reference generators (standard library
only): tools/ref/*.py write their golden files through it."""
import json
import os
import struct


def write_safetensors(path, tensors, metadata=None, metadata_last=False):
    """tensors: (name, dtype tag, shape, raw little-endian bytes) in file
    order. The header is compact JSON padded with spaces to a multiple of 8
    bytes (so the data starts 8-byte aligned); __metadata__ (string values)
    comes first, or after the tensors with metadata_last."""
    tensors = list(tensors)
    header, off = {}, 0
    if metadata and not metadata_last:
        header["__metadata__"] = metadata
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": list(shape),
                        "data_offsets": [off, off + len(raw)]}
        off += len(raw)
    if metadata and metadata_last:
        header["__metadata__"] = metadata
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    if os.path.dirname(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for t in tensors:
            f.write(t[3])

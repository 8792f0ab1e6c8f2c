#!/usr/bin/python3
"""Image fixtures and PyTorch goldens for tests/test_image.c.

    /usr/bin/python3 tools/ref/image_ref.py [OUT_DIR]    (default tests/golden/io)

Needs torch, numpy and PIL (Debian: python3-torch, python3-numpy, python3-pil).
Writes small files (a few KiB in all):
  img_gray8.png img_graya8.png img_rgb8.png img_rgba8.png img_gray16.png
  img_rgb16.png img_palette.png   PNGs of fixed random pixels
  img_rgb.jpg                     a smooth JPEG (quality 95)
  img_progressive.jpg             a progressive JPEG
  img_truncated.png               a valid PNG cut in half
  image_golden.safetensors        expected (3, H, W) float32 planes per file,
                                  bilinear resizes by torch F.interpolate
                                  (align_corners=False, antialias=False) and
                                  a load → resize → normalise pipeline.
PNGs are encoded by the small writer below (struct + zlib) so that 16-bit
RGB is covered too; the palette PNG and the JPEG come from PIL.
"""
import os
import struct
import sys
import zlib

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

sys.dont_write_bytecode = True  # keep tools/ref free of __pycache__
import st_write  # noqa: E402  (beside this file)

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]


def write_png(path, arr):
    """arr: (H, W) or (H, W, C) uint8/uint16, C in 1..4 → PNG (no filtering)."""
    if arr.ndim == 2:
        arr = arr[:, :, None]
    h, w, c = arr.shape
    ctype = {1: 0, 2: 4, 3: 2, 4: 6}[c]
    depth = 16 if arr.dtype == np.uint16 else 8
    raw = arr.astype(">u2" if depth == 16 else "u1").tobytes()
    stride = w * c * depth // 8
    rows = b"".join(b"\x00" + raw[y * stride:(y + 1) * stride] for y in range(h))

    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    png = b"\x89PNG\r\n\x1a\n"
    png += chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, ctype, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(rows, 9))
    png += chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(png)


def planes(arr, maxval):
    """(H, W[, C]) integers → (3, H, W) float32 in [0, 1], gray replicated,
    alpha dropped: what mrg_image_load returns."""
    a = arr.astype(np.float32) / np.float32(maxval)
    if a.ndim == 2:
        a = a[:, :, None]
    c = a.shape[2]
    rgb = a[:, :, :3] if c >= 3 else np.repeat(a[:, :, :1], 3, axis=2)
    return np.ascontiguousarray(rgb.transpose(2, 0, 1))


def write_safetensors(path, tensors, metadata):
    """tensors: name -> array, stored as F32 in name order."""
    st_write.write_safetensors(
        path, [(name, "F32", tensors[name].shape,
                np.ascontiguousarray(tensors[name], dtype="<f4").tobytes())
               for name in sorted(tensors)], metadata)


def bilinear(x, h, w):
    """(3, H, W) → (3, h, w) as torch computes it."""
    t = torch.from_numpy(x)[None]
    return F.interpolate(t, size=(h, w), mode="bilinear", align_corners=False,
                         antialias=False)[0].numpy()


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join("tests", "golden", "io")
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(1234)
    g = {}

    cases = {
        "gray8": (rng.integers(0, 256, (7, 9)).astype(np.uint8), 255),
        "graya8": (rng.integers(0, 256, (4, 5, 2)).astype(np.uint8), 255),
        "rgb8": (rng.integers(0, 256, (6, 5, 3)).astype(np.uint8), 255),
        "rgba8": (rng.integers(0, 256, (5, 4, 4)).astype(np.uint8), 255),
        "gray16": (rng.integers(0, 65536, (6, 7)).astype(np.uint16), 65535),
        "rgb16": (rng.integers(0, 65536, (3, 4, 3)).astype(np.uint16), 65535),
    }
    cases["gray8"][0][0, :3] = [0, 255, 128]  # the extremes are exact
    for name, (arr, maxval) in cases.items():
        write_png(os.path.join(out, "img_%s.png" % name), arr)
        g[name] = planes(arr, maxval)

    # Palette PNG through PIL; expected pixels as PIL converts them to RGB.
    pal = Image.fromarray(rng.integers(0, 256, (5, 6, 3)).astype(np.uint8)).convert(
        "P", palette=Image.ADAPTIVE, colors=8)
    pal.save(os.path.join(out, "img_palette.png"))
    g["palette"] = planes(np.asarray(pal.convert("RGB")), 255)

    # A smooth JPEG; decoders differ by a few levels, the test has a tolerance.
    yy, xx = np.mgrid[0:16, 0:24]
    smooth = np.stack([xx * 10, yy * 15, 128 + 0 * xx], axis=2).astype(np.uint8)
    Image.fromarray(smooth).save(os.path.join(out, "img_rgb.jpg"), quality=95)
    g["jpeg"] = planes(np.asarray(Image.open(os.path.join(out, "img_rgb.jpg")).convert("RGB")),
                       255)

    # Progressive JPEG (several scans, Huffman tables between them).
    prog = np.stack([xx * 7 % 256, yy * 9, (xx * yy) % 256], axis=2).astype(np.uint8)
    Image.fromarray(prog).save(os.path.join(out, "img_progressive.jpg"), quality=90,
                               progressive=True)
    g["jpeg_progressive"] = planes(
        np.asarray(Image.open(os.path.join(out, "img_progressive.jpg")).convert("RGB")), 255)

    with open(os.path.join(out, "img_rgb8.png"), "rb") as f:
        full = f.read()
    with open(os.path.join(out, "img_truncated.png"), "wb") as f:
        f.write(full[: len(full) // 2])

    # Bilinear resizes of a random (3, 13, 17) input: down, up, mixed, 1×1, same.
    x = rng.random((3, 13, 17), dtype=np.float32)
    g["resize_in"] = x
    for h, w in [(7, 10), (30, 25), (13, 40), (5, 17), (1, 1), (13, 17)]:
        g["resize_%dx%d" % (h, w)] = bilinear(x, h, w)

    # Pipeline: the RGB PNG loaded, resized to 16×16, normalised.
    p = torch.from_numpy(bilinear(g["rgb8"], 16, 16))
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    g["pipeline_rgb8_16x16"] = ((p - mean) / std).numpy()

    write_safetensors(os.path.join(out, "image_golden.safetensors"), g,
                      {"generator": "tools/ref/image_ref.py", "torch": torch.__version__})


if __name__ == "__main__":
    main()

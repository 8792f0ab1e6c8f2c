#!/usr/bin/python3
"""Golden data for tests/test_vit.c: a random-weight tiny ViT in timm's layout.

    /usr/bin/python3 tools/ref/vit_ref.py [out_dir]     # default tests/golden/vit

timm is not needed: the forward below is written in plain PyTorch and follows
timm's VisionTransformer (class token, learned position embedding, pre-LN
blocks with a fused qkv projection split as (3, heads, head_dim), exact GELU,
LayerNorm eps 1e-6, final norm, head on the class token).

Writes into out_dir:
  model.safetensors   the weights, timm tensor names, f32
  config.json         our config style
  config_timm.json    the same model described in timm's style (sizes come
                      from the tensor shapes, heads from the "tiny" name)
  test.png            a 32x32 RGB image (the model's input size: no resize)
  test_resize.png     a 40x48 RGB image (resized bilinearly to 32x32)
  expected.safetensors
      images (2, 3, 32, 32)      normalised input batch; images[0] is test.png
      logits (2, 10), features (2, 17, 48)
      g_logits, g_features       upstream gradients of
                                 loss = sum(logits * g_logits) + sum(features * g_features)
      grad/<param>               d loss / d param for a few parameters
      logits_resize (1, 10)      logits of test_resize.png after the resize
The reference runs in float64 from the stored f32 values.
"""
import json
import os
import struct
import sys
import zlib

import numpy as np
import torch
import torch.nn.functional as F

sys.dont_write_bytecode = True  # keep tools/ref free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ops_ref import write_safetensors  # noqa: E402

IMG, PATCH, DIM, DEPTH, HEADS, CLASSES = 32, 8, 48, 2, 3, 10
MLP = 4 * DIM
EPS = 1e-6
MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]
GRAD_PARAMS = ["cls_token", "pos_embed", "patch_embed.proj.weight", "patch_embed.proj.bias",
               "blocks.0.norm1.weight", "blocks.0.attn.qkv.weight", "blocks.0.attn.proj.bias",
               "blocks.1.mlp.fc1.weight", "blocks.1.mlp.fc2.bias", "norm.weight", "norm.bias",
               "head.weight", "head.bias"]


def make_weights(rng):
    """Random weights with O(1) activations; norms and biases are random too,
    so a mix-up of weight and bias, or of two layers, changes the output."""
    w = {}

    def lin(name, out, inp):
        w[name + ".weight"] = rng.normal(0, 1 / np.sqrt(inp), (out, inp))
        w[name + ".bias"] = rng.normal(0, 0.1, (out,))

    def ln(name):
        w[name + ".weight"] = 1 + rng.normal(0, 0.1, (DIM,))
        w[name + ".bias"] = rng.normal(0, 0.1, (DIM,))

    fan = 3 * PATCH * PATCH
    w["patch_embed.proj.weight"] = rng.normal(0, 1 / np.sqrt(fan), (DIM, 3, PATCH, PATCH))
    w["patch_embed.proj.bias"] = rng.normal(0, 0.1, (DIM,))
    w["cls_token"] = rng.normal(0, 0.5, (1, 1, DIM))
    n = (IMG // PATCH) ** 2
    w["pos_embed"] = rng.normal(0, 0.5, (1, n + 1, DIM))
    for i in range(DEPTH):
        b = "blocks.%d." % i
        ln(b + "norm1")
        lin(b + "attn.qkv", 3 * DIM, DIM)
        lin(b + "attn.proj", DIM, DIM)
        ln(b + "norm2")
        lin(b + "mlp.fc1", MLP, DIM)
        lin(b + "mlp.fc2", DIM, MLP)
    ln("norm")
    lin("head", CLASSES, DIM)
    return {k: v.astype(np.float32) for k, v in w.items()}


def vit_forward(p, x):
    """timm VisionTransformer.forward_features + forward_head (token pool)."""
    B = x.shape[0]
    x = F.conv2d(x, p["patch_embed.proj.weight"], p["patch_embed.proj.bias"], stride=PATCH)
    x = x.flatten(2).transpose(1, 2)                                  # (B, N, D)
    x = torch.cat([p["cls_token"].expand(B, -1, -1), x], dim=1) + p["pos_embed"]
    hd = DIM // HEADS
    for i in range(DEPTH):
        b = "blocks.%d." % i
        h = F.layer_norm(x, (DIM,), p[b + "norm1.weight"], p[b + "norm1.bias"], EPS)
        T = h.shape[1]
        qkv = F.linear(h, p[b + "attn.qkv.weight"], p[b + "attn.qkv.bias"])
        q, k, v = qkv.reshape(B, T, 3, HEADS, hd).permute(2, 0, 3, 1, 4).unbind(0)
        attn = ((q * hd ** -0.5) @ k.transpose(-2, -1)).softmax(dim=-1)
        o = (attn @ v).transpose(1, 2).reshape(B, T, DIM)
        x = x + F.linear(o, p[b + "attn.proj.weight"], p[b + "attn.proj.bias"])
        h = F.layer_norm(x, (DIM,), p[b + "norm2.weight"], p[b + "norm2.bias"], EPS)
        h = F.gelu(F.linear(h, p[b + "mlp.fc1.weight"], p[b + "mlp.fc1.bias"]))
        x = x + F.linear(h, p[b + "mlp.fc2.weight"], p[b + "mlp.fc2.bias"])
    feats = F.layer_norm(x, (DIM,), p["norm.weight"], p["norm.bias"], EPS)
    logits = F.linear(feats[:, 0], p["head.weight"], p["head.bias"])
    return feats, logits


def write_png(path, rgb):
    """rgb uint8 (H, W, 3) → 8-bit RGB PNG (no filtering)."""
    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[y].tobytes() for y in range(h))

    def chunk(kind, data):
        c = kind + data
        return struct.pack(">I", len(data)) + c + struct.pack(">I", zlib.crc32(c) & 0xFFFFFFFF)

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(png)


def make_image(rng, h, w):
    """A smooth colour pattern plus noise, uint8 (h, w, 3)."""
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([128 + 90 * np.sin(xx / 5.0 + c) * np.cos(yy / 7.0 - c) for c in range(3)], -1)
    return np.clip(base + rng.normal(0, 20, (h, w, 3)), 0, 255).round().astype(np.uint8)


def normalise(rgb):
    """uint8 (h, w, 3) → float64 (1, 3, h, w) in [0, 1]."""
    return torch.tensor(rgb.astype(np.float64) / 255.0).permute(2, 0, 1)[None]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.normpath(
        os.path.join(here, "..", "..", "tests", "golden", "vit"))
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(20240607)
    weights = make_weights(rng)
    write_safetensors(os.path.join(out, "model.safetensors"), weights)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump({"image_size": IMG, "patch_size": PATCH, "dim": DIM, "depth": DEPTH,
                   "heads": HEADS, "num_classes": CLASSES, "mean": MEAN, "std": STD}, f, indent=2)
        f.write("\n")
    with open(os.path.join(out, "config_timm.json"), "w") as f:
        json.dump({"architecture": "vit_tiny_patch8_32", "num_classes": CLASSES,
                   "num_features": DIM, "global_pool": "token",
                   "pretrained_cfg": {"tag": "golden", "input_size": [3, IMG, IMG],
                                      "interpolation": "bilinear", "crop_pct": 1.0,
                                      "mean": MEAN, "std": STD, "num_classes": CLASSES,
                                      "first_conv": "patch_embed.proj", "classifier": "head"}},
                  f, indent=2)
        f.write("\n")

    img0 = make_image(rng, IMG, IMG)
    img1 = make_image(rng, IMG, IMG)
    img2 = make_image(rng, 40, 48)
    write_png(os.path.join(out, "test.png"), img0)
    write_png(os.path.join(out, "test_resize.png"), img2)

    mean = torch.tensor(MEAN, dtype=torch.float64).view(1, 3, 1, 1)
    std = torch.tensor(STD, dtype=torch.float64).view(1, 3, 1, 1)
    images = (torch.cat([normalise(img0), normalise(img1)]) - mean) / std
    images = images.float().double()  # the f32 values the C test reads

    p = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in weights.items()}
    feats, logits = vit_forward(p, images)
    g_logits = torch.tensor(rng.normal(0, 1, logits.shape))
    g_feats = torch.tensor(rng.normal(0, 1, feats.shape))
    loss = (logits * g_logits).sum() + (feats * g_feats).sum()
    loss.backward()

    # the command's pipeline: [0, 1] pixels, bilinear resize (align_corners
    # False, no antialias), then mean/std
    small = F.interpolate(normalise(img2), size=(IMG, IMG), mode="bilinear", align_corners=False)
    with torch.no_grad():
        _, logits_resize = vit_forward(p, (small - mean) / std)

    exp = {"images": images, "logits": logits, "features": feats, "g_logits": g_logits,
           "g_features": g_feats, "logits_resize": logits_resize}
    for name in GRAD_PARAMS:
        exp["grad/" + name] = p[name].grad
    exp = {k: v.detach().numpy().astype(np.float32) for k, v in exp.items()}
    write_safetensors(os.path.join(out, "expected.safetensors"), exp,
                      {"note": "tools/ref/vit_ref.py", "grad_params": ",".join(GRAD_PARAMS)})
    # float32 run as a sanity check of the 1e-4 tolerance
    p32 = {k: torch.tensor(v) for k, v in weights.items()}
    _, l32 = vit_forward(p32, images.float())
    rel = ((l32.double() - logits.detach()).abs().max() / logits.detach().abs().max()).item()
    print("wrote %s: logits %s, f32 vs f64 max rel %.2e" % (out, tuple(logits.shape), rel))


if __name__ == "__main__":
    main()

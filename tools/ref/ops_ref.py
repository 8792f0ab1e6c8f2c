#!/usr/bin/python3
"""Golden reference data for the tensor ops (tests/test_ops_golden.c).

Run with Debian's Python (torch 1.13 CPU + numpy):

    /usr/bin/python3 tools/ref/ops_ref.py [out_dir]     # default tests/golden/ops

For every op of lib/include/mrg/ops.h and optim.h it draws small seeded
random inputs (exactly representable in f32, or rounded to bf16/f16 where a
weight is stored that way), computes the forward output and, for a fixed
random upstream gradient g, the gradient of loss = sum(out * g) with respect
to every differentiable input. The reference is computed with PyTorch in
float64 (from the f32/bf16/f16 input values) and stored as f32, so the
golden values carry no reference error beyond the final rounding.

One safetensors file per op (group), several cases per file. Tensor names
are "<case>/<role>": the inputs by their argument names, "g" (upstream
gradient), "out", and "grad/<input>" for each differentiable input. The
scalar arguments of each case (transposes, axes, eps, ...) are mirrored in
the case table of tests/util/opcases.c; keep both in step.
"""
import os
import sys
import zlib

import numpy as np
import torch
import torch.nn.functional as F

sys.dont_write_bytecode = True  # keep tools/ref free of __pycache__
import st_write  # noqa: E402  (beside this file)

torch.set_grad_enabled(True)

# ---- safetensors writer ---------------------------------------------------


def bf16_round(x):
    """f32 array -> (uint16 bf16 bits, f32 values of those bits); RNE."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    u = x.view(np.uint32).astype(np.uint64)
    rounding = ((u >> 16) & 1) + 0x7FFF
    bits = ((u + rounding) >> 16).astype(np.uint16)
    back = (bits.astype(np.uint32) << 16).view(np.float32)
    return bits, back


def f16_round(x):
    h = np.asarray(x, dtype=np.float32).astype(np.float16)  # RNE
    return h.view(np.uint16), h.astype(np.float32)


class Tensor:
    """A value to store: f32, i32 or pre-rounded bf16/f16 bits."""

    def __init__(self, dtype, shape, raw):
        self.dtype, self.shape, self.raw = dtype, list(shape), raw


def as_tensor(v):
    if isinstance(v, Tensor):
        return v
    if isinstance(v, torch.Tensor):
        v = v.detach().cpu().numpy()
    v = np.asarray(v)
    if v.dtype.kind in "iu":
        return Tensor("I32", v.shape, v.astype("<i4").tobytes())
    return Tensor("F32", v.shape, v.astype("<f4").tobytes())


def write_safetensors(path, tensors, metadata=None):
    """tensors: name -> value (as_tensor), in file order; metadata after them."""
    entries = [(name, t.dtype, t.shape, t.raw)
               for name, t in ((k, as_tensor(v)) for k, v in tensors.items())]
    meta = {k: str(v) for k, v in metadata.items()} if metadata else None
    st_write.write_safetensors(path, entries, meta, metadata_last=True)


# ---- inputs and one case ---------------------------------------------------


class Case:
    """Collects the tensors of one case under "<name>/"."""

    def __init__(self, group, name, seed):
        self.group, self.name = group, name
        self.rng = np.random.default_rng(seed)
        self.store = {}

    def f32(self, role, shape, lo=-1.0, hi=1.0, grad=True):
        """Random f32 input; returns a float64 torch leaf."""
        v = self.rng.uniform(lo, hi, size=shape).astype(np.float32)
        self.store[role] = v
        return torch.tensor(v, dtype=torch.float64, requires_grad=grad)

    def const(self, role, value):
        v = np.asarray(value, dtype=np.float32)
        self.store[role] = v
        return torch.tensor(v, dtype=torch.float64)

    def half(self, role, shape, kind, lo=-1.0, hi=1.0):
        """A frozen weight stored as BF16 or F16; reference uses the rounded values."""
        v = self.rng.uniform(lo, hi, size=shape).astype(np.float32)
        bits, back = bf16_round(v) if kind == "BF16" else f16_round(v)
        self.store[role] = Tensor(kind, shape, bits.astype("<u2").tobytes())
        return torch.tensor(back, dtype=torch.float64)

    def i32(self, role, values):
        v = np.asarray(values, dtype=np.int32)
        self.store[role] = v
        return torch.tensor(v.astype(np.int64))

    def finish(self, out, grads):
        """out: float64 result; grads: {role: leaf} whose gradients are stored."""
        g = self.rng.uniform(-1.0, 1.0, size=tuple(out.shape)).astype(np.float32)
        self.store["g"] = g
        self.store["out"] = out.detach().numpy()
        if grads:
            loss = (out * torch.tensor(g, dtype=torch.float64)).sum()
            loss.backward()
            for role, leaf in grads.items():
                gr = leaf.grad if leaf.grad is not None else torch.zeros_like(leaf)
                self.store["grad/" + role] = gr.numpy()
        self.group.add(self)


class Group:
    def __init__(self, name):
        self.name, self.tensors = name, {}

    def case(self, name):
        # seeded by name (crc32 is stable across runs, unlike hash())
        return Case(self, name, seed=zlib.crc32((self.name + "/" + name).encode()))

    def add(self, case):
        for role, v in case.store.items():
            self.tensors[case.name + "/" + role] = v


GROUPS = []


def group(name):
    g = Group(name)
    GROUPS.append(g)
    return g


# ---- ops ---------------------------------------------------------------------


def ref_matmul(a, b, ta, tb):
    A = a.transpose(-1, -2) if ta else a
    B = b.transpose(-1, -2) if tb else b
    return A @ B


def gen_matmul():
    G = group("matmul")
    # (case, a shape, b shape, ta, tb): batched with all four transpose combos
    for ta in (0, 1):
        for tb in (0, 1):
            c = G.case("b3_t%d%d" % (ta, tb))
            M, K, N = 5, 4, 3
            a = c.f32("a", (3, K, M) if ta else (3, M, K))
            b = c.f32("b", (3, N, K) if tb else (3, K, N))
            c.finish(ref_matmul(a, b, ta, tb), {"a": a, "b": b})
    c = G.case("plain")  # 2-D × 2-D
    a, b = c.f32("a", (6, 7)), c.f32("b", (7, 5))
    c.finish(ref_matmul(a, b, 0, 0), {"a": a, "b": b})
    c = G.case("batch4d")  # two batch dims
    a, b = c.f32("a", (2, 2, 3, 4)), c.f32("b", (2, 2, 4, 5))
    c.finish(ref_matmul(a, b, 0, 0), {"a": a, "b": b})
    for tb in (0, 1):  # 2-D b shared by every batch
        c = G.case("shared_t0%d" % tb)
        a = c.f32("a", (2, 3, 4, 6))
        b = c.f32("b", (5, 6) if tb else (6, 5))
        c.finish(ref_matmul(a, b, 0, tb), {"a": a, "b": b})
    c = G.case("shared_t10")
    a, b = c.f32("a", (3, 6, 4)), c.f32("b", (6, 5))
    c.finish(ref_matmul(a, b, 1, 0), {"a": a, "b": b})
    # frozen half-precision weights: gradient flows to a only
    for kind in ("BF16", "F16"):
        for tb in (0, 1):
            c = G.case("%s_t0%d" % (kind.lower(), tb))
            a = c.f32("a", (2, 3, 8))
            b = c.half("b", (6, 8) if tb else (8, 6), kind)
            c.finish(ref_matmul(a, b, 0, tb), {"a": a})
        c = G.case("%s_gemv" % kind.lower())  # M = 1 (decoding)
        a = c.f32("a", (1, 16))
        b = c.half("b", (10, 16), kind)
        c.finish(ref_matmul(a, b, 0, 1), {"a": a})
        c = G.case("%s_batched" % kind.lower())  # batched half b
        a = c.f32("a", (2, 3, 4))
        b = c.half("b", (2, 4, 5), kind)
        c.finish(ref_matmul(a, b, 0, 0), {"a": a})


def gen_linear():
    G = group("linear")
    c = G.case("bias")
    x, w, bias = c.f32("x", (2, 3, 6)), c.f32("w", (4, 6)), c.f32("bias", (4,))
    c.finish(F.linear(x, w, bias), {"x": x, "w": w, "bias": bias})
    c = G.case("nobias")
    x, w = c.f32("x", (5, 7)), c.f32("w", (3, 7))
    c.finish(F.linear(x, w), {"x": x, "w": w})
    for kind in ("BF16", "F16"):
        c = G.case("%s_bias" % kind.lower())
        x, w = c.f32("x", (2, 4, 8)), c.half("w", (5, 8), kind)
        bias = c.f32("bias", (5,))
        c.finish(F.linear(x, w, bias), {"x": x, "bias": bias})


BROADCASTS = [  # (case, a shape, b shape)
    ("same", (2, 3, 4), (2, 3, 4)),
    ("row", (2, 3, 4), (4,)),
    ("col", (2, 3, 4), (3, 1)),
    ("both", (2, 1, 4), (3, 1)),
    ("scalar", (2, 3), (1,)),
    ("mid", (2, 3, 4), (2, 1, 4)),
    ("left", (4,), (3, 2, 4)),
]


def gen_binary():
    for name, fn in (("add", torch.add), ("sub", torch.sub), ("mul", torch.mul)):
        G = group(name)
        for case, sa, sb in BROADCASTS:
            c = G.case(case)
            a, b = c.f32("a", sa), c.f32("b", sb)
            c.finish(fn(a, b), {"a": a, "b": b})


def gen_unary():
    G = group("scale")
    for case, s in (("neg", -0.75), ("big", 3.5)):
        c = G.case(case)
        x = c.f32("x", (3, 5))
        c.finish(x * s, {"x": x})
    G = group("gelu")
    c = G.case("wide")
    x = c.f32("x", (4, 9), -4.0, 4.0)
    c.finish(F.gelu(x), {"x": x})
    G = group("silu")
    c = G.case("wide")
    x = c.f32("x", (4, 9), -6.0, 6.0)
    c.finish(F.silu(x), {"x": x})


def causal_fill(x):
    Tq, Tk = x.shape[-2], x.shape[-1]
    i = torch.arange(Tq)[:, None]
    j = torch.arange(Tk)[None, :]
    return x.masked_fill(j > i + Tk - Tq, float("-inf"))


def gen_softmax():
    G = group("softmax")
    c = G.case("plain")
    x = c.f32("x", (2, 3, 7), -3.0, 3.0)
    c.finish(torch.softmax(x, -1), {"x": x})
    c = G.case("causal_sq")
    x = c.f32("x", (2, 4, 4), -3.0, 3.0)
    c.finish(torch.softmax(causal_fill(x), -1), {"x": x})
    c = G.case("causal_rect")  # Tq < Tk: queries sit at the end
    x = c.f32("x", (2, 2, 3, 5), -3.0, 3.0)
    c.finish(torch.softmax(causal_fill(x), -1), {"x": x})
    G = group("log_softmax")
    c = G.case("plain")
    x = c.f32("x", (3, 4, 6), -3.0, 3.0)
    c.finish(torch.log_softmax(x, -1), {"x": x})
    c = G.case("wide")  # large logits (stability)
    x = c.f32("x", (2, 11), -40.0, 40.0)
    c.finish(torch.log_softmax(x, -1), {"x": x})


def gen_norms():
    G = group("layernorm")
    c = G.case("affine")
    x = c.f32("x", (2, 3, 8), -2.0, 2.0)
    w, b = c.f32("w", (8,), 0.5, 1.5), c.f32("b", (8,))
    c.finish(F.layer_norm(x, (8,), w, b, 1e-5), {"x": x, "w": w, "b": b})
    c = G.case("plain")
    x = c.f32("x", (4, 10), -2.0, 2.0)
    c.finish(F.layer_norm(x, (10,), None, None, 1e-5), {"x": x})

    G = group("rmsnorm")

    def rms(x, w, eps):
        return x * torch.rsqrt((x * x).mean(-1, keepdim=True) + eps) * w
    c = G.case("f32")
    x, w = c.f32("x", (2, 3, 8), -2.0, 2.0), c.f32("w", (8,), 0.5, 1.5)
    c.finish(rms(x, w, 1e-6), {"x": x, "w": w})
    c = G.case("bf16")  # frozen bf16 weight (LLaMA)
    x, w = c.f32("x", (3, 12), -2.0, 2.0), c.half("w", (12,), "BF16", 0.5, 1.5)
    c.finish(rms(x, w, 1e-5), {"x": x})

    G = group("l2_normalize")
    c = G.case("plain")
    x = c.f32("x", (3, 8))
    c.finish(F.normalize(x, p=2.0, dim=-1, eps=1e-12), {"x": x})
    c = G.case("eps")  # row 1 has norm < eps = 0.5: x / eps there
    v = np.random.default_rng(7).uniform(-1, 1, (3, 6)).astype(np.float32)
    v[1] *= 0.05
    c.store["x"] = v
    x = torch.tensor(v, dtype=torch.float64, requires_grad=True)
    c.finish(F.normalize(x, p=2.0, dim=-1, eps=0.5), {"x": x})


def rope_half(x, pos0, theta):
    """Hugging Face rotate_half on x (B, T, H, D)."""
    B, T, H, D = x.shape
    inv = 1.0 / (theta ** (torch.arange(0, D, 2, dtype=torch.float64) / D))
    t = torch.arange(pos0, pos0 + T, dtype=torch.float64)
    emb = torch.cat([torch.outer(t, inv)] * 2, -1)  # (T, D)
    cos, sin = emb.cos()[None, :, None, :], emb.sin()[None, :, None, :]
    x1, x2 = x[..., : D // 2], x[..., D // 2:]
    return x * cos + torch.cat([-x2, x1], -1) * sin


def rope_interleaved(x, pos0, theta):
    """Meta / llama2.c complex form on x (B, T, H, D)."""
    B, T, H, D = x.shape
    inv = 1.0 / (theta ** (torch.arange(0, D, 2, dtype=torch.float64) / D))
    t = torch.arange(pos0, pos0 + T, dtype=torch.float64)
    freqs = torch.outer(t, inv)  # (T, D/2)
    cis = torch.polar(torch.ones_like(freqs), freqs)[None, :, None, :]
    xc = torch.view_as_complex(x.reshape(B, T, H, D // 2, 2).contiguous())
    return torch.view_as_real(xc * cis).reshape(B, T, H, D)


def gen_rope():
    G = group("rope")
    for layout, fn in (("half", rope_half), ("inter", rope_interleaved)):
        for theta, pos0 in ((10000.0, 0), (10000.0, 5), (500000.0, 37)):
            c = G.case("%s_%d_%d" % (layout, int(theta), pos0))
            x = c.f32("x", (2, 3, 2, 8))
            c.finish(fn(x, pos0, theta), {"x": x})


def gen_embedding():
    G = group("embedding")
    c = G.case("f32")
    w = c.f32("w", (7, 4))
    ids = c.i32("ids", [[1, 3, 1], [6, 0, 3]])  # repeated ids accumulate
    c.finish(F.embedding(ids, w), {"w": w})
    c = G.case("bf16")
    w = c.half("w", (9, 6), "BF16")
    ids = c.i32("ids", [2, 8, 2, 0, 5])
    c.finish(F.embedding(ids, w), {})


def gen_reduce():
    for name, fn in (("sum", torch.sum), ("mean", torch.mean)):
        G = group(name)
        for axis in (0, 1, 2):
            for keep in (0, 1):
                c = G.case("ax%d_k%d" % (axis, keep))
                x = c.f32("x", (2, 3, 4))
                c.finish(fn(x, axis, keepdim=bool(keep)), {"x": x})


def gen_shapes():
    G = group("permute")
    c = G.case("p201")
    x = c.f32("x", (2, 3, 4))
    c.finish(x.permute(2, 0, 1), {"x": x})
    c = G.case("p0213")
    x = c.f32("x", (2, 3, 4, 5))
    c.finish(x.permute(0, 2, 1, 3), {"x": x})
    c = G.case("p3120")
    x = c.f32("x", (2, 3, 2, 3))
    c.finish(x.permute(3, 1, 2, 0), {"x": x})

    G = group("transpose")
    c = G.case("t02")
    x = c.f32("x", (2, 3, 4))
    c.finish(x.transpose(0, 2), {"x": x})
    c = G.case("t12")
    x = c.f32("x", (2, 3, 5))
    c.finish(x.transpose(1, 2), {"x": x})

    G = group("concat")
    for axis, shapes in ((0, [(2, 3), (1, 3), (3, 3)]),
                         (1, [(2, 3, 4), (2, 1, 4), (2, 2, 4)]),
                         (2, [(2, 3, 1), (2, 3, 4)])):
        c = G.case("ax%d" % axis)
        xs = [c.f32("x%d" % i, s) for i, s in enumerate(shapes)]
        c.finish(torch.cat(xs, axis), {"x%d" % i: x for i, x in enumerate(xs)})

    G = group("slice")
    for case, shape, axis, start, ln in (("ax0", (4, 3, 2), 0, 1, 2),
                                         ("ax1", (3, 5, 4), 1, 1, 3),
                                         ("neg", (2, 3, 6), -1, 2, 3)):
        c = G.case(case)
        x = c.f32("x", shape)
        c.finish(x.narrow(axis, start, ln), {"x": x})

    G = group("reshape")
    c = G.case("infer")
    x = c.f32("x", (2, 3, 4))
    c.finish(x.reshape(4, -1), {"x": x})
    c = G.case("split")
    x = c.f32("x", (6, 4))
    c.finish(x.reshape(2, 3, 2, 2), {"x": x})

    G = group("copy")
    c = G.case("f32")
    x = c.f32("x", (3, 4))
    c.finish(x.clone(), {"x": x})
    c = G.case("bf16")
    x = c.half("x", (3, 4), "BF16")
    c.finish(x.clone(), {})


def gen_cross_entropy():
    G = group("cross_entropy")
    c = G.case("ignore")
    x = c.f32("logits", (6, 5), -3.0, 3.0)
    t = c.i32("targets", [4, -100, 0, 2, -100, 2])
    c.finish(F.cross_entropy(x, t, ignore_index=-100).reshape(1), {"logits": x})
    c = G.case("all")
    x = c.f32("logits", (4, 7), -3.0, 3.0)
    t = c.i32("targets", [6, 1, 3, 0])
    c.finish(F.cross_entropy(x, t, ignore_index=-100).reshape(1), {"logits": x})
    # every target ignored: defined as loss 0 with zero gradients (torch gives nan)
    c = G.case("none")
    x = c.f32("logits", (3, 4), -3.0, 3.0)
    c.i32("targets", [-100, -100, -100])
    c.finish((x * 0.0).sum().reshape(1), {"logits": x})


def ref_sdpa(q, k, v, mask, causal, scale):
    H, Hkv = q.shape[1], k.shape[1]
    k = k.repeat_interleave(H // Hkv, dim=1)  # head h -> kv head h // (H/Hkv)
    v = v.repeat_interleave(H // Hkv, dim=1)
    s = (q @ k.transpose(-1, -2)) * scale
    if mask is not None:
        s = s + mask[:, None, None, :]
    if causal:
        s = causal_fill(s)
    return torch.softmax(s, -1) @ v


def gen_sdpa():
    G = group("sdpa")
    # (case, B, H, Hkv, Tq, Tk, D, causal, mask)
    for case, B, H, Hkv, Tq, Tk, D, causal, mask in (
            ("full", 2, 2, 2, 4, 4, 8, 0, 0),
            ("causal", 2, 2, 2, 4, 4, 8, 1, 0),
            ("gqa", 1, 4, 2, 3, 5, 4, 0, 0),
            ("gqa_causal_rect", 2, 4, 2, 3, 5, 4, 1, 0),
            ("mask", 2, 2, 1, 3, 5, 8, 0, 1),
            ("mask_causal", 2, 4, 2, 5, 5, 4, 1, 1),
            # spans several query and key tiles of the fused kernels (CPU 32 x 64,
            # OpenCL 16 keys; test_sdpa_fused covers wider heads)
            ("tiles", 1, 2, 1, 33, 66, 6, 1, 1)):
        c = G.case(case)
        q = c.f32("q", (B, H, Tq, D))
        k = c.f32("k", (B, Hkv, Tk, D))
        v = c.f32("v", (B, Hkv, Tk, D))
        m = None
        if mask:
            mv = np.zeros((B, Tk), np.float32)
            mv[0, Tk - 2:] = -np.inf  # padding at the end of sample 0
            mv[B - 1, Tk - 1] = -1e9  # a large negative value also drops
            m = c.const("mask", mv)
        c.finish(ref_sdpa(q, k, v, m, causal, 1.0 / np.sqrt(D)), {"q": q, "k": k, "v": v})


def gen_patch_embed():
    G = group("patch_embed")
    c = G.case("bias")
    img = c.f32("img", (2, 3, 8, 8))
    w, b = c.f32("w", (5, 3, 4, 4), -0.5, 0.5), c.f32("bias", (5,))
    out = F.conv2d(img, w, b, stride=4).flatten(2).transpose(1, 2)
    c.finish(out, {"img": img, "w": w, "bias": b})
    c = G.case("nobias")
    img = c.f32("img", (1, 2, 6, 9))
    w = c.f32("w", (4, 2, 3, 3), -0.5, 0.5)
    out = F.conv2d(img, w, None, stride=3).flatten(2).transpose(1, 2)
    c.finish(out, {"img": img, "w": w})


def gen_adamw():
    """Three AdamW steps on two parameters with given gradients and a
    changing learning rate; parameters and moments after every step."""
    G = group("adamw")
    c = G.case("steps")
    rng = c.rng
    p0 = rng.uniform(-1, 1, (3, 4)).astype(np.float32)
    q0 = rng.uniform(-1, 1, (5,)).astype(np.float32)
    c.store["p0"], c.store["q0"] = p0, q0
    p = torch.tensor(p0, dtype=torch.float64, requires_grad=True)
    q = torch.tensor(q0, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.AdamW([p, q], lr=1e-2, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1)
    for step, lr in enumerate((1e-2, 5e-3, 2e-2), start=1):
        gp = rng.uniform(-1, 1, (3, 4)).astype(np.float32)
        gq = rng.uniform(-0.01, 0.01, (5,)).astype(np.float32)
        c.store["gp%d" % step], c.store["gq%d" % step] = gp, gq
        p.grad = torch.tensor(gp, dtype=torch.float64)
        q.grad = torch.tensor(gq, dtype=torch.float64)
        for grp in opt.param_groups:
            grp["lr"] = lr
        opt.step()
        c.store["p%d" % step] = p.detach().numpy().copy()
        c.store["q%d" % step] = q.detach().numpy().copy()
    st = opt.state
    c.store["p_m"], c.store["p_v"] = st[p]["exp_avg"].numpy(), st[p]["exp_avg_sq"].numpy()
    c.store["q_m"], c.store["q_v"] = st[q]["exp_avg"].numpy(), st[q]["exp_avg_sq"].numpy()
    G.add(c)


def gen_clip():
    G = group("clip_grad_norm")
    for case, max_norm, scale in (("clip", 1.0, 1.0), ("noclip", 100.0, 1.0),
                                  ("measure", 0.0, 1.0)):
        c = G.case(case)
        ga = c.rng.uniform(-1, 1, (4, 5)).astype(np.float32) * scale
        gb = c.rng.uniform(-1, 1, (7,)).astype(np.float32) * scale
        c.store["ga"], c.store["gb"] = ga, gb
        a = torch.zeros(4, 5, dtype=torch.float64, requires_grad=True)
        b = torch.zeros(7, dtype=torch.float64, requires_grad=True)
        a.grad = torch.tensor(ga, dtype=torch.float64)
        b.grad = torch.tensor(gb, dtype=torch.float64)
        if max_norm > 0:
            norm = torch.nn.utils.clip_grad_norm_([a, b], max_norm)
        else:  # max_norm <= 0 only measures (mrg semantics)
            norm = torch.cat([a.grad.flatten(), b.grad.flatten()]).norm()
        c.store["norm"] = np.asarray([norm.item()], np.float32)
        c.store["out_a"], c.store["out_b"] = a.grad.numpy(), b.grad.numpy()
        G.add(c)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "..", "tests",
                                                                   "golden", "ops")
    for gen in (gen_matmul, gen_linear, gen_binary, gen_unary, gen_softmax, gen_norms,
                gen_rope, gen_embedding, gen_reduce, gen_shapes, gen_cross_entropy,
                gen_sdpa, gen_patch_embed, gen_adamw, gen_clip):
        gen()
    total = 0
    for g in GROUPS:
        path = os.path.join(out_dir, g.name + ".safetensors")
        write_safetensors(path, g.tensors, {"generator": "tools/ref/ops_ref.py",
                                            "torch": torch.__version__})
        total += os.path.getsize(path)
    print("wrote %d files, %d bytes, to %s" % (len(GROUPS), total, os.path.normpath(out_dir)))


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""Golden data for tests/test_mlp.c: a two-layer MLP trained with AdamW.

    /usr/bin/python3 tools/ref/mlp_ref.py [out_file]   # default tests/golden/mlp.safetensors

Model: logits = Linear(16→5)(GELU(Linear(8→16)(x))), loss = cross-entropy
with ignore_index −100 (mean over the kept rows). The initial weights, the
data and the 50 losses (each computed before its AdamW step) are stored, plus
the final weights. The reference runs in float64 from the stored f32 initial
values; the float32 run is printed as a sanity check that 50 steps do not
amplify rounding beyond the 1e-4 test tolerance. The hyper-parameters are in
the file's __metadata__ and mirrored in tests/test_mlp.c.
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.dont_write_bytecode = True  # keep tools/ref free of __pycache__
from ops_ref import write_safetensors  # noqa: E402

N, IN, HID, OUT, STEPS = 16, 8, 16, 5, 50
LR, BETAS, EPS, WD = 1e-2, (0.9, 0.999), 1e-8, 0.01


def train(init, x, t, dtype):
    ps = [torch.tensor(v, dtype=dtype, requires_grad=True) for v in init]
    w1, b1, w2, b2 = ps
    opt = torch.optim.AdamW(ps, lr=LR, betas=BETAS, eps=EPS, weight_decay=WD)
    xt = torch.tensor(x, dtype=dtype)
    tt = torch.tensor(t.astype(np.int64))
    losses = []
    for _ in range(STEPS):
        opt.zero_grad()
        logits = F.linear(F.gelu(F.linear(xt, w1, b1)), w2, b2)
        loss = F.cross_entropy(logits, tt, ignore_index=-100)
        loss.backward()
        losses.append(loss.item())
        opt.step()
    return np.asarray(losses), [p.detach().numpy() for p in ps]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "..", "tests",
                                                               "golden", "mlp.safetensors")
    rng = np.random.default_rng(20240601)
    # PyTorch's default Linear init range: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    k1, k2 = 1 / np.sqrt(IN), 1 / np.sqrt(HID)
    init = [rng.uniform(-k1, k1, (HID, IN)), rng.uniform(-k1, k1, (HID,)),
            rng.uniform(-k2, k2, (OUT, HID)), rng.uniform(-k2, k2, (OUT,))]
    init = [v.astype(np.float32) for v in init]
    x = rng.normal(0, 1, (N, IN)).astype(np.float32)
    t = rng.integers(0, OUT, N).astype(np.int32)
    t[[3, 11]] = -100  # ignored rows
    losses, final = train(init, x, t, torch.float64)
    losses32, _ = train(init, x, t, torch.float32)
    rel = np.max(np.abs(losses32 - losses) / np.abs(losses))
    print("loss %.6f -> %.6f; torch f32 vs f64 max rel diff %.2e" % (losses[0], losses[-1], rel))
    names = ["w1", "b1", "w2", "b2"]
    tensors = {"x": x, "targets": t, "losses": losses}
    tensors.update({n: v for n, v in zip(names, init)})
    tensors.update({n + "_final": v for n, v in zip(names, final)})
    meta = {"generator": "tools/ref/mlp_ref.py", "steps": STEPS, "lr": LR,
            "beta1": BETAS[0], "beta2": BETAS[1], "eps": EPS, "weight_decay": WD}
    write_safetensors(out, tensors, meta)
    print("wrote", os.path.normpath(out), os.path.getsize(out), "bytes")


if __name__ == "__main__":
    main()

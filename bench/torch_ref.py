#!/usr/bin/env python3
"""The PyTorch side of the side-by-side benchmarks (bench/side_by_side.py runs
it, one measurement per process, next to the matching `mrg bench` mode).

    torch_ref.py gemm --sizes 256,512 --repeat R
    torch_ref.py vit  --batch 8 --views 2 --image-size 224 --patch 16 --dim 768
                      --depth 12 --heads 12 --mlp 3072 --repeat R
    torch_ref.py lm   --model HF_DIR --prompt P --gen G --repeat R
    torch_ref.py step --mrg-json FILE --lm HF_DIR --precision f32|bf16-mixed
                      --warmup W --steps N
every mode also takes --threads N (torch.set_num_threads; the caller sets
OMP_NUM_THREADS and MKL_NUM_THREADS to the same N) and prints one JSON object
on stdout. Each measures as its `mrg bench` twin does:
  gemm  mean seconds per call of `repeat` calls after one warm-up, C = A·B
        square, torch.matmul into a preallocated output, f32 and bf16
        (bf16 × bf16 → bf16, oneDNN/AMX where the CPU has it); a size whose
        estimate exceeds --budget seconds is skipped (null);
  vit   timm's VisionTransformer (no head, random weights), forward_features
        on batch·views images, loss = mean of the features, backward, grads
        zeroed first; best and mean of `repeat` passes after one warm-up;
  lm    Hugging Face transformers LlamaForCausalLM in the stored dtype:
        prefill of P random ids (logits of the last position only) and G
        greedy decode steps through the KV cache; best of `repeat` after a
        warm-up, as `mrg bench lm`;
  step  the report generator of tools/ref/model_ref.py (the same config and
        batch shape as the `mrg bench step --json` output it is given, the
        frozen LLaMA from the same directory), one AdamW step with gradient
        clipping: f32, or bf16-mixed (torch.autocast("cpu", bf16) with the
        frozen LLaMA held in bf16 and the trained parts in f32, as
        R2GenGPT's bf16-mixed); best and mean of the timed steps.
Peak memory is the process's ru_maxrss (the torch import included, as the
`mrg` process's figure includes its libraries); rss_start_bytes is the
resident size before the model was built.
"""
import argparse
import json
import os
import resource
import sys
import time

sys.dont_write_bytecode = True


def peak_rss_bytes():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def rss_bytes():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return -1


def setup(threads):
    import torch
    if threads > 0:
        torch.set_num_threads(threads)
    return torch


def common(torch, threads):
    return {"torch": torch.__version__, "threads": torch.get_num_threads(),
            "cpu_capability": torch.backends.cpu.get_cpu_capability()}


def start_model_run(threads, library):
    """torch with its threads set, and the output's common fields plus the
    version of the library that builds the model and the resident size
    before it is built."""
    torch = setup(threads)
    out = common(torch, threads)
    out[library.__name__] = library.__version__
    out["rss_start_bytes"] = rss_bytes()
    return torch, out


def best_mean(times):
    return min(times), sum(times) / len(times)


def timed_calls(fn, warmup, repeat):
    """Calls fn() warmup times untimed, then repeat times timed: the seconds of
    each timed call and the last call's result."""
    result = None
    for _ in range(warmup):
        result = fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return times, result


# ---- gemm ----------------------------------------------------------------------

def run_gemm(a):
    torch = setup(a.threads)
    out = common(torch, a.threads)
    out["repeat"] = a.repeat
    out["sizes"] = []
    out["budget_s"] = a.budget
    g = torch.Generator().manual_seed(1)
    # seconds per call at the last size measured, per dtype: a size whose
    # estimate (n³ scaling) for warm-up + repeat calls exceeds --budget is
    # skipped (None); torch's bf16 matmul on a CPU without bf16 instructions
    # ran at well under 1 GFLOP/s on one thread (an AMD EPYC Zen 3), where
    # 4096 would take most of an hour
    last = {}
    for n in [int(x) for x in a.sizes.split(",")]:
        row = {"n": n}
        for name, dt in (("f32", torch.float32), ("bf16", torch.bfloat16)):
            if name in last:
                n0, t0 = last[name]
                if t0 * (n / n0) ** 3 * (a.repeat + 1) > a.budget:
                    row[name + "_gflops"] = None
                    continue
            x = (torch.rand(n, n, generator=g) - 0.5).to(dt)
            y = (torch.rand(n, n, generator=g) - 0.5).to(dt)
            c = torch.empty(n, n, dtype=dt)
            times, _ = timed_calls(lambda: torch.matmul(x, y, out=c), 1, a.repeat)
            t = sum(times) / a.repeat
            last[name] = (n, t)
            row[name + "_gflops"] = 2.0 * n ** 3 / t * 1e-9
        out["sizes"].append(row)
    return out


# ---- vit -----------------------------------------------------------------------

def run_vit(a):
    import timm
    from timm.models.vision_transformer import VisionTransformer
    torch, out = start_model_run(a.threads, timm)
    torch.manual_seed(1)
    m = VisionTransformer(img_size=a.image_size, patch_size=a.patch, embed_dim=a.dim,
                          depth=a.depth, num_heads=a.heads, mlp_ratio=a.mlp / a.dim,
                          num_classes=0, qkv_bias=True)
    m.train()
    x = torch.rand(a.batch * a.views, 3, a.image_size, a.image_size) * 2 - 1

    def one_pass():
        m.zero_grad(set_to_none=False)
        m.forward_features(x).mean().backward()

    times, _ = timed_calls(one_pass, 1, a.repeat)
    best, mean = best_mean(times)
    out.update({"batch": a.batch, "views": a.views, "image_size": a.image_size,
                "parameters": sum(p.numel() for p in m.parameters()), "repeat": a.repeat,
                "fused_attn": bool(getattr(m.blocks[0].attn, "fused_attn", False)),
                "best_s": best, "mean_s": mean, "images_per_s": a.batch * a.views / best,
                "peak_rss_bytes": peak_rss_bytes()})
    return out


# ---- lm (Hugging Face transformers) ----------------------------------------------

def run_lm(a):
    import transformers
    from transformers import LlamaForCausalLM
    torch, out = start_model_run(a.threads, transformers)
    with open(os.path.join(a.model, "config.json")) as f:
        hf = json.load(f)
    dt = {"bfloat16": torch.bfloat16, "float16": torch.float16}.get(hf.get("torch_dtype"),
                                                                    torch.float32)
    t0 = time.perf_counter()
    try:
        m = LlamaForCausalLM.from_pretrained(a.model, dtype=dt)
    except TypeError:  # transformers before 4.56 names it torch_dtype
        m = LlamaForCausalLM.from_pretrained(a.model, torch_dtype=dt)
    m.eval()
    load_s = time.perf_counter() - t0
    V = m.config.vocab_size
    g = torch.Generator().manual_seed(12345)
    ids = torch.randint(3, V, (1, a.prompt), generator=g)
    ids[0, 0] = 1

    # the KV cache argument: `cache` from transformers 5.x, `past_key_values` before
    import inspect
    kv = "cache" if "cache" in inspect.signature(m.forward).parameters else "past_key_values"

    def prefill():
        o = m(input_ids=ids, use_cache=True, logits_to_keep=1)
        return getattr(o, kv), o.logits[:, -1]

    def decode(past, logits, n):
        for _ in range(n):
            nxt = logits.argmax(-1, keepdim=True)
            o = m(input_ids=nxt, use_cache=True, **{kv: past})
            past, logits = getattr(o, kv), o.logits[:, -1]
            logits.float().cpu()  # the host reads every step's logits, as mrg does

    with torch.inference_mode():
        past, logits = prefill()  # warm-up
        decode(past, logits, min(a.gen, 4))
        bp, bd = float("inf"), float("inf")
        for _ in range(a.repeat):
            t0 = time.perf_counter()
            past, logits = prefill()
            t1 = time.perf_counter()
            decode(past, logits, a.gen)
            t2 = time.perf_counter()
            bp, bd = min(bp, t1 - t0), min(bd, t2 - t1)
    out.update({"model": a.model, "dtype": str(dt).replace("torch.", ""), "load_s": load_s,
                "attn_implementation": getattr(m.config, "_attn_implementation", None),
                "repeat": a.repeat, "prompt_tokens": a.prompt, "prefill_s": bp,
                "prefill_tokens_per_s": a.prompt / bp, "decode_tokens": a.gen, "decode_s": bd,
                "decode_tokens_per_s": a.gen / bd if a.gen else 0.0,
                "peak_rss_bytes": peak_rss_bytes()})
    return out


# ---- step (the report generator, tools/ref/model_ref.py) -------------------------

def load_hf_weights(torch, d, dtype):
    """Every tensor of a Hugging Face directory (sharded or not) in dtype."""
    from safetensors.torch import load_file
    idx = os.path.join(d, "model.safetensors.index.json")
    files = sorted(set(json.load(open(idx))["weight_map"].values())) if os.path.exists(idx) \
        else ["model.safetensors"]
    W = {}
    for fn in files:
        for k, v in load_file(os.path.join(d, fn)).items():
            W[k] = v.to(dtype)
            del v
    return W


def run_step(a):
    torch = setup(a.threads)
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools",
                                    "ref"))
    import numpy as np
    import model_ref
    torch.set_default_dtype(torch.float32)  # llama_ref's import sets float64 (golden data)
    out = common(torch, a.threads)
    out["rss_start_bytes"] = rss_bytes()
    with open(a.mrg_json) as f:
        mj = json.load(f)
    cfg = mj["config"]
    arch = model_ref.Arch(cfg, sdpa=True)
    with open(os.path.join(a.lm, "config.json")) as f:
        hf = json.load(f)
    lm = {"dim": hf["hidden_size"], "heads": hf["num_attention_heads"],
          "kv_heads": hf.get("num_key_value_heads", hf["num_attention_heads"]),
          "layers": hf["num_hidden_layers"], "eps": hf.get("rms_norm_eps", 1e-5),
          "theta": hf.get("rope_theta", 10000.0), "tied": hf.get("tie_word_embeddings", False)}
    mixed = a.precision == "bf16-mixed"
    t0 = time.perf_counter()
    W = load_hf_weights(torch, a.lm, torch.bfloat16 if mixed else torch.float32)
    for v in W.values():
        v.requires_grad_(False)
    D, V = lm["dim"], W["model.embed_tokens.weight"].shape[0]
    rng = np.random.default_rng(int(cfg.get("seed", 42)))
    p = {k: torch.from_numpy(v).requires_grad_(not (k.startswith("vit.") and arch.freeze_vit))
         for k, v in model_ref.make_weights(rng, D, arch).items()}
    load_s = time.perf_counter() - t0
    trained = [t for t in p.values() if t.requires_grad]
    opt = torch.optim.AdamW(trained, lr=cfg["lr"], weight_decay=cfg["weight_decay"])

    # the batch: the shapes of mrg's (random values: the timing does not
    # depend on them); every report n tokens + </s>, as bench step makes them
    g = torch.Generator().manual_seed(1)
    B, T, eos = mj["batch"], mj["report_tokens"], 2
    images = torch.randn(B, arch.n_views, 3, arch.img, arch.img, generator=g)
    report = torch.randint(3, V, (B, T), generator=g)
    report[:, -1] = eos
    report_ids = report.numpy()
    report_len = np.full(B, T)
    before = [1] + torch.randint(3, V, (mj["prompt_before_tokens"] - 1,), generator=g).tolist()
    after = torch.randint(3, V, (mj["prompt_after_tokens"],), generator=g).tolist()
    with torch.no_grad():  # mean embedding of one random piece per topic word
        topic_ids = torch.randint(3, V, (arch.kt,), generator=g)
        topic_emb = W["model.embed_tokens.weight"][topic_ids].float()

    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=mixed):
            total, lml, con = model_ref.losses_batched(p, lm, W, topic_emb, images, report_ids,
                                                       report_len, before, after, eos, arch)
        total.backward()
        norm = torch.nn.utils.clip_grad_norm_(trained, cfg["clip_norm"])
        opt.step()
        return total.item(), lml.item(), con.item(), float(norm)

    times, stats = timed_calls(step, a.warmup, a.steps)
    best, mean = best_mean(times)
    wb = sum(v.numel() * v.element_size() for v in W.values())
    out.update({"precision": a.precision, "preset": cfg.get("preset"), "lm": a.lm,
                "weight_dtype": "bf16" if mixed else "f32", "weight_bytes": wb,
                "trained_params": sum(t.numel() for t in trained), "load_s": load_s,
                "batch": B, "seq_tokens": mj["seq_tokens"], "report_tokens": T,
                "warmup_steps": a.warmup, "timed_steps": a.steps, "step_s": best,
                "step_mean_s": mean, "loss": stats[0], "loss_lm": stats[1],
                "loss_con": stats[2], "grad_norm": stats[3], "peak_rss_bytes": peak_rss_bytes()})
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=0)
    sub = ap.add_subparsers(dest="mode", required=True)
    s = sub.add_parser("gemm")
    s.add_argument("--sizes", default="256,512,1024,2048,4096")
    s.add_argument("--repeat", type=int, default=5)
    s.add_argument("--budget", type=float, default=60.0,
                   help="skip a size whose estimated time (warm-up + repeat calls) exceeds "
                        "this many seconds (as mrg bench gemm --budget)")
    s = sub.add_parser("vit")
    for k, d in (("batch", 8), ("views", 2), ("image-size", 224), ("patch", 16), ("dim", 768),
                 ("depth", 12), ("heads", 12), ("mlp", 3072), ("repeat", 3)):
        s.add_argument("--" + k, type=int, default=d)
    s = sub.add_parser("lm")
    s.add_argument("--model", required=True)
    for k, d in (("prompt", 128), ("gen", 128), ("repeat", 3)):
        s.add_argument("--" + k, type=int, default=d)
    s = sub.add_parser("step")
    s.add_argument("--mrg-json", required=True, help="the output of `mrg bench step --json`")
    s.add_argument("--lm", required=True)
    s.add_argument("--precision", choices=("f32", "bf16-mixed"), default="f32")
    s.add_argument("--warmup", type=int, default=1)
    s.add_argument("--steps", type=int, default=3)
    # --threads may come before or after the mode
    for p in sub.choices.values():
        p.add_argument("--threads", type=int, default=argparse.SUPPRESS)
    a = ap.parse_args()
    run = {"gemm": run_gemm, "vit": run_vit, "lm": run_lm, "step": run_step}[a.mode]
    print(json.dumps(run(a)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

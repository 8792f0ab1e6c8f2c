#!/usr/bin/env python3
"""mrg next to its references, each pair measured in the same run with the
same thread count; writes OUT/bench.json and OUT/bench.md (a table of ratios
mrg / reference) naming the CPU they came from. Run through bench/run.sh.

Rows (--rows picks some; all by default):
  gemm         C = A·B square, f32 and bf16: `mrg bench gemm` (B in bf16,
               f32 compute) vs torch.matmul (f32; bf16 × bf16)
  vit          ViT-B/16 forward + backward, batch 8 × 2 views at 224 px:
               `mrg bench vit` vs timm's VisionTransformer
  llama-1b     a random 1.1B bf16 LLaMA (TinyLlama's shape): prefill and
               batch-1 decode, `mrg bench lm` vs Hugging Face transformers,
               and decode vs the read-bandwidth limit (`mrg bench bandwidth`:
               tokens/s <= bandwidth / weight bytes read per token)
  llama-7b     the same at the LLaMA-2-7B shape (13.5 GB of weights in
               --models; needs about 16 GiB free memory)
  stories260k  decode of stories260K (--stories, ../shared/models): `mrg bench lm` vs
               llama2.c's run.c (built outside this repository: --llama2c)
  step-tiny    one training step of the report generator, preset tiny, vs
               tools/ref/model_ref.py in PyTorch: f32, and bf16-mixed
               (torch.autocast) vs `mrg bench step --precision bf16-mixed`;
               step time and peak RSS on both sides
  step-paper   the same, preset paper (ViT-B/16, 224 px) with a smaller
               LLaMA (768 wide, 12 layers, vocab 32000)
Ratios: for rates (GFLOP/s, images/s, tokens/s) mrg / reference, for times
reference / mrg (so > 1 always means mrg is faster), for memory mrg /
reference (< 1: mrg needs less).
--quick: small shapes and one repeat, to check the suite end to end in a
minute or two (its numbers mean nothing).
"""
import argparse
import datetime
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
ROWS = ["gemm", "vit", "llama-1b", "llama-7b", "stories260k", "step-tiny", "step-paper"]

# Shapes of the random LLaMAs (tools/make_random_llama.py options); quick
# mode swaps in small ones.
LLAMA_SHAPES = {
    "llama-1b": dict(dim=2048, layers=22, hidden=5632, heads=32, kv_heads=4, vocab=32000,
                     max_position=2048),
    "llama-7b": dict(dim=4096, layers=32, hidden=11008, heads=32, kv_heads=32, vocab=32000,
                     max_position=4096),
    "step-tiny": dict(dim=192, layers=4, hidden=512, heads=4, kv_heads=4, vocab=512,
                      max_position=256),
    "step-paper": dict(dim=768, layers=12, hidden=2048, heads=12, kv_heads=12, vocab=32000,
                       max_position=1024),
}
QUICK_SHAPES = {
    "llama-1b": dict(dim=64, layers=2, hidden=172, heads=4, kv_heads=2, vocab=512,
                     max_position=256),
    "llama-7b": dict(dim=128, layers=2, hidden=344, heads=4, kv_heads=4, vocab=1024,
                     max_position=256),
    "step-tiny": LLAMA_SHAPES["step-tiny"],
    "step-paper": dict(dim=64, layers=2, hidden=128, heads=2, kv_heads=2, vocab=32000,
                       max_position=512),
}
# `mrg bench step --config` for quick paper: the paper preset's structure at
# toy sizes
QUICK_PAPER_CONFIG = {"vit": {"image_size": 32, "patch_size": 16, "dim": 64, "depth": 1,
                              "heads": 2, "mlp_hidden": 128},
                      "enc_heads": 2, "Kc": 8}


def param_count(s):
    head = s["dim"] // s["heads"]
    per_layer = (2 * s["dim"] * s["dim"] + 2 * s["kv_heads"] * head * s["dim"]
                 + 3 * s["dim"] * s["hidden"] + 2 * s["dim"])
    return 2 * s["vocab"] * s["dim"] + s["layers"] * per_layer + s["dim"]


# ---- the machine ----------------------------------------------------------------

INTERESTING_FLAGS = ["sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl",
                     "avx512_vnni", "avx512_bf16", "avx512_fp16", "avx_vnni", "amx_tile",
                     "amx_bf16", "amx_int8", "asimd", "sve", "sve2", "bf16", "i8mm"]


# x86 AVX512-BF16 / AMX-BF16, Arm's BF16 extension
BF16_FLAGS = ("avx512_bf16", "amx_bf16", "bf16")
NO_BF16_NOTE = ("reference not run: this CPU has no bf16 instructions, so torch.autocast "
                "would emulate its bf16 matmuls (about 1 GFLOP/s); --bf16-refs runs it anyway")


def cpu_has_bf16(flags):
    return any(f in flags for f in BF16_FLAGS)


def cpu_info(mrg):
    info = {"model": None, "flags": [], "logical_cpus": os.cpu_count(),
            "available_cpus": len(os.sched_getaffinity(0)), "physical_cores": None,
            "machine": platform.machine(), "kernel": platform.release()}
    cores, flags = set(), set()
    phys = core = None
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                k, _, v = line.partition(":")
                k, v = k.strip(), v.strip()
                if k in ("model name", "Model", "Hardware") and not info["model"]:
                    info["model"] = v
                elif k in ("flags", "Features"):
                    flags.update(v.split())
                elif k == "physical id":
                    phys = v
                elif k == "core id":
                    core = v
                elif not k and phys is not None and core is not None:
                    cores.add((phys, core))
                    phys = core = None
        if phys is not None and core is not None:
            cores.add((phys, core))
    except OSError:
        pass
    info["flags"] = [f for f in INTERESTING_FLAGS if f in flags]
    info["physical_cores"] = len(cores) or None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    info["memory_gib"] = round(int(line.split()[1]) / 1048576, 1)
    except OSError:
        pass
    # what mrg says of the CPU: its BLAS line (OpenBLAS core) and ISA lines
    info["mrg_info"] = {}
    try:
        out = subprocess.run([mrg, "info"], capture_output=True, text=True, timeout=120).stdout
        section = out.split("\nOpenCL")[0]
        for line in section.splitlines():
            k, _, v = line.strip().partition(":")
            if v and k.strip() in ("processor", "cores", "OpenMP threads", "BLAS", "BLAS config",
                                   "SIMD", "ISA", "bf16/f16 GEMV", "dtypes", "BLAS kernels",
                                   "bf16-mixed GEMM"):
                info["mrg_info"][k.strip()] = v.strip()
        m = re.search(r"core ([A-Za-z0-9_]+)", section)
        info["openblas_core"] = m.group(1) if m else None
    except (OSError, subprocess.SubprocessError) as e:
        info["mrg_info"]["error"] = str(e)
        info["openblas_core"] = None
    return info


def cpu_line(c):
    flags = " ".join(c["flags"]) or "none of note"
    return ("%s (%s), %s logical CPUs (%s available, %s physical cores), %s GiB; flags: %s; "
            "OpenBLAS core %s" % (c["model"] or "unknown CPU", c["machine"], c["logical_cpus"],
                                  c["available_cpus"], c["physical_cores"] or "?",
                                  c.get("memory_gib", "?"), flags, c["openblas_core"] or "?"))


def git_head():
    try:
        h = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short=12", "HEAD"],
                           capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True).stdout.strip()
        return h + ("+changes" if dirty else "") if h else None
    except OSError:
        return None


# ---- running things ---------------------------------------------------------------

class Skip(Exception):
    """A row that cannot run here, with the reason."""


class Suite:
    def __init__(self, a):
        self.a = a
        self.log = open(os.path.join(a.out, "bench.log"), "w")
        n = str(a.threads)
        # the same thread count for every program: OpenMP (mrg, torch,
        # llama2.c), MKL (torch's BLAS), OpenBLAS (numpy's); mrg runs its
        # OpenBLAS single-threaded inside its OpenMP threads whatever
        # OPENBLAS_NUM_THREADS says, and `mrg bench gemm` gives the raw
        # OpenBLAS reference every thread itself
        self.env = dict(os.environ, OMP_NUM_THREADS=n, MKL_NUM_THREADS=n,
                        OPENBLAS_NUM_THREADS=n, TRANSFORMERS_VERBOSITY="error",
                        HF_HUB_OFFLINE="1", HF_HUB_DISABLE_PROGRESS_BARS="1",
                        TOKENIZERS_PARALLELISM="false")
        # OpenMP's wait policy: by default each program keeps its own (mrg
        # sets passive for itself, torch and llama2.c leave libgomp's
        # spinning); --omp-wait-policy sets one for all of them
        self.env.pop("OMP_WAIT_POLICY", None)
        if a.omp_wait_policy != "default":
            self.env["OMP_WAIT_POLICY"] = a.omp_wait_policy
        self.refs = self.probe_python()

    def say(self, msg):
        print(msg, flush=True)
        self.log.write(msg + "\n")
        self.log.flush()

    def run(self, cmd, timeout=None, what=None, both=False):
        """Runs cmd; returns stdout (both: stdout + stderr). Failure raises
        RuntimeError with the tail of stderr."""
        self.log.write("$ " + " ".join(cmd) + "\n")
        self.log.flush()
        t0 = time.time()
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, env=self.env,
                               timeout=timeout or self.a.timeout)
        except subprocess.TimeoutExpired:
            raise RuntimeError("%s: no result within %d s" % (what or cmd[0],
                                                             timeout or self.a.timeout))
        self.log.write(p.stdout + p.stderr + "(%.1f s, exit %d)\n" % (time.time() - t0,
                                                                    p.returncode))
        self.log.flush()
        if p.returncode != 0:
            tail = (p.stderr.strip() or p.stdout.strip()).splitlines()[-3:]
            raise RuntimeError("%s failed (exit %d): %s" % (what or cmd[0], p.returncode,
                                                            " / ".join(tail)))
        return p.stdout + p.stderr if both else p.stdout

    def run_json(self, cmd, what, timeout=None):
        out = self.run(cmd, timeout, what)
        for line in reversed(out.strip().splitlines()):
            if line.startswith("{"):
                return json.loads(line)
        raise RuntimeError("%s printed no JSON" % what)

    def mrg(self, *args, what=None):
        return self.run_json([self.a.mrg, "bench"] + list(args), what or "mrg bench " + args[0])

    def torch_ref(self, *args, what=None):
        return self.run_json([self.a.python, os.path.join(HERE, "torch_ref.py"),
                              "--threads", str(self.a.threads)] + list(args),
                             what or "torch_ref.py " + args[0])

    def probe_python(self):
        """Versions of the reference packages in --python (None: missing)."""
        code = ("import importlib, json\nv = {}\n"
                "for m in ('torch', 'timm', 'transformers', 'safetensors', 'numpy'):\n"
                "    try:\n        v[m] = importlib.import_module(m).__version__\n"
                "    except Exception:\n        v[m] = None\nprint(json.dumps(v))\n")
        try:
            p = subprocess.run([self.a.python, "-c", code], capture_output=True, text=True,
                               timeout=300, env=self.env)
            return json.loads(p.stdout.strip().splitlines()[-1])
        except (OSError, ValueError, IndexError, subprocess.SubprocessError):
            return {m: None for m in ("torch", "timm", "transformers", "safetensors", "numpy")}

    def need(self, *mods):
        missing = [m for m in mods if not self.refs.get(m)]
        if missing:
            raise Skip("reference missing: %s not importable by %s (pip install %s)" %
                       (", ".join(missing), self.a.python, " ".join(missing)))

    # -- inputs --------------------------------------------------------------

    def random_llama(self, row, tokenizer=None):
        """A random bf16 LLaMA directory of the row's shape, made once in
        --models and reused (written under a temporary name, then renamed)."""
        s = (QUICK_SHAPES if self.a.quick else LLAMA_SHAPES)[row]
        name = "llama-d%d-l%d-f%d-h%d-kv%d-v%d-p%d" % (
            s["dim"], s["layers"], s["hidden"], s["heads"], s["kv_heads"], s["vocab"],
            s["max_position"])
        if tokenizer:
            name += "-tok" + re.sub(r"[^A-Za-z0-9]", "", os.path.basename(
                os.path.dirname(os.path.abspath(tokenizer))))
        d = os.path.join(self.a.models, name)
        if os.path.exists(os.path.join(d, "config.json")):
            return d
        if not self.refs.get("numpy"):
            raise Skip("numpy missing in %s: cannot write the random LLaMA" % self.a.python)
        need = 2 * param_count(s) * 1.05 + (1 << 28)
        os.makedirs(self.a.models, exist_ok=True)
        free = shutil.disk_usage(self.a.models).free
        if free < need:
            raise Skip("%.1f GB free in %s, the random LLaMA needs %.1f GB" %
                       (free / 1e9, self.a.models, need / 1e9))
        tmp = d + ".partial"
        shutil.rmtree(tmp, ignore_errors=True)
        cmd = [self.a.python, os.path.join(ROOT, "tools", "make_random_llama.py"), "--out", tmp]
        for k, v in s.items():
            cmd += ["--" + k.replace("_", "-"), str(v)]
        if tokenizer:
            cmd += ["--tokenizer", os.path.abspath(tokenizer)]
        self.say("  writing a random LLaMA (%s parameters) into %s" % (human_count(param_count(s)), d))
        self.run(cmd, timeout=7200, what="make_random_llama.py")
        os.rename(tmp, d)
        return d


def human_count(n):
    return "%.2f B" % (n / 1e9) if n >= 1e9 else "%.2f M" % (n / 1e6)


def human_bytes(n):
    return "%.2f GB" % (n / 1e9) if n >= 1e9 else "%.2f MB" % (n / 1e6)


def mem_available():
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


# ---- the rows ------------------------------------------------------------------------
# Each returns (metrics, details): metrics a list of
#   {"name", "unit", "mrg", "ref", "kind": "rate"|"time"|"memory"|"info", "ref_name"}
# details: the raw JSON of both sides.

def rate(name, unit, m, r, ref_name, note=None):
    return {"name": name, "unit": unit, "mrg": m, "ref": r, "kind": "rate", "ref_name": ref_name,
            "note": note}


def secs(name, m, r, ref_name, note=None):
    return {"name": name, "unit": "s", "mrg": m, "ref": r, "kind": "time", "ref_name": ref_name,
            "note": note}


def mem(name, m, r, ref_name, note=None):
    return {"name": name, "unit": "GiB", "mrg": m / 2 ** 30 if m else None,
            "ref": r / 2 ** 30 if r else None, "kind": "memory", "ref_name": ref_name,
            "note": note}


def row_gemm(s):
    q = s.a.quick
    sizes = "64,128" if q else "256,512,1024,2048,4096"
    rep = "1" if q else "5"
    s.need("torch")
    m = s.mrg("gemm", "--device", "cpu", "--sizes", sizes, "--repeat", rep, "--json")
    done = ",".join(str(x["n"]) for x in m["sizes"])  # --budget may have stopped early
    r = s.torch_ref("gemm", "--sizes", done, "--repeat", rep)
    tv = "torch %s" % r["torch"]
    out = []
    for a, b in zip(m["sizes"], r["sizes"]):
        n = a["n"]
        out.append(rate("f32 N=%d" % n, "GFLOP/s", a["mrg_f32_gflops"], b["f32_gflops"],
                        "torch.matmul f32 (%s)" % tv,
                        "OpenBLAS sgemm alone: %.1f GFLOP/s" % a["raw_gflops"]))
        out.append(rate("bf16 N=%d" % n, "GFLOP/s", a["mrg_bf16_gflops"], b["bf16_gflops"],
                        "torch.matmul bf16 (%s)" % tv,
                        "mrg: B in bf16, A and compute f32; torch: bf16 x bf16 -> bf16"))
        if "mrg_bf16_mixed_gflops" in a:
            out.append(rate("bf16-mixed N=%d" % n, "GFLOP/s", a["mrg_bf16_mixed_gflops"],
                            b["bf16_gflops"], "torch.matmul bf16 (%s)" % tv,
                            "mrg: A rounded to bf16 each call, B in bf16, f32 sums (path: mrg "
                            "info's bf16-mixed GEMM); torch: bf16 x bf16 -> bf16"))
    return out, {"mrg": m, "ref": r}


def row_vit(s):
    q = s.a.quick
    shape = (["--batch", "2", "--views", "2", "--image-size", "32", "--patch", "16", "--dim",
              "64", "--depth", "2", "--heads", "2", "--mlp", "256", "--repeat", "1"] if q else
             ["--batch", "8", "--views", "2", "--image-size", "224", "--patch", "16", "--dim",
              "768", "--depth", "12", "--heads", "12", "--mlp", "3072", "--repeat", "3"])
    s.need("torch", "timm")
    m = s.mrg("vit", *shape, "--device", "cpu", "--json")
    r = s.torch_ref("vit", *shape)
    ref = "timm %s VisionTransformer (torch %s)" % (r["timm"], r["torch"])
    what = "%d x %d images %d px, dim %d, depth %d" % (m["batch"], m["views"], m["image_size"],
                                                      m["dim"], m["depth"])
    return [secs("forward + backward (best of %d)" % m["repeat"], m["best_s"], r["best_s"], ref,
                 what),
            mem("peak RSS", m["peak_rss_bytes"], r["peak_rss_bytes"], ref)], {"mrg": m, "ref": r}


def bandwidth(s):
    if getattr(s, "_bw", None) is None:
        args = ["--mb", "64", "--repeat", "1"] if s.a.quick else ["--mb", "2048", "--repeat", "5"]
        s._bw = s.mrg("bandwidth", *args, "--json")
        s.say("  read bandwidth %.2f GB/s (%d threads)" % (s._bw["read_gb_per_s"],
                                                          s._bw["threads"]))
    return s._bw


def row_llama(s, row):
    q = s.a.quick
    s.need("torch", "transformers", "safetensors")
    if row == "llama-7b" and not q:
        avail = mem_available()
        if avail is not None and avail < 16 * 2 ** 30:
            raise Skip("%.1f GiB of memory available; the 7B-shaped model needs about 16 GiB" %
                       (avail / 2 ** 30))
    d = s.random_llama(row)
    P, G, R = ("16", "8", "1") if q else (("128", "64", "3") if row == "llama-1b" else
                                          ("128", "16", "2"))
    m = s.mrg("lm", "--model", d, "--prompt", P, "--gen", G, "--repeat", R, "--device", "cpu",
              "--beam", "3", "--bw-mb", "0", "--json", what="mrg bench lm")
    # prefill again under bf16-mixed (bf16 GEMM operands, as torch's bf16
    # model computes them; decoding's GEMVs do not change)
    mb = s.mrg("lm", "--model", d, "--prompt", P, "--gen", "0", "--repeat", R, "--device", "cpu",
               "--beam", "0", "--bw-mb", "0", "--precision", "bf16-mixed", "--json",
               what="mrg bench lm --precision bf16-mixed")
    r = s.torch_ref("lm", "--model", d, "--prompt", P, "--gen", G, "--repeat", R)
    bw = bandwidth(s)
    limit = bw["read_gb_per_s"] * 1e9 / m["decode_read_bytes"]
    ref = "transformers %s LlamaForCausalLM %s, %s (torch %s)" % (
        r["transformers"], r["dtype"], r["attn_implementation"], r["torch"])
    shape = "dim %d, %d layers, vocab %d, %s, %s parameters" % (
        m["dim"], m["n_layers"], m["vocab_size"], m["weight_dtype"],
        human_count(param_count(dict(dim=m["dim"], layers=m["n_layers"], hidden=m["hidden_dim"],
                                     heads=m["n_heads"], kv_heads=m["n_kv_heads"],
                                     vocab=m["vocab_size"]))))
    return [rate("prefill %s tokens" % P, "tokens/s", m["prefill_tokens_per_s"],
                 r["prefill_tokens_per_s"], ref, shape),
            rate("prefill %s tokens, mrg bf16-mixed" % P, "tokens/s", mb["prefill_tokens_per_s"],
                 r["prefill_tokens_per_s"], ref),
            rate("decode %s tokens (batch 1, greedy)" % G, "tokens/s", m["decode_tokens_per_s"],
                 r["decode_tokens_per_s"], ref),
            rate("decode vs the bandwidth limit", "tokens/s", m["decode_tokens_per_s"], limit,
                 "read bandwidth / bytes per token",
                 "%.2f GB/s over %s per token; transformers reaches %.2f of it" %
                 (bw["read_gb_per_s"], human_bytes(m["decode_read_bytes"]),
                  r["decode_tokens_per_s"] / limit)),
            rate("beam-3 step vs greedy token", "steps/s", m["beam_steps_per_s"],
                 m["decode_tokens_per_s"], "mrg greedy decode, same run",
                 "3 rows per step, reordered as beam search does; target: a step costs at "
                 "most 1.5x a greedy token (ratio >= 0.67)"),
            mem("peak RSS", m["peak_rss_bytes"], r["peak_rss_bytes"], ref)], \
        {"mrg": m, "mrg_bf16_mixed_prefill": mb, "ref": r, "bandwidth": bw,
         "limit_tokens_per_s": limit}


def llama2c_binary(a):
    p = a.llama2c
    if not p:
        return None
    if os.path.isdir(p):
        p = os.path.join(p, "run")
    return p if os.path.isfile(p) and os.access(p, os.X_OK) else None


def row_stories(s):
    q = s.a.quick
    d = s.a.stories
    model, tok = os.path.join(d, "stories260K.bin"), os.path.join(d, "tok512.bin")
    if not os.path.isfile(model):
        raise Skip("no stories260K.bin in %s (--stories)" % d)
    run = llama2c_binary(s.a)
    if not run:
        raise Skip("llama2.c's run not found (%s): build run.c outside this repository "
                   "(bench/README.md) and pass --llama2c or MRG_LLAMA2C" %
                   (s.a.llama2c or "--llama2c not given"))
    if not os.path.isfile(tok):
        raise Skip("no tok512.bin in %s for llama2.c" % d)
    steps, reps = (64, 1) if q else (256, 5)
    # mrg: BOS, then steps - 1 greedy tokens; run.c: the same from an empty
    # prompt at temperature 0 (it times every token after the first)
    m = s.mrg("lm", "--model", model, "--prompt", "1", "--gen", str(steps - 1), "--repeat",
              str(reps), "--device", "cpu", "--beam", "0", "--bw-mb", "0", "--json",
              what="mrg bench lm")
    best = 0.0
    for _ in range(reps):
        out = s.run([run, model, "-z", tok, "-t", "0", "-n", str(steps), "-i", ""],
                    what="llama2.c run", both=True)  # the rate is on stderr
        mt = re.search(r"achieved tok/s: ([0-9.]+)", out)
        if not mt:
            raise RuntimeError("llama2.c run printed no 'achieved tok/s'")
        best = max(best, float(mt.group(1)))
    return [rate("decode %d tokens (greedy)" % (steps - 1), "tokens/s", m["decode_tokens_per_s"],
                 best, "llama2.c run.c (%s)" % run, "best of %d runs each" % reps)], \
        {"mrg": m, "ref": {"tokens_per_s": best, "binary": run}}


def row_step(s, row):
    q = s.a.quick
    tiny = row == "step-tiny"
    s.need("torch", "safetensors", "numpy")
    tok = (os.path.join(s.a.stories, "tok512.model") if tiny else s.a.tokenizer)
    if not tok or not os.path.isfile(tok):
        raise Skip("tokenizer %s not found (%s)" % (tok, "--stories" if tiny else "--tokenizer"))
    d = s.random_llama(row, tokenizer=tok)
    args = ["--lm", d, "--preset", "tiny" if tiny else "paper", "--device", "cpu",
            "--no-generate", "--json"]
    if q:
        args += ["--batch", "2", "--report-tokens", "16", "--warmup", "1", "--steps", "1"]
        if not tiny:
            cfg = os.path.join(s.a.out, "quick-paper-config.json")
            with open(cfg, "w") as f:
                json.dump(QUICK_PAPER_CONFIG, f)
            args += ["--config", cfg]
    else:
        # the tiny step takes 0.3 s: best of 3 varied by half between runs
        # of the row (Zen 3), best of 10 after 2 warm-ups is steadier
        args += ["--batch", "16" if tiny else "8", "--warmup", "2" if tiny else "1",
                 "--steps", "10" if tiny else "3"]
    m = s.mrg("step", *args)
    m16 = s.mrg("step", *args, "--precision", "bf16-mixed")
    mj = os.path.join(s.a.out, "%s-mrg.json" % row)
    with open(mj, "w") as f:
        json.dump(m, f)
    st = ["--mrg-json", mj, "--lm", d, "--warmup", str(m["warmup_steps"]), "--steps",
          str(m["timed_steps"])]
    rf = s.torch_ref("step", *st, "--precision", "f32", what="torch_ref.py step f32")
    # torch's autocast on a CPU without bf16 instructions emulates every bf16
    # matmul at about 1 GFLOP/s (Zen 3: 8 s for the tiny step, hours for the
    # paper one), which measures nothing; --bf16-refs runs it anyway
    bf16_hw = cpu_has_bf16(s.machine["flags"])
    if bf16_hw or s.a.bf16_refs:
        rb = s.torch_ref("step", *st, "--precision", "bf16-mixed",
                         what="torch_ref.py step bf16-mixed")
    else:
        rb = {"step_s": None, "peak_rss_bytes": None, "torch": rf["torch"],
              "weight_dtype": "bf16", "skipped": NO_BF16_NOTE}
    what = ("batch %d x %d tokens; ViT %d px dim %d depth %d; LLaMA %d wide, %d layers, vocab %d"
            % (m["batch"], m["seq_tokens"], m["config"]["vit"]["image_size"],
               m["config"]["vit"]["dim"], m["config"]["vit"]["depth"], m["lm_dim"],
               m["lm_layers"], m["lm_vocab"]))
    same = ("" if rf["trained_params"] == m["trained_params"] else
            "; trained parameters differ: mrg %d, PyTorch %d" % (m["trained_params"],
                                                               rf["trained_params"]))
    ref32 = "model_ref.py f32 (torch %s)" % rf["torch"]
    ref16 = "model_ref.py bf16 autocast (torch %s)" % rb["torch"]
    wnote = ("LLaMA weights: mrg %s (f32 compute), PyTorch %s; resident before the model: "
             "mrg %.2f GiB, PyTorch %.2f GiB (the torch import)" % (
                 m["weight_dtype"], rf["weight_dtype"], m["rss_start_bytes"] / 2 ** 30,
                 rf["rss_start_bytes"] / 2 ** 30))
    return [secs("f32 step (best of %d)" % m["timed_steps"], m["step_s"], rf["step_s"], ref32,
                 what + same),
            mem("f32 peak RSS", m["peak_rss_bytes"], rf["peak_rss_bytes"], ref32, wnote),
            secs("bf16-mixed step", m16["step_s"], rb["step_s"], ref16,
                 rb.get("skipped") or
                 "mrg `bench step --precision bf16-mixed` (bf16-rounded GEMM operands, f32 "
                 "sums; its GEMM path is mrg info's bf16-mixed GEMM line) vs torch.autocast "
                 "bf16"),
            mem("bf16-mixed peak RSS", m16["peak_rss_bytes"], rb["peak_rss_bytes"], ref16,
                "LLaMA weights: mrg %s, PyTorch %s" % (m16["weight_dtype"], rb["weight_dtype"]))], \
        {"mrg": m, "mrg_bf16_mixed": m16, "ref_f32": rf, "ref_bf16_mixed": rb}


RUNNERS = {"gemm": row_gemm, "vit": row_vit, "llama-1b": lambda s: row_llama(s, "llama-1b"),
           "llama-7b": lambda s: row_llama(s, "llama-7b"), "stories260k": row_stories,
           "step-tiny": lambda s: row_step(s, "step-tiny"),
           "step-paper": lambda s: row_step(s, "step-paper")}


# ---- output --------------------------------------------------------------------------

def ratio(mt):
    m, r = mt["mrg"], mt["ref"]
    if not m or not r:
        return None
    return {"rate": m / r, "time": r / m, "memory": m / r}.get(mt["kind"])


def fmt(x, unit):
    if x is None:
        return "—"
    if unit == "s":
        return "%.3g s" % x
    if unit == "GiB":
        return "%.2f GiB" % x
    return "%.4g %s" % (x, unit)


def write_markdown(path, rep):
    c = rep["machine"]
    L = ["# mrg side by side%s" % (" (--quick: toy sizes, the numbers mean nothing)"
                                   if rep["quick"] else ""), "",
         "- CPU: %s" % cpu_line(c),
         "- mrg info: %s" % "; ".join("%s: %s" % kv for kv in c["mrg_info"].items()),
         "- threads: %d for every program (OMP_NUM_THREADS, MKL_NUM_THREADS, "
         "torch.set_num_threads); OMP_WAIT_POLICY: %s" % (
             rep["threads"], rep["environment"]["OMP_WAIT_POLICY"]),
         "- mrg %s (%s); references: %s" % (rep["mrg_commit"] or "?", rep["mrg_binary"],
                                            ", ".join("%s %s" % (k, v) for k, v in
                                                      rep["references"].items() if v) or "none"),
         "- %s; %.0f s in all" % (rep["started"], rep["seconds"]), "",
         "Ratio: rates mrg / reference, times reference / mrg (> 1: mrg is faster); "
         "memory mrg / reference (< 1: mrg needs less).", "",
         "| benchmark | measure | mrg | reference | ratio | against | notes |",
         "|---|---|---|---|---|---|---|"]
    for row in rep["rows"]:
        if row["status"] != "ok":
            L.append("| %s | — | — | — | %s | — | %s |" % (row["id"], row["status"],
                                                          row["note"].replace("|", "/")))
            continue
        for mt in row["metrics"]:
            r = ratio(mt)
            L.append("| %s | %s | %s | %s | %s | %s | %s |" % (
                row["id"], mt["name"], fmt(mt["mrg"], mt["unit"]), fmt(mt["ref"], mt["unit"]),
                "%.2f" % r if r is not None else "—", mt["ref_name"],
                (mt.get("note") or "").replace("|", "/")))
    with open(path, "w") as f:
        f.write("\n".join(L) + "\n")


def main():
    ap = argparse.ArgumentParser(prog="bench/run.sh", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="toy sizes, one repeat")
    ap.add_argument("--out", default="bench-results", help="output folder (default ./bench-results)")
    ap.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)),
                    help="threads for every program (default: the CPUs available, %(default)s)")
    ap.add_argument("--rows", default=",".join(ROWS), help="comma-separated subset of: "
                    + ", ".join(ROWS))
    ap.add_argument("--mrg", default=os.path.join(ROOT, "build", "mrg"),
                    help="the mrg binary (default build/mrg)")
    ap.add_argument("--python", default=sys.executable,
                    help="Python with torch, timm, transformers, safetensors, numpy for the "
                         "reference side (default: this one, %(default)s)")
    ap.add_argument("--models", default=os.environ.get("MRG_BENCH_MODELS", "/tmp/mrg-bench-models"),
                    help="where random LLaMAs are written once and reused (the 7B shape "
                         "takes 13.5 GB; env MRG_BENCH_MODELS; default %(default)s)")
    shared = os.path.join(os.path.dirname(ROOT), "shared", "models")
    ap.add_argument("--tokenizer", default=os.environ.get(
        "MRG_LLAMA2_TOKENIZER", os.path.join(shared, "llama2", "tokenizer.model")),
        help="LLaMA-2 tokenizer.model for step-paper (env MRG_LLAMA2_TOKENIZER; default "
             "%(default)s)")
    ap.add_argument("--stories", default=os.environ.get(
        "MRG_STORIES260K", os.path.join(shared, "stories260K")),
        help="folder with stories260K.bin, tok512.bin, tok512.model (env MRG_STORIES260K; "
             "default %(default)s)")
    ap.add_argument("--llama2c", default=os.environ.get("MRG_LLAMA2C"),
                    help="llama2.c's compiled run, or the folder holding it (env MRG_LLAMA2C); "
                         "without it the stories260k row is skipped")
    ap.add_argument("--omp-wait-policy", choices=("default", "passive", "active"),
                    default="default",
                    help="OMP_WAIT_POLICY for every program (default: each its own; mrg runs "
                         "passive unless told, libgomp spins a while; passive is kinder on a "
                         "busy machine)")
    ap.add_argument("--bf16-refs", action="store_true",
                    help="run the bf16 autocast references of the step rows even on a CPU "
                         "without bf16 instructions (skipped there by default: torch emulates "
                         "them at about 1 GFLOP/s)")
    ap.add_argument("--timeout", type=int, default=None,
                    help="seconds allowed to each program (default 600 with --quick, else 7200)")
    a = ap.parse_args()
    rows = [r.strip() for r in a.rows.split(",") if r.strip()]
    bad = [r for r in rows if r not in ROWS]
    if bad or not rows:
        ap.error("--rows: unknown row(s) %s; choose from %s" % (", ".join(bad) or "(none)",
                                                                ", ".join(ROWS)))
    if a.threads < 1:
        ap.error("--threads must be at least 1")
    if a.timeout is None:
        a.timeout = 600 if a.quick else 7200
    if not (os.path.isfile(a.mrg) and os.access(a.mrg, os.X_OK)):
        ap.error("no mrg binary at %s: build it first (bash tools/build.sh) or pass --mrg" % a.mrg)
    a.mrg = os.path.abspath(a.mrg)
    a.models = os.path.abspath(a.models)
    if a.quick:
        a.models = os.path.join(a.models, "quick")
    os.makedirs(a.out, exist_ok=True)

    s = Suite(a)
    s.machine = cpu_info(a.mrg)
    t_start = time.time()
    rep = {"quick": a.quick, "threads": a.threads,
           "started": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
           "machine": s.machine, "mrg_binary": a.mrg, "mrg_commit": git_head(),
           "reference_python": a.python, "references": s.refs,
           "environment": {k: s.env.get(k, "(each program's own)") for k in (
               "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OMP_WAIT_POLICY")},
           "rows": []}
    s.say("CPU: " + cpu_line(rep["machine"]))
    s.say("threads: %d; references in %s: %s" % (a.threads, a.python, ", ".join(
        "%s %s" % (k, v or "missing") for k, v in s.refs.items())))
    for row in rows:
        s.say("[%s]" % row)
        t0 = time.time()
        entry = {"id": row}
        try:
            metrics, details = RUNNERS[row](s)
            entry.update(status="ok", note="", metrics=metrics, details=details)
            for mt in metrics:
                r = ratio(mt)
                s.say("  %-40s mrg %-16s ref %-16s ratio %s" % (
                    mt["name"], fmt(mt["mrg"], mt["unit"]), fmt(mt["ref"], mt["unit"]),
                    "%.2f" % r if r is not None else "—"))
        except Skip as e:
            entry.update(status="skipped", note=str(e))
            s.say("  skipped: %s" % e)
        except (RuntimeError, KeyError, ValueError, OSError) as e:
            entry.update(status="failed", note="%s: %s" % (type(e).__name__, e))
            s.say("  failed: %s" % e)
        entry["seconds"] = time.time() - t0
        rep["rows"].append(entry)
    rep["seconds"] = time.time() - t_start
    with open(os.path.join(a.out, "bench.json"), "w") as f:
        json.dump(rep, f, indent=1)
    write_markdown(os.path.join(a.out, "bench.md"), rep)
    s.say("wrote %s and %s" % (os.path.join(a.out, "bench.json"), os.path.join(a.out, "bench.md")))
    return 1 if any(r["status"] == "failed" for r in rep["rows"]) else 0


if __name__ == "__main__":
    sys.exit(main())

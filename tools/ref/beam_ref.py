#!/usr/bin/python3
"""Golden reference for report decoding (tests/test_generate.c).

Run with Debian's Python (torch 1.13 CPU + numpy):

    /usr/bin/python3 tools/ref/beam_ref.py [out_dir]   # default tests/golden/generate

To also check the reference against Hugging Face itself (the goldens in the
repository were made this way), run it from a virtual environment that sees
Debian's torch and has transformers 4.30.2:

    /usr/bin/python3 -m venv --system-site-packages /tmp/hfvenv
    /tmp/hfvenv/bin/pip install transformers==4.30.2
    /tmp/hfvenv/bin/python tools/ref/beam_ref.py

The decoder is the tiny LLaMA of tests/golden/llama/hf_mha_f32 (written by
llama_ref.py; its float64 forward is reused). The input is a sequence of
EMBEDDINGS, as the report generator feeds it: [BOS, prompt tokens, a random
"visual prefix" of 4 vectors, prompt tokens]. Two such prefixes are drawn
per case (prefix0, prefix1) so that the C side also checks batched decoding.

The searches follow Hugging Face transformers 4.30.2 (the version R2GenGPT
pins) for a decoder-only model called with inputs_embeds, written here in
plain PyTorch from its behaviour (checked against transformers 4.30.2 itself
when it is importable: see check_hf below):

  * input_ids starts as [BOS] (generate() makes it from bos_token_id when
    only inputs_embeds are given; the BOS is not fed to the model), so the
    repetition penalty also covers BOS and every length below counts BOS:
    n generated tokens are a sequence of length 1 + n; max_new_tokens
    counts generated tokens only;
  * greedy: the processors act on the raw logits, then argmax;
  * beam search: scores = log_softmax(logits), then the processors, then
    + the running beam score; beam scores start at 0 for beam 0 and -1e9
    for the others (so the first step expands beam 0 only);
  * repetition penalty (RepetitionPenaltyLogitsProcessor): for every
    distinct token of the row's sequence (BOS and the tokens generated so
    far), a negative score is multiplied by the penalty, a positive one
    divided by it;
  * min_new_tokens: the eos score is -inf while fewer than min_new tokens
    have been generated;
  * top 2K candidates over the K·V scores, best first; an eos candidate
    whose rank is >= K is skipped, one of rank < K closes its beam as a
    finished hypothesis (the tokens so far, eos excluded) with score
    sum_logprobs / (1 + n)^length_penalty, n = those tokens; the first K
    non-eos candidates become the new beams;
  * finished hypotheses keep the K best (BeamHypotheses: worst_score starts
    at 1e9; when a K+1-th is added the worst is dropped);
  * early_stopping=False: a study is done when K hypotheses exist and
    worst_score >= best candidate score of this step / (t + 2)^length_penalty
    where t is the number of tokens generated BEFORE this step (HF's
    cur_len = input_ids length + 1);
  * the loop ends when every study is done or max_new tokens exist; the
    beams of a study that is not done are then added as hypotheses with
    their running scores and length 1 + t; the answer is the best
    hypothesis (BOS and eos not included in the ids written here).

Every decision of a stored case has a margin (gap between the compared
scores) of at least MIN_MARGIN, so an f32 implementation must reproduce the
ids exactly.

expected.safetensors, for each case (its own seed and eos id):
  <case>/prefix0, <case>/prefix1   (T0, D) f32 input embeddings
  <case>/params      f32 [mode (0 greedy, 2 beam), beam, repetition_penalty,
                          length_penalty, min_new, max_new, eos_id]
  <case>/ids0, <case>/ids1   I32 generated ids for prefix0 / prefix1
  <case>/info        f32 [ended by eos (0/1) for prefix0, for prefix1,
                          steps (forwards after the prefill) for prefix0, prefix1]
"""
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import llama_ref  # noqa: E402  (sets float64 as torch's default dtype)
from st_read import read_safetensors  # noqa: E402

MIN_MARGIN = 5e-4
N_EOS = 8  # eos ids tried per case and seed
NEG = -1e9
BOS = 1  # the model's bos_token_id


def load_model():
    d = os.path.join(HERE, "..", "..", "tests", "golden", "llama", "hf_mha_f32")
    with open(os.path.join(d, "config.json")) as f:
        hc = json.load(f)
    cfg = dict(dim=hc["hidden_size"], hidden=hc["intermediate_size"],
               layers=hc["num_hidden_layers"], heads=hc["num_attention_heads"],
               kv_heads=hc["num_key_value_heads"], vocab=hc["vocab_size"],
               eps=hc["rms_norm_eps"], theta=hc["rope_theta"], layout="half",
               tied=hc["tie_word_embeddings"])
    w = read_safetensors(os.path.join(d, "model.safetensors"), only_f32=True)
    W = {k: torch.from_numpy(v.astype(np.float64)) for k, v in w.items()}
    return cfg, W


class Margin:
    def __init__(self):
        self.m = np.inf

    def gap(self, a, b):
        self.m = min(self.m, abs(float(a) - float(b)))


def next_logits(cfg, W, x0, toks):
    """Logits (V) after the embeddings x0 (T0, D) and the generated toks."""
    E = W["model.embed_tokens.weight"]
    x = torch.cat([x0, E[torch.tensor(toks, dtype=torch.long)]]) if toks else x0
    return llama_ref.forward(cfg, W, x)[-1]


def repetition(scores, toks, penalty):
    for t in set(toks):
        s = scores[t]
        scores[t] = s * penalty if s < 0 else s / penalty
    return scores


def greedy(cfg, W, x0, p, mg):
    toks, steps = [], 0
    while True:
        s = next_logits(cfg, W, x0, toks).clone()
        steps += 1
        repetition(s, [BOS] + toks, p["rep"])
        if len(toks) < p["min_new"]:
            s[p["eos"]] = -np.inf
        top = torch.topk(s, 2).values
        mg.gap(top[0], top[1])
        t = int(torch.argmax(s))
        if t == p["eos"]:
            return toks, True, steps
        toks.append(t)
        if len(toks) >= p["max_new"]:
            return toks, False, steps


class Hyps:
    """The finished hypotheses of one study (BeamHypotheses semantics)."""

    def __init__(self, K, lp, mg):
        self.K, self.lp, self.mg = K, lp, mg
        self.beams = []  # (score, toks) in insertion order
        self.worst = 1e9

    def add(self, toks, sum_lp):
        score = sum_lp / ((1 + len(toks)) ** self.lp)   # BOS + tokens
        if len(self.beams) >= self.K:
            self.mg.gap(score, self.worst)
        if len(self.beams) < self.K or score > self.worst:
            self.beams.append((score, list(toks)))
            if len(self.beams) > self.K:
                order = sorted((s, i) for i, (s, _) in enumerate(self.beams))
                self.mg.gap(order[0][0], order[1][0])
                del self.beams[order[0][1]]
                self.worst = order[1][0]
            else:
                self.worst = min(score, self.worst)

    def is_done(self, best, cur_len):
        if len(self.beams) < self.K:
            return False
        att = best / ((cur_len + 2) ** self.lp)
        self.mg.gap(self.worst, att)
        return self.worst >= att

    def best(self):
        order = sorted(self.beams, key=lambda b: b[0])
        if len(order) > 1:
            self.mg.gap(order[-1][0], order[-2][0])
        return order[-1]


def beam_margins(vals, idx, K, V, eos, mg):
    """Gaps of the decisions of one step: which K non-eos candidates are
    kept (the K-th against the next non-eos one), and for each eos candidate
    whether its rank is below K (its score against the K-th best of the
    other candidates)."""
    vals = [float(v) for v in vals]
    toks = [int(i) % V for i in idx]
    non = [v for v, t in zip(vals, toks) if t != eos]
    if len(non) > K:
        mg.gap(non[K - 1], non[K])
    for r, t in enumerate(toks[:2 * K]):
        if t == eos:
            others = vals[:r] + vals[r + 1:]
            mg.gap(vals[r], others[K - 1])


def beam(cfg, W, x0, p, mg):
    K, V, eos = p["beam"], cfg["vocab"], p["eos"]
    beams = [([], 0.0 if k == 0 else NEG) for k in range(K)]
    hyps = Hyps(K, p["lp"], mg)
    t, done, steps, n_added = 0, False, 0, 0
    while True:
        rows, cache = [], {}
        for toks, sc in beams:
            key = tuple(toks)
            if key not in cache:
                cache[key] = next_logits(cfg, W, x0, toks)
            s = torch.log_softmax(cache[key], -1).clone()
            repetition(s, [BOS] + toks, p["rep"])
            if t < p["min_new"]:
                s[eos] = -np.inf
            rows.append(s + sc)
        steps += 1
        flat = torch.cat(rows)
        vals, idx = torch.topk(flat, 2 * K + 1)
        beam_margins(vals, idx, K, V, eos, mg)
        new = []
        for rank in range(2 * K):
            k, tok = divmod(int(idx[rank]), V)
            v = float(vals[rank])
            if tok == eos:
                if rank >= K:
                    continue
                hyps.add(beams[k][0], v)
                n_added += 1
            else:
                new.append((beams[k][0] + [tok], v))
            if len(new) == K:
                break
        done = hyps.is_done(float(vals[0]), t)
        beams = new
        t += 1
        if done or t >= p["max_new"]:
            break
    if not done:
        for toks, sc in beams:
            hyps.add(toks, sc)
    score, toks = hyps.best()
    # the best hypothesis ended with eos exactly when it is shorter than t
    return toks, len(toks) < t, steps, n_added, done


def run_case(cfg, W, x0, p):
    mg = Margin()
    if p["mode"] == 0:
        toks, ended, steps = greedy(cfg, W, x0, p, mg)
        extra = dict(added=int(ended), done=ended)
    else:
        toks, ended, steps, added, done = beam(cfg, W, x0, p, mg)
        extra = dict(added=added, done=done)
    return toks, ended, steps, mg.m, extra


def make_prefix(cfg, W, rng):
    E = W["model.embed_tokens.weight"].numpy()
    V, D = cfg["vocab"], cfg["dim"]
    before = [1] + [int(t) for t in rng.integers(3, V, 2)]
    after = [int(t) for t in rng.integers(3, V, 3)]
    visual = rng.standard_normal((4, D)).astype(np.float32)
    x = np.concatenate([E[before], visual, E[after]]).astype(np.float32)
    return x


CASES = [
    # name, params, requirement on the search found
    ("beam_r2gen", dict(mode=2, beam=3, rep=2.0, lp=2.0, min_new=5, max_new=20), "added"),
    ("beam_early", dict(mode=2, beam=3, rep=1.3, lp=0.5, min_new=2, max_new=20), "done"),
    ("greedy_rep", dict(mode=0, beam=1, rep=2.0, lp=1.0, min_new=5, max_new=20), "ended"),
    ("greedy_plain", dict(mode=0, beam=1, rep=1.0, lp=1.0, min_new=0, max_new=20), None),
]


def fits(need, res):
    if min(r[3] for r in res) < MIN_MARGIN or min(len(r[0]) for r in res) == 0:
        return False
    if need == "added":   # finished hypotheses in both, the best one in one at least
        return all(r[4]["added"] for r in res) and any(r[1] for r in res)
    if need == "done":    # both stop early: K finished hypotheses beat the beams
        return all(r[4]["done"] for r in res)
    if need == "ended":   # both end with eos
        return all(r[1] for r in res)
    return True


def search(cfg, W, name, p, need):
    """The first (seed, eos) whose two prefixes satisfy the case."""
    V = cfg["vocab"]
    for seed in range(1, 200):
        rng = np.random.default_rng(seed)
        xs = [make_prefix(cfg, W, rng), make_prefix(cfg, W, rng)]
        X = [torch.from_numpy(x.astype(np.float64)) for x in xs]
        # eos candidates: tokens the plain greedy continuation produces
        # (likely ones, so that hypotheses finish), then random ones
        likely = []
        for x in X:
            for t in run_case(cfg, W, x, dict(CASES[-1][1], eos=-1))[0][3:]:
                if t not in likely and t > 1:
                    likely.append(t)
        rest = [int(e) for e in rng.permutation(np.arange(2, V)) if e not in likely]
        for eos in (likely + rest)[:N_EOS]:
            q = dict(p, eos=eos)
            res = [run_case(cfg, W, x, q) for x in X]
            if fits(need, res):
                return seed, xs, q, res
    raise SystemExit(f"{name}: no seed fits")


def check_hf(cfg, W, entries):
    """When transformers (4.30.2) is importable, runs its generate() on the
    same weights and prefixes and asserts the same ids."""
    try:
        import transformers
        from transformers import LlamaConfig, LlamaForCausalLM
    except ImportError:
        print("transformers not importable: reference not cross-checked")
        return
    d = os.path.join(HERE, "..", "..", "tests", "golden", "llama", "hf_mha_f32")
    with open(os.path.join(d, "config.json")) as f:
        hc = {k: v for k, v in json.load(f).items()
              if k not in ("architectures", "torch_dtype", "rope_scaling")}
    m = LlamaForCausalLM(LlamaConfig(**hc)).double().eval()
    m.load_state_dict(W, strict=False)
    for name, _, _ in CASES:
        mode, K, rep, lp, mn, mx, eos = [float(v) for v in np.frombuffer(
            entries[name + "/params"][2], dtype="<f4")]
        for i in range(2):
            x = np.frombuffer(entries[f"{name}/prefix{i}"][2], dtype="<f4")
            x = torch.from_numpy(x.astype(np.float64)).view(1, -1, cfg["dim"])
            with torch.no_grad():
                out = m.generate(inputs_embeds=x,
                                 attention_mask=torch.ones(1, x.shape[1], dtype=torch.long),
                                 num_beams=int(K) if mode == 2 else 1, do_sample=False,
                                 min_new_tokens=int(mn), max_new_tokens=int(mx),
                                 repetition_penalty=rep, length_penalty=lp,
                                 eos_token_id=int(eos), pad_token_id=0, bos_token_id=BOS)
            got = out[0].tolist()
            assert got[0] == BOS
            got = got[1:-1] if got[-1] == int(eos) else got[1:]
            want = np.frombuffer(entries[f"{name}/ids{i}"][2], dtype="<i4").tolist()
            assert got == want, (name, i, got, want)
    print(f"transformers {transformers.__version__} generate() gives the same ids")


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        HERE, "..", "..", "tests", "golden", "generate")
    os.makedirs(out, exist_ok=True)
    cfg, W = load_model()
    entries = {}
    for name, p, need in CASES:
        seed, xs, q, res = search(cfg, W, name, p, need)
        entries[name + "/prefix0"] = llama_ref.f32_entry(xs[0])
        entries[name + "/prefix1"] = llama_ref.f32_entry(xs[1])
        entries[name + "/params"] = llama_ref.f32_entry(np.array(
            [q["mode"], q["beam"], q["rep"], q["lp"], q["min_new"], q["max_new"], q["eos"]]))
        entries[name + "/ids0"] = llama_ref.i32_entry(np.array(res[0][0]))
        entries[name + "/ids1"] = llama_ref.i32_entry(np.array(res[1][0]))
        entries[name + "/info"] = llama_ref.f32_entry(np.array(
            [res[0][1], res[1][1], res[0][2], res[1][2]], dtype=np.float64))
        print(f"{name}: seed {seed}, eos {q['eos']}, margin {min(r[3] for r in res):.4f}",
              flush=True)
        for r in res:
            print(f"   ids {r[0]} ended_by_eos {r[1]} steps {r[2]} {r[4]}", flush=True)
    check_hf(cfg, W, entries)
    llama_ref.write_safetensors(os.path.join(out, "expected.safetensors"), entries)


if __name__ == "__main__":
    main()

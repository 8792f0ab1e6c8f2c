#!/usr/bin/python3
"""The report generator in plain PyTorch, for any preset: golden data for
tests/test_model.c (the `micro` preset, float64, same weights as the C
model) and the PyTorch side of the training-step benchmark (bench/torch_ref.py
step: any config as `mrg bench step --json` prints it, f32 or bf16 autocast).

    /usr/bin/python3 tools/ref/model_ref.py [out_dir]     # default tests/golden/model

The model (DESIGN.md §3, lib/include/mrg/model.h):
  images (B, V, 3, S, S) → ViT per view (timm layout) → views concatenated
  (or averaged: view_combine "mean")
  → content encoder: Lc pre-LN self-attention blocks, Kc learned queries
    cross-attend (one cross block)                       → content (B, Kc, Dv)
  → topic encoder: Kt queries = Linear(D → Dv) of the frozen LLaMA embedding
    of each topic word (mean over its pieces), Lt cross blocks over content
  → Linear(Dv → D) + LayerNorm(D, eps 1e-5) of [content; topic]  → P (B, K, D)
  → frozen LLaMA on [BOS before] P [after] report[:-1]
  loss = 0.5·CE(report tokens and </s>) + 0.5·InfoNCE(normalize(mean P),
         normalize(mean embedding of the report tokens without </s>)) at T 0.07
Sizes come from an Arch built from a config in mrg's JSON (the keys of
mrg_model_config_to_json); MICRO_CONFIG is the micro preset.

Golden output, into out_dir:
  lm/                   a tiny random LLaMA in Hugging Face layout (f32,
                        grouped-query) with tokenizer.model, a sentencepiece
                        unigram model trained here on report sentences
  ckpt/config.json      the micro model config (+ lm_path, tokenizer_path)
  ckpt/model.safetensors  the trained parts, checkpoint names
  expected.safetensors
      images (B, V, 3, S, S), report_ids I32 (B, T) padded with -1,
      report_len I32 (B), prompt_before / prompt_after I32,
      topic_emb (Kt, D), prefix (B, K, D),
      loss_total, loss_lm, loss_con (1), grad/<param> for every parameter
The golden reference runs in float64 from the stored f32 values, one
sequence at a time through llama_ref.forward; the benchmark runs the batch
at once (losses_batched) with fused attention.
"""
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.dont_write_bytecode = True  # keep tools/ref free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import llama_ref  # noqa: E402
from ops_ref import write_safetensors  # noqa: E402

# ---- the micro preset (lib/models/model_config.c) ---------------------------
MICRO_CONFIG = {
    "preset": "micro", "n_views": 2, "view_combine": "concat", "freeze_vit": False,
    "enc_heads": 2, "Lc": 1, "Kc": 4, "Lt": 1, "Kt": 2, "topic_words": ["heart", "lungs"],
    "vit": {"image_size": 16, "patch_size": 8, "in_chans": 3, "dim": 16,
            "depth": 1, "heads": 2, "mlp_hidden": 64, "num_classes": 0,
            "eps": 1e-6, "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]},
    "prompt_before": "Human: <Img>",
    "prompt_after": ("</Img> Generate a comprehensive and detailed diagnosis report for this "
                     "chest xray image. \nAssistant:"),
    "lm_weight": 0.5, "con_weight": 0.5, "temperature": 0.07,
}
LM = {"name": "micro_lm", "fmt": "hf", "dim": 16, "hidden": 32, "layers": 2, "heads": 2,
      "kv_heads": 1, "vocab": None, "max_seq": 256, "eps": 1e-5, "theta": 10000.0,
      "layout": "half", "tied": False, "dtype": "f32"}


class Arch:
    """The sizes of a report generator, from a config dict in mrg's JSON
    (nested "vit"; the lm part is not read: the LLaMA comes with its weights).
    sdpa: attention through F.scaled_dot_product_attention (the benchmark)
    instead of the explicit softmax (the float64 golden data)."""

    def __init__(self, cfg, sdpa=False):
        v = cfg["vit"]
        self.img, self.patch, self.dv = v["image_size"], v["patch_size"], v["dim"]
        self.depth, self.vheads, self.vmlp = v["depth"], v["heads"], v["mlp_hidden"]
        self.v_eps = v["eps"]
        self.n_views, self.combine = cfg["n_views"], cfg.get("view_combine", "concat")
        self.freeze_vit = cfg.get("freeze_vit", False)
        self.enc_heads, self.lc, self.kc, self.lt = cfg["enc_heads"], cfg["Lc"], cfg["Kc"], cfg["Lt"]
        self.topics = list(cfg["topic_words"])[:cfg["Kt"]]
        self.kt = len(self.topics)
        self.enc_mlp = 4 * self.dv          # lib/models/model.c: MLP width 4·Dv,
        self.enc_eps, self.proj_eps = 1e-6, 1e-5  # eps 1e-6; projection norm 1e-5
        self.lm_w, self.con_w, self.temp = cfg["lm_weight"], cfg["con_weight"], cfg["temperature"]
        self.sdpa = sdpa


MICRO = Arch(MICRO_CONFIG)
TOPICS = MICRO.topics
BEFORE, AFTER = MICRO_CONFIG["prompt_before"], MICRO_CONFIG["prompt_after"]
SENTENCES = [
    "the heart is normal in size", "the heart size is enlarged", "the lungs are clear",
    "no pleural effusion or pneumothorax", "there is a small left pleural effusion",
    "there is a right pneumothorax", "no focal consolidation", "the mediastinum is unremarkable",
    "osseous structures are intact", "mild cardiomegaly", "stable right upper lobe opacity",
    "a nodule in the left lung", "no acute cardiopulmonary abnormality",
    "the cardiomediastinal silhouette is within normal limits", "bones are unremarkable",
    "degenerative changes of the spine", "lungs are hyperinflated", "no large effusion",
    BEFORE, AFTER.replace("\n", " "), "Human: Assistant: findings impression devices",
]
REPORTS = [
    "the heart is normal in size . the lungs are clear . no pleural effusion .",
    "mild cardiomegaly . there is a small left pleural effusion .",
    "no acute cardiopulmonary abnormality .",
]
MAX_REPORT = [12, 9, 4]  # report tokens kept before </s> (different lengths: padding)


def train_tokenizer(out_dir):
    import sentencepiece as spm
    text = os.path.join(out_dir, "sentences.txt")
    with open(text, "w") as f:
        for _ in range(3):
            for s in SENTENCES:
                f.write(s + "\n")
    spm.SentencePieceTrainer.train(
        input=text, model_prefix=os.path.join(out_dir, "tokenizer"), vocab_size=100,
        model_type="unigram", character_coverage=1.0, hard_vocab_limit=False, num_threads=1,
        bos_id=1, eos_id=2, unk_id=0, pad_id=-1, minloglevel=2,
        normalization_rule_name="identity")  # no normalisation tables: a small file
    os.remove(text)
    os.remove(os.path.join(out_dir, "tokenizer.vocab"))
    return spm.SentencePieceProcessor(model_file=os.path.join(out_dir, "tokenizer.model"))


# ---- weights ----------------------------------------------------------------

def make_weights(rng, D, a=MICRO):
    """Random weights of the trained parts (checkpoint names) for an LLaMA of
    width D, with O(1) activations; norms and biases random too, so a mix-up
    of two tensors changes the result."""
    w = {}
    DV = a.dv

    def lin(name, out, inp, bias=True):
        w[name + ".weight"] = rng.normal(0, 1 / np.sqrt(inp), (out, inp))
        if bias:
            w[name + ".bias"] = rng.normal(0, 0.1, (out,))

    def ln(name, n):
        w[name + ".weight"] = 1 + rng.normal(0, 0.1, (n,))
        w[name + ".bias"] = rng.normal(0, 0.1, (n,))

    def block(b):  # self-attention block (timm)
        ln(b + ".norm1", DV)
        lin(b + ".attn.qkv", 3 * DV, DV)
        lin(b + ".attn.proj", DV, DV)
        ln(b + ".norm2", DV)
        lin(b + ".mlp.fc1", a.enc_mlp if not b.startswith("vit.") else a.vmlp, DV)
        lin(b + ".mlp.fc2", DV, a.enc_mlp if not b.startswith("vit.") else a.vmlp)

    def cross(b):
        ln(b + ".norm1", DV)
        ln(b + ".norm_ctx", DV)
        for p in ("q", "k", "v", "proj"):
            lin(b + ".attn." + p, DV, DV)
        ln(b + ".norm2", DV)
        lin(b + ".mlp.fc1", a.enc_mlp, DV)
        lin(b + ".mlp.fc2", DV, a.enc_mlp)

    P = a.patch
    fan = 3 * P * P
    w["vit.patch_embed.proj.weight"] = rng.normal(0, 1 / np.sqrt(fan), (DV, 3, P, P))
    w["vit.patch_embed.proj.bias"] = rng.normal(0, 0.1, (DV,))
    w["vit.cls_token"] = rng.normal(0, 0.5, (1, 1, DV))
    w["vit.pos_embed"] = rng.normal(0, 0.5, (1, (a.img // P) ** 2 + 1, DV))
    for i in range(a.depth):
        block("vit.blocks.%d" % i)
    ln("vit.norm", DV)
    for i in range(a.lc):
        block("content.blocks.%d" % i)
    w["content.queries"] = rng.normal(0, 1.0, (1, a.kc, DV))
    cross("content.cross")
    lin("topic.query_proj", DV, D)
    for i in range(a.lt):
        cross("topic.blocks.%d" % i)
    lin("proj.linear", D, DV)
    ln("proj.norm", D)
    return {k: v.astype(np.float32) for k, v in w.items()}


# ---- forward ----------------------------------------------------------------

def mha(q, k, v, heads, sdpa=False):
    """q (B, Tq, Dm), k, v (B, Tk, Dm) already projected → (B, Tq, Dm)."""
    B, Tq, Dm = q.shape
    hd = Dm // heads
    q = q.reshape(B, Tq, heads, hd).transpose(1, 2)
    k = k.reshape(B, -1, heads, hd).transpose(1, 2)
    v = v.reshape(B, -1, heads, hd).transpose(1, 2)
    if sdpa:
        o = F.scaled_dot_product_attention(q, k, v)
    else:
        o = ((q * hd ** -0.5) @ k.transpose(-2, -1)).softmax(-1) @ v
    return o.transpose(1, 2).reshape(B, Tq, Dm)


def lnorm(p, name, x, eps):
    return F.layer_norm(x, (x.shape[-1],), p[name + ".weight"], p[name + ".bias"], eps)


def linear(p, name, x):
    return F.linear(x, p[name + ".weight"], p.get(name + ".bias"))


def mlp(p, name, x):
    return linear(p, name + ".fc2", F.gelu(linear(p, name + ".fc1", x)))


def self_block(p, b, x, heads, eps, sdpa=False):
    h = lnorm(p, b + ".norm1", x, eps)
    qkv = linear(p, b + ".attn.qkv", h)
    B, T, _ = qkv.shape
    D = x.shape[-1]
    hd = D // heads
    q, k, v = qkv.reshape(B, T, 3, heads, hd).permute(2, 0, 1, 3, 4).reshape(3, B, T, D).unbind(0)
    x = x + linear(p, b + ".attn.proj", mha(q, k, v, heads, sdpa))
    return x + mlp(p, b + ".mlp", lnorm(p, b + ".norm2", x, eps))


def cross_block(p, b, x, ctx, heads, eps, sdpa=False):
    c = lnorm(p, b + ".norm_ctx", ctx, eps)
    h = lnorm(p, b + ".norm1", x, eps)
    o = mha(linear(p, b + ".attn.q", h), linear(p, b + ".attn.k", c), linear(p, b + ".attn.v", c),
            heads, sdpa)
    x = x + linear(p, b + ".attn.proj", o)
    return x + mlp(p, b + ".mlp", lnorm(p, b + ".norm2", x, eps))


def vit(p, x, a=MICRO):
    B = x.shape[0]
    x = F.conv2d(x, p["vit.patch_embed.proj.weight"], p["vit.patch_embed.proj.bias"],
                 stride=a.patch)
    x = x.flatten(2).transpose(1, 2)
    x = torch.cat([p["vit.cls_token"].expand(B, -1, -1), x], 1) + p["vit.pos_embed"]
    for i in range(a.depth):
        x = self_block(p, "vit.blocks.%d" % i, x, a.vheads, a.v_eps, a.sdpa)
    return lnorm(p, "vit.norm", x, a.v_eps)


def prefix(p, topic_emb, images, a=MICRO):
    B = images.shape[0]
    f = vit(p, images.reshape(B * a.n_views, 3, a.img, a.img), a)    # (B·V, N+1, Dv)
    if a.combine == "mean":
        x = f.reshape(B, a.n_views, -1, a.dv).mean(1)                # (B, N+1, Dv)
    else:
        x = f.reshape(B, -1, a.dv)                                   # views concatenated
    for i in range(a.lc):
        x = self_block(p, "content.blocks.%d" % i, x, a.enc_heads, a.enc_eps, a.sdpa)
    q = p["content.queries"].expand(B, -1, -1)
    content = cross_block(p, "content.cross", q, x, a.enc_heads, a.enc_eps, a.sdpa)
    tok = content
    if a.kt > 0:
        t = linear(p, "topic.query_proj", topic_emb).expand(B, -1, -1)   # (B, Kt, Dv)
        for i in range(a.lt):
            t = cross_block(p, "topic.blocks.%d" % i, t, content, a.enc_heads, a.enc_eps, a.sdpa)
        tok = torch.cat([content, t], 1)
    return lnorm(p, "proj.norm", linear(p, "proj.linear", tok), a.proj_eps)


def contrastive(P, E, report_ids, report_len, eos, a):
    z_txt = []
    for b in range(report_ids.shape[0]):
        ids = [t for t in report_ids[b, :report_len[b]] if t >= 0 and t != eos]
        z_txt.append(E[torch.tensor(ids)].mean(0))
    z_txt = F.normalize(torch.stack(z_txt), dim=-1)
    z_img = F.normalize(P.mean(1), dim=-1)
    logits = z_img @ z_txt.T / a.temp
    lab = torch.arange(report_ids.shape[0])
    return (F.cross_entropy(logits, lab) + F.cross_entropy(logits.T, lab)) / 2


def losses(p, lmw, topic_emb, images, report_ids, report_len, before, after, eos, a=MICRO):
    """The golden path: each sequence on its own through llama_ref.forward."""
    P = prefix(p, topic_emb, images, a)
    E = lmw["model.embed_tokens.weight"]
    B, T = report_ids.shape
    K = P.shape[1]
    ce = []
    for b in range(B):
        rin = [t if t >= 0 else eos for t in report_ids[b, :T - 1]]
        x = torch.cat([E[torch.tensor(before)], P[b], E[torch.tensor(after)],
                       E[torch.tensor(rin, dtype=torch.long)]], 0)
        logits = llama_ref.forward(LM, lmw, x)
        s = len(before) + K + len(after) - 1
        ce.append((logits[s:s + T], torch.tensor(report_ids[b], dtype=torch.long)))
    lm = F.cross_entropy(torch.cat([c[0] for c in ce]), torch.cat([c[1] for c in ce]),
                         ignore_index=-1)
    con = contrastive(P, E, report_ids, report_len, eos, a)
    return a.lm_w * lm + a.con_w * con, lm, con, P


# ---- the whole batch at once (the benchmark) ----------------------------------

def rope_half(x, theta):
    """x (B, H, T, Dh) rotated at positions 0..T-1, Hugging Face rotate_half."""
    T, Dh = x.shape[2], x.shape[3]
    inv = theta ** (-torch.arange(0, Dh, 2, dtype=torch.float32) / Dh)
    ang = torch.arange(T, dtype=torch.float32)[:, None] * inv             # (T, Dh/2)
    cos = torch.cat([ang.cos(), ang.cos()], -1).to(x.dtype)
    sin = torch.cat([ang.sin(), ang.sin()], -1).to(x.dtype)
    x1, x2 = x[..., : Dh // 2], x[..., Dh // 2:]
    return x * cos + torch.cat([-x2, x1], -1) * sin


def rmsnorm(x, w, eps):
    xf = x.float()
    return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps)).to(w.dtype) * w


def llama_hidden(lm, W, x):
    """Frozen LLaMA over input embeddings x (B, T, D) → final-normed hidden
    states (B, T, D); lm: llama_ref's config keys (dim, heads, kv_heads,
    layers, eps, theta); W: Hugging Face names → tensors."""
    B, T, D = x.shape
    H, Hkv, eps = lm["heads"], lm["kv_heads"], lm["eps"]
    Dh = D // H
    for l in range(lm["layers"]):
        p = "model.layers.%d." % l
        h = rmsnorm(x, W[p + "input_layernorm.weight"], eps)
        q = F.linear(h, W[p + "self_attn.q_proj.weight"]).view(B, T, H, Dh).transpose(1, 2)
        k = F.linear(h, W[p + "self_attn.k_proj.weight"]).view(B, T, Hkv, Dh).transpose(1, 2)
        v = F.linear(h, W[p + "self_attn.v_proj.weight"]).view(B, T, Hkv, Dh).transpose(1, 2)
        q, k = rope_half(q, lm["theta"]), rope_half(k, lm["theta"])
        if Hkv != H:   # query head j uses kv head j // (H / Hkv)
            k = k.repeat_interleave(H // Hkv, dim=1)
            v = v.repeat_interleave(H // Hkv, dim=1)
        o = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + F.linear(o.transpose(1, 2).reshape(B, T, D), W[p + "self_attn.o_proj.weight"])
        h = rmsnorm(x, W[p + "post_attention_layernorm.weight"], eps)
        g = F.silu(F.linear(h, W[p + "mlp.gate_proj.weight"])) * F.linear(h, W[p + "mlp.up_proj.weight"])
        x = x + F.linear(g, W[p + "mlp.down_proj.weight"])
    return rmsnorm(x, W["model.norm.weight"], eps)


def losses_batched(p, lm, W, topic_emb, images, report_ids, report_len, before, after, eos, a):
    """The same losses with the batch in one LLaMA pass, as lib/models/
    model_loss.c runs it: [before] P [after] report[:-1] for every study
    (padding -1 fed as </s>: under causal attention nothing real sees it),
    logits only at the positions that predict the report."""
    P = prefix(p, topic_emb, images, a)
    E = W["model.embed_tokens.weight"]
    B, T = report_ids.shape
    K = P.shape[1]
    rid = torch.as_tensor(report_ids, dtype=torch.long)
    rin = torch.where(rid[:, :T - 1] >= 0, rid[:, :T - 1], torch.full_like(rid[:, :T - 1], eos))
    # the LLaMA runs in its weights' dtype (bf16 under autocast, as R2GenGPT)
    x = torch.cat([E[torch.tensor(before)].expand(B, -1, -1), P.to(E.dtype),
                   E[torch.tensor(after)].expand(B, -1, -1), E[rin]], 1)
    h = llama_hidden(lm, W, x)
    s = len(before) + K + len(after) - 1
    h = h[:, s:s + T].reshape(B * T, -1)
    head = E if lm.get("tied") else W["lm_head.weight"]
    lmloss = F.cross_entropy(F.linear(h, head).float(), rid.reshape(-1), ignore_index=-1)
    con = contrastive(P.float(), E.float(), report_ids, report_len, eos, a)
    return a.lm_w * lmloss + a.con_w * con, lmloss, con


def config_json():
    return dict(MICRO_CONFIG, lm_path="../lm", tokenizer_path="../lm/tokenizer.model")


def main():
    torch.set_default_dtype(torch.float64)
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "golden", "model")
    lm_dir, ck_dir = os.path.join(out, "lm"), os.path.join(out, "ckpt")
    os.makedirs(lm_dir, exist_ok=True)
    os.makedirs(ck_dir, exist_ok=True)
    sp = train_tokenizer(lm_dir)
    LM["vocab"] = sp.get_piece_size()
    rng = np.random.default_rng(2024)
    lmw = llama_ref.make_weights(LM, rng, "f32")
    llama_ref.write_hf(lm_dir, LM, lmw)
    D = LM["dim"]
    w = make_weights(rng, D)
    write_safetensors(os.path.join(ck_dir, "model.safetensors"), w)
    with open(os.path.join(ck_dir, "config.json"), "w") as f:
        json.dump(config_json(), f, indent=2)

    eos = sp.eos_id()
    before = [sp.bos_id()] + sp.encode(BEFORE)
    after = sp.encode(AFTER)
    B = len(REPORTS)
    toks = [sp.encode(r)[:n] + [eos] for r, n in zip(REPORTS, MAX_REPORT)]
    T = max(len(t) for t in toks)
    report_ids = np.full((B, T), -1, dtype=np.int64)
    for b, t in enumerate(toks):
        report_ids[b, :len(t)] = t
    report_len = np.array([len(t) for t in toks])
    images = rng.normal(0, 1, (B, MICRO.n_views, 3, MICRO.img, MICRO.img)).astype(np.float32)

    W = {k: torch.from_numpy(v.astype(np.float64)) for k, v in lmw.items()}
    E = W["model.embed_tokens.weight"]
    topic_emb = torch.stack([E[torch.tensor(sp.encode(t))].mean(0) for t in TOPICS])
    p = {k: torch.tensor(v.astype(np.float64), requires_grad=True) for k, v in w.items()}
    total, lm, con, P = losses(p, W, topic_emb, torch.from_numpy(images.astype(np.float64)),
                               report_ids, report_len, before, after, eos)
    total.backward()
    exp = {"images": images, "report_ids": report_ids.astype(np.int32),
           "report_len": report_len.astype(np.int32),
           "prompt_before": np.array(before, dtype=np.int32),
           "prompt_after": np.array(after, dtype=np.int32),
           "topic_emb": topic_emb.numpy().astype(np.float32),
           "prefix": P.detach().numpy().astype(np.float32),
           "loss_total": np.array([total.item()], dtype=np.float32),
           "loss_lm": np.array([lm.item()], dtype=np.float32),
           "loss_con": np.array([con.item()], dtype=np.float32)}
    for k, v in p.items():
        exp["grad/" + k] = v.grad.numpy().astype(np.float32)
    write_safetensors(os.path.join(out, "expected.safetensors"), exp)
    print("vocab %d, prompt %d + %d tokens, T %d, losses total %.6f lm %.6f con %.6f" %
          (LM["vocab"], len(before), len(after), T, total.item(), lm.item(), con.item()))


if __name__ == "__main__":
    main()

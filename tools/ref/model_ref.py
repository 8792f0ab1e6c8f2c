#!/usr/bin/python3
"""Golden data for tests/test_model.c: the `micro` report generator in plain
PyTorch, with the same weights as the C model.

    /usr/bin/python3 tools/ref/model_ref.py [out_dir]     # default tests/golden/model

The model (DESIGN.md §3, lib/include/mrg/model.h):
  images (B, V, 3, S, S) → ViT per view (timm layout) → views concatenated
  → content encoder: Lc pre-LN self-attention blocks, Kc learned queries
    cross-attend (one cross block)                       → content (B, Kc, Dv)
  → topic encoder: Kt queries = Linear(D → Dv) of the frozen LLaMA embedding
    of each topic word (mean over its pieces), Lt cross blocks over content
  → Linear(Dv → D) + LayerNorm(D, eps 1e-5) of [content; topic]  → P (B, K, D)
  → frozen LLaMA on [BOS before] P [after] report[:-1]
  loss = 0.5·CE(report tokens and </s>) + 0.5·InfoNCE(normalize(mean P),
         normalize(mean embedding of the report tokens without </s>)) at T 0.07

Writes into out_dir:
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
The reference runs in float64 from the stored f32 values.
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

torch.set_default_dtype(torch.float64)

# ---- the micro preset (lib/models/model_config.c) ---------------------------
IMG, PATCH, DV, DEPTH, VHEADS, VMLP = 16, 8, 16, 1, 2, 64
V_EPS = 1e-6
N_VIEWS = 2
ENC_HEADS, LC, KC, LT = 2, 1, 4, 1
TOPICS = ["heart", "lungs"]
KT = len(TOPICS)
ENC_MLP = 4 * DV
ENC_EPS, PROJ_EPS = 1e-6, 1e-5
LM = {"name": "micro_lm", "fmt": "hf", "dim": 16, "hidden": 32, "layers": 2, "heads": 2,
      "kv_heads": 1, "vocab": None, "max_seq": 256, "eps": 1e-5, "theta": 10000.0,
      "layout": "half", "tied": False, "dtype": "f32"}
BEFORE = "Human: <Img>"
AFTER = ("</Img> Generate a comprehensive and detailed diagnosis report for this chest xray "
         "image. \nAssistant:")
LM_W, CON_W, TEMP = 0.5, 0.5, 0.07

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

def make_weights(rng, D):
    """Random weights with O(1) activations; norms and biases random too, so
    a mix-up of two tensors changes the result."""
    w = {}

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
        lin(b + ".mlp.fc1", ENC_MLP if not b.startswith("vit.") else VMLP, DV)
        lin(b + ".mlp.fc2", DV, ENC_MLP if not b.startswith("vit.") else VMLP)

    def cross(b):
        ln(b + ".norm1", DV)
        ln(b + ".norm_ctx", DV)
        for p in ("q", "k", "v", "proj"):
            lin(b + ".attn." + p, DV, DV)
        ln(b + ".norm2", DV)
        lin(b + ".mlp.fc1", ENC_MLP, DV)
        lin(b + ".mlp.fc2", DV, ENC_MLP)

    fan = 3 * PATCH * PATCH
    w["vit.patch_embed.proj.weight"] = rng.normal(0, 1 / np.sqrt(fan), (DV, 3, PATCH, PATCH))
    w["vit.patch_embed.proj.bias"] = rng.normal(0, 0.1, (DV,))
    w["vit.cls_token"] = rng.normal(0, 0.5, (1, 1, DV))
    w["vit.pos_embed"] = rng.normal(0, 0.5, (1, (IMG // PATCH) ** 2 + 1, DV))
    for i in range(DEPTH):
        block("vit.blocks.%d" % i)
    ln("vit.norm", DV)
    for i in range(LC):
        block("content.blocks.%d" % i)
    w["content.queries"] = rng.normal(0, 1.0, (1, KC, DV))
    cross("content.cross")
    lin("topic.query_proj", DV, D)
    for i in range(LT):
        cross("topic.blocks.%d" % i)
    lin("proj.linear", D, DV)
    ln("proj.norm", D)
    return {k: v.astype(np.float32) for k, v in w.items()}


# ---- forward ----------------------------------------------------------------

def mha(q, k, v, heads):
    """q (B, Tq, Dm), k, v (B, Tk, Dm) already projected → (B, Tq, Dm)."""
    B, Tq, Dm = q.shape
    hd = Dm // heads
    q = q.reshape(B, Tq, heads, hd).transpose(1, 2)
    k = k.reshape(B, -1, heads, hd).transpose(1, 2)
    v = v.reshape(B, -1, heads, hd).transpose(1, 2)
    a = ((q * hd ** -0.5) @ k.transpose(-2, -1)).softmax(-1)
    return (a @ v).transpose(1, 2).reshape(B, Tq, Dm)


def lnorm(p, name, x, eps):
    return F.layer_norm(x, (x.shape[-1],), p[name + ".weight"], p[name + ".bias"], eps)


def linear(p, name, x):
    return F.linear(x, p[name + ".weight"], p.get(name + ".bias"))


def mlp(p, name, x):
    return linear(p, name + ".fc2", F.gelu(linear(p, name + ".fc1", x)))


def self_block(p, b, x, heads, eps):
    h = lnorm(p, b + ".norm1", x, eps)
    qkv = linear(p, b + ".attn.qkv", h)
    B, T, _ = qkv.shape
    D = x.shape[-1]
    hd = D // heads
    q, k, v = qkv.reshape(B, T, 3, heads, hd).permute(2, 0, 1, 3, 4).reshape(3, B, T, D).unbind(0)
    x = x + linear(p, b + ".attn.proj", mha(q, k, v, heads))
    return x + mlp(p, b + ".mlp", lnorm(p, b + ".norm2", x, eps))


def cross_block(p, b, x, ctx, heads, eps):
    c = lnorm(p, b + ".norm_ctx", ctx, eps)
    h = lnorm(p, b + ".norm1", x, eps)
    o = mha(linear(p, b + ".attn.q", h), linear(p, b + ".attn.k", c), linear(p, b + ".attn.v", c),
            heads)
    x = x + linear(p, b + ".attn.proj", o)
    return x + mlp(p, b + ".mlp", lnorm(p, b + ".norm2", x, eps))


def vit(p, x):
    B = x.shape[0]
    x = F.conv2d(x, p["vit.patch_embed.proj.weight"], p["vit.patch_embed.proj.bias"], stride=PATCH)
    x = x.flatten(2).transpose(1, 2)
    x = torch.cat([p["vit.cls_token"].expand(B, -1, -1), x], 1) + p["vit.pos_embed"]
    for i in range(DEPTH):
        x = self_block(p, "vit.blocks.%d" % i, x, VHEADS, V_EPS)
    return lnorm(p, "vit.norm", x, V_EPS)


def prefix(p, topic_emb, images):
    B = images.shape[0]
    f = vit(p, images.reshape(B * N_VIEWS, 3, IMG, IMG))            # (B·V, N+1, Dv)
    x = f.reshape(B, -1, DV)                                         # views concatenated
    for i in range(LC):
        x = self_block(p, "content.blocks.%d" % i, x, ENC_HEADS, ENC_EPS)
    q = p["content.queries"].expand(B, -1, -1)
    content = cross_block(p, "content.cross", q, x, ENC_HEADS, ENC_EPS)
    t = linear(p, "topic.query_proj", topic_emb).expand(B, -1, -1)   # (B, Kt, Dv)
    for i in range(LT):
        t = cross_block(p, "topic.blocks.%d" % i, t, content, ENC_HEADS, ENC_EPS)
    tok = torch.cat([content, t], 1)
    return lnorm(p, "proj.norm", linear(p, "proj.linear", tok), PROJ_EPS)


def losses(p, lmw, topic_emb, images, report_ids, report_len, before, after, eos):
    P = prefix(p, topic_emb, images)
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
    z_txt = []
    for b in range(B):
        ids = [t for t in report_ids[b, :report_len[b]] if t >= 0 and t != eos]
        z_txt.append(E[torch.tensor(ids)].mean(0))
    z_txt = F.normalize(torch.stack(z_txt), dim=-1)
    z_img = F.normalize(P.mean(1), dim=-1)
    logits = z_img @ z_txt.T / TEMP
    lab = torch.arange(B)
    con = (F.cross_entropy(logits, lab) + F.cross_entropy(logits.T, lab)) / 2
    return LM_W * lm + CON_W * con, lm, con, P


def config_json():
    return {
        "preset": "micro", "n_views": N_VIEWS, "view_combine": "concat", "freeze_vit": False,
        "enc_heads": ENC_HEADS, "Lc": LC, "Kc": KC, "Lt": LT, "Kt": KT, "topic_words": TOPICS,
        "vit": {"image_size": IMG, "patch_size": PATCH, "in_chans": 3, "dim": DV,
                "depth": DEPTH, "heads": VHEADS, "mlp_hidden": VMLP, "num_classes": 0,
                "eps": V_EPS, "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]},
        "prompt_before": BEFORE, "prompt_after": AFTER,
        "lm_weight": LM_W, "con_weight": CON_W, "temperature": TEMP,
        "lm_path": "../lm", "tokenizer_path": "../lm/tokenizer.model",
    }


def main():
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
    images = rng.normal(0, 1, (B, N_VIEWS, 3, IMG, IMG)).astype(np.float32)

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

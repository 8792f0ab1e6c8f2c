#!/usr/bin/python3
"""Golden perplexities for `mrg lm --perplexity` (tests/test_lm_perplexity.c).

    /work/ext/venv/bin/python tools/ref/perplexity_ref.py [model_dir] [out_dir]

(torch, numpy and sentencepiece; defaults tests/golden/model/lm and
tests/golden/lm_perplexity). It reads the Hugging Face LLaMA directory
(config.json, model.safetensors in F32, tokenizer.model), writes out_dir/lines.txt
(report-like lines, one empty) and computes in float64 with the plain PyTorch
LLaMA of llama_ref.py, independently of mrg:

  each non-empty line -> context + sp.encode(line) + [EOS]; every token after
  the context is predicted and counted (the line's tokens and EOS), the
  context (BOS, or BOS + the prompt's pieces) is given;
  perplexity = exp(sum of -log softmax(logits)[target] / tokens counted).

expected.json holds, for each case, the prompt (null: BOS alone), the
perplexity, nll_per_token, tokens, lines, empty_lines and each line's NLL.
"""
import json
import math
import os
import sys

import numpy as np
import torch

sys.dont_write_bytecode = True  # keep tools/ref free of __pycache__
import llama_ref  # noqa: E402  (beside this file)
from st_read import read_safetensors  # noqa: E402

LINES = [
    "the heart is normal in size . the lungs are clear .",
    "no acute cardiopulmonary abnormality .",
    "",
    "there is no pleural effusion or pneumothorax . xxxx are intact .",
    "heart",
    "the mediastinum is unremarkable . the lungs are clear . no focal consolidation . "
    "no pleural effusion . no pneumothorax . the heart is normal .",
]
PROMPTS = [None, "findings :"]


def main():
    model_dir = sys.argv[1] if len(sys.argv) > 1 else 'tests/golden/model/lm'
    out_dir = sys.argv[2] if len(sys.argv) > 2 else 'tests/golden/lm_perplexity'
    import sentencepiece as spm
    sp = spm.SentencePieceProcessor(model_file=os.path.join(model_dir, 'tokenizer.model'))
    with open(os.path.join(model_dir, 'config.json')) as f:
        hf = json.load(f)
    cfg = dict(dim=hf['hidden_size'], heads=hf['num_attention_heads'],
               kv_heads=hf['num_key_value_heads'], layers=hf['num_hidden_layers'],
               eps=hf['rms_norm_eps'], theta=hf['rope_theta'], layout='half',
               tied=hf['tie_word_embeddings'])
    st = read_safetensors(os.path.join(model_dir, 'model.safetensors'), only_f32=True)
    W = {k: torch.from_numpy(v.astype(np.float64)) for k, v in st.items()}
    E = W['model.embed_tokens.weight']
    bos, eos = hf['bos_token_id'], hf['eos_token_id']
    cases = []
    for prompt in PROMPTS:
        context = [bos] + (sp.encode(prompt) if prompt else [])
        per_line, total, count, empty = [], 0.0, 0, 0
        for line in LINES:
            if not line:
                empty += 1
                continue
            seq = context + sp.encode(line) + [eos]
            with torch.no_grad():
                logits = llama_ref.forward(cfg, W, E[torch.tensor(seq[:-1])])  # (T, V)
                logp = torch.log_softmax(logits, -1)
            nll = -sum(float(logp[t - 1, seq[t]]) for t in range(len(context), len(seq)))
            per_line.append(nll)
            total += nll
            count += len(seq) - len(context)
        cases.append(dict(prompt=prompt, perplexity=math.exp(total / count),
                          nll_per_token=total / count, tokens=count,
                          lines=len(per_line), empty_lines=empty, line_nll=per_line))
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, 'lines.txt'), 'w') as f:
        f.write(''.join(line + '\n' for line in LINES))
    with open(os.path.join(out_dir, 'expected.json'), 'w') as f:
        json.dump(dict(model=model_dir, cases=cases), f, indent=1)
        f.write('\n')
    for c in cases:
        print(c['prompt'], c['perplexity'], c['tokens'])


if __name__ == '__main__':
    main()

#!/usr/bin/env bash
# Perplexity on the real IU X-Ray reports (issue 15, README "Perplexity on
# IU X-Ray reports"): the tiny preset's LLaMA pretrained with `mrg
# pretrain-lm` on the R2Gen-cleaned training reports, next to an
# interpolated modified Kneser-Ney 4-gram model (tools/ref/kneser_ney.py)
# trained on the same reports, both with the LLaMA-2 tokenizer, both scored
# on the cleaned test reports with the same counting (BOS given, each
# report's tokens and EOS predicted).
#
#   bash bench/perplexity_iu.sh [SHARED] [OUT]
#
# SHARED: the data folder (default ../shared: data/iu_xray/annotation.json
# and models/llama2/tokenizer.model). OUT: where the results go (default
# bench/results/perplexity_iu): OUT/result.json (both perplexities, the
# per-epoch validation perplexity, the configuration, the machine),
# OUT/pretrain.jsonl (the training log). Report text never goes to OUT: the
# cleaned reports live in a temporary folder that is removed at the end.
#
# Environment: MRG (default build/mrg), PYTHON (needs `sentencepiece`;
# default python3), EPOCHS, BATCH, LR, SEED (the pretraining run), DEVICE.
# The LLaMA is tuned on the validation reports only; the test reports are
# scored once, at the end.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
shared=${1:-$here/../shared}
out=${2:-$here/bench/results/perplexity_iu}
mrg=${MRG:-$here/build/mrg}
py=${PYTHON:-python3}
epochs=${EPOCHS:-3}
batch=${BATCH:-8}
lr=${LR:-2e-3}
seed=${SEED:-1234}
device=${DEVICE:-cpu}
data=$shared/data/iu_xray
tok=$shared/models/llama2/tokenizer.model
for f in "$data/annotation.json" "$tok" "$mrg"; do
    [ -e "$f" ] || { echo "perplexity_iu: $f is missing" >&2; exit 2; }
done
"$py" -c 'import sentencepiece' 2>/dev/null ||
    { echo "perplexity_iu: $py has no sentencepiece (pip install sentencepiece)" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"

# the cleaned reports of each split, one per line (R2Gen cleaning,
# tools/ref/metrics_ref.py, the same as mrg's own: tests/test_clean.c)
"$py" - "$data/annotation.json" "$work" "$here/tools/ref" <<'EOF'
import json, os, sys
sys.dont_write_bytecode = True
sys.path.insert(0, sys.argv[3])
from metrics_ref import clean_report_iu_xray
ann = json.load(open(sys.argv[1]))
for split in ('train', 'val', 'test'):
    with open(os.path.join(sys.argv[2], split + '.txt'), 'w') as f:
        for r in ann[split]:
            f.write(clean_report_iu_xray(r['report']) + '\n')
EOF

# a plain LM of reports: no prompt, no image slot, nothing truncated (the
# longest cleaned training report is 227 LLaMA-2 tokens)
echo '{"prompt_before": "", "prompt_after": "", "max_report_tokens": 256}' > "$work/plain.json"
start=$(date +%s)
"$mrg" pretrain-lm --data "$data" --out "$work/lm" --preset tiny --config "$work/plain.json" \
    --tokenizer "$tok" --no-slot-hints --epochs "$epochs" --batch "$batch" --lr "$lr" \
    --seed "$seed" --log-every 100 --device "$device" > "$out/pretrain.jsonl"
train_s=$(( $(date +%s) - start ))

score() { "$mrg" lm --model "$work/lm" --tokenizer "$tok" --perplexity "$work/$1.txt" --json --device "$device"; }
score val > "$work/llama_val.json"
score test > "$work/llama_test.json"
"$py" "$here/tools/ref/kneser_ney.py" --tokenizer "$tok" --train "$work/train.txt" --test "$work/val.txt" --json > "$work/kn_val.json"
"$py" "$here/tools/ref/kneser_ney.py" --tokenizer "$tok" --train "$work/train.txt" --test "$work/test.txt" --json > "$work/kn_test.json"

"$py" - "$work" "$out" "$train_s" "$epochs" "$batch" "$lr" "$seed" "$device" <<'EOF'
import json, os, platform, sys
work, out, train_s, epochs, batch, lr, seed, device = sys.argv[1:]
load = lambda n: json.load(open(os.path.join(work, n + '.json')))
cpu = {}
try:
    for line in open('/proc/cpuinfo'):
        k, _, v = line.partition(':')
        k = k.strip()
        if k in ('model name', 'cpu family', 'model') and k not in cpu:
            cpu[k] = v.strip()
except OSError:
    pass
val = [json.loads(l) for l in open(os.path.join(out, 'pretrain.jsonl')) if '"type":"val"' in l]
r = {
    'llama_test': load('llama_test'), 'kneser_ney_4gram_test': load('kn_test'),
    'llama_val': load('llama_val'), 'kneser_ney_4gram_val': load('kn_val'),
    'val_perplexity_per_epoch': [v['val_perplexity'] for v in val],
    'config': {'preset': 'tiny', 'tokenizer': 'LLaMA-2 (32000 pieces)', 'prompt': 'none',
               'slot': 'none (--no-slot-hints)', 'max_report_tokens': 256, 'epochs': int(epochs),
               'batch': int(batch), 'lr': float(lr), 'seed': int(seed), 'device': device,
               'kneser_ney': 'order 4, interpolated modified (3 discounts per order)'},
    'train_wall_s': int(train_s), 'cpu': cpu, 'nproc': os.cpu_count(), 'machine': platform.machine(),
}
json.dump(r, open(os.path.join(out, 'result.json'), 'w'), indent=1)
lt, kt = r['llama_test']['perplexity'], r['kneser_ney_4gram_test']['perplexity']
print('test perplexity (%d tokens, %d reports): tiny LLaMA %.3f, Kneser-Ney 4-gram %.3f'
      % (r['llama_test']['tokens'], r['llama_test']['lines'], lt, kt))
print('val perplexity: tiny LLaMA %.3f, Kneser-Ney 4-gram %.3f; per epoch %s'
      % (r['llama_val']['perplexity'], r['kneser_ney_4gram_val']['perplexity'],
         ' '.join('%.3f' % v for v in r['val_perplexity_per_epoch'])))
print('pretraining: %s s on %s' % (train_s, cpu.get('model name', '?')))
sys.exit(0 if lt < kt else 1)
EOF

#!/usr/bin/env python3
"""Reference values for `mrg eval --bootstrap` and the paired comparison
(lib/metrics/bootstrap.c, eval.c): every metric of fixed resamples of a small
fixture, computed with pycocoevalcap's scorers on the resampled texts.

A resample is a list of study positions drawn with replacement; it is scored
as pycocoevalcap scores any set, the k-th drawn study under the new id "s<k>",
so that a study drawn twice is two images (two documents in CIDEr's document
frequencies, two segments in METEOR's aggregate). The index lists are written
to a golden file and read by both sides: the comparison is exact, not
statistical. Finding precision / recall / F1 (positive label vs positive
label, macro = mean over the findings) are computed here from the labels mrg's
labeler gave each report (`mrg eval --per-report`, kept in the golden files;
tests/test_metrics_bootstrap.c checks that the labeler still gives them).

Commands
  golden DIR MRG [--meteor]
      writes into DIR (tests/golden/metrics):
        bootstrap.ref.jsonl, bootstrap.a.jsonl, bootstrap.b.jsonl  the fixture:
            references (some studies with two) and two systems' predictions
        bootstrap.idx        one resample per line: the drawn positions
                             (0-based, in bootstrap.a.jsonl's order)
        bootstrap.a.labels.jsonl, bootstrap.b.labels.jsonl
                             {"id", "findings_pred", "findings_ref"} from MRG
                             (the mrg binary) eval --per-report
        bootstrap.expected   "SYSTEM RESAMPLE KEY VALUE" lines, KEY as
                             mrg_metric_key: BLEU_1..4, METEOR (with
                             --meteor: the METEOR 1.5 jar, needs java),
                             ROUGE_L, CIDEr, findings.<name>.<precision|recall|f1>,
                             findings.macro.<...>
Needs pycocoevalcap (pip install pycocoevalcap).
"""
import json
import os
import random
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import metrics_ref  # noqa: E402  (the same scorers and fixture helpers)

N_STUDIES = 30


def fixture():
    """ids, references (lists), predictions of system a and b."""
    refs1 = metrics_ref.phantom_reports(N_STUDIES, 11)
    refs2 = metrics_ref.phantom_reports(N_STUDIES, 12)
    other = metrics_ref.phantom_reports(N_STUDIES, 13)
    rnd = random.Random(14)
    ids = ['b%02d' % i for i in range(N_STUDIES)]
    refs = [[refs1[i], refs2[i]] if i % 4 == 0 else [refs1[i]] for i in range(N_STUDIES)]
    a, b = [], []
    for i in range(N_STUDIES):
        words = refs1[i].split(' ')
        a.append(' '.join(metrics_ref._perturb(words, rnd)) if i % 3 else other[i])
        b.append(refs1[i] if i % 5 == 0 else other[(i + 1) % N_STUDIES] if i % 2 else
                 ' '.join(metrics_ref._perturb(words, rnd)))
    a[7] = ''             # an empty prediction
    b[9] = refs[9][0]     # a perfect one
    return ids, refs, a, b


def resamples(n):
    """Identity, ten bootstrap resamples, a short sample with repeats, and one
    study drawn n times (every n-gram then has df = n: CIDEr weights 0)."""
    rnd = random.Random(2024)
    out = [list(range(n))]
    for _ in range(10):
        out.append([rnd.randrange(n) for _ in range(n)])
    out.append([3, 3, 3, 7, 0])
    out.append([4] * n)
    return out


def finding_scores(pairs, names):
    """pairs: [(pred_labels, ref_labels)] dicts name -> label."""
    out = {}
    mp = mr = mf = 0.0
    for name in names:
        tp = sum(1 for p, r in pairs if p[name] == 'positive' and r[name] == 'positive')
        fp = sum(1 for p, r in pairs if p[name] == 'positive' and r[name] != 'positive')
        fn = sum(1 for p, r in pairs if p[name] != 'positive' and r[name] == 'positive')
        prec = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec > 0 else 0.0
        out['findings.%s.precision' % name] = prec
        out['findings.%s.recall' % name] = rec
        out['findings.%s.f1' % name] = f1
        mp += prec / len(names)
        mr += rec / len(names)
        mf += f1 / len(names)
    out['findings.macro.precision'] = mp
    out['findings.macro.recall'] = mr
    out['findings.macro.f1'] = mf
    return out


def labels_of(mrg, pred_path, ref_path, out_path):
    with tempfile.TemporaryDirectory() as tmp:
        per = os.path.join(tmp, 'per.jsonl')
        subprocess.run([mrg, 'eval', '--pred', pred_path, '--ref', ref_path, '--no-meteor',
                        '--per-report', per], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        rows = metrics_ref.read_jsonl(per)
    rows = [{'id': r['id'], 'findings_pred': r['findings_pred'], 'findings_ref': r['findings_ref']}
            for r in rows]
    metrics_ref.write_jsonl(out_path, rows)
    return {r['id']: r for r in rows}


def golden(outdir, mrg, meteor):
    os.makedirs(outdir, exist_ok=True)
    ids, refs, a, b = fixture()
    path = lambda name: os.path.join(outdir, 'bootstrap.' + name)  # noqa: E731
    metrics_ref.write_jsonl(path('ref.jsonl'), [
        {'id': i, 'reports': r} if len(r) > 1 else {'id': i, 'report': r[0]} for i, r in zip(ids, refs)])
    systems = {'a': a, 'b': b}
    for s, preds in systems.items():
        metrics_ref.write_jsonl(path(s + '.jsonl'), [{'id': i, 'report': p} for i, p in zip(ids, preds)])
    idx = resamples(len(ids))
    with open(path('idx'), 'w') as f:
        for r in idx:
            f.write(' '.join(str(k) for k in r) + '\n')
    with open(path('expected'), 'w') as f:
        for s, preds in systems.items():
            labels = labels_of(mrg, path(s + '.jsonl'), path('ref.jsonl'), path(s + '.labels.jsonl'))
            names = list(labels[ids[0]]['findings_pred'].keys())
            for k, r in enumerate(idx):
                keys = ['s%d' % j for j in range(len(r))]
                corpus, _ = metrics_ref.score({key: preds[j] for key, j in zip(keys, r)},
                                              {key: list(refs[j]) for key, j in zip(keys, r)}, meteor)
                pairs = [(labels[ids[j]]['findings_pred'], labels[ids[j]]['findings_ref']) for j in r]
                corpus.update(finding_scores(pairs, names))
                for key, v in corpus.items():
                    f.write('%s %d %s %r\n' % (s, k, key, float(v)))


def main(argv):
    args = [a for a in argv[1:] if not a.startswith('--')]
    flags = {a for a in argv[1:] if a.startswith('--')}
    if '-h' in argv or '--help' in flags or len(args) != 3 or args[0] != 'golden':
        print(__doc__, file=sys.stderr if len(argv) > 1 and '--help' not in flags else sys.stdout)
        return 0 if '--help' in flags or '-h' in argv else 2
    golden(args[1], args[2], '--meteor' in flags)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))

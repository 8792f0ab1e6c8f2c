#!/usr/bin/env python3
"""Reference scores for `mrg eval` (lib/metrics, lib/text/clean.c).

The reference implementation is pycocoevalcap (pip install pycocoevalcap),
used the way R2Gen / R2GenGPT use it: no PTB tokenizer, BLEU option
"closest", ROUGE-L, "Cider" (CIDEr-D style, df from the evaluated refs) and,
with --meteor, the METEOR 1.5 jar (needs java). The R2Gen IU cleaning rule
is written here from its description in ../shared/REFERENCE.md.

Commands
  clean IN RAW CLEAN      every "report" of IN (.jsonl {"id","report"} lines, or an
                          R2Gen annotation.json: all splits) as {"id","report"} lines:
                          as given into RAW, cleaned into CLEAN (ids r00000, ...)
  score PRED REF OUT [--meteor] [--clean]
                          score {"id","report"} predictions against references
                          ({"id","report"} or {"id","reports":[...]}) and write
                          "corpus KEY VALUE" / "report ID KEY VALUE" lines to OUT
  fixtures DIR [--meteor] write the committed fixtures tests/golden/metrics/*
  iu-cases ANNOTATION DIR [--meteor]
                          build perturbed / truncated / swapped / other-report
                          cases from the IU X-Ray test split into DIR (never
                          committed: report text stays in ../shared) together
                          with their expected scores (<case>.expected)
"""
import json
import os
import random
import re
import sys

# ---------------------------------------------------------------- cleaning

# R2Gen's class, kept verbatim as a regex: ":-\[" is a range 0x3A-0x5B.
_SENT_DEL = re.compile(r'[.,?;*!%^&_+():-\[\]{}]')


def clean_report_iu_xray(report):
    t = report.replace('..', '.').replace('..', '.').replace('..', '.')
    t = t.replace('1. ', '')
    for k in '2345':
        t = t.replace('. %s. ' % k, '. ')
    for k in '2345':
        t = t.replace(' %s. ' % k, '. ')
    sents = t.strip().lower().split('. ')
    out = []
    for s in sents:
        s = s.replace('"', '').replace('/', '').replace('\\', '').replace("'", '')
        s = s.strip().lower()
        out.append(_SENT_DEL.sub('', s))  # empty sentences are kept
    return ' . '.join(out) + ' .'


# ---------------------------------------------------------------- files

def read_jsonl(path):
    rows = []
    with open(path, encoding='utf-8') as f:
        for line in f:
            if line.strip():
                rows.append(json.loads(line))
    return rows


def write_jsonl(path, rows):
    with open(path, 'w', encoding='utf-8') as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + '\n')


def refs_of(row):
    return list(row['reports']) if 'reports' in row else [row['report']]


# ---------------------------------------------------------------- scoring

def score(preds, refs, meteor=False):
    """preds: {id: str}; refs: {id: [str]} -> (corpus dict, per-report dict)."""
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge
    import contextlib
    import io
    ids = list(preds.keys())
    res = {i: [preds[i]] for i in ids}
    gts = {i: refs[i] for i in ids}
    corpus, per = {}, {i: {} for i in ids}
    with contextlib.redirect_stdout(io.StringIO()):  # Bleu prints its ratio
        b, bs = Bleu(4).compute_score(gts, res)
    for k in range(4):
        corpus['BLEU_%d' % (k + 1)] = b[k]
        for j, i in enumerate(ids):
            per[i]['BLEU_%d' % (k + 1)] = bs[k][j]
    r, rs = Rouge().compute_score(gts, res)
    corpus['ROUGE_L'] = r
    for j, i in enumerate(ids):
        per[i]['ROUGE_L'] = rs[j]
    c, cs = Cider().compute_score(gts, res)
    corpus['CIDEr'] = c
    for j, i in enumerate(ids):
        per[i]['CIDEr'] = cs[j]
    if meteor:
        mv, ms = _meteor().compute_score(gts, res)
        corpus['METEOR'] = mv
        for j, i in enumerate(ids):
            per[i]['METEOR'] = ms[j]
    return corpus, per


_METEOR = []


def _meteor():
    """One jar process for every call (it takes a minute to load its data)."""
    if not _METEOR:
        from pycocoevalcap.meteor.meteor import Meteor
        _METEOR.append(Meteor())
    return _METEOR[0]


def write_expected(path, corpus, per):
    with open(path, 'w') as f:
        for k, v in corpus.items():
            f.write('corpus %s %.12g\n' % (k, v))
        for i, d in per.items():
            for k, v in d.items():
                f.write('report %s %s %.12g\n' % (i, k, v))


def score_files(pred_path, ref_path, out_path, meteor=False, clean=False):
    cl = clean_report_iu_xray if clean else (lambda s: s)
    preds = {r['id']: cl(r['report']) for r in read_jsonl(pred_path)}
    refs = {r['id']: [cl(s) for s in refs_of(r)] for r in read_jsonl(ref_path)}
    preds = {i: p for i, p in preds.items() if i in refs}
    corpus, per = score(preds, refs, meteor)
    write_expected(out_path, corpus, per)


# ---------------------------------------------------------------- fixtures

# Hand-written cases: punctuation and case as given, double spaces, empty
# strings, one-word reports, several references.
HAND = [
    ('h01', 'the heart is normal in size .', ['the heart is normal in size .']),
    ('h02', 'the heart  is normal in size .', ['the heart is normal in size .']),
    ('h03', '', ['no acute cardiopulmonary abnormality .']),
    ('h04', 'normal', ['normal .']),
    ('h05', 'normal .', ['the lungs are clear .', 'normal chest .', 'normal .']),
    ('h06', 'No pneumothorax. The lungs are clear.',
     ['The lungs are clear. No pneumothorax or pleural effusion.']),
    ('h07', 'there is a small left pleural effusion . the heart is enlarged .',
     ['small left effusion .', 'the heart is enlarged . small left pleural effusion .']),
    ('h08', 'lungs are clear lungs are clear lungs are clear',
     ['lungs are clear .']),
    ('h09', 'a  b  c', ['a b c', 'c b a']),
    ('h10', 'the the the the', ['the cat sat on the mat']),
    ('h11', 'heart size normal . no effusion .', ['']),
    ('h12', '  leading and trailing spaces  ', ['leading and trailing spaces']),
]

# Phantom-like reports (the style `mrg phantoms` writes).
_PH = {
    'heart_ok': ['the heart is normal in size .', 'heart size is normal .',
                 'the cardiomediastinal silhouette is within normal limits .'],
    'heart_big': ['the heart is enlarged .', 'there is cardiomegaly .',
                  'the cardiac silhouette is enlarged .'],
    'lungs_ok': ['the lungs are clear .', 'no focal consolidation .',
                 'no focal airspace disease .'],
    'eff_l': ['there is a small left pleural effusion .', 'left-sided effusion .'],
    'eff_r': ['small right pleural effusion .', 'there is a right-sided effusion .'],
    'eff_no': ['no pleural effusion .', 'there is no pleural effusion or pneumothorax .'],
    'ptx_l': ['there is a left pneumothorax .'],
    'ptx_r': ['right apical pneumothorax .'],
    'ptx_no': ['no pneumothorax .', 'without evidence of pneumothorax .'],
    'opac': ['right lower lobe consolidation .', 'there is airspace disease in the left lower lobe .'],
    'nod': ['there is a 5 mm nodule in the right upper lobe .', 'a small nodule is seen .'],
    'bones': ['no acute bony abnormality .', 'the osseous structures are intact .'],
}


def phantom_reports(n, seed):
    rnd = random.Random(seed)
    out = []
    for _ in range(n):
        parts = [rnd.choice(_PH[rnd.choice(['heart_ok', 'heart_big'])])]
        for key in ['eff_l', 'eff_r', 'ptx_l', 'ptx_r', 'opac', 'nod']:
            if rnd.random() < 0.25:
                parts.append(rnd.choice(_PH[key]))
        if rnd.random() < 0.6:
            parts.append(rnd.choice(_PH['eff_no']))
        if rnd.random() < 0.6:
            parts.append(rnd.choice(_PH['ptx_no']))
        parts.append(rnd.choice(_PH['lungs_ok']))
        parts.append(rnd.choice(_PH['bones']))
        rnd.shuffle(parts)
        out.append(' '.join(parts))
    return out


def fixtures(outdir, meteor=False):
    os.makedirs(outdir, exist_ok=True)
    sets = {}
    sets['hand'] = HAND
    ph = phantom_reports(40, 5)
    ph2 = phantom_reports(40, 6)
    sets['phantom'] = [('p%02d' % i, ph2[i], [ph[i]]) for i in range(40)]
    sets['phantom_multi'] = [('m%02d' % i, ph[i], [ph2[i], ph[(i + 1) % 40]])
                             for i in range(20)]
    for name, rows in sets.items():
        pred = [{'id': i, 'report': p} for i, p, _ in rows]
        ref = [({'id': i, 'report': r[0]} if len(r) == 1 else {'id': i, 'reports': r})
               for i, _, r in rows]
        write_jsonl(os.path.join(outdir, name + '.pred.jsonl'), pred)
        write_jsonl(os.path.join(outdir, name + '.ref.jsonl'), ref)
        preds = {i: p for i, p, _ in rows}
        refs = {i: list(r) for i, _, r in rows}
        write_expected(os.path.join(outdir, name + '.expected'), *score(preds, refs, meteor))
    # cleaning fixture: hand-written raw strings -> Python's cleaned output
    raw = ['The heart is normal in size. The lungs are clear.',
           '1. No acute disease. 2. Stable XXXX opacity in the T-spine.',
           'Heart size normal.. Lungs clear...  No effusion.',
           'Sizes: 3 mm (stable)? Yes! 50% & more; A+B=C <x> @home [ok] {x} ~#$|`',
           'Quote "x" slash a/b back\\slash it\'s. 3. Three. 4. four 5. five',
           '', '.', '. . .', 'a. b.', '  Lead.  trailing.  ']
    write_jsonl(os.path.join(outdir, 'clean.raw.jsonl'),
                [{'id': 'c%02d' % k, 'report': r} for k, r in enumerate(raw)])
    write_jsonl(os.path.join(outdir, 'clean.expected.jsonl'),
                [{'id': 'c%02d' % k, 'report': clean_report_iu_xray(r)} for k, r in enumerate(raw)])


# ---------------------------------------------------------------- IU cases

def _perturb(words, rnd):
    w = list(words)
    for _ in range(max(1, len(w) // 6)):
        op = rnd.randrange(3)
        if not w:
            break
        k = rnd.randrange(len(w))
        if op == 0:
            del w[k]
        elif op == 1:
            w.insert(k, w[rnd.randrange(len(w))])
        else:
            w[k] = rnd.choice(['no', 'mild', 'left', 'right', 'stable', 'xxxx'])
    return w


def iu_cases(annotation, outdir, meteor=False):
    os.makedirs(outdir, exist_ok=True)
    test = json.load(open(annotation))['test']
    ids = [e['id'] for e in test]
    raw = [e['report'] for e in test]
    cl = [clean_report_iu_xray(r) for r in raw]
    n = len(cl)
    rnd = random.Random(7)
    cases = {}
    cases['self'] = (cl, [[c] for c in cl])
    cases['perturbed'] = ([' '.join(_perturb(c.split(' '), rnd)) for c in cl],
                          [[c] for c in cl])
    cases['truncated'] = ([' '.join(c.split()[:max(0, len(c.split()) * k // 4)])
                           for k, c in zip([rnd.randrange(4) for _ in cl], cl)],
                          [[c] for c in cl])

    def swap(c):
        s = c[:-2].split(' . ') if c.endswith(' .') else [c]
        rnd.shuffle(s)
        return ' . '.join(s) + ' .'
    cases['swapped'] = ([swap(c) for c in cl], [[c] for c in cl])
    cases['other'] = ([cl[(i + 1) % n] for i in range(n)], [[c] for c in cl])
    cases['multi'] = ([cl[(i + 7) % n] for i in range(n)],
                      [[cl[i], cl[(i + 3) % n]] for i in range(n)])
    cases['raw'] = ([raw[(i + 1) % n] if i % 3 else raw[i] for i in range(n)],
                    [[r] for r in raw])
    for name, (preds, refs) in cases.items():
        write_jsonl(os.path.join(outdir, name + '.pred.jsonl'),
                    [{'id': i, 'report': p} for i, p in zip(ids, preds)])
        write_jsonl(os.path.join(outdir, name + '.ref.jsonl'),
                    [{'id': i, 'reports': r} for i, r in zip(ids, refs)])
        corpus, per = score(dict(zip(ids, preds)), dict(zip(ids, refs)), meteor)
        write_expected(os.path.join(outdir, name + '.expected'), corpus, per)


def main(argv):
    if len(argv) < 2 or argv[1] in ('-h', '--help'):
        print(__doc__)
        return 0 if len(argv) >= 2 else 2
    cmd, args = argv[1], [a for a in argv[2:] if not a.startswith('--')]
    flags = {a for a in argv[2:] if a.startswith('--')}
    if cmd == 'clean' and len(args) == 3:
        if args[0].endswith('.json'):
            ann = json.load(open(args[0]))
            rows = [e for split in ann for e in ann[split]]
        else:
            rows = read_jsonl(args[0])
        ids = ['r%05d' % k for k in range(len(rows))]
        write_jsonl(args[1], [{'id': i, 'report': r['report']} for i, r in zip(ids, rows)])
        write_jsonl(args[2], [{'id': i, 'report': clean_report_iu_xray(r['report'])}
                              for i, r in zip(ids, rows)])
    elif cmd == 'score' and len(args) == 3:
        score_files(args[0], args[1], args[2], '--meteor' in flags, '--clean' in flags)
    elif cmd == 'fixtures' and len(args) == 1:
        fixtures(args[0], '--meteor' in flags)
    elif cmd == 'iu-cases' and len(args) == 2:
        iu_cases(args[0], args[1], '--meteor' in flags)
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))

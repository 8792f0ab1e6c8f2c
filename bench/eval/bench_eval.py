#!/usr/bin/env python3
"""Times `mrg eval` against pycocoevalcap on the 590 IU X-Ray test reports.

usage: bench_eval.py MRG_BINARY ANNOTATION_JSON [--no-java]

Builds predictions (each test report perturbed: words dropped, repeated or
replaced; every third one replaced by another report) and references (the
cleaned test reports) in a temporary directory, then in the same run:
  1. `mrg eval` with every metric (METEOR with all four modules when its data
     is found), pinned to one core with taskset when available;
  2. pycocoevalcap's Bleu(4), Meteor (the Java jar), Rouge and Cider on the
     same strings (Meteor skipped with --no-java or without java).
Prints both timings and both sets of numbers side by side.
"""
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'tools', 'ref'))
import metrics_ref  # noqa: E402  (clean_report_iu_xray, score, write_jsonl)


def main(argv):
    if len(argv) < 3:
        print(__doc__)
        return 2
    mrg, ann = argv[1], argv[2]
    java = '--no-java' not in argv and shutil.which('java') is not None
    test = json.load(open(ann))['test']
    ids = [e['id'] for e in test]
    refs = [metrics_ref.clean_report_iu_xray(e['report']) for e in test]
    rnd = random.Random(1)
    preds = []
    for i, r in enumerate(refs):
        if i % 3 == 0:
            preds.append(refs[(i + 11) % len(refs)])
        else:
            preds.append(' '.join(metrics_ref._perturb(r.split(' '), rnd)))
    tmp = tempfile.mkdtemp(prefix='mrg_bench_eval_')
    try:
        p, r = os.path.join(tmp, 'pred.jsonl'), os.path.join(tmp, 'ref.jsonl')
        metrics_ref.write_jsonl(p, [{'id': i, 'report': x} for i, x in zip(ids, preds)])
        metrics_ref.write_jsonl(r, [{'id': i, 'report': x} for i, x in zip(ids, refs)])
        cmd = [mrg, 'eval', '--pred', p, '--ref', r, '--json']
        if shutil.which('taskset'):
            cmd = ['taskset', '-c', '0'] + cmd
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        out = subprocess.run(cmd, capture_output=True, text=True)
        t_mrg = time.perf_counter() - t0
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu_mrg = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
        if out.returncode != 0:
            print(out.stderr)
            return 1
        got = json.loads(out.stdout)
        t0 = time.perf_counter()
        want, _ = metrics_ref.score(dict(zip(ids, preds)), {i: [x] for i, x in zip(ids, refs)}, java)
        t_py = time.perf_counter() - t0
    finally:
        shutil.rmtree(tmp)
    print('%d reports' % len(ids))
    print('%-8s %12s %16s %10s' % ('metric', 'mrg eval', 'pycocoevalcap', '|diff|'))
    for k in ['BLEU_1', 'BLEU_2', 'BLEU_3', 'BLEU_4', 'METEOR', 'ROUGE_L', 'CIDEr']:
        g, w = got.get(k), want.get(k)
        print('%-8s %12s %16s %10s' % (k, '%.6f' % g if g is not None else '-',
                                      '%.6f' % w if w is not None else '-',
                                      '%.1e' % abs(g - w) if g is not None and w is not None else '-'))
    print('METEOR modules in mrg: %s %s' % (','.join(got.get('meteor_modules', [])),
                                            got.get('meteor_note', '')))
    print('time: mrg eval %.2f s wall, %.2f s CPU (one core, all metrics, data loading included); '
          'pycocoevalcap %.2f s wall%s' % (t_mrg, cpu_mrg, t_py, '' if java else ' (without METEOR)'))
    print('load average during the run: %.1f' % os.getloadavg()[0])
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))

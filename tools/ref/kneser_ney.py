#!/usr/bin/python3
"""Interpolated modified Kneser-Ney n-gram language model (the baseline of
bench/perplexity_iu.sh), written from Chen & Goodman (1998), section 3.

    kneser_ney.py --tokenizer M --train FILE --test FILE [--order 4] [--json]
    kneser_ney.py --self-test

Each line of a file is one text, encoded with the sentencepiece model M
(python `sentencepiece`) as BOS + ids + EOS. Empty lines are skipped (and
counted), as `mrg lm --perplexity` does. Perplexity = exp(mean negative log
likelihood) over every predicted token, EOS included, BOS given and never
predicted: the same counting as `mrg lm --perplexity`.

The model (order N, default 4):
- A token's history is the N-1 tokens before it, cut at the BOS (one BOS per
  text, no padding): the first token is predicted from "BOS" alone.
- Counts: the highest order uses raw counts; a lower order uses continuation
  counts (how many distinct tokens precede the n-gram), except n-grams that
  begin with BOS, which nothing can precede: they keep raw counts.
- Three discounts per order from the count-of-counts n1..n4 of that order's
  (raw or continuation) counts: Y = n1/(n1+2 n2), D1 = 1-2Y n2/n1,
  D2 = 2-3Y n3/n2, D3+ = 3-4Y n4/n3 (a discount whose counts-of-counts are
  missing falls back to the plain Kneser-Ney value Y, clamped to [0, c]).
- p(w|h) = max(c(hw) - D(c(hw)), 0)/c(h) + gamma(h) p(w|h') with
  gamma(h) = (D1 N1(h.) + D2 N2(h.) + D3+ N3+(h.)) / c(h), h' = h without its
  first token. The recursion ends in the uniform distribution over the whole
  vocabulary (every id of the tokenizer, the same support as the LLaMA's
  softmax), so unseen tokens get a non-zero probability.
- Unknown contexts: a history h never seen in training (c(h) = 0) passes all
  its mass to p(w|h'), i.e. the model backs off to the longest seen suffix.

--self-test builds the model on a toy corpus and checks that p(.|h) sums to 1
over the vocabulary for seen, partly seen and unseen histories, and that the
perplexity function agrees with a direct product of probabilities.
"""
import argparse
import json
import math
import sys
from collections import defaultdict


class KneserNey:
    def __init__(self, seqs, order, vocab_size, bos):
        """seqs: lists of ids, each BOS + text + EOS."""
        self.N, self.V, self.bos = order, vocab_size, bos
        # counts[k][gram] for k = 1..N: raw counts (highest order, and grams
        # that begin with BOS) or continuation counts (the others)
        raw = [defaultdict(int) for _ in range(order + 1)]
        left = [defaultdict(set) for _ in range(order + 1)]
        for s in seqs:
            assert s[0] == bos
            for i in range(1, len(s)):
                for k in range(1, order + 1):
                    start = i - k + 1
                    if start < 0:
                        break
                    g = tuple(s[start:i + 1])
                    if k == order or start == 0:
                        raw[k][g] += 1
                    else:
                        left[k][g].add(s[start - 1])
        self.count = [None]
        for k in range(1, order + 1):
            c = dict(raw[k])
            for g, ls in left[k].items():
                c[g] = c.get(g, 0) + len(ls)
            self.count.append(c)
        # per order: discounts, and per history its total, N1, N2, N3+
        self.D = [None]
        self.hist = [None]
        for k in range(1, order + 1):
            cc = [0] * 5
            for v in self.count[k].values():
                if v <= 4:
                    cc[v] += 1
            self.D.append(self._discounts(cc))
            h = defaultdict(lambda: [0, 0, 0, 0])
            for g, v in self.count[k].items():
                e = h[g[:-1]]
                e[0] += v
                e[min(v, 3)] += 1
            self.hist.append(dict(h))

    @staticmethod
    def _discounts(n):
        if n[1] == 0 or n[2] == 0:
            return (0.5, 0.5, 0.5)
        y = n[1] / (n[1] + 2 * n[2])
        d1 = 1 - 2 * y * n[2] / n[1]
        d2 = 2 - 3 * y * n[3] / n[2] if n[3] else y
        d3 = 3 - 4 * y * n[4] / n[3] if n[3] and n[4] else y
        return (min(max(d1, 0.0), 1.0), min(max(d2, 0.0), 2.0), min(max(d3, 0.0), 3.0))

    def prob(self, history, w):
        """p(w | history), history a tuple cut at BOS, at most N-1 long."""
        history = tuple(history[-(self.N - 1):]) if self.N > 1 else ()
        p = 1.0 / self.V
        for k in range(1, len(history) + 2):
            h = history[len(history) - (k - 1):] if k > 1 else ()
            st = self.hist[k].get(h)
            if st is None:  # unseen history: all mass to the shorter one
                continue
            total, n1, n2, n3 = st
            d1, d2, d3 = self.D[k]
            c = self.count[k].get(h + (w,), 0)
            d = 0.0 if c == 0 else (d1 if c == 1 else d2 if c == 2 else d3)
            gamma = (d1 * n1 + d2 * n2 + d3 * n3) / total
            p = max(c - d, 0.0) / total + gamma * p
        return p

    def nll(self, s):
        """(sum of -ln p, tokens predicted) of one BOS + text + EOS sequence."""
        tot = 0.0
        for i in range(1, len(s)):
            tot -= math.log(self.prob(tuple(s[max(0, i - self.N + 1):i]), s[i]))
        return tot, len(s) - 1


def read_lines(path, sp, bos, eos):
    seqs, empty = [], 0
    with open(path, encoding='utf-8') as f:
        for line in f:
            line = line.rstrip('\n').rstrip('\r')
            if not line:
                empty += 1
                continue
            seqs.append([bos] + sp.encode(line) + [eos])
    return seqs, empty


def perplexity(model, seqs):
    nll = n = 0
    for s in seqs:
        a, b = model.nll(s)
        nll += a
        n += b
    return math.exp(nll / n), nll / n, n


def self_test():
    # toy vocabulary 0..9, BOS 1, EOS 2; 3..8 are words, 0 and 9 never occur
    V, bos, eos = 10, 1, 2
    texts = [[3, 4, 5], [3, 4, 6], [4, 5, 5, 3], [7, 4, 5], [3, 8], [5, 4, 3, 4, 5]]
    seqs = [[bos] + t + [eos] for t in texts]
    m = KneserNey(seqs, 4, V, bos)
    for h in [(), (bos,), (bos, 3), (bos, 3, 4), (3, 4, 5), (4, 5, 5), (8, 8, 8), (bos, 9), (0, 4, 5)]:
        tot = sum(m.prob(h, w) for w in range(V))
        assert abs(tot - 1) < 1e-12, (h, tot)
    assert m.prob((bos, 3, 4), 5) > m.prob((bos, 3, 4), 7) > 0
    # perplexity is the geometric mean of the per-token probabilities
    test = [[bos, 3, 4, 5, eos], [bos, 9, 4, eos]]
    prod, n = 0.0, 0
    for s in test:
        for i in range(1, len(s)):
            prod += math.log(m.prob(tuple(s[max(0, i - 3):i]), s[i]))
            n += 1
    ppl, _, cnt = perplexity(m, test)
    assert cnt == n == 7 and abs(ppl - math.exp(-prod / n)) < 1e-9
    print('kneser_ney self-test: ok (p sums to 1 for 9 histories; perplexity %.4f)' % ppl)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--tokenizer')
    ap.add_argument('--train')
    ap.add_argument('--test')
    ap.add_argument('--order', type=int, default=4)
    ap.add_argument('--json', action='store_true')
    ap.add_argument('--self-test', action='store_true')
    a = ap.parse_args()
    if a.self_test:
        self_test()
        return
    if not (a.tokenizer and a.train and a.test):
        ap.error('--tokenizer, --train and --test are required')
    import sentencepiece as spm
    sp = spm.SentencePieceProcessor(model_file=a.tokenizer)
    bos, eos = sp.bos_id(), sp.eos_id()
    train, _ = read_lines(a.train, sp, bos, eos)
    test, empty = read_lines(a.test, sp, bos, eos)
    m = KneserNey(train, a.order, sp.get_piece_size(), bos)
    ppl, nll, n = perplexity(m, test)
    if a.json:
        print(json.dumps({'perplexity': ppl, 'nll_per_token': nll, 'tokens': n, 'lines': len(test),
                          'empty_lines': empty, 'order': a.order, 'train_lines': len(train)}))
    else:
        print('perplexity %.4f (%d tokens, %d lines, %d empty skipped; %d-gram interpolated modified '
              'Kneser-Ney on %d lines)' % (ppl, n, len(test), empty, a.order, len(train)))


if __name__ == '__main__':
    sys.dont_write_bytecode = True
    main()

#!/usr/bin/env python3
"""Reference token ids from Python sentencepiece, for tests/test_tokenizer.c.

    tokenizer_ref.py --model FILE --annotation annotation.json --out FILE [--bos]

Reads every report of an R2Gen-layout annotation.json (all splits) and writes
one line per text to --out:

    <kind> TAB <utf-8 text as hex> TAB <ids separated by spaces>

with kind "raw" (the report as stored) and "clean" (R2Gen's
clean_report_iu_xray). The hex keeps the C reader trivial and the text
byte-exact (reports hold newlines and non-ASCII characters). The report text
may not be redistributed, so the output belongs in a temporary directory, not
in the repository.

Exit code 77 when the sentencepiece module is not importable (the test then
skips). Works with Debian's python3-sentencepiece (/usr/bin/python3) or the
PyPI package; only the standard library is needed besides.
"""
import argparse
import json
import re
import sys


def clean_report_iu_xray(report):
    """R2Gen's cleaning of IU X-Ray reports (models/datasets.py in R2Gen)."""

    def report_cleaner(t):
        return (
            t.replace("..", ".").replace("..", ".").replace("..", ".").replace("1. ", "")
            .replace(". 2. ", ". ").replace(". 3. ", ". ").replace(". 4. ", ". ")
            .replace(". 5. ", ". ").replace(" 2. ", ". ").replace(" 3. ", ". ")
            .replace(" 4. ", ". ").replace(" 5. ", ". ").strip().lower().split(". ")
        )

    def sent_cleaner(t):
        return re.sub(
            r"[.,?;*!%^&_+():-\[\]{}]",
            "",
            t.replace('"', "").replace("/", "").replace("\\", "").replace("'", "").strip().lower(),
        )

    tokens = [sent_cleaner(s) for s in report_cleaner(report) if sent_cleaner(s) != []]
    return " . ".join(tokens) + " ."


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--model", required=True)
    ap.add_argument("--annotation", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--bos", action="store_true", help="prepend BOS to every encoding")
    args = ap.parse_args()
    try:
        import sentencepiece as spm
    except ImportError:
        print("tokenizer_ref.py: the sentencepiece module is not available", file=sys.stderr)
        sys.exit(77)
    sp = spm.SentencePieceProcessor(model_file=args.model)
    with open(args.annotation, encoding="utf-8") as f:
        ann = json.load(f)
    n = 0
    with open(args.out, "w", encoding="ascii") as out:
        for split in sorted(ann):
            for item in ann[split]:
                raw = item["report"]
                for kind, text in (("raw", raw), ("clean", clean_report_iu_xray(raw))):
                    ids = sp.encode(text)
                    if args.bos:
                        ids = [sp.bos_id()] + ids
                    out.write("%s\t%s\t%s\n" % (kind, text.encode("utf-8").hex(),
                                                " ".join(map(str, ids))))
                    n += 1
    print("tokenizer_ref.py: %d texts written to %s" % (n, args.out), file=sys.stderr)


if __name__ == "__main__":
    main()

#!/usr/bin/env bash
# The side-by-side benchmark suite in one command (bench/README.md):
#
#   bash bench/run.sh [--quick] [--out DIR] [--threads N] [--rows LIST] ...
#
# writes DIR/bench.json and DIR/bench.md: mrg next to PyTorch / timm /
# Hugging Face transformers / llama2.c, each pair in the same run with the
# same thread count. The references are looked up in the Python that runs the
# suite: MRG_BENCH_PYTHON (default python3), or --python for the reference
# side alone. Rows whose reference is missing are skipped with a note.
# `bash bench/run.sh --help` lists every option.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
exec "${MRG_BENCH_PYTHON:-python3}" "$here/side_by_side.py" "$@"

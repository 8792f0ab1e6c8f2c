#!/usr/bin/env bash
# Builds mrg and runs the whole ctest suite on every available device
# (the CPU backend and each OpenCL device, PoCL included).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/build.sh "$@"
dir=${MRG_BUILD_DIR:-build}
ctest --test-dir "$dir" --output-on-failure -j"$(nproc)"

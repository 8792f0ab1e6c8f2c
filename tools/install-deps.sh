#!/usr/bin/env bash
# Installs everything mrg needs to build and test on Debian (run as root).
# Debian packages only; the Python reference tools use Debian's python3 too.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
pkgs=(build-essential cmake pkg-config
      libopenblas-dev libcjson-dev libstb-dev libsentencepiece-dev sentencepiece zlib1g-dev
      ocl-icd-opencl-dev opencl-headers libclblast-dev pocl-opencl-icd clinfo
      python3 python3-numpy python3-sentencepiece
      clang libclang-rt-14-dev libomp-dev llvm) # the last line: tools/fuzz.sh (libFuzzer)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

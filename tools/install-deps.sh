#!/usr/bin/env bash
# Installs everything mrg needs to build and test on Debian (run as root).
# Debian packages, plus METEOR 1.5's English paraphrase table taken from the
# pycocoevalcap wheel on PyPI (see "METEOR's data" in README.md). Running it
# again changes nothing that is already in place.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
pkgs=(build-essential cmake pkg-config
      libopenblas-dev libcjson-dev libstb-dev libsentencepiece-dev sentencepiece zlib1g-dev
      ocl-icd-opencl-dev opencl-headers libclblast-dev pocl-opencl-icd clinfo
      libdcmtk-dev dcmtk
      libopenmpi-dev openmpi-bin # MRG_MPI: data-parallel training (mpirun)
      python3 python3-numpy python3-sentencepiece python3-pydicom python3-pip
      wordnet-base
      clang libclang-rt-14-dev libomp-dev llvm) # the last line: tools/fuzz.sh (libFuzzer)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# METEOR's paraphrase table (LGPL, part of METEOR 1.5), where mrg looks for
# it without flags. WordNet (synonyms) is wordnet-base above, in
# /usr/share/wordnet. A failure here leaves METEOR without paraphrases but
# never fails the install.
meteor_dir=/usr/local/share/mrg/meteor
table=$meteor_dir/paraphrase-en.gz
table_sha256=c147ac7d2c91f2fbb3ad31e4b352235061eb83145e0434daf217ee9ca5975f48
wheel_version=1.2 # pycocoevalcap 1.2 ships the table as pycocoevalcap/meteor/data/paraphrase-en.gz

have_table() { [[ -f $table ]] && echo "$table_sha256  $table" | sha256sum -c --status; }

# Copies the table into place from an installed pycocoevalcap or from the
# wheel downloaded into the scratch folder $1; 1 on any failure.
fetch_table() {
  local tmp=$1 src="" py
  # an installed pycocoevalcap has the same file: no download needed
  for py in python3 /usr/bin/python3; do
    src=$("$py" -c 'import os, pycocoevalcap; print(os.path.join(os.path.dirname(pycocoevalcap.__file__), "meteor/data/paraphrase-en.gz"))' 2>/dev/null) || src=""
    [[ -n $src && -f $src ]] && break
    src=""
  done
  if [[ -z $src ]]; then
    local got=""
    for py in python3 /usr/bin/python3; do
      if "$py" -m pip download --no-deps --only-binary=:all: -q -d "$tmp" "pycocoevalcap==$wheel_version" \
          >"$tmp/pip.log" 2>&1; then
        got=$py
        break
      fi
    done
    if [[ -z $got ]]; then
      tail -n 3 "$tmp/pip.log" >&2 || true
      return 1
    fi
    "$got" - "$tmp" <<'EOF' || return 1
import glob, os, shutil, sys, zipfile
tmp = sys.argv[1]
wheel = glob.glob(os.path.join(tmp, 'pycocoevalcap-*.whl'))[0]
with zipfile.ZipFile(wheel) as z, z.open('pycocoevalcap/meteor/data/paraphrase-en.gz') as f, \
        open(os.path.join(tmp, 'paraphrase-en.gz'), 'wb') as out:
    shutil.copyfileobj(f, out)
EOF
    src=$tmp/paraphrase-en.gz
  fi
  if ! echo "$table_sha256  $src" | sha256sum -c --status; then
    echo "install-deps: $src is not the expected paraphrase table (sha256 differs)" >&2
    return 1
  fi
  mkdir -p "$meteor_dir" && cp "$src" "$meteor_dir/.paraphrase-en.gz.tmp" &&
    sync "$meteor_dir/.paraphrase-en.gz.tmp" &&
    mv -f "$meteor_dir/.paraphrase-en.gz.tmp" "$table" || return 1
  cat >"$meteor_dir/README" <<EOF || true
paraphrase-en.gz: the English paraphrase table of METEOR 1.5 (Michael Denkowski
and Alon Lavie, Carnegie Mellon University), distributed under the GNU LGPL as
part of METEOR 1.5, taken unchanged from the pycocoevalcap $wheel_version wheel on PyPI
(pycocoevalcap/meteor/data/paraphrase-en.gz, sha256 $table_sha256).
Installed by mrg's tools/install-deps.sh; mrg eval / mrg demo read it for
METEOR's paraphrase module and cache an index of it in ~/.cache/mrg.
EOF
}

install_table() {
  local tmp rc=0
  tmp=$(mktemp -d) || return 1
  fetch_table "$tmp" || rc=1
  rm -rf "$tmp"
  return $rc
}

if have_table; then
  echo "install-deps: METEOR paraphrase table present ($table)"
elif install_table; then
  echo "install-deps: METEOR paraphrase table installed ($table)"
else
  echo "install-deps: warning: could not get METEOR's paraphrase table (PyPI unreachable?);" \
       "METEOR will run without paraphrases (exact, stem, synonym) and say so" >&2
fi

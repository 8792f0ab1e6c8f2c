#!/usr/bin/env bash
# Builds the libFuzzer harnesses (tests/fuzz, clang, ASan + UBSan, leaks
# detected) into ./build-fuzz (or $MRG_FUZZ_BUILD_DIR) and runs each for
# SECONDS seconds (default 60). Fails when any harness finds a crash, a
# leak, a hang (> 10 s for one input) or an out-of-memory (> 2 GiB).
#   tools/fuzz.sh [SECONDS] [TARGET...]     e.g. tools/fuzz.sh 600 image
# Each target's growing corpus is kept in build-fuzz/corpus/<target> (the
# committed seeds in tests/fuzz/corpus/<target> are only read); a finding
# is written to build-fuzz/artifacts/<target>/ — reproduce it with
#   build-fuzz/tests/fuzz/fuzz_<target> FILE
# then commit it as tests/fuzz/corpus/<target>/regress-<what> with the fix.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
dir=${MRG_FUZZ_BUILD_DIR:-build-fuzz}
targets=("$@")
if ((${#targets[@]} == 0)); then
  targets=()
  for f in tests/fuzz/fuzz_*.c; do
    t=$(basename "$f" .c)
    t=${t#fuzz_}
    [[ $t == common ]] || targets+=("$t")
  done
fi

cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang \
  -DCMAKE_CXX_COMPILER=clang++ -DMRG_FUZZ=ON -DMRG_BUILD_TESTS=OFF -DMRG_OPENCL=OFF \
  -DBUILD_SHARED_LIBS=OFF >/dev/null
cmake --build "$dir" -j"$(nproc)" >/dev/null

# one thread: libFuzzer runs one input at a time, and coverage must not
# depend on the OpenMP schedule
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=passive
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:allocator_may_return_null=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# the harnesses write their inputs to files here: memory, not disk
tmpbase=${TMPDIR:-/tmp}
[[ -d /dev/shm && -w /dev/shm ]] && tmpbase=/dev/shm
scratch=$(mktemp -d "$tmpbase/mrg-fuzz-run.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
export MRG_FUZZ_TMP=$scratch

failed=()
for t in "${targets[@]}"; do
  bin=$dir/tests/fuzz/fuzz_$t
  [[ -x $bin ]] || { echo "fuzz: no harness $t" >&2; exit 2; }
  corpus=$dir/corpus/$t
  artifacts=$dir/artifacts/$t
  mkdir -p "$corpus" "$artifacts"
  dict=()
  if [[ -f tests/fuzz/dict/$t.dict ]]; then
    cat tests/fuzz/dict/json.dict "tests/fuzz/dict/$t.dict" >"$dir/$t.dict"
    [[ $t == image ]] && cp tests/fuzz/dict/image.dict "$dir/$t.dict"
    dict=(-dict="$dir/$t.dict")
  fi
  log=$dir/fuzz-$t.log
  echo "== fuzz $t for ${seconds} s (log: $log)"
  if "$bin" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -max_len=65536 \
       -print_final_stats=1 -artifact_prefix="$artifacts/" "${dict[@]}" \
       "$corpus" "tests/fuzz/corpus/$t" >"$log" 2>&1; then
    grep -E "^stat::number_of_executed_units|^stat::new_units_added|^stat::peak_rss_mb" "$log" |
      tr '\n' ' '
    echo
  else
    echo "fuzz: $t FAILED; the end of $log:" >&2
    tail -n 40 "$log" >&2
    failed+=("$t")
  fi
done
if ((${#failed[@]})); then
  echo "fuzz: findings in: ${failed[*]} (inputs in $dir/artifacts/)" >&2
  exit 1
fi
echo "fuzz: no findings in ${#targets[@]} harnesses (${seconds} s each)"

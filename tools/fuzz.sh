#!/usr/bin/env bash
# Builds the libFuzzer harnesses (tests/fuzz, clang, ASan + UBSan, leaks
# detected) into ./build-fuzz (or $MRG_FUZZ_BUILD_DIR) and runs each for
# SECONDS seconds of wall time (default 60), or with --cpu for SECONDS of
# CPU time (on a busy machine a harness gets a fraction of a core; the CPU
# budget is what the fuzzer really spent). --parallel P runs P harnesses at
# once. Fails when any harness finds a crash, a leak, a hang (> 10 s for one
# input; 60 s of wall time with --cpu) or an out-of-memory (> 2 GiB):
# exit 1; when the harnesses do not build: exit 3 (CI fails on that).
#   tools/fuzz.sh [--cpu] [--parallel P] [SECONDS] [TARGET...]
#   e.g. tools/fuzz.sh 600 image; tools/fuzz.sh --cpu --parallel 2 600
# Each target's growing corpus is kept in build-fuzz/corpus/<target> (the
# committed seeds in tests/fuzz/corpus/<target> are only read); a finding
# is written to build-fuzz/artifacts/<target>/ — reproduce it with
#   build-fuzz/tests/fuzz/fuzz_<target> FILE
# then commit it as tests/fuzz/corpus/<target>/regress-<what> with the fix.
set -euo pipefail
cd "$(dirname "$0")/.."
cpu_budget=0 parallel=1
while (($#)); do
  case $1 in
    --cpu) cpu_budget=1; shift ;;
    --parallel) parallel=$2; shift 2 ;;
    *) break ;;
  esac
done
[[ $parallel =~ ^[1-9][0-9]*$ ]] || { echo "fuzz: --parallel needs a positive integer" >&2; exit 2; }
seconds=${1:-60}
shift || true
[[ $seconds =~ ^[1-9][0-9]*$ ]] || { echo "fuzz: SECONDS must be a positive integer" >&2; exit 2; }
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

# exit 3: the harnesses do not build (a broken build, not a finding)
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang \
  -DCMAKE_CXX_COMPILER=clang++ -DMRG_FUZZ=ON -DMRG_BUILD_TESTS=OFF -DMRG_OPENCL=OFF \
  -DBUILD_SHARED_LIBS=OFF >/dev/null || { echo "fuzz: cannot configure the clang build" >&2; exit 3; }
cmake --build "$dir" -j"$(nproc)" >/dev/null || { echo "fuzz: the harnesses do not build" >&2; exit 3; }

# one thread: libFuzzer runs one input at a time, and coverage must not
# depend on the OpenMP schedule
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=passive
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:allocator_may_return_null=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# the harnesses write their inputs to files here: memory, not disk
tmpbase=${TMPDIR:-/tmp}
[[ -d /dev/shm && -w /dev/shm ]] && tmpbase=/dev/shm
scratch=$(mktemp -d "$tmpbase/mrg-fuzz-run.XXXXXX")
running=()   # "pid:target" of the fuzz_one jobs still running
# On the way out (done, failed, or stopped by a signal), the harnesses end
# before their scratch folder goes: a harness still writing into a removed
# folder would report a false finding, or run on with no one to stop it.
stop_and_clean() {
  local entry
  for entry in "${running[@]}"; do kill -TERM "${entry%%:*}" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$scratch"
}
trap stop_and_clean EXIT
trap 'exit 130' INT TERM
export MRG_FUZZ_TMP=$scratch

# CPU seconds (user + system) the process PID has used so far
cpu_seconds_of() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
  stat=${stat##*) }   # fields after the command name, from field 3 on
  local f=($stat)
  echo $(((f[11] + f[12]) / $(getconf CLK_TCK)))
}

# runs one harness; prints its stats line, or its log's end on a finding
fuzz_one() {
  local t=$1 bin=$dir/tests/fuzz/fuzz_$1
  [[ -x $bin ]] || { echo "fuzz: no harness $t" >&2; return 2; }
  local corpus=$dir/corpus/$t artifacts=$dir/artifacts/$t log=$dir/fuzz-$t.log
  mkdir -p "$corpus" "$artifacts"
  local dict=()
  if [[ -f tests/fuzz/dict/$t.dict ]]; then
    cat tests/fuzz/dict/json.dict "tests/fuzz/dict/$t.dict" >"$dir/$t.dict"
    [[ $t == image ]] && cp tests/fuzz/dict/image.dict "$dir/$t.dict"
    dict=(-dict="$dir/$t.dict")
  fi
  # libFuzzer's per-input timeout is wall time: on a machine busy enough to
  # need --cpu, an input that takes 0.5 CPU-s can take 10 s, so allow 60
  local budget=(-max_total_time="$seconds" -timeout=10) unit="s"
  ((cpu_budget)) && budget=(-max_total_time=0 -timeout=60) unit="CPU-s"
  echo "== fuzz $t for $seconds $unit (log: $log)"
  local start=$SECONDS
  "$bin" "${budget[@]}" -rss_limit_mb=2048 -max_len=65536 \
    -print_final_stats=1 -artifact_prefix="$artifacts/" "${dict[@]}" \
    "$corpus" "tests/fuzz/corpus/$t" >"$log" 2>&1 &
  local pid=$! used=0 rc=0
  # stopped (stop_and_clean): the harness ends first, cleanly, as on Ctrl-C
  trap 'kill -INT "$pid" 2>/dev/null; wait "$pid"; exit 130' TERM
  if ((cpu_budget)); then
    # libFuzzer ends a run cleanly on SIGINT (exit code 72 by default)
    while kill -0 "$pid" 2>/dev/null; do
      used=$(cpu_seconds_of "$pid")
      ((used >= seconds)) && { kill -INT "$pid" 2>/dev/null; break; }
      sleep 2
    done
  fi
  wait "$pid" || rc=$?
  if ((rc == 0)) || { ((cpu_budget && rc == 72)) && grep -q "run interrupted" "$log"; }; then
    echo "$t: $(grep -E "^stat::number_of_executed_units|^stat::new_units_added|^stat::peak_rss_mb" "$log" |
      tr '\n' ' ')cpu_s=$used wall_s=$((SECONDS - start))"
  else
    echo "fuzz: $t FAILED; the end of $log:" >&2
    tail -n 40 "$log" >&2
    return 1
  fi
}

failed=()
reap_one() {
  local entry=${running[0]}
  running=("${running[@]:1}")
  wait "${entry%%:*}" || failed+=("${entry#*:}")
}
for t in "${targets[@]}"; do
  ((${#running[@]} >= parallel)) && reap_one
  fuzz_one "$t" &
  running+=("$!:$t")
done
while ((${#running[@]})); do reap_one; done
if ((${#failed[@]})); then
  echo "fuzz: findings in: ${failed[*]} (inputs in $dir/artifacts/)" >&2
  exit 1
fi
echo "fuzz: no findings in ${#targets[@]} harnesses ($seconds $( ((cpu_budget)) && echo CPU-s || echo s) each)"

#!/usr/bin/env bash
# Builds and runs ordo's fuzzers.
#
#   scripts/fuzz.sh --smoke            a few seconds per harness (CI)
#   scripts/fuzz.sh [--runs N]         long runs: N inputs per native harness (default 1,000,000)
#   options: --time S (seconds per native harness instead of a count), --js-runs N (inputs per
#            JS harness; default 20,000, smoke: 2,000), --only svmlight|scores|js,
#            --driver (force the g++ standalone driver), --build-dir DIR (default build/fuzz in this checkout)
#
# Native harnesses (native/fuzz/*.cc, LLVMFuzzerTestOneInput): the SVMlight/LETOR
# reader incl. the .query path, and the scores reader. With clang they are
# libFuzzer binaries (+ASan+UBSan); without clang, g++ links them with
# native/fuzz/standalone_driver.cc (replay of the corpus + random mutations,
# same sanitizers). The JS harness (scripts/fuzz-js.mjs) fuzzes the model
# loader (lib/persist.ts) and the config loader (lib/config.ts).
# One process per harness (libFuzzer with -jobs=1 semantics): 2 shared cores.
# Exit status: 0 when no harness found anything; crash inputs are kept under
# <build-dir>/artifacts/.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

mode=long runs=1000000 time_s=0 js_runs=20000 only="" force_driver=0 build="${ORDO_FUZZ_BUILD:-$root/build/fuzz}"
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) mode=smoke; js_runs=2000 ;;
    --runs) runs="$2"; shift ;;
    --time) time_s="$2"; shift ;;
    --js-runs) js_runs="$2"; shift ;;
    --only) only="$2"; shift ;;
    --driver) force_driver=1 ;;
    --build-dir) build="$2"; shift ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "fuzz.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
mkdir -p "$build/artifacts"

# --- build -----------------------------------------------------------------------
cxx="" engine=""
clangxx="$(command -v clang++ || command -v clang++-19 || command -v clang++-16 || command -v clang++-14 || true)"
if [ "$force_driver" = 0 ] && [ -n "$clangxx" ] && echo 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long){return 0;}' |
   "$clangxx" -x c++ -fsanitize=fuzzer - -o "$build/.probe" 2>/dev/null; then
  cxx="$clangxx" engine=libfuzzer
else
  cxx="${CXX:-g++}" engine=driver
  [ -n "$clangxx" ] && [ "$force_driver" = 0 ] && echo "fuzz.sh: $clangxx cannot link libFuzzer (libclang-rt-dev missing?): using the standalone driver"
fi
flags=(-std=c++17 -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined -I"$root/native")
echo "fuzz.sh: engine $engine ($cxx), build dir $build"
for h in svmlight scores; do
  [ -n "$only" ] && [ "$only" != "$h" ] && continue
  srcs=("$root/native/fuzz/fuzz_$h.cc" "$root/native/cpu/parse_svmlight.cc")
  if [ "$engine" = libfuzzer ]; then
    "$cxx" "${flags[@]}" -fsanitize=fuzzer "${srcs[@]}" -o "$build/fuzz_$h"
  else
    "$cxx" "${flags[@]}" "${srcs[@]}" "$root/native/fuzz/standalone_driver.cc" -o "$build/fuzz_$h"
  fi
done

# --- run -------------------------------------------------------------------------
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
export ORDO_FUZZ_TMP="$build"
status=0
for h in svmlight scores; do
  [ -n "$only" ] && [ "$only" != "$h" ] && continue
  seeds="$root/native/fuzz/corpus/$h"
  work="$build/corpus-$h"   # libFuzzer adds new inputs here, never to the seed corpus in the repo
  mkdir -p "$work"
  limit=(-runs="$runs")
  [ "$mode" = smoke ] && limit=(-max_total_time=5)
  [ "$time_s" != 0 ] && limit=(-max_total_time="$time_s")
  log="$build/fuzz_$h.log"
  echo "--- fuzz_$h (${limit[*]})"
  set +e
  if [ "$engine" = libfuzzer ]; then
    "$build/fuzz_$h" "${limit[@]}" -max_len=4096 -timeout=10 -rss_limit_mb=2048 -dict="$root/native/fuzz/svmlight.dict" \
      -artifact_prefix="$build/artifacts/$h-" -print_final_stats=1 "$work" "$seeds" >"$log" 2>&1
  else
    "$build/fuzz_$h" "${limit[@]}" "$seeds" >"$log" 2>&1
  fi
  rc=$?
  set -e
  if [ $rc -ne 0 ]; then
    echo "fuzz_$h FAILED (exit $rc); log: $log"
    tail -40 "$log"
    status=1
  elif [ "$engine" = libfuzzer ]; then
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
    rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 || true)
    echo "fuzz_$h: $execs inputs, $rate exec/s, $cov, no crash, hang or sanitizer report"
  else
    tail -1 "$log"
  fi
done

if [ -z "$only" ] || [ "$only" = js ]; then
  echo "--- fuzz-js (model loader + config loader, $js_runs inputs each)"
  if ! (cd "$root" && node --import tsx scripts/fuzz-js.mjs --runs "$js_runs"); then
    status=1
  fi
fi
exit $status

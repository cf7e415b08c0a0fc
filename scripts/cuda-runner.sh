#!/usr/bin/env bash
# ordo's perf regression run for a CUDA runner: a machine with nvcc, CMake (>= 3.19),
# a C++17 compiler and an NVIDIA GPU; Node is optional.
#
#   scripts/cuda-runner.sh [--out DIR] [--build DIR] [--archs "90"] [--smoke] [--check]
#                          [--update] [--class NAME] [--tolerance F] [--no-tests] [--allow-no-gpu]
#
# 1. Builds the C++ test and benchmark executables with CMake + Ninja (or Make) in
#    its own folder (default build-cuda-runner/; CUDA on, native architecture of
#    the GPU unless --archs is given). Results go to OUT (default BUILD/results).
# 2. Runs the C++ tests (ctest): the log goes to OUT/ctest.log; a failing test fails the run.
# 3. Runs the C++ benches, writing JSON lines to OUT/native.jsonl: bench_peak (CPU
#    references), bench_gpu (every CUDA kernel timed with CUDA events after warm-up,
#    GFLOP/s or GB/s against the device's peak from cudaGetDeviceProperties and
#    against the peak measured in the same run), bench_dense, bench_ranking.
# 4. When node is on PATH: builds the addon (cmake-js, CUDA on) and the TypeScript
#    if needed, and runs the whole suite (bench/suite.mjs) on every usable backend,
#    writing OUT/suite.jsonl (the same JSON) and OUT/suite.txt (the table).
#    --check then compares it with bench/baselines/<class>.json (exit 1 on a
#    regression); --update rewrites that baseline.
# Exit status: 0 ok, 1 a test failed or a regression, 2 setup error (no nvcc, build
# failed, no usable GPU: everything still runs on the CPU, but the run exits 2 unless
# --allow-no-gpu).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

out=
build=build-cuda-runner
archs=
smoke=0
check=0
update=0
tests=1
allow_no_gpu=0
check_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --archs) archs=$2; shift 2 ;;
    --smoke) smoke=1; shift ;;
    --check) check=1; shift ;;
    --update) update=1; shift ;;
    --no-tests) tests=0; shift ;;
    --allow-no-gpu) allow_no_gpu=1; shift ;;
    --class) check_args+=(--class "$2"); shift 2 ;;
    --tolerance) check_args+=(--tolerance "$2"); shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "cuda-runner.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
out=${out:-$build/results}
mkdir -p "$out"
out=$(cd "$out" && pwd)
log() { echo "[cuda-runner] $*" >&2; }

command -v cmake >/dev/null || { log "cmake not found"; exit 2; }
command -v nvcc >/dev/null || { log "nvcc not found (add the CUDA toolkit's bin/ to PATH)"; exit 2; }
if command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv | tee "$out/nvidia-smi.csv" >&2 || true
fi
if [ -z "$archs" ]; then
  # The GPU's own architecture (e.g. 90 for H100/H200) when nvidia-smi can tell; else CMake's "native".
  cc=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d ' .' || true)
  archs=${cc:-native}
fi
gen=()
command -v ninja >/dev/null && gen=(-G Ninja)
jobs=$(nproc 2>/dev/null || echo 4)

# 1. C++ build: tests + benches, CUDA on
log "configuring $build (CUDA architectures $archs)"
cmake -S "$root" -B "$build" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release -DORDO_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES="$archs" >"$out/cmake.log"
grep -q 'ordo: CUDA backend ON' "$out/cmake.log" || { log "CMake did not enable CUDA (see $out/cmake.log)"; exit 2; }
cmake --build "$build" -j "$jobs" >>"$out/cmake.log" 2>&1 || { tail -30 "$out/cmake.log" >&2; log "build failed (see $out/cmake.log)"; exit 2; }

status=0
# 2. C++ tests
if [ "$tests" = 1 ]; then
  log "ctest"
  if ! ctest --test-dir "$build" -V --timeout 900 >"$out/ctest.log" 2>&1; then
    log "C++ tests FAILED (see $out/ctest.log)"
    status=1
  fi
  grep -E '^[0-9]+: native [a-z]+: ' "$out/ctest.log" | sed 's/^[0-9]*: //' >&2 || true
fi

# 3. C++ benches -> native.jsonl
quick=()
[ "$smoke" = 1 ] && quick=(--quick)
: >"$out/native.jsonl"
for exe in bench_peak bench_gpu bench_dense bench_ranking; do
  if [ ! -x "$build/$exe" ]; then
    echo "{\"case\":\"$exe\",\"skipped\":\"not built\"}" >>"$out/native.jsonl"
    continue
  fi
  log "$exe ${quick[*]:-}"
  "$build/$exe" "${quick[@]}" | sed "/\"source\":/! s/^{/{\"source\":\"native\\/$exe\",/" >>"$out/native.jsonl" || status=1
done
no_gpu=0
if grep -q '"case":"cuda","skipped"' "$out/native.jsonl"; then
  log "no usable GPU: $(grep -o '"skipped":"[^"]*"' "$out/native.jsonl" | head -1)"
  no_gpu=1
fi

# 4. The Node suite, when node is there
if command -v node >/dev/null; then
  if [ ! -d node_modules ]; then
    log "npm ci"
    npm ci --ignore-scripts --no-audit --no-fund >"$out/npm.log" 2>&1
  fi
  if [ ! -f build/Release/ordo.node ] || [ ! -f dist/index.js ]; then
    log "building the addon (cmake-js, CUDA $archs) and the TypeScript"
    npx cmake-js compile --CDCMAKE_CUDA_ARCHITECTURES="$archs" >>"$out/npm.log" 2>&1
    npx tsc -p tsconfig.json >>"$out/npm.log" 2>&1
  fi
  suite=(--native-dir "$build" --jsonl "$out/suite.jsonl")
  [ "$smoke" = 1 ] && suite+=(--smoke)
  log "bench/suite.mjs ${suite[*]}"
  node bench/suite.mjs "${suite[@]}" >"$out/suite.txt" || status=1
  sed -n '/^$/,$p' "$out/suite.txt"
  cargs=(--input "$out/suite.jsonl" "${check_args[@]}")
  [ "$smoke" = 1 ] && cargs+=(--smoke)
  if [ "$update" = 1 ]; then
    node bench/check.mjs "${cargs[@]}" --update
  elif [ "$check" = 1 ]; then
    node bench/check.mjs "${cargs[@]}" | tee "$out/check.txt" || status=1
  fi
else
  log "node not on PATH: the Node suite and bench:check were not run (C++ results in $out/native.jsonl)"
  if [ "$check" = 1 ] || [ "$update" = 1 ]; then
    log "--check/--update need node; without it compare later: node bench/check.mjs --input $out/native.jsonl"
  fi
fi
log "results in $out"
if [ "$no_gpu" = 1 ] && [ "$allow_no_gpu" = 0 ] && [ "$status" = 0 ]; then
  log "no usable GPU on this runner: exit 2 (--allow-no-gpu accepts a CPU-only run)"
  exit 2
fi
exit $status

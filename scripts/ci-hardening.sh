#!/usr/bin/env bash
# CI hardening stage (issue #9), called from .ci/run after the normal build:
#   1. scripts/fuzz.sh --smoke   every fuzz harness for a few seconds (+ the JS loaders' fuzz loop)
#   2. scripts/sanitize.sh       C++ tests and Node suites under ASan+UBSan
#   3. scripts/valgrind.sh       memcheck over the addon's exercise script
# Budget: <= 25 minutes on 2 cores (each stage prints its time). Installs clang
# and valgrind from the distribution when missing (root, apt); when that fails
# it falls back: g++ sanitizers and the g++ standalone fuzz driver; valgrind is
# then reported as skipped (with the reason) rather than failing the stage.
# Work dirs: $ORDO_HARDENING_DIR (default: build/hardening inside this checkout, so
# two clones on one machine never share a CMake cache).
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="${ORDO_HARDENING_DIR:-$root/build/hardening}"
mkdir -p "$work"
start=$(date +%s)
failed=()
skipped=()

have() { command -v "$1" >/dev/null 2>&1; }
if ! have clang++ || ! have valgrind; then
  echo "=== ci-hardening: installing clang / valgrind (apt)"
  if [ "$(id -u)" = 0 ] && have apt-get; then
    export DEBIAN_FRONTEND=noninteractive
    (apt-get update -qq && apt-get install -y -qq clang valgrind) >"$work/apt.log" 2>&1 ||
      echo "ci-hardening: apt-get install failed (see $work/apt.log); falling back to what is installed"
    # libFuzzer's runtime is a separate package on some releases
    if have clang++ && ! echo 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long){return 0;}' |
         clang++ -x c++ -fsanitize=fuzzer - -o "$work/.probe" 2>/dev/null; then
      v=$(clang++ --version | sed -n 's/.*version \([0-9]*\).*/\1/p' | head -1)
      apt-get install -y -qq "libclang-rt-$v-dev" >>"$work/apt.log" 2>&1 || apt-get install -y -qq libclang-rt-dev >>"$work/apt.log" 2>&1 || true
    fi
  else
    echo "ci-hardening: not root or no apt-get: using what is installed"
  fi
fi

stage() {
  local name="$1"; shift
  local t0=$(date +%s)
  echo "=== ci-hardening: $name"
  if "$@"; then
    echo "=== ci-hardening: $name passed ($(( $(date +%s) - t0 )) s)"
  else
    echo "=== ci-hardening: $name FAILED ($(( $(date +%s) - t0 )) s)"
    failed+=("$name")
  fi
}

stage "fuzz --smoke" "$root/scripts/fuzz.sh" --smoke --build-dir "$work/fuzz"
stage "sanitize (ASan+UBSan)" "$root/scripts/sanitize.sh" --build-dir "$work/sanitize"
if have valgrind; then
  stage "valgrind memcheck" "$root/scripts/valgrind.sh" --build-dir "$work/valgrind"
else
  skipped+=("valgrind memcheck (valgrind is not installed and could not be installed)")
fi

echo "=== ci-hardening: total $(( $(date +%s) - start )) s"
for s in "${skipped[@]}"; do echo "ci-hardening: skipped: $s"; done
if [ ${#failed[@]} -gt 0 ]; then
  echo "ci-hardening: FAILED: ${failed[*]}"
  exit 1
fi
echo "ci-hardening: all stages passed"

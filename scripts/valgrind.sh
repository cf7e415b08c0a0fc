#!/usr/bin/env bash
# valgrind memcheck over the addon (issue #9): builds a release addon with
# debug info (cmake-js, its own -O dir, CPU only) and runs
# scripts/addon-exercise.mjs (every native entry point, error paths, async
# jobs, dispose and GC) under memcheck with full leak checking.
#
#   scripts/valgrind.sh [--build-dir DIR] [--addon DIR | --rebuild]
#     --addon DIR: an already built addon (ORDO_PREBUILD dir: DIR/build/Release/ordo.node);
#     default: the checkout's build/Release/ordo.node when present (CI builds it), else a fresh build.
#
# Fails on any memcheck error or "definitely lost" block whose stack passes
# through ordo's code (ordo.node). Node/V8's own reports are suppressed by
# scripts/valgrind-node.supp and, outside ordo's frames, only counted.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${ORDO_VALGRIND_BUILD:-$root/build/valgrind}"

# shellcheck source=scripts/fresh-build-dir.sh
. "$root/scripts/fresh-build-dir.sh"
addon_dir=""
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) build="$2"; shift ;;
    --addon) addon_dir="$2"; shift ;;
    --rebuild) addon_dir="rebuild" ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "valgrind.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
command -v valgrind >/dev/null || { echo "valgrind.sh: valgrind is not installed (apt-get install -y valgrind)"; exit 1; }
if [ -z "$addon_dir" ] && [ -f "$root/build/Release/ordo.node" ]; then
  addon_dir="$root"
  echo "=== valgrind: using the checkout's addon $root/build/Release/ordo.node"
fi
if [ -z "$addon_dir" ] || [ "$addon_dir" = rebuild ]; then
  addon_dir="$build/addon"
  echo "=== valgrind: building the addon (RelWithDebInfo) in $addon_dir"
  fresh_if_foreign "$addon_dir/build"
  (cd "$root" && npx cmake-js compile -O "$addon_dir/build" --CDORDO_CUDA=OFF --CDORDO_TESTS=OFF --CDCMAKE_BUILD_TYPE=RelWithDebInfo) \
    >"$build.build.log" 2>&1 || { tail -40 "$build.build.log"; exit 1; }
fi
log="$build.memcheck.log"
mkdir -p "$(dirname "$log")"
echo "=== valgrind: memcheck over scripts/addon-exercise.mjs (log: $log)"
set +e
(cd "$root" && ORDO_PREBUILD="$addon_dir" ORDO_THREADS=2 valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite \
  --errors-for-leak-kinds=definite --num-callers=40 --suppressions="$root/scripts/valgrind-node.supp" \
  --log-file="$log" node --expose-gc scripts/addon-exercise.mjs)
rc=$?
set -e
[ $rc -eq 0 ] || echo "valgrind: the exercise exited with $rc"
# Blocks are separated by blank lines ("==pid== " prefixes); keep those that mention ordo.
bad=$(awk '/^==[0-9]+== $/ { if (blk ~ /ordo[^ ]*\.node|ordo::|ordo_napi::/ && blk ~ /(definitely lost|Invalid (read|write|free)|uninitialised|Mismatched free|overlap|Syscall param)/) print blk; blk=""; next } { blk = blk "\n" $0 } END { if (blk ~ /ordo[^ ]*\.node|ordo::|ordo_napi::/ && blk ~ /(definitely lost|Invalid (read|write|free)|uninitialised|Mismatched free)/) print blk }' "$log")
summary=$(grep -E 'definitely lost:|ERROR SUMMARY' "$log" | tail -2 | sed 's/^==[0-9]*== *//')
echo "valgrind: $summary"
if [ -n "$bad" ] || [ $rc -ne 0 ]; then
  echo "valgrind: FAILED: memcheck reports in ordo's code:"
  echo "$bad" | head -120
  exit 1
fi
echo "valgrind: no memcheck error and no definite leak in ordo's code"

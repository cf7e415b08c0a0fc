# Sourced by scripts/sanitize.sh and scripts/valgrind.sh (needs $root, the checkout).
# fresh_if_foreign DIR: a build dir configured from another source tree (another
# clone on the same machine) makes CMake refuse to run, so start that dir afresh.
fresh_if_foreign() {
  local cache="$1/CMakeCache.txt"
  if [ -f "$cache" ] && ! grep -qx "CMAKE_HOME_DIRECTORY:INTERNAL=$root" "$cache"; then
    echo "$(basename "$0"): $1 was configured from another source tree; removing it"
    rm -rf "$1"
  fi
}

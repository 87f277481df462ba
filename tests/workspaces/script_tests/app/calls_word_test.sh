#!/bin/sh
# Runs on the host (uname says so) and runs the target binary it was given three ways.
set -eu
[ "$(uname -m)" = x86_64 ] || { echo "the script is not on the host: $(uname -m)"; exit 1; }
[ -z "${FAIL_SCRIPT_TEST:-}" ] || { echo "asked to fail"; exit 1; }
check() {
  case "$1" in
    "aarch64 64 $2" | "arm 32 $2") echo "ok: $1" ;;
    *) echo "unexpected output of the target binary: '$1'"; exit 1 ;;
  esac
}
check "$("$1" by-rootpath)" by-rootpath
check "$("./$1" by-dot-path)" by-dot-path
dir=$(cd "$(dirname "$1")" && pwd)
check "$(PATH="$dir:$PATH" word by-path-lookup)" by-path-lookup

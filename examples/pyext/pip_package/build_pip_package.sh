#!/usr/bin/env bash
# Usage: build_pip_package.sh OUTPUT_DIR   (run from the workspace after `bazel build`)
set -euo pipefail
out="$(realpath -m "${1:?usage: build_pip_package.sh OUTPUT_DIR}")"
# The main repository's runfiles directory: the workspace name, or _main under bzlmod.
runfiles="${RUNFILES_DIR:-$0.runfiles}"
for name in cross_compiler_example _main; do
  if [ -d "$runfiles/$name/pip_package" ]; then runfiles="$runfiles/$name"; break; fi
done
python="${PYTHON_BIN_PATH:-python3}"
staging="$(mktemp -d)"
trap 'rm -rf "$staging"' EXIT
mkdir -p "$staging/crossdemo" "$out"
cp "$runfiles/pip_package/setup.py" "$staging/"
cp "$runfiles/python/crossdemo/__init__.py" "$runfiles/python/crossdemo/_native.so" \
  "$staging/crossdemo/"
chmod -R u+w "$staging"
cd "$staging"
"$python" setup.py -q bdist_wheel --dist-dir "$out" >&2
echo "built wheel in $out" >&2

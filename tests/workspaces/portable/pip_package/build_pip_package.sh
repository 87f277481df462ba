#!/usr/bin/env bash
# Usage: build_pip_package.sh OUTPUT_DIR   (run from the workspace after `bazel build`)
set -euo pipefail
out="$(realpath -m "${1:?usage: build_pip_package.sh OUTPUT_DIR}")"
runfiles="${RUNFILES_DIR:-$0.runfiles}"
for name in portable _main; do
  if [ -d "$runfiles/$name/pip_package" ]; then runfiles="$runfiles/$name"; break; fi
done
python="${PYTHON_BIN_PATH:-python3}"
staging="$(mktemp -d)"
trap 'rm -rf "$staging"' EXIT
mkdir -p "$staging/portable" "$out"
cp "$runfiles/pip_package/setup.py" "$staging/"
cp "$runfiles/python/portable/__init__.py" "$runfiles/ext/_portable.so" "$staging/portable/"
chmod -R u+w "$staging"
cd "$staging"
"$python" -m pip wheel --quiet --no-deps --no-build-isolation --no-index \
  --disable-pip-version-check --wheel-dir "$out" . >&2

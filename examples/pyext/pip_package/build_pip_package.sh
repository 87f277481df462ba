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
# pip's PEP 517 build, not the deprecated `setup.py bdist_wheel` (whose FutureWarning and
# SetuptoolsDeprecationWarning would fill a normal run): the Python's own setuptools
# (no isolation, no index: the build stays offline), the backend's chatter shown only on
# failure. The wheel is the same: crossdemo-1.0.0-cpXY-cpXY-<host platform>.whl.
if "$python" -m pip --version >/dev/null 2>&1; then
  "$python" -m pip wheel --quiet --no-deps --no-build-isolation --no-index \
    --disable-pip-version-check --wheel-dir "$out" . >&2
else  # a Python without pip: setup.py, minus exactly those two deprecation notices
  PYTHONWARNINGS="ignore:The 'wheel' package is no longer:FutureWarning,ignore:setup.py install is deprecated" \
    "$python" setup.py -q bdist_wheel --dist-dir "$out" >&2
fi
echo "built wheel in $out" >&2

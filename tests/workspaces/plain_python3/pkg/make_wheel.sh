#!/bin/sh
# Usage: pkg/make_wheel.sh OUT   (from the workspace, after the build)
# Plain `python3`, as many projects' scripts have it: no PYTHON_BIN_PATH, no python3.X.
set -eu
out=$(realpath -m "$1")
staging=$(mktemp -d)
trap 'rm -rf "$staging"' EXIT
mkdir -p "$staging/plain" "$out"
cp pkg/setup.py "$staging/"
cp bazel-bin/ext/_plain.so "$staging/plain/"
printf 'from plain._plain import compiled_for\n' > "$staging/plain/__init__.py"
chmod -R u+w "$staging"
cd "$staging"
python3 -c 'import sys; print("packaging with Python %d.%d" % sys.version_info[:2])' >&2
PYTHONWARNINGS=ignore python3 setup.py -q bdist_wheel --dist-dir "$out" >&2

#!/usr/bin/env bash
# Sets up a fresh Debian/Ubuntu machine for cross_compiler, idempotently:
#  - system packages (Bazel, cross compilers, qemu-user), with sudo when not root;
#  - a virtualenv in .venv with the tool installed editable (and its test extra);
#  - each target's Python (headers + interpreter) in the tool's cache, fetched with a
#    private apt state (the machine's apt sources and architectures are left alone).
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

# Debian's own python3: the venv must not come from an interpreter under a private home
# (pyenv in /root), which the non-root user of the builds cannot run.
PYTHON=/usr/bin/python3
PACKAGES=(
  bazel-bootstrap bazel-rules-java
  g++-aarch64-linux-gnu g++-arm-linux-gnueabihf g++-riscv64-linux-gnu
  g++-powerpc64le-linux-gnu g++-s390x-linux-gnu
  clang lld llvm
  qemu-user-static binutils file
  python3 python3-venv python3-dev
  docker.io debootstrap nginx-light
  postgresql
)
# npm, for buildifier (below); a Node.js that brings its own npm is fine too.
command -v npm >/dev/null 2>&1 || PACKAGES+=(npm)

missing=()
for pkg in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  # Debian's mirrors are sometimes caught mid-sync ("File has unexpected size"); retry,
  # because the target packages must come from complete indices.
  for attempt in 1 2 3 4 5; do
    if $SUDO apt-get update -q 2>&1 | tee /tmp/cross_compiler-apt-update.log | grep -q '^E:'; then
      echo "apt-get update incomplete (attempt $attempt), retrying" >&2; sleep $((attempt * 5))
    else
      break
    fi
  done
fi
if [ "${#missing[@]}" -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# Docker's engine: start dockerd when nothing answers (CI machines have no init system).
if ! docker info >/dev/null 2>&1; then
  $SUDO sh -c 'nohup dockerd >/var/log/cross_compiler-dockerd.log 2>&1 &'
  for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { echo "dockerd did not start; see /var/log/cross_compiler-dockerd.log" >&2; exit 1; }
fi

if [ -x .venv/bin/python ] && [ "$(.venv/bin/python -c 'import sys; print(sys.base_prefix)')" != /usr ]; then
  rm -rf .venv  # made by another interpreter
fi
if [ ! -x .venv/bin/python ]; then "$PYTHON" -m venv .venv; fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test,zig]'
# buildifier (the Bazel formatter and linter the tests run), from npm into .tools/
# (git-ignored, never a global install); the package ships the prebuilt binary.
BUILDIFIER_VERSION=8.2.1
installed="$(.tools/node_modules/.bin/buildifier --version 2>/dev/null || true)"
if [[ "$installed" != *"buildifier version: $BUILDIFIER_VERSION"[[:space:]]* ]]; then
  npm install --prefix .tools --no-audit --no-fund --loglevel=error "@bazel/buildifier@$BUILDIFIER_VERSION"
fi
# BuildGrid (the REAPI service of the remote-execution test and bench) in a venv of its
# own under .tools/ (git-ignored): its pins must not meet the project's. 0.4.4 is the last
# release for Python 3.11; its SQL scheduler talks to PostgreSQL through psycopg2.
BUILDGRID_VERSION=0.4.4
BUILDGRID_VENV=.tools/buildgrid-venv
if [ -x "$BUILDGRID_VENV/bin/python" ] && [ "$("$BUILDGRID_VENV/bin/python" -c 'import sys; print(sys.base_prefix)')" != /usr ]; then
  rm -rf "$BUILDGRID_VENV"  # made by another interpreter
fi
if [ ! -x "$BUILDGRID_VENV/bin/python" ]; then "$PYTHON" -m venv "$BUILDGRID_VENV"; fi
if ! "$BUILDGRID_VENV/bin/python" -c "import importlib.metadata as m, psycopg2; assert m.version('buildgrid') == '$BUILDGRID_VERSION'" 2>/dev/null; then
  "$BUILDGRID_VENV/bin/python" -m pip install -q --upgrade pip
  "$BUILDGRID_VENV/bin/python" -m pip install -q "buildgrid==$BUILDGRID_VERSION" psycopg2-binary
fi
# This machine's suite's target Pythons (other suites' are fetched when first needed).
.venv/bin/cross-compiler fetch-python --cpu=all

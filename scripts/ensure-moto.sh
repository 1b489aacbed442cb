#!/usr/bin/env bash
# Installs moto's server (the AWS API emulator the ECR tests start on loopback) from PyPI into a venv
# outside the work tree, keyed by the pins: ${SIGWARD_CACHE:-$HOME/.cache/sigward}/moto-<key>/, where
# <key> is a short sha256 of test/support/moto/requirements.txt and `python3 --version`. Idempotent: a
# warm cache costs one stat. Prints the path of moto_server on stdout. A missing python3 is an error
# that says what to install, never a silent skip.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
requirements=$repo/test/support/moto/requirements.txt
python=${SIGWARD_PYTHON:-python3}
command -v "$python" >/dev/null || { echo "ensure-moto: $python is missing (sudo apt-get install -y python3 python3-venv)" >&2; exit 1; }
sha256() { if command -v sha256sum >/dev/null; then sha256sum; else shasum -a 256; fi | cut -c1-12; }
key=$( { cat "$requirements"; "$python" --version 2>&1; } | sha256)
dir=${SIGWARD_CACHE:-$HOME/.cache/sigward}/moto-$key
server=$dir/venv/bin/moto_server
if [ -x "$server" ] && [ -f "$dir/done" ]; then echo "$server"; exit 0; fi

# One installer at a time (parallel test files may all ask); a half-built venv (no `done`) is rebuilt.
mkdir -p "$(dirname "$dir")"
exec 9>"$dir.lock"
flock 9
if [ -x "$server" ] && [ -f "$dir/done" ]; then echo "$server"; exit 0; fi
rm -rf "$dir"
echo "ensure-moto: installing moto's server into $dir (once)" >&2
"$python" -m venv "$dir/venv" >&2 || { echo "ensure-moto: '$python -m venv' failed (sudo apt-get install -y python3-venv)" >&2; exit 1; }
"$dir/venv/bin/pip" install --quiet --disable-pip-version-check --no-deps -r "$requirements" >"$dir/pip.log" 2>&1 ||
  { cat "$dir/pip.log" >&2; echo "ensure-moto: pip install failed" >&2; exit 1; }
"$dir/venv/bin/python" -c 'import moto.server, moto.ecr, moto.sts' >&2
touch "$dir/done"
echo "$server"

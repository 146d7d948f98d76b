#!/usr/bin/env bash
# Set up .venv for motionscope: the CPU wheel of torch==2.13.0 first (an unpinned torch pulls
# gigabytes of CUDA packages), then the package (editable) with its test extras. Run again, it
# does nothing unless pyproject.toml changed or the environment is broken, so the README's two
# commands can follow each other without reinstalling.
set -euo pipefail
cd "$(dirname "$0")"
stamp=.venv/.motionscope-installed
want=$(python3 -c 'import hashlib,sys; print(hashlib.sha256(open("pyproject.toml","rb").read()).hexdigest())')
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] \
    && .venv/bin/python -c "import motionscope, torch" 2>/dev/null; then
  echo "install.sh: .venv is up to date"
  exit 0
fi
python3 -m venv .venv
.venv/bin/pip install torch==2.13.0
.venv/bin/pip install -e ".[test]"
echo "$want" > "$stamp"

#!/usr/bin/env bash
# Create .venv/ at the repository root and install GraphKD with everything it needs.
#
#   bash scripts/setup.sh          # (also: make setup)
#
# Idempotent: a second run finds everything installed and takes seconds. Offline-safe as far as pip is:
# every package comes from the configured index or pip's cache (torch-scatter is compiled once, then its
# wheel is reused from pip's cache).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
VENV=.venv
PY=$VENV/bin/python
STAMP=$VENV/.graphkd-setup-stamp

if [ ! -x "$PY" ]; then
  echo "[setup] creating $VENV with $($PYTHON --version)"
  "$PYTHON" -m venv "$VENV"
fi

# Skip the pip work when the requirements have not changed since the last successful setup.
want=$(cat requirements.txt pyproject.toml scripts/install_detectron2.py | sha256sum | cut -d' ' -f1)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] && "$PY" -c "import graphkd, detectron2, torch_geometric, torch_scatter" 2>/dev/null; then
  echo "[setup] up to date ($VENV)"
  exit 0
fi

pip_install() { "$PY" -m pip install --disable-pip-version-check -q "$@"; }

echo "[setup] pip, wheel, setuptools"
pip_install "pip>=23" wheel "$(grep -E '^setuptools==' requirements.txt)"
echo "[setup] torch + torchvision (needed before torch-scatter can compile)"
pip_install $(grep -E '^(torch|torchvision|numpy)==' requirements.txt)
echo "[setup] requirements.txt (torch-scatter compiles on the first run: ~9 min on 2 cores)"
pip_install --no-build-isolation -r requirements.txt
echo "[setup] detectron2"
"$PY" scripts/install_detectron2.py
echo "[setup] graphkd (editable)"
pip_install --no-build-isolation --no-deps -e .
"$PY" -m graphkd.env
echo "$want" > "$STAMP"
echo "[setup] done: activate with 'source $VENV/bin/activate'"

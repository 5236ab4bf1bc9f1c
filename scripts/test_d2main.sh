#!/usr/bin/env bash
# The default test suite against detectron2 built from upstream main (real CPU C++ ops), in its own virtualenv.
#
#   bash scripts/test_d2main.sh [ARCHIVE]     # also: make test-d2main ARCHIVE=...
#
# ARCHIVE is a source snapshot of detectron2 main whose top folder is detectron2-main/ (default:
# ../shared/vendor/detectron2-main.tar.gz next to this clone, or $D2_MAIN_ARCHIVE). Without it the leg is
# skipped with one line saying why (a user's clone has no archive; CI has one).
#
# .venv-d2main/ is a separate virtualenv whose own site-packages hold only detectron2 main (and GraphKD,
# editable); every other package (torch, torch-scatter, PyG, ...) is the same pinned install as .venv/'s, seen
# through a .pth path entry, so this leg tests exactly one difference: the detectron2. Run `make setup` first.
set -euo pipefail
cd "$(dirname "$0")/.."
ARCHIVE=${1:-${D2_MAIN_ARCHIVE:-../shared/vendor/detectron2-main.tar.gz}}
if [ ! -f "$ARCHIVE" ]; then
  echo "[test-d2main] skipped: no detectron2 main archive at $ARCHIVE (set D2_MAIN_ARCHIVE or ARCHIVE=...)"
  exit 0
fi
BASE=.venv
VENV=.venv-d2main
PY=$VENV/bin/python
[ -x "$BASE/bin/python" ] || { echo "[test-d2main] $BASE missing: run make setup first" >&2; exit 1; }
sum=$(sha256sum "$ARCHIVE" | cut -d' ' -f1)
STAMP=$VENV/.d2main-stamp
start=$(date +%s)

if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$sum" ]; then
  rm -rf "$VENV"
  "$BASE/bin/python" -m venv --without-pip "$VENV"
  base_site=$("$BASE/bin/python" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
  own_site=$("$PY" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
  # .venv's packages after this venv's own: its detectron2 0.6 is shadowed by main's below
  echo "$base_site" > "$own_site/graphkd-base-venv.pth"
  build=$(mktemp -d)
  trap 'rm -rf "$build"' EXIT
  tar xzf "$ARCHIVE" -C "$build"
  [ -d "$build/detectron2-main" ] || { echo "[test-d2main] $ARCHIVE has no detectron2-main/ folder" >&2; exit 1; }
  echo "[test-d2main] building detectron2 main with its CPU C++ ops (~2 min on 2 cores)"
  # .venv's pip and torch build it (no build isolation: the C++ ops compile against the pinned torch)
  "$BASE/bin/python" -m pip install --disable-pip-version-check -q --no-build-isolation --no-deps \
    --target "$own_site" "$build/detectron2-main" 2>&1 | { grep -v "^WARNING: Location" || true; }
  "$PY" -c "import detectron2, detectron2._C" \
    || { echo "[test-d2main] detectron2 main did not build its C++ ops" >&2; exit 1; }
  # GraphKD itself: this checkout, first on the path (no egg-link or finder shared with .venv)
  echo "$PWD" > "$own_site/graphkd-checkout.pth"
  echo "$sum" > "$STAMP"
fi
"$PY" -m graphkd.env | grep -E "^detectron2"
"$PY" -c "from graphkd.env import detectron2_flavour as f; s = f(); assert s.startswith('main') and 'compiled' in s, s"
echo "[test-d2main] build ready in $(( $(date +%s) - start )) s; running the default suite"
"$PY" -m pytest -q -p no:cacheprovider "${@:2}"
echo "[test-d2main] done in $(( $(date +%s) - start )) s"

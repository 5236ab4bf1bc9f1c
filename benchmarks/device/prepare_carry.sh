#!/usr/bin/env bash
# Fill gpu_carry/ (git-ignored) with what benchmarks/device/run_gpu_check.sh needs on the GPU machine, whose
# image (python3 3.12, CUDA torch, PyG, timm, numpy 2, Pillow >= 10) cannot fetch anything:
#   wheels/  pycocotools (cp312, compiled) and detectron2's pure-Python dependencies, from the package index
#   site/    detectron2 0.6's Python files (pb1-detectron2 sdist, via scripts/install_detectron2.py, with its
#            _C stand-in), fvcore and antlr4 (sdists without wheels), unpacked
# detectron2 0.6 predates numpy 2 and Pillow 10; the two names on GraphKD's path that they removed are patched
# in the carried copy only: Image.LINEAR (a default argument, so the import fails) -> Image.BILINEAR, and
# np.int in the class histogram -> int. Takes a minute; about 6 MB.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
rm -rf gpu_carry && mkdir -p gpu_carry/wheels gpu_carry/site gpu_carry/tmp
pin() { grep -E "^$1==" requirements.txt; }
"$PY" -m pip download --disable-pip-version-check -q -d gpu_carry/wheels --no-deps --only-binary=:all: \
  --python-version 3.12 --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux_2_28_x86_64 "$(pin pycocotools)" "$(pin iopath)" "$(pin yacs)" "$(pin termcolor)" \
  "$(pin omegaconf)" "$(pin hydra-core)"
"$PY" -m pip download --disable-pip-version-check -q -d gpu_carry/tmp --no-deps --no-binary=:all: \
  "$(pin fvcore)" antlr4-python3-runtime==4.9.3
"$PY" - <<'PYEOF'
import re, sys, tarfile
from pathlib import Path
sys.path.insert(0, "scripts")
import install_detectron2 as d2

carry, tmp = Path("gpu_carry/site"), Path("gpu_carry/tmp")
for archive in tmp.glob("*.tar.gz"):
    with tarfile.open(archive) as tar:
        tar.extractall(tmp, filter="data")
for package in ("fvcore-*/fvcore", "antlr4-python3-runtime-*/src/antlr4"):
    source = next(tmp.glob(package))
    source.rename(carry / source.name)
target = d2.extract_package(d2.download_sdist(tmp), carry)  # detectron2/ with _C.py and the marker
patches = {  # file: (pattern, replacement, how many times it must occur)
    "data/transforms/transform.py": (r"\bImage\.LINEAR\b", "Image.BILINEAR", 1),
    "data/build.py": (r"\bnp\.int\b", "int", 2),
}
for name, (pattern, new, times) in patches.items():
    path = target / name
    text, done = re.subn(pattern, new, path.read_text())
    if done != times:
        sys.exit(f"prepare_carry: {path} holds {pattern!r} {done} times, not {times}: check the detectron2 copy")
    path.write_text(text)
print("prepared", carry, sorted(p.name for p in carry.iterdir()))
PYEOF
rm -rf gpu_carry/tmp
du -sh gpu_carry

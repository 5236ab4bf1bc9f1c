#!/usr/bin/env bash
# Run benchmarks/gpu_check.sh on a lent GPU machine (the `device` tool), whose python3 has CUDA torch, PyG and
# timm but not the rest of GraphKD's stack. Prepare here first, then run there with gpu_carry/ carried:
#
#   bash benchmarks/device/prepare_carry.sh                      # here: fills gpu_carry/ (git-ignored)
#   device run: bash benchmarks/device/run_gpu_check.sh          # carry: ["gpu_carry"]
#
# It installs the carried wheels, puts the carried pure-Python packages (detectron2 0.6 with its _C stand-in,
# fvcore, antlr4) and the repo on PYTHONPATH, adds the torch_scatter stand-in only when torch_scatter does not
# import, runs gpu_check.sh (GC_TIMEOUT seconds at most, default 440) and leaves gpu_report.md/.json in $OUT.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-gpu_check_out}
LOG=$(mktemp -d)
python3 -m pip install --disable-pip-version-check --no-deps --no-index -q gpu_carry/wheels/*.whl > "$LOG/pip.log" 2>&1 \
  || { echo "[run_gpu_check] installing the carried wheels failed:"; tail -n 20 "$LOG/pip.log"; }
export PYTHONPATH="$PWD:$PWD/gpu_carry/site" PYTHON=python3 PYTHONUNBUFFERED=1
if ! python3 -c "import torch_scatter" 2>/dev/null; then
  echo "[run_gpu_check] torch_scatter is missing here: using benchmarks/device/standins (PyG's scatter)"
  export PYTHONPATH="$PYTHONPATH:$PWD/benchmarks/device/standins"
fi
python3 -c "import torch, detectron2.modeling, pycocotools, torch_scatter, graphkd; print('imports ok: torch', torch.__version__, 'CUDA', torch.cuda.is_available())"
timeout "${GC_TIMEOUT:-440}" bash benchmarks/gpu_check.sh --out "$LOG/report"
echo "[run_gpu_check] gpu_check rc $?"
mkdir -p "$OUT"
cp "$LOG/report/gpu_report.md" "$LOG/report/gpu_report.json" "$OUT/" 2>/dev/null
tail -n 40 "$LOG"/report/bench_step_amp1.log 2>/dev/null

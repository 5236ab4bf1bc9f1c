#!/usr/bin/env bash
# The prepared GPU check: one command, at most ~8 minutes on one GPU, that writes gpu_report.md + gpu_report.json.
#
#   bash benchmarks/gpu_check.sh [--dry-run] [--out DIR]
#
# Steps (each logged to DIR/<step>.log; a failing step is reported and the others still run):
#   1. the gpu-marked tests (pytest -m gpu)
#   2. benchmarks/bench_step.py at PAPER scale (pages resized to 800x1333, 256-channel FPN, 512 RoIs/image,
#      batch 2, R-50 teacher -> R-18 student), with and without AMP: student step, teacher forward, GraphKD step,
#      graph part, overhead %, peak GPU memory, and one profiled graph part (ops, host syncs, kernel launches)
#   3. scripts/distill.py, 300 iterations with AMP on generated pages at paper resolution: images/s, losses finite
#   4. a `--num-gpus 1` launch through detectron2's launch (a few iterations)
# --dry-run runs every step on the CPU at tiny sizes and a few iterations (a test does), so the script is known
# to work before GPU time is spent. PYTHON picks the interpreter (default .venv/bin/python, else python3); the
# GPU machine needs torch, torch-scatter, PyG, detectron2, timm and pycocotools importable by it.
set -uo pipefail
cd "$(dirname "$0")/.."
DRY=0
OUT=gpu_check_out
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) DRY=1 ;;
    --out) OUT=$2; shift ;;
    *) echo "usage: $0 [--dry-run] [--out DIR]" >&2; exit 2 ;;
  esac
  shift
done
if [ -z "${PYTHON:-}" ]; then
  if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 GRAPHKD_ALLOW_RANDOM_TEACHER=1
CFG=configs/synthetic/graphkd_R18_from_R50.yaml
if [ "$DRY" = 1 ]; then
  DEVICE=cpu ITERS=3 BENCH_ITERS=1 WARMUP=0 ROIS=32 AMP=False  # detectron2's AMPTrainer needs CUDA
  SCALE=(INPUT.MIN_SIZE_TRAIN "(256,)" INPUT.MAX_SIZE_TRAIN 341 INPUT.MIN_SIZE_TEST 256 INPUT.MAX_SIZE_TEST 341
         MODEL.FPN.OUT_CHANNELS 64)
else
  DEVICE=cuda ITERS=300 BENCH_ITERS=20 WARMUP=3 ROIS=512 AMP=True
  SCALE=(INPUT.MIN_SIZE_TRAIN "(800,)" INPUT.MAX_SIZE_TRAIN 1333 INPUT.MIN_SIZE_TEST 800 INPUT.MAX_SIZE_TEST 1333
         MODEL.FPN.OUT_CHANNELS 256)
fi
# the teacher gets the same FPN width, so no adapter is needed (the paper's R50 -> R18 setting)
TEACHER_OPTS="[\"MODEL.FPN.OUT_CHANNELS\", \"${SCALE[9]}\"]"
STATUS=()
start_all=$(date +%s)

step() {  # step NAME CMD...: run, log, record status and seconds
  local name=$1; shift
  local t0=$(date +%s)
  echo "[gpu_check] $name: $*"
  "$@" > "$OUT/$name.log" 2>&1
  local rc=$?
  STATUS+=("$name $rc $(( $(date +%s) - t0 ))")
  [ $rc -eq 0 ] || { echo "[gpu_check] $name FAILED (rc $rc), last lines:"; tail -n 15 "$OUT/$name.log"; }
}

"$PYTHON" -m graphkd.env > "$OUT/env.log" 2>&1
command -v nvidia-smi >/dev/null && nvidia-smi > "$OUT/nvidia_smi.log" 2>&1

step gpu_tests "$PYTHON" -m pytest -q -p no:cacheprovider -m gpu tests
for amp in 0 1; do
  flag=(); [ $amp = 1 ] && flag=(--amp)
  step "bench_step_amp$amp" "$PYTHON" benchmarks/bench_step.py --config-file $CFG --device $DEVICE \
    --iters $BENCH_ITERS --warmup $WARMUP --rois $ROIS --batch 2 --profile 15 "${flag[@]}" --json "$OUT/bench_step_amp$amp.json" \
    "${SCALE[@]}" TEACHER.OPTS "$TEACHER_OPTS"
done
TRAIN=(--config-file $CFG "${SCALE[@]}" TEACHER.OPTS "$TEACHER_OPTS" TEACHER.WEIGHTS "" MODEL.DEVICE $DEVICE
       SOLVER.IMS_PER_BATCH 2 SOLVER.CHECKPOINT_PERIOD 100000 TEST.EVAL_PERIOD 0 DATASETS.TEST "()"
       MODEL.ROI_HEADS.BATCH_SIZE_PER_IMAGE $ROIS SOLVER.WARMUP_ITERS 10)
step distill_amp "$PYTHON" scripts/distill.py "${TRAIN[@]}" SOLVER.MAX_ITER $ITERS SOLVER.STEPS "()" \
  SOLVER.AMP.ENABLED $AMP OUTPUT_DIR "$OUT/distill_amp"
step launch_1gpu "$PYTHON" scripts/distill.py --num-gpus 1 "${TRAIN[@]}" SOLVER.MAX_ITER 3 SOLVER.STEPS "()" \
  OUTPUT_DIR "$OUT/launch_1gpu"

"$PYTHON" benchmarks/gpu_report.py --out "$OUT" --dry-run $DRY --total-seconds $(( $(date +%s) - start_all )) \
  --status "${STATUS[@]}"

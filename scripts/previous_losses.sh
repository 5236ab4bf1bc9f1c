#!/usr/bin/env bash
# The full GraphKD row under the PREVIOUS losses (before METHOD.md §5-6 were revised; issue 19 item 2), from
# the same teacher as the current rows, so that the revision is judged on one teacher:
#
#   bash scripts/previous_losses.sh OUTPUT ITERS TEACHER_ITERS [SEED ...]     # e.g. output/probe 1200 2400 0
#
# OUTPUT is a run_experiments.py output folder whose teacher_s0/model_final.pth exists (the row never trains
# its own teacher). The code is commit 621a9ec, the last one before the revised losses landed, checked out as
# a git worktree in .worktrees/prev-losses (kept; made on first use) and run by this clone's .venv. Its rows
# land in OUTPUT/prev_losses/full_s<SEED> with their own results.json/results.md; the teacher is linked, and
# the synthetic pages are a copy (that code regenerates a set it does not recognise: it must not touch ours).
set -euo pipefail
cd "$(dirname "$0")/.."
PREV_COMMIT=621a9ec
usage="usage: bash scripts/previous_losses.sh OUTPUT ITERS TEACHER_ITERS [SEED ...]"
[ $# -ge 3 ] || { echo "$usage" >&2; exit 2; }
OUT=$(realpath -m "$1")
ITERS=$2
TEACHER_ITERS=$3
shift 3
SEEDS=("${@:-0}")
for n in "$ITERS" "$TEACHER_ITERS" "${SEEDS[@]}"; do
  [[ $n =~ ^[0-9]+$ ]] || { echo "[previous-losses] not a whole number: '$n'. $usage" >&2; exit 2; }
done
TEACHER=$OUT/teacher_s0
[ -f "$TEACHER/model_final.pth" ] || {
  echo "[previous-losses] no teacher at $TEACHER/model_final.pth: train it first (run_experiments.py --rows teacher --output ...)" >&2
  exit 1
}
[ -x .venv/bin/python ] || { echo "[previous-losses] .venv missing: run make setup first" >&2; exit 1; }

WT=.worktrees/prev-losses
if [ ! -d "$WT" ]; then
  git worktree add --detach "$WT" "$PREV_COMMIT"
fi
[ "$(git -C "$WT" rev-parse HEAD)" = "$(git rev-parse "$PREV_COMMIT^{commit}")" ] || {
  echo "[previous-losses] $WT is not at $PREV_COMMIT: remove it (git worktree remove $WT) and rerun" >&2
  exit 1
}
ROWS_OUT=$OUT/prev_losses
mkdir -p "$ROWS_OUT"
ln -sfn "$TEACHER" "$ROWS_OUT/teacher_s0"
DATA=$ROWS_OUT/datasets
if [ ! -d "$DATA" ]; then
  rm -rf "$DATA.tmp" && cp -r "${GRAPHKD_DATASETS:-datasets}" "$DATA.tmp" && mv "$DATA.tmp" "$DATA"
fi
GRAPHKD_DATASETS=$(realpath "$DATA") PYTHONPATH=$(realpath "$WT") \
  .venv/bin/python "$WT/scripts/run_experiments.py" --rows full --seeds "${SEEDS[@]}" --seeds-for full \
  --iters "$ITERS" --teacher-iters "$TEACHER_ITERS" --output "$ROWS_OUT" --plot ""

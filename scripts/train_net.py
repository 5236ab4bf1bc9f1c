"""Plain detectron2 training and evaluation of one detector: teachers and no-KD student baselines.

    python scripts/train_net.py --config-file configs/synthetic/teacher_R50.yaml OUTPUT_DIR output/synth_teacher
    python scripts/train_net.py --num-gpus 8 --config-file configs/publaynet/teacher_R101.yaml
    python scripts/train_net.py --config-file CFG --eval-only MODEL.WEIGHTS model_final.pth

A bad config or dataset ends the run with a one-line ``error: ...`` and exit status 2 (``GRAPHKD_DEBUG=1``
shows the traceback).
"""

from graphkd.engine.launch import launch_from_cli
from graphkd.engine.trainer import run


def main(args):
    return run(args)


if __name__ == "__main__":
    launch_from_cli(main)

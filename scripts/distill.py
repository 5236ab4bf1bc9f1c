"""GraphKD distillation of a detectron2 student from a frozen teacher.

    # one machine, CPU or GPUs
    python scripts/distill.py --config-file configs/synthetic/graphkd_R18_from_R50.yaml \
        TEACHER.WEIGHTS output/synth_teacher_R50/model_final.pth OUTPUT_DIR output/synth_graphkd
    # 8 GPUs
    python scripts/distill.py --num-gpus 8 --config-file configs/publaynet/graphkd_R50_from_R101.yaml \
        TEACHER.WEIGHTS teacher_R101_publaynet.pth
    # 2 CPU processes (gloo) on a machine without CUDA
    python scripts/distill.py --num-gpus 2 --config-file CFG
    # resume after an interruption (same CFG and overrides); evaluate a student
    python scripts/distill.py --config-file CFG --resume
    python scripts/distill.py --config-file CFG --eval-only MODEL.WEIGHTS output/.../model_student.pth

Checkpoints hold the student alone; ``OUTPUT_DIR/model_student.pth`` also drops the channel adapter and
loads into plain detectron2 (``build_model`` + ``DetectionCheckpointer``). Checkpoints are replaced
atomically, so ``--resume`` works after any kill. A bad config, dataset or teacher ends the run with a
one-line ``error: ...`` and exit status 2 (``GRAPHKD_DEBUG=1`` shows the traceback).
"""

from graphkd.engine.launch import launch_from_cli
from graphkd.engine.trainer import run


def main(args):
    return run(args, require_graphkd=True)


if __name__ == "__main__":
    launch_from_cli(main)

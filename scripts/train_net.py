"""Plain detectron2 training and evaluation of one detector: teachers and no-KD student baselines.

    python scripts/train_net.py --config-file configs/synthetic/teacher_R50.yaml OUTPUT_DIR output/synth_teacher
    python scripts/train_net.py --num-gpus 8 --config-file configs/publaynet/teacher_R101.yaml
    python scripts/train_net.py --config-file CFG --eval-only MODEL.WEIGHTS model_final.pth

A bad config or dataset ends the run with a one-line ``error: ...`` and exit status 2 (``GRAPHKD_DEBUG=1``
shows the traceback).
"""

from detectron2.engine import default_argument_parser

from graphkd.engine.errors import exit_on_user_error
from graphkd.engine.launch import launch
from graphkd.engine.trainer import run


def main(args):
    return run(args)


if __name__ == "__main__":
    args = default_argument_parser().parse_args()
    with exit_on_user_error():
        launch(
            main,
            args.num_gpus,
            num_machines=args.num_machines,
            machine_rank=args.machine_rank,
            dist_url=args.dist_url,
            args=(args,),
        )

"""``launch`` for the scripts: detectron2's on GPUs, and on a CPU-only machine the same with gloo.

detectron2 0.6's ``launch`` asserts CUDA and joins the processes with NCCL, so ``--num-gpus 2`` cannot run
without GPUs. Here, without CUDA, it spawns that many CPU processes joined by the gloo backend, with
detectron2's local process group set as its launcher does (``comm.get_local_rank`` needs it).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from datetime import timedelta

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from detectron2.engine import launch as d2_launch
from detectron2.engine.launch import DEFAULT_TIMEOUT, _find_free_port
from detectron2.utils import comm

__all__ = ["launch"]

logger = logging.getLogger(__name__)


def launch(
    main_func: Callable,
    num_processes_per_machine: int,
    num_machines: int = 1,
    machine_rank: int = 0,
    dist_url: str | None = None,
    args: tuple = (),
    timeout: timedelta = DEFAULT_TIMEOUT,
) -> None:
    """Run ``main_func(*args)`` in ``num_processes_per_machine`` processes per machine (one per GPU with CUDA,
    CPU processes joined by gloo without); a world of one runs it in this process."""
    world_size = num_machines * num_processes_per_machine
    if world_size <= 1 or torch.cuda.is_available():
        d2_launch(main_func, num_processes_per_machine, num_machines, machine_rank, dist_url, args, timeout)
        return
    if dist_url is None or dist_url == "auto":
        if num_machines != 1:
            raise ValueError("--dist-url must name the main machine (tcp://host:port) in a multi-machine job")
        dist_url = f"tcp://127.0.0.1:{_find_free_port()}"
    logger.info("No CUDA: launching %d CPU processes with the gloo backend (%s)", world_size, dist_url)
    mp.spawn(
        _cpu_worker,
        nprocs=num_processes_per_machine,
        args=(main_func, world_size, num_processes_per_machine, machine_rank, dist_url, args, timeout),
        daemon=False,
    )


def _cpu_worker(
    local_rank: int,
    main_func: Callable,
    world_size: int,
    num_processes_per_machine: int,
    machine_rank: int,
    dist_url: str,
    args: tuple,
    timeout: timedelta,
) -> None:
    global_rank = machine_rank * num_processes_per_machine + local_rank
    dist.init_process_group(
        backend="gloo", init_method=dist_url, world_size=world_size, rank=global_rank, timeout=timeout
    )
    # the per-machine process group, as detectron2's _distributed_worker creates it
    for machine in range(world_size // num_processes_per_machine):
        ranks = list(range(machine * num_processes_per_machine, (machine + 1) * num_processes_per_machine))
        group = dist.new_group(ranks)
        if machine == machine_rank:
            comm._LOCAL_PROCESS_GROUP = group
    comm.synchronize()
    try:
        main_func(*args)
    finally:
        dist.destroy_process_group()


def launch_from_cli(main_func: Callable) -> None:
    """``main`` of a training script: detectron2's command line, one process per GPU (or gloo CPU processes),
    and user errors reported as one ``error: ...`` line with exit code 2."""
    from detectron2.engine import default_argument_parser

    from .errors import exit_on_user_error

    parser = default_argument_parser()
    parser.add_argument(
        "--trust-checkpoint",
        action="store_true",
        help="allow checkpoints that need full unpickling (they can run code): only for files you trust",
    )
    args = parser.parse_args()
    if args.trust_checkpoint:  # the environment reaches every worker process
        from graphkd.modeling.teacher import TRUST_ENV

        os.environ[TRUST_ENV] = "1"
    with exit_on_user_error():
        launch(
            main_func,
            args.num_gpus,
            num_machines=args.num_machines,
            machine_rank=args.machine_rank,
            dist_url=args.dist_url,
            args=(args,),
        )

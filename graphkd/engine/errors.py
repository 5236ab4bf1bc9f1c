"""Errors a user can fix (config, data, teacher, numerics), reported by the scripts in one line.

``scripts/distill.py`` and ``scripts/train_net.py`` run inside :func:`exit_on_user_error`: a bad config key,
an unreadable dataset file or image, or a teacher checkpoint that does not fit its config ends the run with
``error: <one line naming the culprit>`` on stderr and exit status 2. ``GRAPHKD_DEBUG=1`` re-raises instead,
with the full traceback.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
from collections.abc import Iterator, Mapping

import torch
from torch import Tensor

from graphkd.data import DatasetError
from graphkd.modeling.teacher import TeacherLoadError

__all__ = [
    "DEBUG_ENV",
    "EXIT_USER_ERROR",
    "USER_ERRORS",
    "BadImageError",
    "check_finite_losses",
    "exit_on_user_error",
    "one_line_message",
]

# environment variable: "1" shows the full traceback of a user error instead of the one-line message
DEBUG_ENV = "GRAPHKD_DEBUG"
# exit status of a run stopped by a user error (argparse uses 2 for bad arguments too)
EXIT_USER_ERROR = 2


class BadImageError(DatasetError):
    """An image of a dataset cannot be read (missing, truncated or not an image); the message names it."""


# ValueError covers DatasetError/BadImageError and config errors (setup_cfg, the teacher config); OSError
# covers missing files and PIL's UnidentifiedImageError; FloatingPointError is a non-finite loss.
USER_ERRORS: tuple[type[BaseException], ...] = (ValueError, OSError, TeacherLoadError, FloatingPointError)

_WORKER_TRACEBACK = "\nOriginal Traceback"  # torch.utils.data re-raises worker errors with this text
_QUALIFIED_PREFIX = re.compile(r"^[\w.]+(Error|Exception): ")


def one_line_message(exc: BaseException) -> str:
    """``exc``'s message on one line; for an error re-raised from a DataLoader worker, the original one."""
    message = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
    message = str(message)
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    if _WORKER_TRACEBACK in message and lines:
        return _QUALIFIED_PREFIX.sub("", lines[-1])  # "graphkd.engine.errors.BadImageError: cannot read ..."
    return "; ".join(lines) or type(exc).__name__


@contextlib.contextmanager
def exit_on_user_error() -> Iterator[None]:
    """Turn a :data:`USER_ERRORS` exception into ``error: <one line>`` on stderr and ``SystemExit(2)``."""
    try:
        yield
    except USER_ERRORS as exc:
        if os.environ.get(DEBUG_ENV) == "1":
            raise
        sys.stderr.write(f"error: {one_line_message(exc)}\n")
        sys.stderr.flush()
        raise SystemExit(EXIT_USER_ERROR) from None


def check_finite_losses(loss_dict: Mapping[str, Tensor], iteration: int) -> None:
    """Raise ``FloatingPointError`` naming every NaN/Inf loss of ``loss_dict`` and the iteration.

    detectron2 checks only the total ("Loss became infinite or NaN"); this names the culprit, e.g.
    ``loss_graphkd_edge``, before the optimizer step applies it. One device sync per call.
    """
    if not loss_dict:
        return
    names = list(loss_dict)
    finite = torch.stack([torch.isfinite(loss_dict[name].detach()).all() for name in names]).tolist()
    if all(finite):
        return
    bad = [name for name, ok in zip(names, finite) if not ok]
    values = ", ".join(f"{name}={float(loss_dict[name].detach().float().sum())}" for name in bad)
    message = f"non-finite loss at iteration {iteration}: {values}"
    if any(name.startswith("loss_graphkd_") for name in bad):
        message += (
            " (the loss_graphkd_* terms compare the student with the teacher: check TEACHER.WEIGHTS for "
            "NaN/Inf values, or lower SOLVER.BASE_LR)"
        )
    raise FloatingPointError(message)

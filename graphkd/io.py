"""Files that are either the old version or the complete new one: write to a temporary name, fsync, rename.

The one atomic-write helper of the package (checkpoints, results, annotation files, converted weights); a
leaf module, so that every layer (data, engine, inference) can use it.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

__all__ = ["atomic_open", "atomic_torch_save", "atomic_write_json", "atomic_write_text", "atomic_write_with"]

TMP_SUFFIX = ".tmp"


def _fsync_dir(path: str) -> None:
    """Make a rename in ``path``'s folder durable (power loss); a failure here does not undo it."""
    try:
        dir_fd = os.open(os.path.dirname(path) or ".", os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", tmp_suffix: str = TMP_SUFFIX) -> Iterator[IO]:
    """``open(path, mode)`` through ``path + tmp_suffix``: on success the file is fsynced and renamed over
    ``path``; on any error (or a kill) ``path`` keeps its old content and the temporary file is removed."""
    path = os.fspath(path)
    tmp = path + tmp_suffix
    try:
        with open(tmp, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    _fsync_dir(path)


def atomic_write_text(text: str, path: str | os.PathLike) -> None:
    """Write ``text`` to ``path`` atomically."""
    with atomic_open(path, "w") as f:
        f.write(text)


def atomic_write_json(
    data: Any, path: str | os.PathLike, tmp_suffix: str = TMP_SUFFIX, **dump_kwargs: Any
) -> None:
    """``json.dump(data, ...)`` to ``path`` atomically."""
    with atomic_open(path, "w", tmp_suffix=tmp_suffix) as f:
        json.dump(data, f, **dump_kwargs)


def atomic_torch_save(data: Any, path: str | os.PathLike) -> None:
    """``torch.save(data, path)`` atomically: ``path`` is the old file or the complete new one."""
    import torch

    with atomic_open(path, "wb") as f:
        torch.save(data, f)


def atomic_write_with(write: Callable[[IO], None], path: str | Path, mode: str = "wb") -> None:
    """``write(file)`` into ``path`` atomically (e.g. ``pickle.dump``)."""
    with atomic_open(path, mode) as f:
        write(f)

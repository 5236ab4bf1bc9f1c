"""Checkpoints that survive a kill: every file is written to a temporary name, then renamed into place.

fvcore's ``Checkpointer.save`` (and so detectron2's ``DetectionCheckpointer``) writes ``model_XXXXXXX.pth`` and
the ``last_checkpoint`` tag in place: a run killed while saving leaves a truncated checkpoint, or a tag naming
one, and ``--resume`` then fails to unpickle it. :class:`AtomicCheckpointer` writes the same files through
``os.replace``, which either leaves the old file or installs the complete new one.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from detectron2.checkpoint import DetectionCheckpointer

from graphkd.io import atomic_torch_save, atomic_write_text

__all__ = ["AtomicCheckpointer", "atomic_torch_save", "atomic_write_text"]

logger = logging.getLogger(__name__)

LAST_CHECKPOINT = "last_checkpoint"  # fvcore's tag file naming the newest checkpoint


def _is_local(path: str) -> bool:
    return "://" not in path  # manifold://, s3://... go through PathManager, which cannot rename atomically


class AtomicCheckpointer(DetectionCheckpointer):
    """``DetectionCheckpointer`` whose checkpoint files and ``last_checkpoint`` tag are replaced atomically.

    The tag is written after the checkpoint it names is complete, so it always names a readable file.
    Remote ``save_dir`` URLs fall back to detectron2's direct writes.
    """

    def save(self, name: str, **kwargs: Any) -> None:
        if not self.save_dir or not self.save_to_disk:
            return
        if not _is_local(self.save_dir):
            super().save(name, **kwargs)
            return
        data = {"model": self.model.state_dict()}
        for key, obj in self.checkpointables.items():
            data[key] = obj.state_dict()
        data.update(kwargs)
        basename = f"{name}.pth"
        save_file = os.path.join(self.save_dir, basename)
        if os.path.basename(save_file) != basename:
            raise ValueError(f"checkpoint name {name!r} must be a file name, not a path")
        self.logger.info("Saving checkpoint to %s", save_file)
        os.makedirs(self.save_dir, exist_ok=True)
        atomic_torch_save(data, save_file)
        self.tag_last_checkpoint(basename)

    def tag_last_checkpoint(self, last_filename_basename: str) -> None:
        if not _is_local(self.save_dir):
            super().tag_last_checkpoint(last_filename_basename)
            return
        atomic_write_text(last_filename_basename, os.path.join(self.save_dir, LAST_CHECKPOINT))

    def load(self, path: str, *args: Any, **kwargs: Any) -> dict:
        """detectron2's ``load``, remembering what it loaded: ``last_load`` is ``(path, the file's keys under its
        own names, the model keys it did not fill)``, or None when ``path`` is empty (random initialisation)."""
        self.last_load = None
        self._loading = path
        return super().load(path, *args, **kwargs)

    def _load_model(self, checkpoint: Any) -> Any:
        file_keys = list(checkpoint.get("model", {}))  # before detectron2 renames model-zoo keys in place
        incompatible = super()._load_model(checkpoint)
        missing = {*incompatible.missing_keys, *(key for key, *_ in incompatible.incorrect_shapes)}
        self.last_load = (getattr(self, "_loading", ""), file_keys, sorted(missing))
        return incompatible

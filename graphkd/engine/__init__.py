"""Training, evaluation and hooks on top of detectron2's engine."""

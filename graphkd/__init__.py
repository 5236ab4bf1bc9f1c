"""GraphKD: knowledge distillation for document layout detectors through structured instance graphs."""

__version__ = "0.1.0"

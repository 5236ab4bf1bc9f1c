"""Document layout datasets (placeholder while the module is written)."""

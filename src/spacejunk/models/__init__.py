"""Network definitions (no training loops, no file I/O beyond checkpoints)."""

from .registry import build_model, bundled_weights, load_checkpoint, register_model, save_checkpoint

__all__ = ["build_model", "bundled_weights", "load_checkpoint", "register_model", "save_checkpoint"]

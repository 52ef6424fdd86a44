"""Network definitions (no training loops, no file I/O beyond checkpoints)."""

from .registry import build_model, bundled_weights, load_checkpoint, register_model, save_checkpoint
from .unet import UNet, unet

__all__ = ["build_model", "bundled_weights", "load_checkpoint", "register_model", "save_checkpoint"]
__all__ += ["UNet", "unet"]

# detector (issue 4)
from .detector import DETECTOR_ARCHS, SegmentationDetector, regions_to_boxes  # noqa: E402

__all__ += ["DETECTOR_ARCHS", "SegmentationDetector", "regions_to_boxes"]

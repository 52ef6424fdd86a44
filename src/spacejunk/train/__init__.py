"""train"""

from .focal_plane import FocalPlaneTrainConfig, save_focal_plane_model, train_focal_plane

__all__ = ["FocalPlaneTrainConfig", "save_focal_plane_model", "train_focal_plane"]

# detector (issue 4)
from .detector import AUGMENTATIONS, DetectorTrainSettings, train_detector  # noqa: E402

__all__ += ["AUGMENTATIONS", "DetectorTrainSettings", "train_detector"]

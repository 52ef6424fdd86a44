"""Run a trained model on a whole exposure."""

from .classifier import TileScores, classify_exposure, load_default_classifier

__all__ = ["TileScores", "classify_exposure", "load_default_classifier"]

# detector (issue 4)
from .detector import detect_array, detect_exposure, load_default_detector, load_detector  # noqa: E402

__all__ += ["detect_array", "detect_exposure", "load_default_detector", "load_detector"]

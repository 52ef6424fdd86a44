"""evaluate"""

from .focal_plane import annotator_scores, cross_validate_focal_plane, evaluate_model, score_mask
from .segmentation import PixelScores, pixel_iou, pixel_precision, pixel_recall, pixel_scores

__all__ = ["PixelScores", "pixel_iou", "pixel_precision", "pixel_recall", "pixel_scores",
           "annotator_scores", "cross_validate_focal_plane", "evaluate_model", "score_mask"]

# detector (issue 4)
from .coco import CocoScores, box_iou, coco_scores, match_detections  # noqa: E402
from .detector import DetectorEvaluation, evaluate_detector  # noqa: E402

__all__ += ["CocoScores", "box_iou", "coco_scores", "match_detections", "DetectorEvaluation", "evaluate_detector"]

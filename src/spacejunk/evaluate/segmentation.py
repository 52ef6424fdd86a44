"""Pixel metrics of boolean masks: intersection over union, precision, recall."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["PixelScores", "pixel_scores", "pixel_iou", "pixel_precision", "pixel_recall"]


@dataclass(frozen=True)
class PixelScores:
    """Pixel counts and scores of a predicted mask against a reference mask.

    Attributes
    ----------
    tp, fp, fn : int
        Pixels in both masks, only in the prediction, only in the reference.
    iou, precision, recall : float
        ``tp / (tp + fp + fn)``, ``tp / (tp + fp)``, ``tp / (tp + fn)``; each is 1.0
        where its denominator is 0 (nothing to find and nothing found is perfect).
    """

    tp: int
    fp: int
    fn: int
    iou: float
    precision: float
    recall: float


def _check(pred: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pred, truth = np.asarray(pred), np.asarray(truth)
    if pred.shape != truth.shape:
        raise ValueError(f"pred and truth must have the same shape, got {pred.shape} and {truth.shape}")
    return pred.astype(bool, copy=False), truth.astype(bool, copy=False)


def _ratio(num: int, den: int) -> float:
    return 1.0 if den == 0 else num / den


def pixel_scores(pred: np.ndarray, truth: np.ndarray) -> PixelScores:
    """Pixel IoU, precision and recall of ``pred`` against ``truth``.

    Parameters
    ----------
    pred, truth : array_like of bool
        Masks of the same shape (any number of dimensions; non-zero is True).

    Returns
    -------
    PixelScores

    Notes
    -----
    Edge cases: both masks empty gives IoU, precision and recall 1; an empty
    prediction against a non-empty reference gives IoU 0, recall 0 and precision 1
    (nothing claimed wrongly); a non-empty prediction against an empty reference gives
    IoU 0, precision 0 and recall 1.
    """
    p, t = _check(pred, truth)
    tp = int(np.count_nonzero(p & t))
    fp = int(np.count_nonzero(p & ~t))
    fn = int(np.count_nonzero(~p & t))
    return PixelScores(tp, fp, fn, _ratio(tp, tp + fp + fn), _ratio(tp, tp + fp), _ratio(tp, tp + fn))


def pixel_iou(pred: np.ndarray, truth: np.ndarray) -> float:
    """Intersection over union of two boolean masks; 1.0 when both are empty."""
    return pixel_scores(pred, truth).iou


def pixel_precision(pred: np.ndarray, truth: np.ndarray) -> float:
    """Fraction of the predicted pixels that are in ``truth``; 1.0 when ``pred`` is empty."""
    return pixel_scores(pred, truth).precision


def pixel_recall(pred: np.ndarray, truth: np.ndarray) -> float:
    """Fraction of the ``truth`` pixels that are predicted; 1.0 when ``truth`` is empty."""
    return pixel_scores(pred, truth).recall

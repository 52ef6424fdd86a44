"""Tile classifier metrics: recall, precision, ROC and precision-recall curves, thresholds.

Pure functions of tile labels and scores (:func:`tile_metrics`, :func:`roc_curve`,
:func:`precision_recall_curve`, :func:`threshold_for_recall`, ...), and the evaluation of
a trained classifier on a data folder (:func:`evaluate_classifier`) with its report
(:func:`write_classifier_report`: ``metrics.json``, ``roc.png``, ``pr.png``,
``tiles.csv``).
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..categories import CATEGORY_BITS
from ..io._atomic import atomic_path

__all__ = [
    "tile_metrics",
    "roc_curve",
    "precision_recall_curve",
    "roc_auc",
    "average_precision",
    "threshold_for_recall",
    "ClassifierEvaluation",
    "evaluate_classifier",
    "write_classifier_report",
]

log = logging.getLogger("spacejunk")


def _labels_scores(labels, scores) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(labels).reshape(-1)
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    if y.shape != s.shape:
        raise ValueError(f"labels and scores must have the same length, got {y.shape[0]} and {s.shape[0]}")
    if y.dtype != bool:
        if y.size and not np.isin(y, (0, 1)).all():
            raise ValueError("labels must be booleans or 0/1")
        y = y.astype(bool)
    if not np.isfinite(s).all():
        raise ValueError("scores must be finite")
    return y, s


def _cumulative(y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct thresholds (descending) and the true/false positives at each (score >= t)."""
    order = np.argsort(-s, kind="stable")
    s, y = s[order], y[order]
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1] if len(s) else np.zeros(0, int)
    tp = np.cumsum(y)[last]
    fp = np.cumsum(~y)[last]
    return s[last], tp, fp


def tile_metrics(labels, scores, threshold: float) -> dict:
    """Confusion counts and rates of tiles at one threshold (a tile is positive if score >= threshold).

    Parameters
    ----------
    labels : array_like of bool, shape (n,)
        True for tiles holding an artifact.
    scores : array_like of float, shape (n,)
        Classifier probabilities.
    threshold : float

    Returns
    -------
    dict
        ``tp, fp, fn, tn`` (int), ``recall = tp / (tp + fn)``, ``precision = tp / (tp + fp)``,
        ``f1``, ``accuracy``, ``false_positive_rate = fp / (fp + tn)`` and ``threshold``.
        A rate with an empty denominator is NaN (recall without positive tiles), except
        precision with no tile called positive, which is 1 (no false claim made).
    """
    y, s = _labels_scores(labels, scores)
    pred = s >= threshold
    tp = int(np.count_nonzero(pred & y))
    fp = int(np.count_nonzero(pred & ~y))
    fn = int(np.count_nonzero(~pred & y))
    tn = int(np.count_nonzero(~pred & ~y))
    recall = tp / (tp + fn) if tp + fn else math.nan
    precision = tp / (tp + fp) if tp + fp else 1.0
    f1 = 2 * precision * recall / (precision + recall) if (precision + recall) > 0 else 0.0
    return {
        "threshold": float(threshold), "tp": tp, "fp": fp, "fn": fn, "tn": tn,
        "recall": recall, "precision": precision, "f1": f1,
        "accuracy": (tp + tn) / len(y) if len(y) else math.nan,
        "false_positive_rate": fp / (fp + tn) if fp + tn else math.nan,
    }


def roc_curve(labels, scores) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Receiver operating characteristic.

    Returns
    -------
    fpr, tpr, thresholds : ndarray, shape (m + 1,)
        False and true positive rates when tiles with score >= threshold are called
        positive, for the m distinct scores in decreasing order, preceded by the point
        (0, 0) at threshold +inf. NaN rates where a class is absent.
    """
    y, s = _labels_scores(labels, scores)
    t, tp, fp = _cumulative(y, s)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    tpr = np.r_[0.0, tp / n_pos] if n_pos else np.full(len(t) + 1, math.nan)
    fpr = np.r_[0.0, fp / n_neg] if n_neg else np.full(len(t) + 1, math.nan)
    return fpr, tpr, np.r_[np.inf, t]


def precision_recall_curve(labels, scores) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision and recall at every distinct score used as threshold.

    Returns
    -------
    precision, recall, thresholds : ndarray, shape (m,)
        For the m distinct scores in decreasing order (recall increasing).
    """
    y, s = _labels_scores(labels, scores)
    t, tp, fp = _cumulative(y, s)
    n_pos = int(y.sum())
    recall = tp / n_pos if n_pos else np.full(len(t), math.nan)
    precision = tp / np.maximum(tp + fp, 1)
    return precision, recall, t


def roc_auc(labels, scores) -> float:
    """Area under the ROC curve (trapezoids; ties count one half); NaN if a class is absent."""
    fpr, tpr, _ = roc_curve(labels, scores)
    if not len(fpr) or np.isnan(fpr).any() or np.isnan(tpr).any():
        return math.nan
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))


def average_precision(labels, scores) -> float:
    """Average precision: sum over thresholds of (recall step) x precision; NaN without positives."""
    precision, recall, _ = precision_recall_curve(labels, scores)
    if not len(recall) or np.isnan(recall).any():
        return math.nan
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def threshold_for_recall(labels, scores, target: float) -> float:
    """The highest threshold whose recall (score >= threshold) reaches ``target``.

    Parameters
    ----------
    labels, scores : array_like, shape (n,)
    target : float
        Wanted recall in (0, 1].

    Returns
    -------
    float
        The ``ceil(target * n_pos)``-th highest score of the positive tiles; NaN if there
        is no positive tile.
    """
    if not 0 < target <= 1:
        raise ValueError(f"target must be in (0, 1], got {target}")
    y, s = _labels_scores(labels, scores)
    pos = np.sort(s[y])[::-1]
    if not len(pos):
        return math.nan
    k = max(1, math.ceil(target * len(pos) - 1e-9))
    return float(pos[k - 1])


#: Recalls at which ``metrics.json`` reports the precision (``precision_at_recall``).
RECALLS_REPORTED: tuple[float, ...] = (0.80, 0.90, 0.95)

#: Precision at which ``metrics.json`` reports the highest recall (the issue's target, 0.80).
PRECISION_REPORTED: float = 0.80


# --------------------------------------------------------------------------- a model on a data folder
@dataclass
class ClassifierEvaluation:
    """Scores and truth of every tile of a data folder.

    Attributes
    ----------
    images : list of str
        Image of each tile (length n).
    grid : ndarray, shape (n, 4), int64
        Tiles ``(x0, y0, x1, y1)``.
    fractions : ndarray, shape (n,)
        Fraction of each tile covered by an artifact (truth or labels).
    category_fractions : dict of str to ndarray (n,)
        The same per category (categories present in the data only).
    scores : ndarray, shape (n,), float32
        Classifier probabilities.
    threshold : float
        The model's threshold (or the one asked for).
    min_fraction : float
        Covered fraction from which a tile is positive.
    metrics : dict
        Filled by :func:`evaluate_classifier` (see there).
    seconds_per_image : float
        Mean time of the network per image (reading and normalising excluded).
    """

    images: list[str]
    grid: np.ndarray
    fractions: np.ndarray
    category_fractions: dict[str, np.ndarray]
    scores: np.ndarray
    threshold: float
    min_fraction: float
    metrics: dict = field(default_factory=dict)
    seconds_per_image: float = math.nan

    @property
    def labels(self) -> np.ndarray:
        """Bool (n,): tiles covered at ``min_fraction`` or more."""
        return (self.fractions >= self.min_fraction) & (self.fractions > 0)


def _summary(labels: np.ndarray, scores: np.ndarray, threshold: float, target_recall: float) -> dict:
    out = tile_metrics(labels, scores, threshold)
    out["n_tiles"] = int(len(labels))
    out["n_positive"] = int(labels.sum())
    out["roc_auc"] = roc_auc(labels, scores)
    out["average_precision"] = average_precision(labels, scores)
    t = threshold_for_recall(labels, scores, target_recall) if labels.any() else math.nan
    out["target_recall"] = target_recall
    out["threshold_for_target_recall"] = t
    at = tile_metrics(labels, scores, t) if math.isfinite(t) else {}
    out["precision_at_target_recall"] = at.get("precision", math.nan)
    out["recall_at_target_threshold"] = at.get("recall", math.nan)
    # the operating points a reader looks for on the precision-recall curve
    out["precision_at_recall"] = {}
    for r in RECALLS_REPORTED:
        t = threshold_for_recall(labels, scores, r) if labels.any() else math.nan
        out["precision_at_recall"][f"{r:.2f}"] = (tile_metrics(labels, scores, t)["precision"] if math.isfinite(t)
                                                  else math.nan)
    precision, recall, _ = precision_recall_curve(labels, scores) if labels.any() else ([], [], [])
    reach = [r for p, r in zip(precision, recall) if p >= PRECISION_REPORTED]
    out[f"recall_at_precision_{PRECISION_REPORTED:.2f}"] = float(max(reach)) if reach else 0.0
    return out


def evaluate_classifier(data: str | os.PathLike, *, model=None, meta: dict | None = None,
                        threshold: float | None = None, target_recall: float = 0.95,
                        labels: str | os.PathLike | None = None, min_fraction: float | None = None,
                        bands=None, overlap: int = 0, quiet: bool = False) -> ClassifierEvaluation:
    """Run a classifier over every image of a data folder and measure it on the tile grid.

    Parameters
    ----------
    data : str or path-like
        Data folder (images + ``truth/`` or ``labels.csv``; see :mod:`spacejunk.train.datasets`).
    model, meta : optional
        From :func:`spacejunk.models.load_checkpoint`; default the shipped classifier.
    threshold : float, optional
        Default the model's own.
    target_recall : float, optional
        Recall for which the threshold and precision are also reported (default 0.95).
    labels : str or path-like, optional
        Labels CSV replacing the folder's truth.
    min_fraction : float, optional
        Covered fraction of a positive tile; default the model's (``meta["min_fraction"]``, 0.01).
    bands : sequence of str, optional
        Evaluate on these bands only (a subset of the model's).
    overlap : int, optional
        Tile overlap of the grid (default 0: the ``tiles.csv`` grid).
    quiet : bool, optional

    Returns
    -------
    ClassifierEvaluation
        With ``metrics``: everything of :func:`tile_metrics` at the threshold, ``roc_auc``,
        ``average_precision``, ``threshold_for_target_recall`` and the precision there,
        ``precision_at_recall`` (at each recall of :data:`RECALLS_REPORTED`),
        ``recall_at_precision_0.80`` (the highest recall reaching precision 0.80),
        ``per_category`` (``n_positive`` and ``recall`` of tiles covered by each category)
        and ``per_image``.
    """
    from ..predict.classifier import _check_model_meta, arrange_bands, network_scores, record_finder_inputs
    from ..preprocess import tile_fractions, tile_grid
    from ..train.datasets import Normalisation, iter_image_folder

    model, meta = _check_model_meta(model, meta)
    thr = float(meta.get("threshold", 0.5)) if threshold is None else float(threshold)
    min_fraction = float(meta.get("min_fraction", 0.01)) if min_fraction is None else float(min_fraction)
    tile = int(meta.get("tile", 200))
    slots = tuple(meta["bands"])
    read_bands = None if bands is None else tuple(bands)
    images, grids, fracs, scores = [], [], [], []
    cat_fracs: dict[str, list[np.ndarray]] = {c: [] for c in CATEGORY_BITS}
    seen_cats: set[str] = set()
    seconds = []
    per_image = []
    normalisation = Normalisation.from_dict(meta.get("normalisation"))
    for rec in iter_image_folder(data, bands=read_bands, labels=labels, normalisation=normalisation,
                                 context_bin=None, quiet=quiet):
        grid = tile_grid(rec.shape, tile=tile, overlap=overlap)
        t0 = time.perf_counter()
        image, present, context, _ = arrange_bands(rec.image, rec.bands, meta)
        halos, finder_scores = record_finder_inputs(rec, rec.bands, grid, meta, min_fraction=min_fraction)
        s = network_scores(model, meta, image, present, grid, context=context, halos=halos)
        s = s if finder_scores is None else np.maximum(s, finder_scores)
        seconds.append(time.perf_counter() - t0)
        f = tile_fractions(rec.mask, grid)
        for cat, bit in CATEGORY_BITS.items():
            hit = (rec.mask & bit) != 0
            if hit.any():
                seen_cats.add(cat)
            cat_fracs[cat].append(tile_fractions(hit, grid) if hit.any() else np.zeros(len(grid)))
        images += [rec.name] * len(grid)
        grids.append(grid)
        fracs.append(f)
        scores.append(s)
        lab = (f >= min_fraction) & (f > 0)
        per_image.append({"image": rec.name, "n_tiles": int(len(grid)), "n_positive": int(lab.sum()),
                          **{k: v for k, v in tile_metrics(lab, s, thr).items() if k in ("tp", "fp", "fn", "tn")}})
    if not grids:
        from .._errors import InputError

        raise InputError(data, "no images in this data folder")
    ev = ClassifierEvaluation(
        images=images, grid=np.concatenate(grids), fractions=np.concatenate(fracs),
        category_fractions={c: np.concatenate(cat_fracs[c]) for c in CATEGORY_BITS if c in seen_cats},
        scores=np.concatenate(scores).astype(np.float32), threshold=thr, min_fraction=min_fraction,
        seconds_per_image=float(np.mean(seconds)))
    y = ev.labels
    m = _summary(y, ev.scores, thr, target_recall)
    per_cat = {}
    for cat, fr in ev.category_fractions.items():
        pos = (fr >= min_fraction) & (fr > 0)
        n = int(pos.sum())
        per_cat[cat] = {
            "n_positive": n,
            "recall": float(np.mean(ev.scores[pos] >= thr)) if n else math.nan,
            "recall_at_target_threshold": (float(np.mean(ev.scores[pos] >= m["threshold_for_target_recall"]))
                                           if n and math.isfinite(m["threshold_for_target_recall"]) else math.nan),
            "median_score": float(np.median(ev.scores[pos])) if n else math.nan,
        }
    ambiguous = (ev.fractions > 0) & ~y
    m["n_partial_negative"] = int(ambiguous.sum())
    m["per_category"] = per_cat
    m["per_image"] = per_image
    m["n_images"] = len(per_image)
    m["seconds_per_image"] = ev.seconds_per_image
    m["bands"] = list(slots if read_bands is None else read_bands)
    m["min_fraction"] = min_fraction
    ev.metrics = m
    return ev


def _jsonable(obj):
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        return None if not math.isfinite(float(obj)) else float(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def _save_figure(fig, path: Path) -> Path:
    """Write ``fig`` as a PNG atomically and close it."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)
    return path


def write_classifier_report(evaluation: ClassifierEvaluation, out_dir: str | os.PathLike, *,
                            title: str = "tile classifier") -> dict[str, Path]:
    """Write ``metrics.json``, ``roc.png``, ``pr.png`` and ``tiles.csv`` of an evaluation.

    Returns
    -------
    dict of str to Path
        The files written, by kind.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..io import write_tiles

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    m = evaluation.metrics
    y, s = evaluation.labels, evaluation.scores
    paths = {}
    paths["metrics"] = out / "metrics.json"
    with atomic_path(paths["metrics"]) as tmp:
        tmp.write_text(json.dumps(_jsonable(m), indent=2) + "\n")

    fpr, tpr, thr = roc_curve(y, s)
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot(fpr, tpr, lw=1.5, label=f"AUC {m['roc_auc']:.4f}")
    op = tile_metrics(y, s, evaluation.threshold)
    ax.plot([op["false_positive_rate"]], [op["recall"]], "o", color="C3",
            label=f"threshold {evaluation.threshold:.3f}")
    ax.plot([0, 1], [0, 1], ":", color="grey")
    ax.set(xlabel="false positive rate", ylabel="recall (true positive rate)", title=f"ROC: {title}",
           xlim=(0, 1), ylim=(0, 1.01))
    ax.legend(loc="lower right")
    paths["roc"] = _save_figure(fig, out / "roc.png")

    precision, recall, _ = precision_recall_curve(y, s)
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.step(recall, precision, where="post", lw=1.5, label=f"AP {m['average_precision']:.4f}")
    ax.plot([op["recall"]], [op["precision"]], "o", color="C3", label=f"threshold {evaluation.threshold:.3f}")
    ax.axvline(m["target_recall"], ls=":", color="grey", label=f"recall {m['target_recall']:.2f}")
    ax.set(xlabel="recall", ylabel="precision", title=f"precision-recall: {title}", xlim=(0, 1.01), ylim=(0, 1.01))
    ax.legend(loc="lower left")
    paths["pr"] = _save_figure(fig, out / "pr.png")

    paths["tiles"] = write_tiles(out / "tiles.csv", evaluation.images, evaluation.grid, evaluation.scores)
    return paths

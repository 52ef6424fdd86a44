"""COCO-style box metrics (AP over IoU 0.50:0.95, AP50, AR@100) with pycocotools."""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass, field
from typing import Iterable, Mapping

import numpy as np

from ..io.artifact import Artifact

__all__ = ["CocoScores", "coco_scores", "box_iou", "match_detections"]


@dataclass(frozen=True)
class CocoScores:
    """COCO box metrics of a set of detections against the truth.

    Attributes
    ----------
    ap : float
        Mean average precision over IoU thresholds 0.50, 0.55, ..., 0.95 (COCO "AP").
    ap50, ap75 : float
        Average precision at IoU 0.50 and 0.75.
    ar100 : float
        Average recall with at most 100 detections per image, over IoU 0.50:0.95.
    ar100_50 : float
        Recall at IoU 0.50 with at most 100 detections per image.
    n_images, n_truth, n_detections : int
        What was evaluated.
    per_category : dict
        ``{category: {"ap", "ap50", "ar100", "n_truth"}}`` for the categories present in the
        truth (empty when evaluated class-agnostically).

    Notes
    -----
    A metric with nothing to measure (no truth box at all) is NaN, where pycocotools
    gives -1.
    """

    ap: float
    ap50: float
    ap75: float
    ar100: float
    ar100_50: float
    n_images: int
    n_truth: int
    n_detections: int
    per_category: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        """Plain dict (for JSON)."""
        return {"AP": self.ap, "AP50": self.ap50, "AP75": self.ap75, "AR@100": self.ar100,
                "AR50@100": self.ar100_50, "n_images": self.n_images, "n_truth": self.n_truth,
                "n_detections": self.n_detections, "per_category": self.per_category}


def _group(artifacts, name: str) -> dict[str, list[Artifact]]:
    if isinstance(artifacts, Mapping):
        out = {str(k): list(v) for k, v in artifacts.items()}
    else:
        out: dict[str, list[Artifact]] = {}
        for art in artifacts:
            out.setdefault(art.image, []).append(art)
    for arts in out.values():
        for art in arts:
            if not isinstance(art, Artifact):
                raise TypeError(f"{name} must hold Artifact records, got {type(art).__name__}")
    return out


def _mean_valid(a: np.ndarray) -> float:
    a = a[a > -1]
    return float(a.mean()) if a.size else float("nan")


def coco_scores(
    truth: Mapping[str, Iterable[Artifact]] | Iterable[Artifact],
    detections: Mapping[str, Iterable[Artifact]] | Iterable[Artifact],
    *,
    images: Iterable[str] | None = None,
    class_agnostic: bool = False,
    max_detections: int = 100,
) -> CocoScores:
    """COCO box AP/AR of ``detections`` against ``truth``.

    Parameters
    ----------
    truth, detections : dict {image: [Artifact]} or iterable of Artifact
        Truth boxes (score ignored) and detected boxes (with ``score``), pixels,
        ``xmax``/``ymax`` exclusive.
    images : iterable of str, optional
        The images evaluated (default: every image named in ``truth`` or
        ``detections``). An image with no truth row is an image without artifacts: its
        detections are false positives. Detections on other images are ignored.
    class_agnostic : bool, optional
        Match boxes whatever their category (default False: a detection matches only
        truth of its category; use True for labels without categories).
    max_detections : int, optional
        Detections kept per image, best scores first (default 100, COCO's AR@100).

    Returns
    -------
    CocoScores

    Notes
    -----
    pycocotools' bbox evaluation with ``areaRng`` "all" and ``iscrowd`` 0; IoU of two
    boxes is intersection / union of their areas (no +1 pixel convention). Averages over
    categories skip categories absent from the truth. pycocotools' console output is
    swallowed.
    """
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    truth_by = _group(truth, "truth")
    det_by = _group(detections, "detections")
    names = sorted(set(truth_by) | set(det_by)) if images is None else list(dict.fromkeys(images))
    if max_detections < 1:
        raise ValueError(f"max_detections must be >= 1, got {max_detections}")
    image_ids = {name: i + 1 for i, name in enumerate(names)}
    if class_agnostic:
        cat_names = ["artifact"]
    else:
        cat_names = sorted({a.category for n in names for a in truth_by.get(n, [])}
                           | {a.category for n in names for a in det_by.get(n, [])})
    cat_ids = {c: i + 1 for i, c in enumerate(cat_names)}

    def cat_of(art: Artifact) -> int:
        return 1 if class_agnostic else cat_ids[art.category]

    anns = []
    for name in names:
        for art in truth_by.get(name, []):
            w, h = max(art.xmax - art.xmin, 0.0), max(art.ymax - art.ymin, 0.0)
            anns.append({"id": len(anns) + 1, "image_id": image_ids[name], "category_id": cat_of(art),
                         "bbox": [art.xmin, art.ymin, w, h], "area": w * h, "iscrowd": 0})
    dets = []
    for name in names:
        arts = sorted(det_by.get(name, []), key=lambda a: -a.score)[:max_detections]
        for art in arts:
            w, h = max(art.xmax - art.xmin, 0.0), max(art.ymax - art.ymin, 0.0)
            dets.append({"id": len(dets) + 1, "image_id": image_ids[name], "category_id": cat_of(art),
                         "bbox": [art.xmin, art.ymin, w, h], "area": w * h, "score": float(art.score),
                         "iscrowd": 0})
    n_truth, n_dets = len(anns), len(dets)
    nan = float("nan")
    if n_truth == 0 or not names:
        return CocoScores(nan, nan, nan, nan, nan, len(names), 0, n_dets, {})

    dataset = {"images": [{"id": i} for i in image_ids.values()],
               "categories": [{"id": i, "name": c} for c, i in cat_ids.items()] or [{"id": 1, "name": "artifact"}],
               "annotations": anns}
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = dataset
        gt.createIndex()
        dt = COCO()
        dt.dataset = {"images": dataset["images"], "categories": dataset["categories"], "annotations": dets}
        dt.createIndex()
        ev = COCOeval(gt, dt, iouType="bbox")
        ev.params.maxDets = [1, 10, max_detections]
        ev.params.areaRng = [[0.0, 1e12]]
        ev.params.areaRngLbl = ["all"]
        ev.evaluate()
        ev.accumulate()
    precision = ev.eval["precision"]  # (T, R, K, A=1, M=3)
    recall = ev.eval["recall"]  # (T, K, A=1, M=3)
    thr = ev.params.iouThrs
    i50 = int(np.argmin(np.abs(thr - 0.5)))
    i75 = int(np.argmin(np.abs(thr - 0.75)))
    per_category = {}
    if not class_agnostic:
        truth_counts: dict[str, int] = {}
        for name in names:
            for a in truth_by.get(name, []):
                truth_counts[a.category] = truth_counts.get(a.category, 0) + 1
        for k, cid in enumerate(ev.params.catIds):
            name = cat_names[cid - 1]
            if name not in truth_counts:
                continue
            per_category[name] = {"ap": _mean_valid(precision[:, :, k, 0, -1]),
                                  "ap50": _mean_valid(precision[i50, :, k, 0, -1]),
                                  "ar100": _mean_valid(recall[:, k, 0, -1]),
                                  "n_truth": truth_counts[name]}
    return CocoScores(
        ap=_mean_valid(precision[:, :, :, 0, -1]),
        ap50=_mean_valid(precision[i50, :, :, 0, -1]),
        ap75=_mean_valid(precision[i75, :, :, 0, -1]),
        ar100=_mean_valid(recall[:, :, 0, -1]),
        ar100_50=_mean_valid(recall[i50, :, 0, -1]),
        n_images=len(names),
        n_truth=n_truth,
        n_detections=n_dets,
        per_category=per_category,
    )


def box_iou(a, b) -> np.ndarray:
    """IoU of every box of ``a`` (n, 4) with every box of ``b`` (m, 4); returns (n, m)."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    x0 = np.maximum(a[:, None, 0], b[None, :, 0])
    y0 = np.maximum(a[:, None, 1], b[None, :, 1])
    x1 = np.minimum(a[:, None, 2], b[None, :, 2])
    y1 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area_a = (a[:, 2] - a[:, 0]).clip(0) * (a[:, 3] - a[:, 1]).clip(0)
    area_b = (b[:, 2] - b[:, 0]).clip(0) * (b[:, 3] - b[:, 1]).clip(0)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def match_detections(
    truth: Iterable[Artifact],
    detections: Iterable[Artifact],
    *,
    iou_threshold: float = 0.5,
    class_agnostic: bool = False,
) -> tuple[list[tuple[Artifact, Artifact]], list[Artifact], list[Artifact]]:
    """Greedy matching on one image: true positives, false positives, false negatives.

    Parameters
    ----------
    truth, detections : iterable of Artifact
        One image's truth and detections.
    iou_threshold : float, optional
        Least IoU of a match (default 0.5).
    class_agnostic : bool, optional
        Match whatever the category (default False).

    Returns
    -------
    true_positives : list of (detection, truth)
    false_positives : list of Artifact
        Detections matching no truth.
    false_negatives : list of Artifact
        Truth matched by no detection.

    Notes
    -----
    Detections are taken best score first, each matched to the unmatched truth box of
    highest IoU, as COCO does.
    """
    truth = list(truth)
    dets = sorted(detections, key=lambda a: -a.score)
    iou = box_iou([d.box for d in dets], [t.box for t in truth])
    used = np.zeros(len(truth), dtype=bool)
    tps, fps = [], []
    for i, det in enumerate(dets):
        best, best_iou = -1, iou_threshold
        for j, tru in enumerate(truth):
            if used[j] or (not class_agnostic and tru.category != det.category):
                continue
            if iou[i, j] >= best_iou:
                best, best_iou = j, iou[i, j]
        if best >= 0:
            used[best] = True
            tps.append((det, truth[best]))
        else:
            fps.append(det)
    fns = [t for j, t in enumerate(truth) if not used[j]]
    return tps, fps, fns

"""Evaluating a detector on a data folder: COCO AP/AR, timing, and pictures of hits and misses."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .._errors import InputError
from ..io.artifact import Artifact
from .coco import CocoScores, coco_scores, match_detections

__all__ = ["DetectorEvaluation", "MATCH_COLOURS", "evaluate_detector", "draw_matches", "operating_point"]

log = logging.getLogger("spacejunk")


@dataclass(frozen=True)
class DetectorEvaluation:
    """Result of :func:`evaluate_detector`.

    Attributes
    ----------
    scores : CocoScores
        COCO metrics with categories (``class_agnostic`` False) when the truth has them.
    agnostic : CocoScores
        The same, matching boxes whatever their category.
    seconds_per_image : float
        Mean wall time of detection per image (normalisation included).
    detections : dict
        ``{image: [Artifact]}``.
    at_threshold : dict
        What a user of ``spacejunk detect`` sees: :func:`operating_point` at the model's
        own threshold.
    """

    scores: CocoScores
    agnostic: CocoScores
    seconds_per_image: float
    detections: dict
    at_threshold: dict

    def as_dict(self) -> dict:
        """Plain dict (for ``metrics.json``)."""
        return {**self.scores.as_dict(), "agnostic": self.agnostic.as_dict(), "at_threshold": self.at_threshold,
                "seconds_per_image": self.seconds_per_image}


def operating_point(truth: dict, detections: dict, threshold: float, *, iou_threshold: float = 0.5) -> dict:
    """Precision and recall of the detections scoring at least ``threshold``.

    ``truth`` and ``detections`` map image names to artifacts. A detection is true when it
    matches a truth box of its category at IoU >= ``iou_threshold`` (greedy, best score
    first, :func:`~spacejunk.evaluate.coco.match_detections`); the ``_agnostic`` figures
    match whatever the category. Precision is None without detections, recall None
    without truth.
    """
    names = set(truth) | set(detections)
    counts = {"n_detections": 0, "n_truth": 0, "tp": 0, "tp_agnostic": 0}
    for name in names:
        kept = [a for a in detections.get(name, []) if a.score >= threshold]
        tru = truth.get(name, [])
        counts["n_detections"] += len(kept)
        counts["n_truth"] += len(tru)
        counts["tp"] += len(match_detections(tru, kept, iou_threshold=iou_threshold)[0])
        counts["tp_agnostic"] += len(match_detections(tru, kept, iou_threshold=iou_threshold,
                                                      class_agnostic=True)[0])
    n_det, n_tru = counts["n_detections"], counts["n_truth"]
    return {"threshold": float(threshold), **counts,
            "precision": counts["tp"] / n_det if n_det else None,
            "recall": counts["tp"] / n_tru if n_tru else None,
            "precision_agnostic": counts["tp_agnostic"] / n_det if n_det else None,
            "recall_agnostic": counts["tp_agnostic"] / n_tru if n_tru else None}


#: Box colours of the match pictures.
MATCH_COLOURS: dict[str, tuple[int, int, int]] = {"TP": (0, 255, 0), "FP": (255, 40, 40), "FN": (255, 255, 0)}


def draw_matches(exposure, truth: list[Artifact], detections: list[Artifact], path: str | Path, *,
                 scale: float = 0.25, iou_threshold: float = 0.5) -> Path:
    """PNG of an image with true positives (green), false positives (red) and false negatives (yellow).

    Parameters
    ----------
    exposure : Exposure
        The image.
    truth, detections : list of Artifact
        Its truth and detections.
    path : str or Path
        PNG written.
    scale : float, optional
        Picture scale (default 0.25; the image is binned by ``round(1 / scale)``).
    iou_threshold : float, optional
        IoU of a match (default 0.5); categories must agree.

    Notes
    -----
    True positives and false positives are the detections' boxes, labelled with
    category and score; false negatives are the missed truth boxes.
    """
    from PIL import Image, ImageDraw

    from ..preprocess import make_rgb, save_png

    tps, fps, fns = match_detections(truth, detections, iou_threshold=iou_threshold)
    factor = max(1, round(1 / scale))
    picture = Image.fromarray(make_rgb(exposure, scale=scale))
    draw = ImageDraw.Draw(picture)
    for tag, arts in (("FN", fns), ("FP", fps), ("TP", [d for d, _ in tps])):
        colour = MATCH_COLOURS[tag]
        for a in arts:
            box = [a.xmin / factor, a.ymin / factor, max(a.xmin / factor, a.xmax / factor - 1),
                   max(a.ymin / factor, a.ymax / factor - 1)]
            draw.rectangle(box, outline=colour, width=2)
            text = f"{tag} {a.category}" + ("" if tag == "FN" else f" {a.score:.2f}")
            draw.text((box[0], max(box[1] - 11, 0)), text, fill=colour)
    draw.text((4, 4), f"TP {len(tps)}  FP {len(fps)}  FN {len(fns)}", fill=(255, 255, 255))
    save_png(path, np.asarray(picture))
    return Path(path)


def evaluate_detector(
    data: str | Path,
    *,
    model=None,
    meta: dict | None = None,
    out: str | Path | None = None,
    labels: str | Path | None = None,
    threshold: float = 0.05,
    pictures: int = 4,
    quiet: bool = False,
) -> DetectorEvaluation:
    """Run a detector on every image of a data folder and score it against the truth.

    Parameters
    ----------
    data : str or Path
        Folder of images with the simulator's ``truth.csv`` (or ``labels``).
    model : torch.nn.Module or path, optional
        Detector (default: the shipped one); with a module, give ``meta``.
    meta : dict, optional
        The model's metadata.
    out : str or Path, optional
        Folder for ``metrics.json``, ``artifacts.csv`` and ``<image>_matches.png``
        pictures (true positives green, false positives red, false negatives yellow).
    labels : str or Path, optional
        Labels CSV (circles) to score against instead of ``truth.csv``; categories are
        ignored unless the labels carry them.
    threshold : float, optional
        Least score kept (default 0.05: AP needs the low-score detections too).
    pictures : int, optional
        Pictures drawn for the first images (default 4).
    quiet : bool, optional
        No progress bar.

    Returns
    -------
    DetectorEvaluation
    """
    import torch

    from ..io import find_images, read_artifacts, read_exposure, read_labels, write_artifacts
    from ..predict.detector import detect_exposure, load_detector

    data = Path(data)
    images = find_images([data])
    if not images:
        raise InputError(data, "no images found")
    if labels is not None:
        truth = read_labels(labels)
    else:
        path = data / "truth.csv"
        if not path.is_file():
            raise InputError(path, "truth catalogue missing (give labels to score against)")
        truth = {}
        for art in read_artifacts(path):
            truth.setdefault(art.image, []).append(art)
    if model is None or isinstance(model, (str, Path)):
        model, meta = load_detector(model)
    elif meta is None:
        raise ValueError("meta is needed with a model module")
    torch.set_num_threads(min(torch.get_num_threads(), 2))
    detections: dict[str, list[Artifact]] = {}
    seconds = 0.0
    out = Path(out) if out is not None else None
    import warnings

    from .._errors import NoArtifactsWarning

    for i, name in enumerate(tqdm(sorted(images), desc="detecting", unit="image", disable=quiet)):
        exposure = read_exposure(images[name])
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NoArtifactsWarning)
            detections[name] = detect_exposure(exposure, model=model, meta=meta, threshold=threshold)
        seconds += time.perf_counter() - t0
        if out is not None and i < pictures:
            draw_matches(exposure, truth.get(name, []), detections[name], out / f"{name}_matches.png")
    names = sorted(images)
    has_categories = len({a.category for arts in truth.values() for a in arts}) > 1 or labels is None
    scores = coco_scores(truth, detections, images=names, class_agnostic=not has_categories)
    agnostic = coco_scores(truth, detections, images=names, class_agnostic=True)
    point = operating_point({n: truth.get(n, []) for n in names}, detections,
                            max(float(meta.get("threshold", 0.5)), threshold))
    result = DetectorEvaluation(scores, agnostic, seconds / max(len(names), 1), detections, point)
    if out is not None:
        from ..io._atomic import atomic_path

        out.mkdir(parents=True, exist_ok=True)
        write_artifacts(out / "artifacts.csv", [a for n in names for a in detections[n]])
        with atomic_path(out / "metrics.json") as tmp:
            tmp.write_text(json.dumps({"data": str(data), "model_arch": meta.get("arch"),
                                       **result.as_dict()}, indent=2, default=_json_default))
    log.info("AP %.3f  AP50 %.3f  AR@100 %.3f  (class-agnostic AP %.3f AP50 %.3f AR@100 %.3f)  %.2f s/image",
             scores.ap, scores.ap50, scores.ar100, agnostic.ap, agnostic.ap50, agnostic.ar100,
             result.seconds_per_image)
    if point["precision"] is not None and point["recall"] is not None:
        log.info("at the model's threshold %.2f: %d detections, precision %.3f, recall %.3f",
                 point["threshold"], point["n_detections"], point["precision"], point["recall"])
    return result


def _json_default(value):
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")

"""Naming the detector network's regions: what is each one, or is it nothing?

The segmentation detector (:class:`spacejunk.models.detector.SegmentationDetector`) finds
*where* artifacts are well but names almost all of them ``ghost``: bright arcs, sprays,
brush strokes and edge glows are found under the wrong category, and COCO's per-category
metrics count each as a miss and a false positive. The *namer* is a small multilayer
perceptron that looks again at each region the network found, in the binned view the
network saw, and gives the probability of each category and of ``none`` (not an
artifact, or a box that would not match one). The region's category becomes the namer's
most probable category and its score ``1 - P(none)``; a second category as probable as
``second_fraction`` of the first adds a second box scored by the namer's probability of
that category (COCO counts a detection per category, so an ambiguous region can still be
found under its right name; a second name is never more probable than a half, so the
detector's default threshold of 0.5 never shows one).

Its inputs (:func:`region_features`, :data:`FEATURES`) are measured on the candidate's
box: its size, shape and place on the CCD, the network's probability of every category
in it, and the image itself (per-band contrast with the surroundings, colour, texture,
peak). The namer is trained on regions of simulated images the network never saw
(:mod:`spacejunk.train.namer`) and travels inside the detector's checkpoint
(``meta["namer"]``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

__all__ = ["FEATURES", "NONE", "RegionNamer", "region_features", "namer_from_meta", "name_regions", "large_enough"]

#: The class of a region that is no artifact (or would not match one).
NONE = "none"

#: Names of the scalar features of :func:`region_features`, in order; the per-category
#: and per-band features follow them (``prob_mean_<category>``, ``prob_max_<category>``,
#: ``label_<category>``, ``contrast_<k>``, ``colour_<k>`` for band slot k).
FEATURES: tuple[str, ...] = (
    "log_width", "log_height", "log_aspect", "fill", "score", "elongation", "vertical",
    "centre_x", "centre_y", "edge_left", "edge_right", "edge_bottom", "edge_top",
    "contrast_mean", "texture", "peak", "ring_texture", "inner_contrast",
)


def _feature_names(classes: list[str], n_bands: int) -> list[str]:
    return (list(FEATURES) + [f"prob_mean_{c}" for c in classes] + [f"prob_max_{c}" for c in classes]
            + [f"label_{c}" for c in classes] + [f"contrast_{k}" for k in range(n_bands)]
            + [f"colour_{k}" for k in range(n_bands)])


def region_features(prob: np.ndarray, image: np.ndarray, boxes: np.ndarray, labels: np.ndarray,
                    scores: np.ndarray, *, threshold: float = 0.5, scale: float = 8.0) -> np.ndarray:
    """Features ``(n, n_features)`` float32 of candidate regions in one binned view.

    Parameters
    ----------
    prob : ndarray, shape (K, ny, nx)
        The network's probability maps of the view's K categories.
    image : ndarray, shape (n_bands, ny, nx)
        The normalised bands of the view (the network's input, in its band slots).
    boxes : ndarray, shape (n, 4)
        Candidates' ``(x0, y0, x1, y1)`` in view pixels (exclusive max).
    labels : ndarray, shape (n,)
        Candidates' category index in ``prob`` (0-based).
    scores : ndarray, shape (n,)
        The network's mean probability over each candidate region.
    threshold : float, optional
        Probability above which a pixel is in a region (the model's).
    scale : float, optional
        Full-resolution pixels per view pixel (the view's binning), for the sizes.

    Returns
    -------
    ndarray, shape (n, len(FEATURES) + 3 K + 2 n_bands)
    """
    k_cat, ny, nx = prob.shape
    n_bands = image.shape[0]
    out = np.zeros((len(boxes), len(FEATURES) + 3 * k_cat + 2 * n_bands), np.float32)
    for i, (box, lab, score) in enumerate(zip(np.asarray(boxes, float), labels, scores)):
        x0, y0 = int(max(np.floor(box[0]), 0)), int(max(np.floor(box[1]), 0))
        x1, y1 = int(min(np.ceil(box[2]), nx)), int(min(np.ceil(box[3]), ny))
        x1, y1 = max(x1, x0 + 1), max(y1, y0 + 1)
        w, h = x1 - x0, y1 - y0
        p = prob[:, y0:y1, x0:x1].astype(np.float32)
        region = p[int(lab)] > threshold
        if not region.any():
            region = np.ones_like(region)
        ys, xs = np.nonzero(region)
        if len(xs) > 2:
            cov = np.cov(np.stack([xs, ys]).astype(np.float64))
            ev, evec = np.linalg.eigh(cov + 1e-6 * np.eye(2))
            elong = float(np.sqrt(ev[1] / max(ev[0], 1e-6)))
            vertical = float(abs(evec[1, 1]))  # |y component| of the long axis
        else:
            elong, vertical = 1.0, 0.0
        # a ring around the box, as wide as half the box (at least 3 pixels)
        m = max(3, int(0.5 * max(w, h)))
        rx0, ry0, rx1, ry1 = max(x0 - m, 0), max(y0 - m, 0), min(x1 + m, nx), min(y1 + m, ny)
        ring = np.ones((ry1 - ry0, rx1 - rx0), bool)
        ring[y0 - ry0:y1 - ry0, x0 - rx0:x1 - rx0] = False
        inside = image[:, y0:y1, x0:x1][:, region].astype(np.float32)
        outside = image[:, ry0:ry1, rx0:rx1][:, ring].astype(np.float32) if ring.any() else np.zeros((n_bands, 1))
        sky = np.median(outside, axis=1) if outside.shape[1] else np.zeros(n_bands)
        contrast = np.median(inside, axis=1) - sky
        inner = image[:, y0:y1, x0:x1][:, ~region].astype(np.float32)
        inner_contrast = float(np.mean(np.median(inner, axis=1) - sky)) if inner.shape[1] > 2 else 0.0
        mean_in = inside.mean(axis=0)
        texture = float(np.std(mean_in))
        ring_texture = float(np.std(outside.mean(axis=0))) if outside.shape[1] > 2 else 0.0
        total = float(np.abs(contrast).sum())
        colour = np.abs(contrast) / total if total > 0 else np.full(n_bands, 1.0 / max(n_bands, 1))
        feats = [
            np.log10(w * scale), np.log10(h * scale), np.log(w / h), float(region.mean()), float(score), np.log(elong),
            vertical, (x0 + x1) / (2 * nx), (y0 + y1) / (2 * ny), float(x0 == 0), float(x1 >= nx), float(y0 == 0),
            float(y1 >= ny), float(np.mean(contrast)), texture, float(np.percentile(mean_in, 99)), ring_texture,
            inner_contrast,
        ]
        out[i, :len(FEATURES)] = feats
        j = len(FEATURES)
        out[i, j:j + k_cat] = p.reshape(k_cat, -1).mean(axis=1)
        out[i, j + k_cat:j + 2 * k_cat] = p.reshape(k_cat, -1).max(axis=1)
        out[i, j + 2 * k_cat + int(lab)] = 1.0
        j += 3 * k_cat
        out[i, j:j + n_bands] = contrast
        out[i, j + n_bands:j + 2 * n_bands] = colour
    return out


class RegionNamer(nn.Module):
    """A multilayer perceptron from region features to category (and ``none``) logits.

    Parameters
    ----------
    n_features : int
        Length of a feature vector.
    classes : list of str
        Output classes: categories, then :data:`NONE` last.
    hidden : int, optional
        Width of the two hidden layers (default 64).
    """

    def __init__(self, n_features: int, classes: list[str], hidden: int = 64):
        super().__init__()
        self.classes = list(classes)
        self.register_buffer("mean", torch.zeros(n_features))
        self.register_buffer("std", torch.ones(n_features))
        self.net = nn.Sequential(nn.Linear(n_features, hidden), nn.ReLU(), nn.Dropout(0.1),
                                 nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, len(classes)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((x - self.mean) / self.std)

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """Class probabilities ``(n, len(classes))`` of features ``(n, n_features)``."""
        self.eval()
        with torch.no_grad():
            return torch.softmax(self(torch.as_tensor(features, dtype=torch.float32)), dim=1).numpy()

    def to_meta(self, *, feature_names: list[str], view_classes: list[str], **extra) -> dict:
        """What ``meta["namer"]`` of a detector checkpoint holds (tensors and lists only)."""
        return {"classes": self.classes, "features": list(feature_names), "view_classes": list(view_classes),
                "hidden": int(self.net[0].out_features),
                "state": {k: v.detach().clone() for k, v in self.state_dict().items()}, **extra}


@dataclass(frozen=True)
class _Namer:
    model: RegionNamer
    view_classes: list[str]
    second_fraction: float
    min_score: float
    min_side_px: float


def namer_from_meta(meta: dict) -> _Namer | None:
    """The namer a detector checkpoint carries (``meta["namer"]``), or None."""
    spec = meta.get("namer")
    if not spec:
        return None
    model = RegionNamer(len(spec["features"]), list(spec["classes"]), hidden=int(spec.get("hidden", 64)))
    model.load_state_dict({k: torch.as_tensor(v).float() for k, v in spec["state"].items()})
    model.eval()
    return _Namer(model, list(spec["view_classes"]), float(spec.get("second_fraction", 0.5)),
                  float(spec.get("min_score", 0.0)), float(spec.get("min_side_px", 0.0)))


def large_enough(boxes: np.ndarray, *, scale: float, min_side_px: float) -> np.ndarray:
    """Which boxes (view pixels) have a longest side of at least ``min_side_px`` full-resolution pixels."""
    boxes = np.asarray(boxes, float).reshape(-1, 4)
    return np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]) * scale >= min_side_px


def name_regions(namer: _Namer, prob: np.ndarray, image: np.ndarray, boxes: np.ndarray, labels: np.ndarray,
                 scores: np.ndarray, *, view_classes: list[str], classes: list[str], threshold: float = 0.5,
                 scale: float = 8.0):
    """Rename and rescore candidate regions of one view.

    Parameters
    ----------
    namer : the result of :func:`namer_from_meta`
    prob, image, boxes, labels, scores
        As for :func:`region_features`; ``labels`` index ``view_classes``.
    view_classes : list of str
        The categories of ``prob``'s maps (must be those the namer was trained with).
    classes : list of str
        The detector's categories (the output labels index them, 1-based).
    threshold, scale : float
        As for :func:`region_features`.

    Returns
    -------
    boxes : ndarray (m, 4), scores : ndarray (m,), labels : ndarray (m,) int64, 1-based in ``classes``
        Candidates the namer takes for ``none`` (score below ``min_score``) are dropped,
        and so are those whose longest side is under the namer's ``min_side_px`` (it never
        saw them: real ghosts and scattered light are hundreds of pixels across or more).
    """
    if list(view_classes) != namer.view_classes:
        raise ValueError(f"the namer was trained on maps {namer.view_classes}, got {list(view_classes)}")
    keep = large_enough(boxes, scale=scale, min_side_px=namer.min_side_px)
    boxes, labels, scores = np.asarray(boxes, float).reshape(-1, 4)[keep], np.asarray(labels)[keep], \
        np.asarray(scores)[keep]
    if len(boxes) == 0:
        return np.zeros((0, 4)), np.zeros(0), np.zeros(0, np.int64)
    feats = region_features(prob, image, boxes, labels, scores, threshold=threshold, scale=scale)
    p = namer.model.probabilities(feats)
    names = namer.model.classes
    none = names.index(NONE)
    out_b, out_s, out_l = [], [], []
    for box, row in zip(boxes, p):
        score = 1.0 - float(row[none])
        if score < namer.min_score:
            continue
        cats = np.delete(np.arange(len(names)), none)
        order = cats[np.argsort(-row[cats])]
        for rank, c in enumerate(order[:2]):
            if rank == 1 and row[c] < namer.second_fraction * row[order[0]]:
                break
            out_b.append(box)
            out_s.append(score if rank == 0 else float(row[c]))
            out_l.append(classes.index(names[c]) + 1)
    if not out_b:
        return np.zeros((0, 4)), np.zeros(0), np.zeros(0, np.int64)
    return np.asarray(out_b, float), np.asarray(out_s), np.asarray(out_l, np.int64)

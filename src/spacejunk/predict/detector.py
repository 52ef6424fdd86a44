"""Artifact detection on a full image: tiles with overlap and a binned whole-image view, merged boxes."""

from __future__ import annotations

import math
import threading
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .._errors import NoArtifactsWarning
from ..categories import CATEGORIES, FLAGGED_BITS
from ..evaluate.coco import box_iou
from ..io.artifact import Artifact
from ..io.exposure import Exposure
from ..models.registry import bundled_weights, load_checkpoint
from ..preprocess.normalise import bin_image
from ..preprocess.tiling import tile_fractions, tile_grid
from ..stitch import box_intersections, merge_boxes
from .blobs import lights_in_a_row
from .edge_bleeds import relabel_edge_bleeds
from .finders import FINDERS, run_finders
from .namer import name_regions, namer_from_meta
from .trails import fans_to_artifacts, settings_from_meta, split_fans, trail_mask, trails_for_meta, trails_to_artifacts

__all__ = ["DEFAULT_DETECTOR", "load_detector", "load_default_detector", "detect_array", "detect_exposure"]

#: File name of the shipped detector in ``spacejunk/weights``.
DEFAULT_DETECTOR = "detector.pt"

_CACHE: dict[str, tuple[nn.Module, dict]] = {}
_LOCK = threading.Lock()


def load_detector(path: str | Path | None = None) -> tuple[nn.Module, dict]:
    """The detector of checkpoint ``path`` (default: the shipped one), loaded once and cached.

    Returns
    -------
    model : torch.nn.Module
        In eval mode; share it between threads only for inference.
    meta : dict
        The checkpoint's metadata (``bands``, ``classes``, ``threshold``, ``views``, ...).
    """
    path = Path(path) if path is not None else bundled_weights(DEFAULT_DETECTOR)
    key = str(path.resolve())
    with _LOCK:
        if key not in _CACHE:
            _CACHE[key] = load_checkpoint(path)
        return _CACHE[key]


def load_default_detector() -> tuple[nn.Module, dict]:
    """The shipped detector ``spacejunk/weights/detector.pt`` and its metadata (cached)."""
    return load_detector(None)


def _model_input(image: np.ndarray, bands, model_bands) -> np.ndarray:
    """The image's bands in the model's order; bands the image lacks are zeros (the sky)."""
    bands = list(bands)
    unknown = [b for b in bands if b not in model_bands]
    if len(unknown) == len(bands):
        raise ValueError(f"none of the image's bands {bands} is known to the model (bands {list(model_bands)})")
    out = np.zeros((len(model_bands),) + image.shape[1:], np.float32)
    for i, band in enumerate(model_bands):
        if band in bands:
            out[i] = image[bands.index(band)]
    return out


def _owned(starts: np.ndarray, ends: np.ndarray, length: int) -> tuple[np.ndarray, np.ndarray]:
    """Per tile along one axis, the part it owns: overlaps are split at their middle."""
    lo, hi = starts.copy(), ends.copy()
    order = np.unique(starts)
    for a, b in zip(order[:-1], order[1:]):
        end_a = ends[starts == a][0]
        mid = (end_a + b) // 2
        hi[starts == a] = np.minimum(hi[starts == a], mid)
        lo[starts == b] = np.maximum(lo[starts == b], mid)
    return lo, hi


def _segmentation_view(model, data: np.ndarray, tile: int | None, overlap: int, batch_size: int,
                       channels: list[int]):
    """Stitched probability maps (len(channels), h, w) float16 of the segmentation detector on ``data``."""
    h, w = data.shape[1:]
    prob = np.zeros((len(channels), h, w), np.float16)
    if tile is None or (h <= tile and w <= tile):
        grid = np.array([[0, 0, w, h]])
    else:
        grid = tile_grid((h, w), tile=tile, overlap=min(overlap, tile - 1))
    xlo, xhi = _owned(grid[:, 0], grid[:, 2], w)
    ylo, yhi = _owned(grid[:, 1], grid[:, 3], h)
    with torch.no_grad():
        for start in range(0, len(grid), batch_size):
            chunk = grid[start:start + batch_size]
            x = torch.from_numpy(np.stack([data[:, y0:y1, x0:x1] for x0, y0, x1, y1 in chunk]))
            p = model.probabilities(x, channels=channels).numpy()
            for k, (x0, y0, x1, y1) in enumerate(chunk):
                i = start + k
                prob[:, ylo[i]:yhi[i], xlo[i]:xhi[i]] = p[k, :, ylo[i] - y0:yhi[i] - y0, xlo[i] - x0:xhi[i] - x0]
    return prob


@dataclass(frozen=True)
class Candidates:
    """The segmentation detector's regions in one view, before naming.

    Attributes
    ----------
    prob : ndarray, shape (K, h, w), float16
        Stitched probability maps of the view's categories.
    view_classes : list of str
        The K categories of ``prob``.
    boxes : ndarray, shape (n, 4)
        Regions' boxes in view pixels.
    scores : ndarray, shape (n,)
        Mean probability over each region.
    labels : ndarray, shape (n,) int64
        Index of each region's category in ``view_classes`` (0-based).
    """

    prob: np.ndarray
    view_classes: list[str]
    boxes: np.ndarray
    scores: np.ndarray
    labels: np.ndarray


def segmentation_candidates(model, arr: np.ndarray, *, factor: int, tile: int | None, overlap: int,
                            batch_size: int, classes: list[str], keep) -> Candidates:
    """Regions of a segmentation detector's maps on one view ``arr`` (bands in the model's slots).

    ``factor`` is the view's binning (the smallest region and the joining distance are
    the model's, in full-resolution pixels); ``tile``/``overlap`` in view pixels;
    ``classes`` the model's output categories, of which the view reports those in ``keep``.
    """
    from ..models.detector import regions_to_boxes

    channels = [k for k, c in enumerate(classes) if c in keep]
    view_classes = [classes[k] for k in channels]
    prob = _segmentation_view(model, arr, tile, overlap, batch_size, channels)
    min_area = max(1, int(math.ceil(model.min_area_px / factor ** 2)))
    b, s, lab = regions_to_boxes(prob, threshold=model.threshold, min_area_px=min_area,
                                 exclusive=model.exclusive, join_px=max(0, round(model.join_px / factor)))
    return Candidates(prob, list(view_classes), b, s, np.asarray(lab, np.int64) - 1)


def _box_view(model, data: np.ndarray, tile: int | None, overlap: int, batch_size: int):
    """Boxes, scores, labels and source tiles of a torchvision detector on ``data``."""
    h, w = data.shape[1:]
    if tile is None or (h <= tile and w <= tile):
        grid = np.array([[0, 0, w, h]])
    else:
        grid = tile_grid((h, w), tile=tile, overlap=min(overlap, tile - 1))
    boxes, scores, labels, tiles = [], [], [], []
    with torch.no_grad():
        for start in range(0, len(grid), batch_size):
            chunk = grid[start:start + batch_size]
            out = model([torch.from_numpy(np.ascontiguousarray(data[:, y0:y1, x0:x1])) for x0, y0, x1, y1 in chunk])
            for (x0, y0, x1, y1), o in zip(chunk, out):
                b = o["boxes"].numpy().astype(np.float64) + np.array([x0, y0, x0, y0])
                boxes.append(b)
                scores.append(o["scores"].numpy())
                labels.append(o["labels"].numpy())
                tiles.append(np.repeat([[x0, y0, x1, y1]], len(b), axis=0))
    cat = (lambda parts, shape: np.concatenate(parts) if parts else np.zeros(shape))
    return cat(boxes, (0, 4)), cat(scores, (0,)), cat(labels, (0,)).astype(np.int64), cat(tiles, (0, 4))


def detect_array(
    image: np.ndarray,
    *,
    bands,
    model: nn.Module,
    meta: dict,
    threshold: float | None = None,
    name: str = "image",
    batch_size: int = 2,
    max_boxes: int = 300,
    use_namer: bool = True,
    unnamed: list[Artifact] | None = None,
) -> list[Artifact]:
    """Artifacts in normalised bands of one image.

    Parameters
    ----------
    image : ndarray, shape (n_bands, ny, nx)
        Normalised bands (:func:`spacejunk.preprocess.normalise` with the model's
        ``meta["normalisation"]``).
    bands : sequence of str
        Band of each layer of ``image``; any subset of the model's bands.
    model, meta : torch.nn.Module, dict
        A detector and its checkpoint metadata (:func:`load_detector`).
    threshold : float, optional
        Least score kept (default ``meta["threshold"]``).
    name : str, optional
        Image name written in the artifacts.
    batch_size : int, optional
        Tiles per forward pass (default 2).
    max_boxes : int, optional
        Most boxes kept per view before merging, best scores first (default 300).
    use_namer : bool, optional
        Let the checkpoint's region namer (``meta["namer"]``, :mod:`spacejunk.predict.namer`)
        name and score the regions of the whole-image view (default True; False: the
        network's own categories and mean probabilities).
    unnamed : list, optional
        When the namer names the regions, the network's own artifacts (its categories and
        mean probabilities, at ``threshold``, before merging) are appended to this list:
        :func:`detect_exposure` looks for edge bleeds among them.

    Returns
    -------
    list of Artifact
        Sorted by decreasing score; boxes in full-image pixels, ``radius`` the half
        diagonal of the box.

    Notes
    -----
    Each view of ``meta["views"]`` (full-resolution tiles with overlap, the whole image
    binned) is run; a segmentation detector's probability maps are stitched across
    tiles (overlaps split at their middle) before their regions become boxes, a box
    detector's boxes are merged across tiles with :func:`spacejunk.stitch.merge_boxes`.
    The views' boxes are then merged by class-wise suppression.
    """
    from ..models.detector import SegmentationDetector

    image = np.asarray(image)
    if image.ndim != 3:
        raise ValueError(f"image must have shape (n_bands, ny, nx), got {image.shape}")
    if len(bands) != image.shape[0]:
        raise ValueError(f"bands names {len(bands)} bands, the image has {image.shape[0]}")
    threshold = float(meta.get("threshold", 0.5) if threshold is None else threshold)
    if not 0 <= threshold <= 1:
        raise ValueError(f"threshold must be in [0, 1], got {threshold}")
    model.eval()
    data = _model_input(image, bands, meta["bands"])
    ny, nx = data.shape[1:]
    views = meta.get("views") or [{"bin": 1, "tile": meta.get("tile", 600), "overlap": meta.get("overlap", 100)}]
    classes = list(meta.get("classes", CATEGORIES))
    namer = namer_from_meta(meta) if use_namer else None
    all_b, all_s, all_l = [], [], []
    for view in views:
        factor = int(view.get("bin", 1))
        arr = bin_image(data, factor) if factor > 1 else data
        tile = view.get("tile")
        tile = None if tile is None else max(1, int(tile) // factor)
        overlap = int(view.get("overlap", 0)) // factor
        keep = set(view.get("categories") or classes)
        if isinstance(model, SegmentationDetector):
            cand = segmentation_candidates(model, arr, factor=factor, tile=tile, overlap=overlap,
                                           batch_size=batch_size, classes=classes, keep=keep)
            own = np.asarray([classes.index(cand.view_classes[int(v)]) + 1 for v in cand.labels], np.int64)
            if namer is not None and tile is None:
                b, s, lab = name_regions(namer, cand.prob, arr, cand.boxes, cand.labels, cand.scores,
                                         view_classes=cand.view_classes, classes=classes,
                                         threshold=model.threshold, scale=factor)
                b = b * factor
                if unnamed is not None:
                    unnamed.extend(_artifacts(cand.boxes * factor, cand.scores, own, classes, name, (ny, nx),
                                              threshold))
            else:
                b, s, lab = cand.boxes * factor, cand.scores, own
        else:
            b, s, lab, tiles = _box_view(model, arr, tile, overlap, batch_size)
            b, s, lab = merge_boxes(b, s, lab, tiles=tiles, shape=arr.shape[1:])
            b = b * factor
        sel = np.array([classes[int(v) - 1] in keep for v in lab], dtype=bool)
        if sel.sum() > max_boxes:
            sel[sel] = np.argsort(np.argsort(-s[sel], kind="stable"), kind="stable") < max_boxes
        all_b.append(b[sel] if len(b) else b)
        all_s.append(s[sel] if len(s) else s)
        all_l.append(lab[sel] if len(lab) else lab)
    b = np.concatenate(all_b) if all_b else np.zeros((0, 4))
    s = np.concatenate(all_s) if all_s else np.zeros(0)
    lab = np.concatenate(all_l) if all_l else np.zeros(0, np.int64)
    # One set of boxes: across views, and within a view a small region inside a larger one
    # of the same category (a hole's rim, a bright knot of a ghost) is the same artifact.
    b, s, lab = merge_boxes(b, s, lab)
    return _artifacts(b, s, lab, classes, name, (ny, nx), threshold)


def _artifacts(boxes, scores, labels, classes: list[str], name: str, shape: tuple[int, int],
               threshold: float) -> list[Artifact]:
    """Artifacts of boxes (full-image pixels, clipped to ``shape``) scoring at least
    ``threshold``, best first; ``labels`` index ``classes`` from 1."""
    ny, nx = shape
    out = []
    for box, score, label in zip(boxes, scores, labels):
        if score < threshold:
            continue
        x0, y0 = max(float(box[0]), 0.0), max(float(box[1]), 0.0)
        x1, y1 = min(float(box[2]), float(nx)), min(float(box[3]), float(ny))
        if x1 <= x0 or y1 <= y0:
            continue
        out.append(Artifact.from_box(name, x0, y0, x1, y1, score=min(max(score, 0.0), 1.0),
                                     category=classes[int(label) - 1]))
    out.sort(key=lambda a: -a.score)
    return out


#: Least longest side (pixels) of a box of these categories: real ghosts and scattered
#: light are hundreds to thousands of pixels across (DeepGhostBusters' regions: 5 % of them
#: have radii under ~850 CCD pixels), so a ghost box of a few binned pixels is the
#: network's noise (a galaxy, a star's halo), not a ghost.
MIN_SIDE_PX: dict[str, float] = {"ghost": 128.0}

def _off_mask(artifacts: list[Artifact], mask: np.ndarray, max_fraction: float = 0.3) -> list[Artifact]:
    """The artifacts whose box is less than ``max_fraction`` covered by ``mask`` (ny, nx)."""
    if not artifacts or not mask.any():
        return list(artifacts)
    ny, nx = mask.shape
    boxes = np.array([[a.xmin, a.ymin, a.xmax, a.ymax] for a in artifacts], np.float64)
    x0, y0 = np.clip(np.floor(boxes[:, :2]), 0, [nx - 1, ny - 1]).astype(np.int64).T
    x1 = np.clip(np.ceil(boxes[:, 2]), x0 + 1, nx).astype(np.int64)
    y1 = np.clip(np.ceil(boxes[:, 3]), y0 + 1, ny).astype(np.int64)
    fractions = tile_fractions(mask, np.stack([x0, y0, x1, y1], 1))
    return [a for a, f in zip(artifacts, fractions) if f < max_fraction]


#: What a blob found on it is a piece of: the tightly boxed finders' artifacts (tape bumps'
#: boxes are loose; trails' cover most of the CCD, so a blob is tested against a trail's
#: line instead). Not the network's ghosts, arcs and sprays: dropping the blobs on them
#: (their knots can be brighter in one band) took true blobs with them, measured worse.
_BLOB_HOSTS = frozenset({"cosmic-ray", "cross-talk", "dark-halo", "column-mask"})

#: Categories whose artifacts, at the model's threshold, make the brush strokes on them
#: their own streaks (a spray's rays, an arc's, a satellite the trail finder did not
#: report): measured on seeds 3 and 7, precision at 0.5 +0.01-0.02 and no true brush lost.
#: Not airplanes: the one true brush that would have gone lay on a false airplane.
_STREAK_HOSTS = frozenset({"bright-spray", "bright-arc", "satellite"})


#: A second name for a finder's artifacts, at a fraction of their score that keeps it
#: under the default threshold (0.5): the brush-stroke finder fires on a spray's faint
#: rays too (on 40 simulated sprays, seeds 500-539, it boxed 12 at IoU >= 0.5), and no
#: feature measured (length, spread of the strokes' angles) tells the two apart. On seeds
#: 3 and 7 the sprays' AR@100 rose 0.40 -> 0.52 and 0.23 -> 0.32; nothing changes at 0.5.
#: A trail is a satellite or an airplane by its dashes (:func:`~.trails.find_trails`),
#: which near their limits err both ways (on 48 images of seed 8 one airplane was a
#: satellite, one satellite an airplane, both boxed at IoU >= 0.96): each is reported under
#: the other name too (seed 8: AR@100 of airplanes 0.23 -> 0.47, of satellites 0.54 ->
#: 0.64; seeds 3, 7 and 999 unchanged).
SECOND_NAMES: dict[str, tuple[str, float]] = {"brush-strokes": ("bright-spray", 0.45),
                                               "satellite": ("airplane", 0.45),
                                               "airplane": ("satellite", 0.45)}


def _second_names(artifacts: list[Artifact], threshold: float) -> list[Artifact]:
    """``artifacts`` with, beside those of a category in :data:`SECOND_NAMES`, a copy under
    the second name at that fraction of the score (kept from ``threshold`` up; of a copy and
    an artifact of the second name overlapping, the better scored stays). Copies are made
    of the artifacts given, not of other copies."""
    copies: dict[str, list[Artifact]] = {}
    for a in artifacts:
        if a.category in SECOND_NAMES:
            second, fraction = SECOND_NAMES[a.category]
            copies.setdefault(second, []).append(replace(a, category=second, score=a.score * fraction))
    for second, found in copies.items():
        artifacts = _alongside(artifacts, found, second, threshold)
    return artifacts


def _off_trails(artifacts: list[Artifact], trails, reach: float = 40.0) -> list[Artifact]:
    """The ``artifacts`` whose centre lies farther than ``reach`` px, or three widths, from
    every trail's centre line (an airplane's wing lights run beside the line fitted)."""
    if not artifacts or not trails:
        return list(artifacts)
    c = np.array([[(a.xmin + a.xmax) / 2, (a.ymin + a.ymax) / 2] for a in artifacts], np.float64)
    near = np.zeros(len(artifacts), bool)
    for t in trails:
        p, q = np.array([t.x0, t.y0], np.float64), np.array([t.x1, t.y1], np.float64)
        d = q - p
        u = np.clip(((c - p) @ d) / max(float(d @ d), 1e-9), 0.0, 1.0)
        near |= np.hypot(*(c - p - u[:, None] * d).T) <= max(reach, 3.0 * t.width)
    return [a for a, n in zip(artifacts, near) if not n]


def _apart_from(artifacts: list[Artifact], others: list[Artifact], max_fraction: float = 0.3) -> list[Artifact]:
    """The ``artifacts`` sharing less than ``max_fraction`` of their box, or of the other's,
    with each of ``others``' boxes (a blob's box is wider than a cosmic ray's track)."""
    if not artifacts or not others:
        return list(artifacts)
    inter, area_a, area_o = box_intersections(np.array([x.box for x in artifacts], np.float64),
                                              np.array([x.box for x in others], np.float64))
    covered = (inter / np.maximum(np.minimum(area_a[:, None], area_o[None, :]), 1e-9)).max(axis=1)
    return [x for x, c in zip(artifacts, covered) if c < max_fraction]


#: A bright arc whose box lies this much inside a ghost's is most often that ghost's rim,
#: which the namer calls an arc: its score is multiplied by ``_RIM_FACTOR`` (stop 36: on
#: seeds 10, 14 and 8, the 3 arcs inside a ghost's box were all false, the 7 true ones
#: inside none).
_RIM_COVER, _RIM_FACTOR = 0.8, 0.3


def _rims_of_ghosts(artifacts: list[Artifact]) -> list[Artifact]:
    """``artifacts`` with each bright arc lying ``_RIM_COVER`` or more inside a ghost's box
    scored ``_RIM_FACTOR`` of its score (under the default threshold; still ranked)."""
    arcs = [k for k, a in enumerate(artifacts) if a.category == "bright-arc"]
    ghosts = [a.box for a in artifacts if a.category == "ghost"]
    if not arcs or not ghosts:
        return artifacts
    inter, area_arc, _ = box_intersections(np.array([artifacts[k].box for k in arcs], np.float64),
                                           np.array(ghosts, np.float64))
    inside = (inter / np.maximum(area_arc[:, None], 1e-9)).max(axis=1) >= _RIM_COVER
    out = list(artifacts)
    for k, rim in zip(arcs, inside):
        if rim:
            out[k] = replace(out[k], score=out[k].score * _RIM_FACTOR)
    return sorted(out, key=lambda a: -a.score)


def _in_place_of(artifacts: list[Artifact], found: list[Artifact], categories: str | tuple[str, ...],
                 threshold: float | None) -> list[Artifact]:
    """``artifacts`` with those of ``categories`` replaced by a finder's (``found``, at least
    ``threshold`` when given), best scores first."""
    categories = (categories,) if isinstance(categories, str) else tuple(categories)
    if threshold is not None:
        found = [a for a in found if a.score >= threshold]
    return sorted([a for a in artifacts if a.category not in categories] + found, key=lambda a: -a.score)


def _alongside(artifacts: list[Artifact], found: list[Artifact], category: str, threshold: float, *,
               found_box: bool = False) -> list[Artifact]:
    """``artifacts`` and a finder's ``found`` artifacts of ``category`` (at least
    ``threshold``) side by side; of one of the network's and one found overlapping (box IoU
    >= 0.5), the better scored (the found one on a tie). Used for the sprays found as fans
    of trails and the ghost discs, which find what the network does not, not all it does.

    With ``found_box``, a found artifact overlapping the network's takes their place with
    the best of their scores (the ghost discs: a fitted edge bounds the ghost better than
    the network's box)."""
    found = [a for a in found if a.score >= threshold]
    own = [a for a in artifacts if a.category == category]
    if not found or not own:
        return sorted(artifacts + found, key=lambda a: -a.score)
    overlap = box_iou([a.box for a in own], [a.box for a in found]) >= 0.5
    own_s = np.array([a.score for a in own])
    if found_box:
        best = np.where(overlap, own_s[:, None], 0.0).max(axis=0)
        found = [replace(f, score=float(b)) if b > f.score else f for f, b in zip(found, best)]
        kept = [a for a in artifacts if a.category != category] + [a for a, o in zip(own, overlap.any(axis=1))
                                                                    if not o]
        return sorted(kept + found, key=lambda a: -a.score)
    found_s = np.array([a.score for a in found])
    beaten = (overlap & (found_s[None, :] >= own_s[:, None])).any(axis=1)
    found_beaten = (overlap[~beaten] & (own_s[~beaten, None] > found_s[None, :])).any(axis=0)
    kept = [a for a in artifacts if a.category != category] + [a for a, b in zip(own, beaten) if not b]
    return sorted(kept + [f for f, b in zip(found, found_beaten) if not b], key=lambda a: -a.score)


#: Finders whose artifacts join the network's of their category instead of replacing them,
#: and whether a found box takes the place of the network's it overlaps (the ghost discs:
#: a fitted edge bounds a ghost better) or the better scored of the two stays (the arcs).
_ALONGSIDE = {"ghost_discs": True, "bright_arcs": False}


def _edge_bleeds_of_network(named: list[Artifact], unnamed: list[Artifact], exposure: Exposure,
                            threshold: float) -> list[Artifact]:
    """``named`` (the namer's artifacts) with the edge bleeds found among the network's own
    regions (``unnamed``) in place of the namer's edge bleeds and of its names for those
    regions.

    Whether a region is an edge bleed is read from the mask and the sky along the readout
    edge (:func:`~spacejunk.predict.edge_bleeds.relabel_edge_bleeds`), which the namer does
    not see; it keeps the network's score, which the namer, seeing a glow on an edge,
    often puts under ``none``.
    """
    pairs = [(u, r) for u, r in zip(unnamed, relabel_edge_bleeds(unnamed, exposure))
             if r is not u and r.category == "edge-bleed" and r.score >= threshold]
    if not pairs:
        return named
    regions = [u.box for u, _ in pairs]
    bleeds = [r for _, r in pairs]
    keep = [a for a in named if a.category != "edge-bleed"]
    if keep:
        overlap = box_iou([a.box for a in keep], regions).max(axis=1)
        keep = [a for a, o in zip(keep, overlap) if o < 0.5]
    return sorted(keep + bleeds, key=lambda a: -a.score)


def drop_flagged(artifacts: list[Artifact], exposure: Exposure, *, bits: int = FLAGGED_BITS,
                 max_fraction: float = 0.5) -> list[Artifact]:
    """The artifacts whose box is less than ``max_fraction`` covered by pixels flagged with ``bits``.

    A pixel counts as flagged when any band's ``MSK`` has one of ``bits``. Bleed trails that
    DESDM replaced by the sky are flat, noiseless stripes, which the shipped detector takes
    for dark halos; DESDM masks them already.
    """
    if not artifacts or exposure.msk is None:
        return list(artifacts)
    flagged = exposure.combined_mask & bits != 0
    return _off_mask(artifacts, flagged, max_fraction)


def detect_exposure(
    exposure: Exposure,
    *,
    model: nn.Module | str | Path | None = None,
    meta: dict | None = None,
    threshold: float | None = None,
    batch_size: int = 2,
    trails=None,
    found: dict[str, list[Artifact]] | None = None,
) -> list[Artifact]:
    """Artifacts in one image, with the shipped detector by default.

    Parameters
    ----------
    exposure : Exposure
        The image, in any subset of the model's bands.
    model : torch.nn.Module or path, optional
        A detector (with its ``meta``) or a checkpoint path; default the shipped
        ``spacejunk/weights/detector.pt``, loaded once and cached.
    meta : dict, optional
        The model's metadata; needed when ``model`` is a module.
    threshold : float, optional
        Least score kept (default: the model's ``meta["threshold"]``).
    batch_size : int, optional
        Tiles per forward pass.
    trails : list of Trail or False, optional
        Straight trails of the image (:func:`spacejunk.predict.trails.find_trails`), or
        False for none; default: found here when the model asks for them
        (``meta["trails"]``). They are reported as satellites (airplanes when dashed), in
        place of the network's satellites and airplanes.
    found : dict of str to list of Artifact, optional
        What the other finders the model asks for (:data:`spacejunk.predict.finders.FINDERS`:
        ``meta["cosmic_rays"]``, ``meta["cross_talk"]``, ``meta["dark_halos"]``, ...)
        found, by key; those missing are run here. Each is reported in place of the
        network's artifacts of its category: the brush strokes less those along a trail
        or on a spray, an arc or a satellite reported at the model's threshold, the odd
        blobs less those beside a trail or on a cosmic ray, cross-talk copy, dark halo or
        bad column found; the ghost discs beside the network's ghosts (of two overlapping,
        the disc's box with the better of their scores). Each brush stroke is reported a
        second time as a bright spray at 0.45 of its score, and each satellite as an airplane
        and each airplane as a satellite (:data:`SECOND_NAMES`).

    Returns
    -------
    list of Artifact
        Possibly empty, with a :class:`~spacejunk.NoArtifactsWarning`.
    """
    from ..train.datasets import Normalisation

    if not isinstance(exposure, Exposure):
        raise TypeError(f"exposure must be an Exposure, got {type(exposure).__name__}")
    if model is None or isinstance(model, (str, Path)):
        model, meta = load_detector(model)
    elif meta is None:
        raise ValueError("meta is needed with a model module (see load_detector)")
    known = [b for b in exposure.bands if b in meta["bands"]]
    if not known:
        raise ValueError(f"image {exposure.name!r} has bands {list(exposure.bands)}, none known to the model "
                         f"({meta['bands']})")
    exposure = exposure.select(known)
    if threshold is None:  # the finders' artifacts too are kept from the model's threshold up
        threshold = float(meta.get("threshold", 0.5))
    image = Normalisation.from_dict(meta.get("normalisation")).apply(exposure)
    unnamed: list[Artifact] = []
    arts = detect_array(image, bands=exposure.bands, model=model, meta=meta, threshold=threshold,
                        name=exposure.name, batch_size=batch_size, unnamed=unnamed)
    arts = relabel_edge_bleeds(drop_flagged(arts, exposure), exposure)
    if unnamed:
        arts = _edge_bleeds_of_network(arts, drop_flagged(unnamed, exposure), exposure, threshold)
    arts = [a for a in arts if max(a.xmax - a.xmin, a.ymax - a.ymin) >= MIN_SIDE_PX.get(a.category, 0)]
    trails, min_sigma = trails_for_meta(exposure, meta, trails)
    if trails:
        # rays pointing back to one place are a bright spray's, not satellites
        single, fans = split_fans(trails, settings_from_meta(meta))
        lines = trails_to_artifacts(single, name=exposure.name, shape=exposure.shape, min_sigma=min_sigma)
        # the network's regions lying on a trail are pieces of it under another name
        arts = _in_place_of(_off_mask(arts, trail_mask(trails, exposure.shape)), lines, ("satellite", "airplane"),
                            threshold)
        arts = _alongside(arts, fans_to_artifacts(fans, name=exposure.name, shape=exposure.shape,
                                                  min_sigma=min_sigma), "bright-spray", threshold)
    for key, found_here in run_finders(exposure, meta, found).items():
        if key in ("brush_strokes", "blobs"):  # streaks along a trail are the trail (or a
            # spray's rays), blobs beside one an airplane's lights
            found_here = _off_trails(found_here, trails or [])
        if key == "brush_strokes":  # hosts at the model's own threshold, whatever is asked for
            sure = max(threshold, float(meta.get("threshold", 0.5)))
            found_here = _apart_from(found_here, [a for a in arts if a.category in _STREAK_HOSTS and a.score >= sure])
        if key == "blobs":  # last in FINDERS: one on another finder's artifact is a piece of that
            found_here = _apart_from(found_here, [a for a in arts if a.category in _BLOB_HOSTS])
            # and blobs lined up across the CCD are the lights of an airplane the trails missed
            rows, found_here = lights_in_a_row(found_here, exposure.shape)
            arts = _alongside(arts, rows, "airplane", threshold)
        if key in _ALONGSIDE:
            arts = _alongside(arts, found_here, FINDERS[key][0], threshold, found_box=_ALONGSIDE[key])
        else:
            arts = _in_place_of(arts, found_here, FINDERS[key][0], threshold)
    arts = _second_names(_rims_of_ghosts(arts), threshold)
    if not arts:
        warnings.warn(f"no artifact found in {exposure.name}", NoArtifactsWarning, stacklevel=2)
    return arts

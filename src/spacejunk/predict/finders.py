"""The finders a checkpoint can ask for, and what they give the tile classifier.

A *finder* looks for one kind of artifact from its physics, not from training: cosmic
rays DESDM missed (:mod:`.cosmic_rays`), amplifier cross-talk (:mod:`.cross_talk`), dark
halos (:mod:`.dark_halos`), unflagged bad columns (:mod:`.column_masks`), tape bumps
(:mod:`.tape_bumps`), faint ghost discs larger than the CCD (:mod:`.ghost_discs`), bright
arcs (:mod:`.bright_arcs`), light
left after the sky's subtraction (:mod:`.sky_excess`), brush
strokes (:mod:`.brush_strokes`), glows along a readout edge where a bleed trail reaches it
(:mod:`.edge_bleeds`) and blobs in one band only or darker than the sky (:mod:`.blobs`);
straight trails (:mod:`.trails`) have their own module, as their pixels (not only their
box) matter. A checkpoint asks for a finder by a key of its
metadata holding the finder's settings (``meta["dark_halos"] = {...}``); the detector
reports what a finder finds in place of the network's artifacts of that category (the
ghost discs and the bright arcs beside the network's), and
the classifier scores each tile at least as high as the finders' artifacts covering it.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from typing import Any, Callable

import numpy as np

from ..io.artifact import Artifact
from ..io.exposure import Exposure
from ..stitch import box_intersections
from .blobs import BlobSettings, find_blobs
from .bright_arcs import BrightArcSettings, find_bright_arcs
from .brush_strokes import BrushStrokeSettings, find_brush_strokes
from .column_masks import ColumnMaskSettings, find_column_masks
from .cosmic_rays import CosmicRaySettings, find_cosmic_rays
from .cross_talk import CrossTalkSettings, find_cross_talk
from .dark_halos import DarkHaloSettings, find_dark_halos
from .edge_bleeds import EdgeBleedFinderSettings, find_edge_bleeds
from .ghost_discs import GhostDiscSettings, find_ghost_discs
from .sky_excess import SkyExcessSettings, find_sky_excess
from .tape_bumps import TapeBumpSettings, find_tape_bumps

__all__ = ["FINDERS", "DETECTOR_FINDERS", "finder_keys", "default_finder_settings", "finder_meta", "run_finders",
           "in_threads", "box_tile_scores", "finder_tile_scores", "record_finder_scores", "record_exposure",
           "uses_finders"]

#: Metadata key -> (category reported, finder, its settings class); the detector relies on
#: the odd blobs coming last (it drops those on the others' artifacts).
FINDERS: dict[str, tuple[str, Callable[..., list[Artifact]], type]] = {
    "cosmic_rays": ("cosmic-ray", find_cosmic_rays, CosmicRaySettings),
    "cross_talk": ("cross-talk", find_cross_talk, CrossTalkSettings),
    "dark_halos": ("dark-halo", find_dark_halos, DarkHaloSettings),
    "column_masks": ("column-mask", find_column_masks, ColumnMaskSettings),
    "tape_bumps": ("tape-bump", find_tape_bumps, TapeBumpSettings),
    "ghost_discs": ("ghost", find_ghost_discs, GhostDiscSettings),
    "brush_strokes": ("brush-strokes", find_brush_strokes, BrushStrokeSettings),
    "bright_arcs": ("bright-arc", find_bright_arcs, BrightArcSettings),
    "edge_bleeds": ("edge-bleed", find_edge_bleeds, EdgeBleedFinderSettings),
    "sky_excess": ("ghost", find_sky_excess, SkyExcessSettings),
    "blobs": ("other", find_blobs, BlobSettings),
}

#: The finders a detector asks for: all but the edge bleeds, which its network finds (and
#: :func:`~spacejunk.predict.edge_bleeds.relabel_edge_bleeds` names) itself, and the light
#: left after the sky's subtraction (measured for the tile classifier only, stop 35).
DETECTOR_FINDERS: tuple[str, ...] = tuple(key for key in FINDERS if key not in ("edge_bleeds", "sky_excess"))


def finder_keys(meta: dict) -> list[str]:
    """The finders ``meta`` asks for (keys of :data:`FINDERS` it holds settings for)."""
    return [key for key in FINDERS if meta.get(key) not in (None, False)]


def default_finder_settings(keys=None) -> dict[str, dict]:
    """``{key: default settings}`` for a checkpoint's metadata (all finders by default)."""
    return {key: asdict(FINDERS[key][2]()) for key in (FINDERS if keys is None else keys)}


def finder_meta(*, trails: bool = True, keys=None) -> dict:
    """The finders' part of a checkpoint's metadata: ``meta["trails"]`` and one entry per
    finder of :data:`FINDERS`, the default settings of those asked for (``keys``, all by
    default) and None for the others (a checkpoint updated with it forgets old ones)."""
    from .trails import TrailSettings

    asked = default_finder_settings(keys)
    return {"trails": asdict(TrailSettings()) if trails else None, **{key: asked.get(key) for key in FINDERS}}


def run_finders(exposure: Exposure, meta: dict, found: dict[str, list[Artifact]] | None = None, *,
                workers: int | None = None) -> dict[str, list[Artifact]]:
    """``{key: artifacts}`` of every finder ``meta`` asks for; those already in ``found`` are
    not run again (the pipeline runs them once for both models).

    The finders run side by side on ``workers`` threads (:func:`in_threads`)."""
    keys = finder_keys(meta)
    todo = [key for key in keys if found is None or key not in found]

    def task(key: str) -> Callable[[], list[Artifact]]:
        _, finder, config = FINDERS[key]
        cfg = meta[key]
        return lambda: finder(exposure, config(**(cfg if isinstance(cfg, dict) else {})))

    done = dict(zip(todo, in_threads([task(key) for key in todo], workers, exposure=exposure)))
    return {key: done[key] if key in done else found[key] for key in keys}


def in_threads(tasks: list[Callable[[], Any]], workers: int | None = None, *, exposure: Exposure | None = None
               ) -> list:
    """The results of ``tasks`` (functions of no argument), in order, run side by side on up
    to ``workers`` threads (default: the CPU cores the process may use, :func:`_cores`). The
    finders are numpy and scipy work that leaves Python's lock, and one alone keeps a single
    core busy. With ``exposure``, its bands' sky and noise are measured first, once, for all
    the tasks."""
    if exposure is not None:
        for b in range(len(exposure.bands)):
            exposure.sky_noise(b)
    n = min(len(tasks), workers or _cores())
    if n <= 1:
        return [task() for task in tasks]
    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(lambda task: task(), tasks))


def _cores() -> int:
    """CPU cores this process may use (its affinity where the system tells it), at most
    ``OMP_NUM_THREADS`` where that is set (``spacejunk detect --workers`` sets it for each
    of its processes)."""
    try:
        cores = max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    limit = os.environ.get("OMP_NUM_THREADS", "")
    return min(cores, int(limit)) if limit.isdigit() and int(limit) > 0 else cores


def box_tile_scores(artifacts: list[Artifact], grid: np.ndarray, *, min_fraction: float) -> np.ndarray:
    """Score of each tile ``(x0, y0, x1, y1)`` of ``grid`` from the artifact boxes covering it.

    A box covers a tile when their overlap is at least ``min_fraction`` of the tile or half
    of the box (a cosmic ray is smaller than ``min_fraction`` of a tile); an artifact that
    knows its pixels (a ``tile_fractions(grid)`` method, as the ghost discs'
    :class:`~spacejunk.predict.ghost_discs.DiscArtifact` and the brush strokes' and edge
    bleeds' :class:`~spacejunk.predict.marked.MarkedArtifact`) covers the tiles it fills at least
    ``min_fraction`` of. The tile scores the best such artifact's score, 0 without one.
    """
    grid = np.asarray(grid, np.float64).reshape(-1, 4)
    out = np.zeros(len(grid), np.float32)
    if not artifacts:
        return out
    overlap, area, box_area = box_intersections(grid, np.array([a.box for a in artifacts], np.float64))
    box_area = np.maximum(box_area, 1e-9)
    hit = (overlap > 0) & ((overlap >= min_fraction * area[:, None]) | (overlap >= 0.5 * box_area[None, :]))
    for k, a in enumerate(artifacts):
        if hasattr(a, "tile_fractions"):
            hit[:, k] = a.tile_fractions(grid) >= min_fraction
    scores = np.array([a.score for a in artifacts], np.float32)
    return np.where(hit, scores[None, :], np.float32(0)).max(axis=1).astype(np.float32)


def finder_tile_scores(exposure: Exposure, grid: np.ndarray, meta: dict, *, min_fraction: float, trails=None,
                       found: dict[str, list[Artifact]] | None = None) -> np.ndarray:
    """The score the finders ``meta`` asks for give each tile ``(x0, y0, x1, y1)`` of ``grid``
    (0 where none covers it): a trail's score where it covers ``min_fraction`` of the tile
    (:func:`~spacejunk.predict.trails.trail_tile_scores`), an artifact's where its box covers
    the tile (:func:`box_tile_scores`).

    ``trails`` are the image's trails (False for none; default: found here when ``meta``
    asks for them); ``found`` what the other finders found already (see :func:`run_finders`).
    """
    from .trails import settings_from_meta, trail_tile_scores, trails_for_meta

    scores = np.zeros(len(np.asarray(grid).reshape(-1, 4)), np.float32)
    (trails, min_sigma), found = in_threads([lambda: trails_for_meta(exposure, meta, trails),
                                             lambda: run_finders(exposure, meta, found)], exposure=exposure)
    if trails:
        scores = trail_tile_scores(trails, grid, exposure.shape, min_fraction=min_fraction, min_sigma=min_sigma,
                                   settings=settings_from_meta(meta))
    for artifacts in found.values():
        scores = np.maximum(scores, box_tile_scores(artifacts, grid, min_fraction=min_fraction))
    return scores


def uses_finders(meta: dict) -> bool:
    """Whether ``meta`` asks for the trail finder or any other."""
    from .trails import settings_from_meta

    return settings_from_meta(meta) is not None or bool(finder_keys(meta))


def record_exposure(record, bands) -> Exposure | None:
    """The exposure of an image of a data folder (a :class:`~spacejunk.train.datasets.ImageRecord`,
    which holds normalised bands only), read again from its files, in ``bands``; None for an
    image without files."""
    from ..io.exposure import find_images, read_exposure

    if record.path is None:
        return None
    exposure = read_exposure(find_images(record.path.parent)[record.name])
    return exposure.select([b for b in bands if b in exposure.bands])


def record_finder_scores(record, bands, grid: np.ndarray, meta: dict, *, min_fraction: float,
                         exposure: Exposure | None = None, found: dict[str, list[Artifact]] | None = None
                         ) -> np.ndarray | None:
    """:func:`finder_tile_scores` of an image of a data folder (its ``exposure`` when already
    read, else :func:`record_exposure`; ``found`` as there). None for an image without files or a
    ``meta`` asking for no finder."""
    if not uses_finders(meta):
        return None
    exposure = exposure if exposure is not None else record_exposure(record, bands)
    if exposure is None:
        return None
    return finder_tile_scores(exposure, grid, meta, min_fraction=min_fraction, found=found)

"""Ray fans and bright ghosts in a focal-plane picture, found where dark and bright strokes crowd.

Scattered-light rays show in a focal-plane picture (each CCD background-subtracted on its
own, then binned ~70x) as fans of thin parallel streaks, bright and dark side by side, a
few pixels apart; the small bright ghosts beside bright stars as rings with a dark hole.
Resized to the segmentation network's 128 x 128 input, the streaks average out to a
flat grey, so the network misses most of them (``docs/focal-plane.md``). At the
picture's own resolution they are the one place where strong dark *and* strong bright
pixels crowd together: the sky is noise, a star is a bright blob, a satellite trail a
single bright line, a gap between CCDs is left out.

So the finder:

1. high-passes the picture in the 400 x 400 frame of the DeepGhostBusters pictures, as
   the pupil-ghost finder does (:func:`spacejunk.predict.pupil_ghost.contrast_image`: each
   CCD's level off, minus a 15-px running median, in robust sigmas, gaps left out);
2. counts, in a ``window`` x ``window`` box around every pixel, the share of CCD pixels
   darker than ``-level`` sigma and the share brighter than ``+level`` sigma; the
   *stroke density* is the smaller of the two (both must crowd);
3. marks where the density is at least ``density`` (:func:`calibrate_density` sets it on
   annotated pictures), closes the marks by ``closing`` px and fills their holes (people
   draw outlines around a fan, not its streaks), and drops marks smaller than ``min_area``
   of the picture (specks where a few noise pixels crowd).

What it marks is raised to the probability ``probability`` in the focal-plane model's
map, the category taken from the network (:func:`spacejunk.focal_plane.with_strokes`).
Bright stars with haloes are marked too (their core is bright, the running median leaves
a dark moat); the model's least region and the network's categories do not remove them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np
from scipy import ndimage

from .pupil_ghost import contrast_image

__all__ = ["StrokeSettings", "stroke_density", "stroke_regions", "calibrate_density", "settings_from_meta"]


@dataclass(frozen=True)
class StrokeSettings:
    """Settings of the stroke finder, in pixels of the 400 x 400 frame.

    Attributes
    ----------
    window : int
        Side of the box the strokes are counted in (default 15, the running median's side).
    level : float
        A stroke pixel is at least this many robust sigmas dark or bright (default 2).
    density : float
        Least stroke density (the smaller of the dark and the bright shares of the box)
        marked (default 0.05, what :func:`calibrate_density` gives on the 20
        DeepGhostBusters pictures).
    closing : int
        The marks are closed by this many px, then their holes filled (default 3).
    min_area : float
        Marks smaller than this share of the picture are dropped (default 0.002, the
        focal-plane model's least region).
    min_coverage : float
        Boxes less than this share on CCDs count no strokes (default 0.2: the picture's
        edge and the gaps).
    probability : float
        Probability of an artifact given to the marked pixels (default 0.9).
    """

    window: int = 15
    level: float = 2.0
    density: float = 0.05
    closing: int = 3
    min_area: float = 0.002
    min_coverage: float = 0.2
    probability: float = 0.9

    def __post_init__(self):
        if self.window < 1 or self.closing < 0 or self.level <= 0:
            raise ValueError("window must be >= 1, closing >= 0 and level > 0")
        if not 0.0 <= self.density <= 1.0 or not 0.0 <= self.probability <= 1.0:
            raise ValueError(f"density and probability must be in [0, 1], got {self.density}, {self.probability}")


def stroke_density(image: np.ndarray, settings: StrokeSettings = StrokeSettings(), *,
                   contrast: np.ndarray | None = None) -> np.ndarray:
    """Steps 1-2: the stroke density of every pixel of the 400 x 400 frame (0 off the CCDs' reach).

    ``contrast`` is the picture's :func:`~spacejunk.predict.pupil_ghost.contrast_image`, if
    already made for the pupil-ghost finder; made here otherwise.
    """
    s = settings
    z = contrast_image(image) if contrast is None else contrast
    on = np.isfinite(z)
    z = np.where(on, z, 0.0)
    cover = ndimage.uniform_filter(on.astype(float), s.window)
    dark = ndimage.uniform_filter((z <= -s.level).astype(float), s.window)
    bright = ndimage.uniform_filter((z >= s.level).astype(float), s.window)
    density = np.minimum(dark, bright) / np.maximum(cover, 1e-6)
    return np.where(cover >= s.min_coverage, density, 0.0)


def _marks(density: np.ndarray, level: float, s: StrokeSettings) -> np.ndarray:
    marked = density >= level
    if s.closing:
        marked = ndimage.binary_closing(marked, iterations=s.closing)
    marked = ndimage.binary_fill_holes(marked)
    labels, n = ndimage.label(marked, structure=np.ones((3, 3), dtype=bool))
    kept = np.bincount(labels.ravel(), minlength=n + 1) >= s.min_area * marked.size
    kept[0] = False
    return kept[labels]


def _to_shape(marks: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    if tuple(shape) == marks.shape:
        return marks
    return ndimage.zoom(marks.astype(np.uint8), (shape[0] / marks.shape[0], shape[1] / marks.shape[1]),
                        order=0).astype(bool)


def stroke_regions(image: np.ndarray, settings: StrokeSettings = StrokeSettings(), *,
                   contrast: np.ndarray | None = None) -> np.ndarray:
    """bool mask, the picture's size, of where strokes crowd (the module's steps 1-3).

    Parameters
    ----------
    image : numpy.ndarray
        ``(n_channels, ny, nx)`` or ``(ny, nx)`` focal-plane picture.
    settings : StrokeSettings, optional
    contrast : numpy.ndarray, optional
        The picture's high-passed copy, as :func:`stroke_density` takes it.
    """
    marks = _marks(stroke_density(image, settings, contrast=contrast), settings.density, settings)
    return _to_shape(marks, np.shape(image)[-2:])


def calibrate_density(images: Sequence[np.ndarray], references: Sequence[np.ndarray], *,
                      also: Sequence[np.ndarray | None] | None = None,
                      contrasts: Sequence[np.ndarray | None] | None = None,
                      settings: StrokeSettings = StrokeSettings(),
                      candidates: Sequence[float] = (0.03, 0.04, 0.05, 0.06, 0.08, 0.10, 0.12, 0.15)
                      ) -> StrokeSettings:
    """``settings`` with the density threshold that fits annotated pictures best.

    The threshold is the candidate whose marks, joined with ``also`` (e.g. the disc of
    each picture's pupil ghost, or None), have the highest mean pixel IoU against the
    ``references`` (bool masks, the pictures' sizes). ``contrasts`` are the pictures'
    high-passed copies if already made (see :func:`stroke_density`). With no picture,
    ``settings``.
    """
    if not images:
        return settings
    also = list(also) if also is not None else [None] * len(images)
    contrasts = list(contrasts) if contrasts is not None else [None] * len(images)
    densities = [stroke_density(im, settings, contrast=z) for im, z in zip(images, contrasts)]
    means = []
    for level in candidates:
        ious = []
        for dens, ref, extra in zip(densities, references, also):
            ref = np.asarray(ref, dtype=bool)
            pred = _to_shape(_marks(dens, level, settings), ref.shape)
            if extra is not None:
                pred = pred | extra
            union = (pred | ref).sum()
            ious.append((pred & ref).sum() / union if union else 1.0)
        means.append(float(np.mean(ious)))
    return replace(settings, density=float(candidates[int(np.argmax(means))]))


def settings_from_meta(meta: dict) -> StrokeSettings | None:
    """The stroke settings a focal-plane checkpoint records (``meta["strokes"]``), or None."""
    cfg = meta.get("strokes")
    return StrokeSettings(**cfg) if cfg else None

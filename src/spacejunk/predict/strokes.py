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
3. marks where the density is at least ``density``, closes the marks by ``closing`` px and
   fills their holes (people draw outlines around a fan, not its streaks), and drops marks
   smaller than ``min_area`` of the picture (specks where a few noise pixels crowd, and the
   dark moats round bright stars, which are small);
4. stretches each mark ``extend`` px both ways along its streaks (their direction from the
   structure tensor of the high-passed picture over the mark), within the camera's outline:
   people draw a fan as a wedge that runs on along its streaks past where they are strong.
   A mark lying at least half inside the disc of a pupil ghost (``disc``) is the ghost's own
   rim or spider shadow, not a fan, and is not stretched.

:func:`calibrate_stroke_settings` sets ``density``, ``min_area`` and ``extend`` on annotated pictures.

What it marks is raised to the probability ``probability`` in the focal-plane model's
map, the category taken from the network (:func:`spacejunk.focal_plane.with_strokes`).
Bright stars with haloes are marked too (their core is bright, the running median leaves
a dark moat) unless the mark is under ``min_area``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np
from scipy import ndimage

from ..evaluate.segmentation import pixel_iou
from .pupil_ghost import camera_outline, contrast_image

__all__ = ["StrokeSettings", "stroke_density", "stroke_regions", "calibrate_stroke_settings", "settings_from_meta"]


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
        marked (default 0.08, what :func:`calibrate_stroke_settings` gives on the 20
        DeepGhostBusters pictures).
    closing : int
        The marks are closed by this many px, then their holes filled (default 3).
    min_area : float
        Marks smaller than this share of the picture are dropped (default 0.004, what
        :func:`calibrate_stroke_settings` gives on the 20 DeepGhostBusters pictures; 0.002 is the
        focal-plane model's least region).
    extend : int
        Each mark is stretched this many px both ways along its streaks (default 24, what
        :func:`calibrate_stroke_settings` gives on the 20 pictures; 0: not at all).
    min_coverage : float
        Boxes less than this share on CCDs count no strokes (default 0.2: the picture's
        edge and the gaps).
    probability : float
        Probability of an artifact given to the marked pixels (default 0.9).
    """

    window: int = 15
    level: float = 2.0
    density: float = 0.08
    closing: int = 3
    min_area: float = 0.004
    extend: int = 24
    min_coverage: float = 0.2
    probability: float = 0.9

    def __post_init__(self):
        if self.window < 1 or self.closing < 0 or self.extend < 0 or self.level <= 0:
            raise ValueError("window must be >= 1, closing and extend >= 0 and level > 0")
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


def _components(density: np.ndarray, level: float, s: StrokeSettings) -> tuple[np.ndarray, np.ndarray]:
    """Step 3 before the size cut: the closed, filled marks labelled, and each one's area."""
    marked = density >= level
    if s.closing:
        marked = ndimage.binary_closing(marked, iterations=s.closing)
    marked = ndimage.binary_fill_holes(marked)
    labels, n = ndimage.label(marked, structure=np.ones((3, 3), dtype=bool))
    return labels, np.bincount(labels.ravel(), minlength=n + 1)


def _line(theta: float, half: int) -> np.ndarray:
    """The ``(dy, dx)`` offsets of a 1-px line of ``2 half + 1`` px through 0 at angle ``theta`` (radians from +x)."""
    t = np.arange(-half, half + 1)
    return np.unique(np.stack([np.rint(t * np.sin(theta)), np.rint(t * np.cos(theta))], 1).astype(int), axis=0)


def _gradients(contrast: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    z = np.nan_to_num(contrast)
    return ndimage.gaussian_filter(z, 1.0, order=(0, 1)), ndimage.gaussian_filter(z, 1.0, order=(1, 0))


def _stretched(mark: np.ndarray, gradients: tuple[np.ndarray, np.ndarray], half: int) -> np.ndarray:
    """Step 4 for one mark (bool, the frame's size): stretched ``half`` px both ways along its streaks."""
    gx, gy = gradients[0][mark], gradients[1][mark]
    # the streaks run across the mean gradient direction (structure tensor's main axis + 90 degrees)
    theta = 0.5 * np.arctan2(2.0 * (gx * gy).sum(), (gx ** 2).sum() - (gy ** 2).sum()) + np.pi / 2
    # dilation by the line: the mark's pixels shifted by each of its offsets, on a canvas padded by ``half``
    ys, xs = np.nonzero(mark)
    ny, nx = mark.shape
    canvas = np.zeros((ny + 2 * half, nx + 2 * half), dtype=bool)
    for dy, dx in _line(theta, half):
        canvas[ys + half + dy, xs + half + dx] = True
    return canvas[half:half + ny, half:half + nx]


def _in_frame(mask: np.ndarray | None, shape: tuple[int, int]) -> np.ndarray | None:
    """A bool mask of the picture's size resampled to the frame's ``shape`` (None stays None)."""
    return None if mask is None else _to_shape(np.asarray(mask, dtype=bool), shape)


def _placed(mark: np.ndarray, gradients: tuple[np.ndarray, np.ndarray], extend: int,
            disc: np.ndarray | None) -> np.ndarray:
    """Step 4 for one mark: stretched within the camera's outline, unless at least half of it
    lies inside the pupil ghost's ``disc`` (the ghost's own strokes) or ``extend`` is 0."""
    if not extend or (disc is not None and (mark & disc).sum() >= 0.5 * mark.sum()):
        return mark
    return _stretched(mark, gradients, extend) & camera_outline()


def _marks(density: np.ndarray, level: float, s: StrokeSettings, contrast: np.ndarray,
           disc: np.ndarray | None = None) -> np.ndarray:
    labels, areas = _components(density, level, s)
    kept = np.flatnonzero(areas >= s.min_area * labels.size)
    kept = kept[kept > 0]
    if not s.extend:
        return np.isin(labels, kept)
    gradients, disc = _gradients(contrast), _in_frame(disc, labels.shape)
    out = np.zeros(labels.shape, dtype=bool)
    for k in kept:
        out |= _placed(labels == k, gradients, s.extend, disc)
    return out


def _to_shape(marks: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    if tuple(shape) == marks.shape:
        return marks
    return ndimage.zoom(marks.astype(np.uint8), (shape[0] / marks.shape[0], shape[1] / marks.shape[1]),
                        order=0).astype(bool)


def stroke_regions(image: np.ndarray, settings: StrokeSettings = StrokeSettings(), *,
                   contrast: np.ndarray | None = None, disc: np.ndarray | None = None) -> np.ndarray:
    """bool mask, the picture's size, of where strokes crowd (the module's steps 1-4).

    Parameters
    ----------
    image : numpy.ndarray
        ``(n_channels, ny, nx)`` or ``(ny, nx)`` focal-plane picture.
    settings : StrokeSettings, optional
    contrast : numpy.ndarray, optional
        The picture's high-passed copy, as :func:`stroke_density` takes it.
    disc : numpy.ndarray, optional
        bool mask, the picture's size, of the pupil ghost's disc: marks at least half
        inside it are not stretched.
    """
    z = contrast_image(image) if contrast is None else contrast
    marks = _marks(stroke_density(image, settings, contrast=z), settings.density, settings, z, disc)
    return _to_shape(marks, np.shape(image)[-2:])


def calibrate_stroke_settings(images: Sequence[np.ndarray], references: Sequence[np.ndarray], *,
                              also: Sequence[np.ndarray | None] | None = None,
                              contrasts: Sequence[np.ndarray | None] | None = None,
                              settings: StrokeSettings = StrokeSettings(),
                              densities: Sequence[float] = (0.03, 0.04, 0.05, 0.06, 0.08, 0.10, 0.12, 0.15),
                              min_areas: Sequence[float] = (0.002, 0.004, 0.006),
                              extends: Sequence[int] = (0, 8, 16, 24, 32)) -> StrokeSettings:
    """``settings`` with the density threshold, least mark and stretch that fit annotated pictures best.

    The best of every combination of ``densities``, ``min_areas`` and ``extends`` is the
    one whose marks, joined with ``also`` (the disc of each picture's pupil ghost, or None;
    marks at least half inside it are not stretched, as in :func:`stroke_regions`), have
    the highest mean pixel IoU against the ``references`` (bool masks, the pictures'
    sizes); the first best in the order given wins a tie. ``contrasts`` are the
    pictures' high-passed copies if already made (see :func:`stroke_density`). With no
    picture, ``settings``.
    """
    if not images:
        return settings
    also = list(also) if also is not None else [None] * len(images)
    contrasts = [contrast_image(im) if z is None else z
                 for im, z in zip(images, contrasts if contrasts is not None else [None] * len(images))]
    ious = np.zeros((len(images), len(densities), len(min_areas), len(extends)))
    for i, (im, z, ref, extra) in enumerate(zip(images, contrasts, references, also)):
        ref = np.asarray(ref, dtype=bool)
        dens, gradients = stroke_density(im, settings, contrast=z), _gradients(z)
        for di, d in enumerate(densities):
            labels, areas = _components(dens, d, settings)
            disc = _in_frame(extra, labels.shape)
            big = [k for k in range(1, len(areas)) if areas[k] >= min(min_areas) * labels.size]
            for ei, e in enumerate(extends):
                placed = {k: _placed(labels == k, gradients, e, disc) for k in big}
                for ai, a in enumerate(min_areas):
                    pred = np.zeros(labels.shape, dtype=bool)
                    for k in big:
                        if areas[k] >= a * labels.size:
                            pred |= placed[k]
                    pred = _to_shape(pred, ref.shape)
                    ious[i, di, ai, ei] = pixel_iou(pred if extra is None else pred | extra, ref)
    di, ai, ei = np.unravel_index(int(np.argmax(ious.mean(axis=0))), ious.shape[1:])
    return replace(settings, density=float(densities[di]), min_area=float(min_areas[ai]), extend=int(extends[ei]))


def settings_from_meta(meta: dict) -> StrokeSettings | None:
    """The stroke settings a focal-plane checkpoint records (``meta["strokes"]``), or None.

    A checkpoint from before the stretch (no ``extend``) keeps its marks unstretched.
    """
    cfg = meta.get("strokes")
    return StrokeSettings(**{"extend": 0, **cfg}) if cfg else None

"""Bright arcs: scattered light along part of a ring, faint per pixel, plain once binned.

A bright arc is light scattered from a star off the CCD along part of a ring hundreds to
thousands of pixels across: a band a few to a hundred and fifty pixels thick, bent, over
tens of degrees of the ring. The detector's network rarely finds one as a region (its
binned view gives the arcs of the simulated test sets probabilities under 0.2), but the
sky left after stars are masked shows it plainly. So:

1. the sky of the bands, sources masked, in ``bin`` x ``bin`` blocks less a smooth surface,
   smoothed by ``smooth`` blocks, in units of its own scatter (the dark-halo finder's
   :func:`~spacejunk.predict.dark_halos.sky_residual`, with the sign the other way);
2. 8-connected regions of blocks above ``grow_sigma`` reaching ``seed_sigma``, of at
   least ``min_blocks`` blocks;
3. a circle fitted to each region's blocks (least squares, weighted by their level): the
   region is an arc when, along that circle, it is at least ``min_length_px`` long over
   ``min_deg`` to ``max_deg`` of a circle of at least ``min_radius_px`` (a star's halo is a
   small closed ring), *bent* (its blocks stand at least ``min_bend_px`` off the
   straight line through them: brush strokes, rays and trails are straight), *thin* (the
   spread of its blocks about the circle at most ``max_thickness`` of its length: a
   ghost's disc or a spray's fan is broad) and *bright* (its brightest block at least
   ``min_peak`` sigma: the broad glows of ghosts and sprays stand at 4-6);
4. pieces of one arc (boxes overlapping at IoU 0.5 or more, or one 80 % inside the
   other) are one.

The box is that of the region's blocks at least ``extent_fraction`` of its brightest (the
faint skirt the smoothing spreads around a bright arc left out); the score ``significance / (significance + score_scale)``, the
significance being the region's summed level over the square root of its size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from .._errors import quiet_runtime_warnings
from ..io.artifact import Artifact
from ..io.exposure import Exposure
from ..stitch import box_intersections, join_overlapping
from .dark_halos import DarkHaloSettings, sky_residual

__all__ = ["BrightArcSettings", "find_bright_arcs", "fit_circle", "angular_extent"]


@dataclass(frozen=True)
class BrightArcSettings:
    """How bright arcs are looked for (see the module's notes)."""

    bin: int = 16
    smooth: float = 1.0
    grow_sigma: float = 2.0
    seed_sigma: float = 4.0
    min_blocks: int = 10
    min_length_px: float = 500.0
    min_deg: float = 20.0
    max_deg: float = 200.0
    min_radius_px: float = 200.0
    min_bend_px: float = 15.0
    max_thickness: float = 0.26
    min_peak: float = 8.0
    min_significance: float = 40.0
    score_scale: float = 100.0
    extent_fraction: float = 0.3


def fit_circle(x: np.ndarray, y: np.ndarray, weights: np.ndarray) -> tuple[float, float, float] | None:
    """Centre and radius ``(cx, cy, r)`` of the circle through points ``(x, y)`` (weighted
    algebraic least squares), or None when they lie on a line."""
    w = np.sqrt(np.asarray(weights, np.float64))
    a = np.stack([x, y, np.ones_like(x)], axis=1) * w[:, None]
    (d, e, f), _, rank, _ = np.linalg.lstsq(a, -(x * x + y * y) * w, rcond=None)
    if rank < 3:
        return None
    cx, cy = -d / 2, -e / 2
    r2 = cx * cx + cy * cy - f
    return (float(cx), float(cy), math.sqrt(r2)) if np.isfinite(r2) and r2 > 0 else None


def angular_extent(angles: np.ndarray) -> float:
    """The arc of a circle, in radians, that the directions ``angles`` (radians) span: a
    full turn less the widest gap between them."""
    a = np.sort(np.mod(angles, 2 * np.pi))
    gaps = np.diff(np.concatenate([a, a[:1] + 2 * np.pi]))
    return float(2 * np.pi - gaps.max())


def _is_arc(x: np.ndarray, y: np.ndarray, level: np.ndarray, s: BrightArcSettings) -> bool:
    """Whether the blocks at ``(x, y)`` (pixels) of ``level`` sigma make an arc (notes, step 3)."""
    circle = fit_circle(x, y, level)
    if circle is None:
        return False
    cx, cy, radius = circle
    extent = angular_extent(np.arctan2(y - cy, x - cx))
    spread = math.sqrt(np.average((np.hypot(x - cx, y - cy) - radius) ** 2, weights=level))
    minor, major = np.sqrt(np.maximum(np.linalg.eigvalsh(np.cov(np.stack([x, y]), aweights=level)), 0.0))
    return (radius >= s.min_radius_px and math.radians(s.min_deg) <= extent <= math.radians(s.max_deg)
            and radius * extent >= s.min_length_px and minor >= s.min_bend_px
            and spread <= s.max_thickness * major and float(level.max()) >= s.min_peak)


def _same_arc(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    """Whether two boxes are pieces of one arc: IoU 0.5 or more, or one 80 % or more inside the other."""
    inter, area_a, area_b = box_intersections(np.array([a], np.float64), np.array([b], np.float64))
    inter, area_a, area_b = float(inter[0, 0]), float(area_a[0]), float(area_b[0])
    return (inter >= 0.5 * max(area_a + area_b - inter, 1e-9)
            or inter >= 0.8 * max(min(area_a, area_b), 1e-9))


def find_bright_arcs(exposure: Exposure, settings: BrightArcSettings | None = None) -> list[Artifact]:
    """Bright arcs of ``exposure`` as ``bright-arc`` artifacts (see the module's notes)."""
    s = settings or BrightArcSettings()
    ny, nx = exposure.shape
    with quiet_runtime_warnings():
        z = sky_residual(exposure, DarkHaloSettings(bin=s.bin, smooth=s.smooth))
    labels, _ = ndimage.label(z > s.grow_sigma, structure=np.ones((3, 3), bool))
    found = []
    for k, sl in enumerate(ndimage.find_objects(labels), start=1):
        region = labels[sl] == k
        level = z[sl][region]
        if level.size < s.min_blocks or level.max() < s.seed_sigma:
            continue
        significance = float(level.sum() / math.sqrt(level.size))
        if significance < s.min_significance:
            continue
        rows, cols = np.nonzero(region)
        x = (cols + sl[1].start + 0.5) * s.bin
        y = (rows + sl[0].start + 0.5) * s.bin
        if not _is_arc(x.astype(np.float64), y.astype(np.float64), level.astype(np.float64), s):
            continue
        # the arc's extent: its blocks of at least ``extent_fraction`` of its brightest
        bright = level >= s.extent_fraction * float(level.max())
        rows, cols = rows[bright] + sl[0].start, cols[bright] + sl[1].start
        found.append(((int(cols.min()) * s.bin, int(rows.min()) * s.bin,
                       min((int(cols.max()) + 1) * s.bin, nx), min((int(rows.max()) + 1) * s.bin, ny)), significance))
    # pieces of one arc are one: the box around them, with the better significance
    found = join_overlapping(sorted(found, key=lambda item: -item[1]), _same_arc)
    out = [Artifact.from_box(exposure.name, *box, score=sig / (sig + s.score_scale), category="bright-arc")
           for box, sig in found]
    return sorted(out, key=lambda a: -a.score)

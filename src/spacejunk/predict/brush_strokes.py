"""Brush strokes: bundles of faint parallel streaks of scattered light, found with oriented line filters.

Brush strokes are a few to a dozen parallel streaks, each 100-1,500 px long and a few
pixels wide, a fraction of the sky noise to a few sigma at their brightest, in every band.
Pixel by pixel they are lost in the noise, and a network that sees the CCD binned 8 x 8
blurs them into the sky; summed along their length they stand out by many sigma. A star
or a galaxy is as bright along every direction, a streak along one only. So:

1. every band in noise units above the sky, DESDM-flagged pixels set to the sky and each
   pixel clipped to ``[-clip, clip]`` sigma, the bands summed (over the square root of
   their number) and binned ``bin`` x ``bin``, less the median of the ``background``-px
   boxes around each (ghosts and gradients), in units of its own scatter and clipped to
   ``[-binned_clip, binned_clip]`` (a star weighs no more than a bright streak);
2. filtered along ``n_angles`` directions by the two halves of a line ``length`` px long
   (a Gaussian cross-section of ``width`` px), each in units of its own robust scatter. A
   direction's response is the smaller of its two halves' (a streak fills both, a star or
   a galaxy's end at most one); near the CCD's edge, a half lying mostly outside it is not
   asked;
3. the *streakiness* of a pixel is its best direction's response less the median over
   all directions (a star's is about 0); pixels of at least ``min_sigma`` are marked,
   except along ``axis_tolerance_deg`` of the columns (bad columns, cross-talk and bleed
   trails run there, and have their own finders);
4. the marks are closed by ``join`` px into groups; a group at least ``min_coherence`` of
   whose streakiness lies within one direction step of its commonest direction, reaching
   at least ``min_length`` px along it, is streaks of one direction. Those of about the same
   direction within ``join_pieces`` px of each other are one bundle (a brush's streaks are
   up to hundreds of pixels apart);
5. a bundle is a brush unless it reaches over ``max_length`` px along its direction (a
   spray's rays, a satellite: the strokes are at most 1,500 px long), is a strip at most
   ``edge`` px thick along the CCD's edge (its edge rows or columns), or is within
   ``spike_tolerance_deg`` of the rows with a saturated pixel in its rows within
   ``spike_reach`` px (a diffraction spike: the Blanco's vanes put them along the CCD's
   rows and columns);
6. its box holds each of its groups' pixels of at least ``box_fraction`` of that group's
   highest streakiness (the simulator's truth boxes hold the strokes' sum down to 0.2 of
   its peak), and the pixels of at least ``extent_sigma`` of its direction (within one
   step) connected to them: a stroke's tapered ends and its fainter neighbours fall
   under ``min_sigma`` (None: no such growth).

The score is ``total / (total + min_total)``, ``total`` the bundle's summed streakiness
over the square root of its number of pixels (0.5 at ``min_total``). The artifact (a
:class:`~spacejunk.predict.marked.MarkedArtifact`) keeps its streaks' marked pixels, grown
by ``mark_growth`` px, so the tile classifier scores the tiles they cross, not all those of
its box.

A satellite trail is a streak too, and so are a spray's rays and an arc: the detector
drops the brushes along a trail it found or on a spray, an arc or a satellite it reports
(:func:`spacejunk.predict.detector.detect_exposure`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from scipy.fft import irfft2, next_fast_len, rfft2

from ..categories import DESDM_BITS
from ..io.artifact import Artifact
from ..io.exposure import Exposure
from ..preprocess.normalise import bin_image, noise_units
from ..stitch import join_pairs
from .blobs import IGNORED_BITS, _background, _scatter
from .marked import MarkedArtifact

__all__ = ["BrushStrokeSettings", "streakiness", "find_brush_strokes"]


@dataclass(frozen=True)
class BrushStrokeSettings:
    """How brush strokes are looked for (see the module's notes); lengths in full-resolution pixels."""

    bin: int = 4
    clip: float = 3.0
    binned_clip: float = 2.5
    background: int = 256
    n_angles: int = 24
    length: float = 120.0
    width: float = 4.0
    min_sigma: float = 5.0
    axis_tolerance_deg: float = 3.0
    join: float = 24.0
    join_pieces: float = 200.0
    spike_tolerance_deg: float = 8.0
    spike_reach: float = 400.0
    min_coherence: float = 0.6
    min_length: float = 250.0
    max_length: float = 1800.0
    edge: float = 48.0
    box_fraction: float = 0.2
    extent_sigma: float | None = 2.0
    min_total: float = 150.0
    mark_growth: float = 8.0


def _line_kernels(angles: np.ndarray, length: float, width: float) -> np.ndarray:
    """Unit-sum half-line kernels (n_angles, 2, k, k): the two halves of a segment ``length``
    long, centred on the kernel's centre, with a Gaussian cross-section of sigma ``width``,
    along each angle (radians from the x axis)."""
    half = int(math.ceil(length / 2 + 2 * width))
    yy, xx = np.mgrid[-half:half + 1, -half:half + 1].astype(np.float64)
    out = []
    for a in angles:
        along = xx * math.cos(a) + yy * math.sin(a)
        across = -xx * math.sin(a) + yy * math.cos(a)
        k = np.exp(-0.5 * (across / width) ** 2) * np.clip(length / 2 + 0.5 - np.abs(along), 0.0, 1.0)
        pair = [k * (along > 0.5), k * (along < -0.5)]
        out.append([h / h.sum() for h in pair])
    return np.array(out, np.float32)


def _binned_sum(exposure: Exposure, s: BrushStrokeSettings) -> np.ndarray:
    """Step 1 of the module's notes: the bands' clipped sum, binned, less its local median."""
    total = np.zeros(exposure.shape, np.float32)
    for b in range(len(exposure.bands)):
        values, ignored = noise_units(exposure, b, ignored_bits=IGNORED_BITS)
        values[ignored | ~np.isfinite(values)] = 0.0
        total += np.clip(values, -s.clip, s.clip)
    binned = bin_image(total / np.float32(math.sqrt(len(exposure.bands))), s.bin)
    binned = binned - _background(binned, max(int(round(s.background / s.bin)), 3))
    binned /= _scatter(binned, 2)
    return np.clip(binned, -s.binned_clip, s.binned_clip)


def _run_inside(xx: np.ndarray, yy: np.ndarray, ux: float, uy: float, nx: int, ny: int) -> np.ndarray:
    """How far from each pixel (xx, yy) one can go along (ux, uy) before leaving the ``ny`` x ``nx`` grid."""
    big = np.float32(1e9)
    tx = (nx - 0.5 - xx) / ux if ux > 1e-9 else ((xx + 0.5) / -ux if ux < -1e-9 else np.full_like(xx, big))
    ty = (ny - 0.5 - yy) / uy if uy > 1e-9 else ((yy + 0.5) / -uy if uy < -1e-9 else np.full_like(yy, big))
    return np.minimum(tx, ty)


def streakiness(exposure: Exposure, settings: BrushStrokeSettings | None = None
                ) -> tuple[np.ndarray, np.ndarray]:
    """(streakiness, best direction in radians from the x axis) on the binned grid."""
    s = settings or BrushStrokeSettings()
    image = _binned_sum(exposure, s)
    angles = np.arange(s.n_angles) * (math.pi / s.n_angles)
    kernels = _line_kernels(angles, s.length / s.bin, s.width / s.bin)
    k = kernels.shape[-1]
    ny, nx = image.shape
    shape = (next_fast_len(ny + k - 1, real=True), next_fast_len(nx + k - 1, real=True))
    spectrum = rfft2(image, shape)
    maps = np.empty((s.n_angles, ny, nx), np.float32)
    c = k // 2
    yy, xx = np.mgrid[0:ny, 0:nx].astype(np.float32)
    reach = np.float32(s.length / s.bin / 2)
    for i, pair in enumerate(kernels):
        halves = []
        for kern in pair:
            m = irfft2(spectrum * rfft2(kern, shape), shape)[c:c + ny, c:c + nx]
            halves.append(m / _scatter(m, 4))
        # a streak fills both halves, a star at most one; near the CCD's edge a half lying
        # mostly outside it says nothing (a convolution reads the first half, whose kernel
        # points along +u, from the pixels along -u)
        ux, uy = math.cos(angles[i]), math.sin(angles[i])
        valid = [_run_inside(xx, yy, -ux, -uy, nx, ny) >= 0.5 * reach,
                 _run_inside(xx, yy, ux, uy, nx, ny) >= 0.5 * reach]
        maps[i] = np.where(valid[0] & valid[1], np.minimum(*halves), np.where(valid[0], halves[0], halves[1]))
    best_i = maps.argmax(axis=0)
    best = np.take_along_axis(maps, best_i[None], axis=0)[0]
    maps.sort(axis=0)  # the median over directions; sorting a few values is faster than np.median
    half = s.n_angles // 2
    median = maps[half] if s.n_angles % 2 else 0.5 * (maps[half - 1] + maps[half])
    return best - median, angles[best_i]


@dataclass
class _Group:
    """Streaky pixels of one direction (binned grid): direction (radians), box (x0, y0, x1,
    y1), summed streakiness, number of pixels, their columns and rows."""

    theta: float
    box: tuple[int, int, int, int]
    weight: float
    n: int
    xx: np.ndarray
    yy: np.ndarray

    def length(self) -> float:
        """Extent along its direction, binned pixels."""
        along = self.xx * math.cos(self.theta) + self.yy * math.sin(self.theta)
        return float(along.max() - along.min())

    def joined(self, other: "_Group") -> "_Group":
        """The two groups as one, its direction their weighted mean."""
        a = self.weight * np.exp(2j * self.theta) + other.weight * np.exp(2j * other.theta)
        box = (min(self.box[0], other.box[0]), min(self.box[1], other.box[1]),
               max(self.box[2], other.box[2]), max(self.box[3], other.box[3]))
        return _Group(float(np.angle(a) / 2) % math.pi, box, self.weight + other.weight, self.n + other.n,
                      np.concatenate([self.xx, other.xx]), np.concatenate([self.yy, other.yy]))


def _groups(streak: np.ndarray, angle: np.ndarray, s: BrushStrokeSettings) -> list[_Group]:
    """Steps 3-4 of the module's notes: groups of streaky pixels of one direction, binned grid."""
    step = math.pi / s.n_angles
    # angle from the x axis; columns run along y (pi / 2)
    off_axis = np.abs(angle - math.pi / 2) > math.radians(s.axis_tolerance_deg)
    marked = (streak >= s.min_sigma) & off_axis
    join = max(int(round(s.join / s.bin)), 1)
    closed = ndimage.binary_closing(marked, structure=np.ones((3, 3), bool), iterations=join) | marked
    labels, _ = ndimage.label(closed)
    out = []
    for i, sl in enumerate(ndimage.find_objects(labels), start=1):
        region = (labels[sl] == i) & marked[sl]
        if region.sum() < 3:
            continue
        w = streak[sl][region]
        k = np.rint(angle[sl][region] / step).astype(int) % s.n_angles
        hist = np.bincount(k, weights=w, minlength=s.n_angles)
        mode = int(hist.argmax())
        near = ((k - mode + 1) % s.n_angles) <= 2  # the mode's bin and its two neighbours
        if w[near].sum() < s.min_coherence * w.sum():
            continue  # streaks of many directions: a star's halo, a galaxy, noise
        a2 = 2 * angle[sl][region][near]
        theta = 0.5 * math.atan2(float((w[near] * np.sin(a2)).sum()), float((w[near] * np.cos(a2)).sum()))
        yy, xx = np.nonzero(region)
        yy, xx = yy + sl[0].start, xx + sl[1].start
        keep = w >= s.box_fraction * float(w.max())
        box = (int(xx[keep].min()), int(yy[keep].min()), int(xx[keep].max()) + 1, int(yy[keep].max()) + 1)
        out.append(_Group(theta % math.pi, box, float(w.sum()), int(region.sum()), xx, yy))
    return out


def _turn(a, b):
    """Angle between directions ``a`` and ``b`` (radians, either may be an array), in [0, pi / 2]."""
    return np.abs((a - b + math.pi / 2) % math.pi - math.pi / 2)


def _join_pieces(groups: list[_Group], reach: float, max_turn: float) -> list[_Group]:
    """Groups of about one direction (within ``max_turn`` radians) whose boxes come within
    ``reach`` binned pixels joined into one (a brush's streaks are up to hundreds of pixels apart)."""
    def near(a: _Group, b: _Group) -> bool:
        turn = _turn(a.theta, b.theta)
        gap_x = max(a.box[0] - b.box[2], b.box[0] - a.box[2], 0)
        gap_y = max(a.box[1] - b.box[3], b.box[1] - a.box[3], 0)
        return turn <= max_turn and max(gap_x, gap_y) <= reach

    return join_pairs(groups, near, _Group.joined)


def _on_spike(group: _Group, saturated: np.ndarray, s: BrushStrokeSettings) -> bool:
    """Whether a near-horizontal group lies along the row of a saturated star (a diffraction
    spike: the Blanco's vanes put them along the CCD's rows and columns)."""
    if min(group.theta, math.pi - group.theta) > math.radians(s.spike_tolerance_deg):
        return False
    x0, y0, x1, y1 = group.box
    reach = max(int(round(s.spike_reach / s.bin)), 1)
    strip = saturated[max(y0 - 2, 0):y1 + 2, max(x0 - reach, 0):x1 + reach]
    return bool(strip.any())


def _along_edge(group: _Group, shape: tuple[int, int], edge: float) -> bool:
    """Whether a group is a thin strip (at most ``edge`` binned pixels thick) along one of the
    grid's edges: the CCD's edge rows and columns, not scattered light."""
    x0, y0, x1, y1 = group.box
    ny, nx = shape
    return ((y1 - y0 <= edge and (y0 <= 1 or y1 >= ny - 1)) or (x1 - x0 <= edge and (x0 <= 1 or x1 >= nx - 1)))


def _extent(group: _Group, streak: np.ndarray, angle: np.ndarray, s: BrushStrokeSettings
            ) -> tuple[int, int, int, int]:
    """The box (binned grid) of a bundle's streaks down to ``extent_sigma``: the pixels of at
    least that streakiness, of the bundle's direction within one step, connected to its own
    (a stroke's tapered ends and its fainter neighbours fall under ``min_sigma``)."""
    step = math.pi / s.n_angles
    low = (streak >= s.extent_sigma) & (_turn(angle, group.theta) <= step)
    low[group.yy, group.xx] = True
    labels, _ = ndimage.label(low, structure=np.ones((3, 3), bool))
    yy, xx = np.nonzero(np.isin(labels, np.unique(labels[group.yy, group.xx])))
    x0, y0, x1, y1 = group.box
    return (min(x0, int(xx.min())), min(y0, int(yy.min())), max(x1, int(xx.max()) + 1), max(y1, int(yy.max()) + 1))


def find_brush_strokes(exposure: Exposure, settings: BrushStrokeSettings | None = None) -> list[Artifact]:
    """Brush strokes of ``exposure`` as ``brush-strokes`` artifacts."""
    s = settings or BrushStrokeSettings()
    ny, nx = exposure.shape
    if ny < 2 * s.length or nx < 2 * s.length:
        return []
    streak, angle = streakiness(exposure, s)
    groups = [g for g in _groups(streak, angle, s) if g.length() * s.bin >= s.min_length]
    groups = _join_pieces(groups, s.join_pieces / s.bin, 1.5 * math.pi / s.n_angles)
    saturated = (exposure.combined_mask & DESDM_BITS["SATURATE"]) != 0
    saturated = bin_image(saturated.astype(np.float32), s.bin) > 0
    out = []
    for g in groups:
        if (g.length() * s.bin > s.max_length or _along_edge(g, streak.shape, s.edge / s.bin)
                or _on_spike(g, saturated, s)):
            continue  # a spray's rays or a satellite, the CCD's edge, a diffraction spike
        total = g.weight / math.sqrt(g.n)
        box = g.box if s.extent_sigma is None else _extent(g, streak, angle, s)
        x0, y0, x1, y1 = (v * s.bin for v in box)
        a = Artifact.from_box(exposure.name, float(x0), float(y0), float(min(x1, nx)), float(min(y1, ny)),
                              score=total / (total + s.min_total), category="brush-strokes")
        marks = np.zeros(streak.shape, bool)
        marks[g.yy, g.xx] = True
        grow = max(int(round(s.mark_growth / s.bin)), 0)
        if grow:
            marks = ndimage.binary_dilation(marks, iterations=grow)
        out.append(MarkedArtifact(**Artifact.as_row(a), marks=marks, bin=s.bin))
    return sorted(out, key=lambda a: -a.score)

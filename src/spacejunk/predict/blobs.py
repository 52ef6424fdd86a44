"""Odd blobs: a compact source in one band only, or darker than the sky.

Stars and galaxies are seen through the atmosphere in every band: their colours change
how bright they are from band to band, not whether they are there. A blob or smudge that
is bright in one band and absent from the others (a reflection, an electronics glitch, a
smear on one exposure) is not astrophysical, nor is a blob darker than the sky. Neither
needs a network: it needs each band compared with the others at the blob's own scale.
For every band:

1. the band in noise units above the sky; pixels flagged in *any* band (bad, saturated,
   bleed trail, cosmic ray, ...) set to the sky in every band, grown by ``grow`` pixels,
   so a star saturated in one band only does not look absent there;
2. binned ``bin`` x ``bin`` (and 4 times coarser for the large scales), less the median of
   the ``background``-px boxes around each (ghosts and gradients are larger than a blob);
3. smoothed by a Gaussian of each of ``scales`` px and put in units of its own robust
   scatter: the significance of a blob of that size at each pixel;
4. a *candidate* is a local peak of at least ``min_sigma`` that every other band sees at
   under ``max_other_ratio`` of its significance (one band only), or a dip of at least
   ``min_dark_sigma`` (dark in that band; a dark blob of any colour) that lies below the
   sky itself, not only below the median around it (a gap between bright streaks does not);
5. it must stand alone: within 6 smoothing lengths its half-peak region ends and the
   median of the window's edge is under ``max_surround`` of its peak (a bump on an arc, a
   spray, a ghost's rim or a bad column is not alone). Its shape is the second moments of
   that region, less the smoothing; candidates longer than ``max_elongation`` times their
   width are trails, the cosmic-ray and trail finders' business. The box is where the blob,
   Gaussian of that shape, is at least ``min(visible_sigma, visible_fraction * peak)``
   (the simulator's rule for its truth boxes, ``visible_footprint``);
6. of candidates whose boxes overlap, the most significant is kept.

The score is ``significance / (significance + min_significance)`` (0.5 at
``min_significance``; candidates between ``min_sigma`` and it score under 0.5).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from astropy.stats import mad_std
from scipy import ndimage
from scipy.stats import poisson

from .._errors import quiet_runtime_warnings
from ..categories import DESDM_BITS
from ..evaluate.coco import box_iou
from ..io.artifact import Artifact
from ..io.exposure import Exposure
from ..preprocess.normalise import bin_image, noise_units

__all__ = ["BlobSettings", "LightRowSettings", "find_blobs", "lights_in_a_row", "significance_maps"]

#: Pixels left out (set to the sky in every band).
IGNORED_BITS = (DESDM_BITS["BPM"] | DESDM_BITS["SATURATE"] | DESDM_BITS["CRAY"] | DESDM_BITS["TRAIL"]
                | DESDM_BITS["EDGEBLEED"] | DESDM_BITS["EDGE"] | DESDM_BITS["BADAMP"] | DESDM_BITS["INTERP"])


@dataclass(frozen=True)
class BlobSettings:
    """How odd blobs are looked for (see the module's notes)."""

    bin: int = 2
    scales: tuple[float, ...] = (3.0, 6.0, 12.0, 24.0, 48.0)
    background: int = 256
    grow: int = 3
    min_sigma: float = 6.0
    max_other_ratio: float = 0.3
    min_dark_sigma: float = 6.0
    max_elongation: float = 4.0
    max_surround: float = 0.1
    visible_sigma: float = 0.7
    visible_fraction: float = 0.3
    min_significance: float = 15.0


def _background(binned: np.ndarray, window: int) -> np.ndarray:
    """Running median over ``window`` binned pixels, computed on blocks an eighth of it and spread back."""
    c = max(window // 8, 1)
    with quiet_runtime_warnings():
        back = ndimage.median_filter(bin_image(binned, c), size=max(window // c, 1), mode="nearest")
    return np.repeat(np.repeat(back, c, axis=0), c, axis=1)[:binned.shape[0], :binned.shape[1]]


def _scatter(values: np.ndarray, step: int = 8) -> float:
    """Robust standard deviation (MAD) of a map ``values``, from every ``step``-th row and column."""
    return max(float(mad_std(values[::step, ::step])), 1e-12)


def significance_maps(exposure: Exposure, settings: BlobSettings | None = None):
    """Per scale: ``(grid bin, smoothed maps (n_bands, ny, nx) in noise units per pixel,
    significance maps (n_bands, ny, nx), the local sky taken off (n_bands, ny, nx))``, on each
    scale's grid."""
    s = settings or BlobSettings()
    layers = [noise_units(exposure, b, ignored_bits=IGNORED_BITS) for b in range(len(exposure.bands))]
    ignored = np.zeros(exposure.shape, bool)
    for _, ign in layers:
        ignored |= ign
    if s.grow > 0:
        ignored = ndimage.binary_dilation(ignored, iterations=s.grow)
    fine, fine_back = [], []
    for values, _ in layers:
        values[ignored] = 0.0
        b = bin_image(values, s.bin)
        back = _background(b, max(int(round(s.background / s.bin)), 3))
        fine.append(b - back)
        fine_back.append(back)
    fine, fine_back = np.stack(fine), np.stack(fine_back)
    grids = {s.bin: (fine, fine_back), 4 * s.bin: (bin_image(fine, 4), bin_image(fine_back, 4))}
    out = []
    for scale in s.scales:
        grid = s.bin if scale < 4 * s.bin * 1.5 else 4 * s.bin
        resid, back = grids[grid]
        smooth = np.stack([ndimage.gaussian_filter(b, scale / grid, mode="constant") for b in resid])
        signif = smooth / np.array([_scatter(m) for m in smooth], np.float32)[:, None, None]
        out.append((grid, smooth, signif, back))
    return out


def _shape(region: np.ndarray, weights: np.ndarray) -> tuple[float, float, float, float, float]:
    """(cy, cx, var_y, var_x, elongation) of ``weights`` over ``region`` (grid pixels)."""
    yy, xx = np.nonzero(region)
    w = weights[yy, xx].astype(np.float64)
    w = w / max(w.sum(), 1e-12)
    cy, cx = float((w * yy).sum()), float((w * xx).sum())
    vy, vx = float((w * (yy - cy) ** 2).sum()), float((w * (xx - cx) ** 2).sum())
    vxy = float((w * (yy - cy) * (xx - cx)).sum())
    root = math.sqrt(max((vx - vy) ** 2 / 4 + vxy * vxy, 0.0))
    big, small = (vx + vy) / 2 + root, max((vx + vy) / 2 - root, 1e-6)
    return cy, cx, vy, vx, math.sqrt(big / small)


def _neighbourhood_max(maps: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """Largest value of the 3 x 3 pixels around each (y, x), over ``maps`` (n, ny, nx) or one map."""
    maps = maps.reshape((-1,) + maps.shape[-2:])
    ny, nx = maps.shape[1:]
    out = np.full(len(ys), -np.inf, np.float32)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            out = np.maximum(out, maps[:, np.clip(ys + dy, 0, ny - 1), np.clip(xs + dx, 0, nx - 1)].max(axis=0))
    return out


def _local_peaks(z: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """(rows, columns) of the pixels of ``z`` at least ``level`` and at least their 8 neighbours."""
    ys, xs = np.nonzero(z >= level)
    top = z[ys, xs] >= _neighbourhood_max(z, ys, xs)
    return ys[top], xs[top]


#: Weighted second moment of a 2-d Gaussian over its half-peak region, per axis, in units
#: of its variance: E[r^2 / 2 | r^2 <= 2 ln 2] for r^2 ~ chi2(2).
_HALF_PEAK_MOMENT = 1.0 - math.log(2.0)


def find_blobs(exposure: Exposure, settings: BlobSettings | None = None) -> list[Artifact]:
    """Blobs in one band only, and dark blobs, of ``exposure`` as ``other`` artifacts."""
    s = settings or BlobSettings()
    ny, nx = exposure.shape
    if ny < 64 * s.bin or nx < 64 * s.bin:
        return []
    found: list[tuple[float, tuple[float, float, float, float]]] = []
    for scale, (grid, smooth, signif, back) in zip(s.scales, significance_maps(exposure, s)):
        n_bands = len(signif)
        for b in range(n_bands):
            for sign in (1.0, -1.0):
                z = sign * signif[b]
                level = s.min_sigma if sign > 0 else s.min_dark_sigma
                ys, xs = _local_peaks(z, level)
                if sign > 0 and n_bands > 1:
                    others = _neighbourhood_max(signif[[o for o in range(n_bands) if o != b]], ys, xs)
                    keep = others < s.max_other_ratio * z[ys, xs]
                elif sign > 0:
                    continue  # one band: nothing to compare with
                else:  # darker than the sky, not only than what is around it (a gap in something bright)
                    keep = smooth[b, ys, xs] + back[b, ys, xs] <= 0.5 * smooth[b, ys, xs]
                for py, px in zip(ys[keep], xs[keep]):
                    peak = float(z[py, px])
                    box = _blob_box(z, sign * smooth[b], py, px, peak, scale, grid, s)
                    if box is None:
                        continue
                    found.append((peak, box))
    found.sort(key=lambda item: -item[0])
    kept: list[tuple[float, tuple[float, float, float, float]]] = []
    for peak, box in found:
        if kept and box_iou([box], [k[1] for k in kept])[0].max() > 0:
            continue
        kept.append((peak, box))
    out = []
    for peak, (x0, y0, x1, y1) in kept:
        x0, y0, x1, y1 = max(x0, 0.0), max(y0, 0.0), min(x1, float(nx)), min(y1, float(ny))
        if x1 - x0 < 1 or y1 - y0 < 1:
            continue
        out.append(Artifact.from_box(exposure.name, x0, y0, x1, y1, score=peak / (peak + s.min_significance),
                                     category="other"))
    return out


def _blob_box(z: np.ndarray, smooth: np.ndarray, py: int, px: int, peak: float, scale: float, grid: int,
              s: BlobSettings) -> tuple[float, float, float, float] | None:
    """Box (x0, y0, x1, y1), full-resolution pixels, of the blob peaking at (py, px) of the
    significance map ``z`` (None for a trail-like one); see the module's notes, step 5."""
    reach = max(int(math.ceil(6 * scale / grid)), 4)
    y0, y1 = max(py - reach, 0), min(py + reach + 1, z.shape[0])
    x0, x1 = max(px - reach, 0), min(px + reach + 1, z.shape[1])
    window = z[y0:y1, x0:x1]
    labels, _ = ndimage.label(window >= 0.5 * peak)
    region = labels == labels[py - y0, px - x0]
    if region.sum() < 3:
        return None
    # isolated: the window's edge (inside the CCD) is near the sky, unlike a bump on an
    # arc, a spray or a ghost's rim
    edge = np.concatenate([window[0] if y0 > 0 else [], window[-1] if y1 < z.shape[0] else [],
                           window[:, 0] if x0 > 0 else [], window[:, -1] if x1 < z.shape[1] else []])
    if edge.size and float(np.median(edge)) > s.max_surround * peak:
        return None
    # compact: the half-peak region ends inside the window (or at the CCD's edge); a trail,
    # a ghost's rim or a bad column runs on past it
    rows, cols = region.any(axis=1), region.any(axis=0)
    if ((rows[0] and y0 > 0) or (rows[-1] and y1 < z.shape[0]) or (cols[0] and x0 > 0)
            or (cols[-1] and x1 < z.shape[1])):
        return None
    cy, cx, vy, vx, elongation = _shape(region, window)
    if elongation > s.max_elongation:
        return None
    t2 = (scale / grid) ** 2
    sy2 = max(vy / _HALF_PEAK_MOMENT - t2, 0.25 / grid ** 2)
    sx2 = max(vx / _HALF_PEAK_MOMENT - t2, 0.25 / grid ** 2)
    if max(sy2, sx2) > s.max_elongation ** 2 * min(sy2, sx2):
        return None  # long and thin once the smoothing is taken off
    # the blob's own peak, per pixel, from the smoothed one: a Gaussian's peak drops by
    # its width over the width smoothed
    amp = float(smooth[py, px]) * math.sqrt((sy2 + t2) * (sx2 + t2) / (sy2 * sx2))
    factor = math.sqrt(2.0 * math.log(max(amp / s.visible_sigma, 1.0 / s.visible_fraction)))
    hy, hx = factor * math.sqrt(sy2) * grid, factor * math.sqrt(sx2) * grid
    cy, cx = (y0 + cy + 0.5) * grid, (x0 + cx + 0.5) * grid
    return cx - hx, cy - hy, cx + hx, cy + hy


@dataclass(frozen=True)
class LightRowSettings:
    """When odd blobs are an airplane's blinking lights (:func:`lights_in_a_row`)."""

    min_lights: int = 4
    max_offset: float = 25.0
    min_span: float = 0.6
    false_rows: float = 0.05
    max_blobs: int = 200


def _chord(point: np.ndarray, direction: np.ndarray, shape: tuple[int, int]) -> float:
    """Length of the line through ``point`` along the unit ``direction`` within an image of ``shape``."""
    lo, hi = -np.inf, np.inf
    for k, size in ((0, shape[1]), (1, shape[0])):  # x, then y
        if abs(direction[k]) > 1e-9:
            a, b = sorted(((0.0 - point[k]) / direction[k], (size - point[k]) / direction[k]))
            lo, hi = max(lo, a), min(hi, b)
        elif not 0.0 <= point[k] <= size:
            return 0.0
    return max(hi - lo, 0.0)


def lights_in_a_row(blobs: list[Artifact], shape: tuple[int, int], settings: LightRowSettings | None = None
                    ) -> tuple[list[Artifact], list[Artifact]]:
    """Odd blobs lined up across the CCD are an airplane's blinking lights.

    An airplane's lights blink every 40-400 px along its path, in one exposure (band) only;
    where the trail finder misses the path (the lights are too few or too far apart for its
    dashes), the blob finder still finds each light as an odd blob. Here the largest set of
    at least ``min_lights`` blobs whose centres lie within ``max_offset`` px of one straight
    line (a pair of wing-tip lights is 8-40 px apart), spread over at least ``min_span`` of
    that line's length across the CCD, becomes an ``airplane`` (the box of its lights, the
    median of their scores); then the next, from the blobs left. Blobs strewn at random
    line up too where they are many, so a row must also be unlikely by chance: of the
    ``n (n - 1) / 2`` lines through two of ``n`` blobs, fewer than ``false_rows`` should
    hold as many more in their strip when the blobs are strewn at random (Poisson, of mean
    ``n`` times the strip's share of the CCD). A CCD with more than ``max_blobs`` odd blobs
    has no row (and the search, quadratic in them, is not made).

    Returns
    -------
    airplanes, others : list of Artifact
        The rows of lights, and the blobs in none.
    """
    s = settings or LightRowSettings()
    left = list(blobs)
    rows: list[Artifact] = []
    if len(left) > s.max_blobs:
        return rows, left
    while len(left) >= s.min_lights:
        centres = np.array([((a.xmin + a.xmax) / 2, (a.ymin + a.ymax) / 2) for a in left], np.float64)
        best, most = None, s.min_lights - 1
        lines = len(left) * (len(left) - 1) / 2
        per_px = len(left) * 2 * s.max_offset / (shape[0] * shape[1])  # blobs expected in the strip, per px of it
        for i in range(len(left) - 1):  # the lines through blob i and each later one, at once
            d = centres[i + 1:] - centres[i]
            length = np.hypot(d[:, 0], d[:, 1])
            u = d[length >= 1.0] / length[length >= 1.0, None]
            rel = centres - centres[i]
            on = np.abs(rel[None, :, 0] * u[:, 1, None] - rel[None, :, 1] * u[:, 0, None]) <= s.max_offset
            counts = on.sum(axis=1)
            for j in np.argsort(-counts, kind="stable"):  # the most lights first, then the first line
                if counts[j] <= most:
                    break
                chord = _chord(centres[i], u[j], shape)
                if (np.ptp(rel[on[j]] @ u[j]) >= s.min_span * chord
                        and lines * poisson.sf(counts[j] - 3, per_px * chord) < s.false_rows):
                    best, most = on[j], int(counts[j])
                    break
        if best is None:
            break
        lights = [a for a, b in zip(left, best) if b]
        rows.append(Artifact.from_box(lights[0].image, min(a.xmin for a in lights), min(a.ymin for a in lights),
                                      max(a.xmax for a in lights), max(a.ymax for a in lights),
                                      score=float(np.median([a.score for a in lights])), category="airplane"))
        left = [a for a, b in zip(left, best) if not b]
    return rows, left


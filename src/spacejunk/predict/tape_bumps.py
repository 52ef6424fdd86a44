"""Tape bumps: a low, round bump or dip in the sky, tens of pixels across, near a CCD's edge.

DECam's CCDs are glued onto their carriers with tape whose bumps press on the sensor;
where they do, the sky is a few per cent brighter or darker in a round patch of radius
tens of pixels, near the long (left and right) edges mostly. Per pixel it is a fraction of
a sigma; averaged over a block it is many. So:

1. each band in noise units above the sky, with flagged pixels and sources (above
   ``source_sigma``, grown by ``grow`` pixels) left out, averaged in ``bin`` x ``bin``
   blocks, the bands averaged (a bump is nearly grey; :func:`.dark_halos.binned_sky`);
2. minus the large-scale sky: a quadratic surface, then the median of ``background``
   blocks around each (ghosts and scattered light are larger than a bump);
3. smoothed by a Gaussian of ``smooth`` blocks (a bump's size) and put in units of its
   own robust scatter;
4. connected regions above ``min_sigma`` (or below ``-min_sigma``: dips), as large as a
   bump (equivalent radius ``min_radius_px`` to ``max_radius_px``), roundish (box sides
   within ``max_elongation`` of each other, unless cut by the CCD's edge), with their
   peak within ``max_edge_px`` of an edge and at least ``min_peak``;
5. the box is that of the region's blocks at least ``extent_fraction`` of its peak;
6. not crowded: the wings of stars and galaxies, wider than the sources left out in 1.,
   make bumps of the same size and level where sources are many. The box's *crowding* is
   the fraction of its good pixels at least ``source_sigma`` above the box's median, the
   mean over the bands (0.006 in empty sky; a bump raises the median, not the fraction).
   On 96 simulated CCDs (seeds 14 and 10) the 10 true bumps had 0.007-0.054 and the median
   false region 0.10;
7. seen in every band: tape presses on the sensor, whatever the filter, so the box's
   median (sources left out) differs from that of the frame around it (as wide again on
   each side) by at least ``min_band_level`` sky sigma, with the bump's sign, in each
   band (:func:`band_levels`). Regions where a band has no good pixels, or shows nothing,
   are the edges of something flagged or a band's own feature (seeds 14 and 10: the 9 true
   bumps left after 6. had 0.15-0.71 in their faintest band).

The score is ``significance / (significance + min_significance) * (1 - crowding /
max_crowding)``, the significance being the region's peak in units of the smoothed map's
scatter; regions of crowding ``max_crowding`` or more are not reported. The sky itself is
not Gaussian at that level (faint galaxies' wings, gradients): on simulated CCDs without
a bump, regions reach 14-30 of those units about once per image, so a bump scores 0.5
only at ``min_significance`` (30) and those between ``min_peak`` and it are reported with
scores under 0.5 (kept by ``spacejunk evaluate detector``'s low threshold, not by
``detect``'s).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from .._errors import quiet_runtime_warnings
from ..io.artifact import Artifact
from ..io.exposure import Exposure
from ..preprocess.normalise import noise_units
from .dark_halos import IGNORED_BITS, _smooth_sky, binned_sky

__all__ = ["TapeBumpSettings", "find_tape_bumps", "bump_map", "crowding", "band_levels", "box_statistics"]


@dataclass(frozen=True)
class TapeBumpSettings:
    """How tape bumps are looked for (see the module's notes)."""

    bin: int = 8
    source_sigma: float = 2.5
    grow: int = 4
    background: int = 11
    smooth: float = 1.5
    min_sigma: float = 5.0
    min_peak: float = 14.0
    min_significance: float = 30.0
    min_radius_px: float = 12.0
    max_radius_px: float = 110.0
    max_elongation: float = 1.8
    max_edge_px: float = 220.0
    extent_fraction: float = 0.35
    max_crowding: float = 0.12
    min_band_level: float = 0.1


def bump_map(exposure: Exposure, settings: TapeBumpSettings | None = None) -> np.ndarray:
    """The binned sky less its large scales, smoothed, in units of its own scatter (0: unknown)."""
    s = settings or TapeBumpSettings()
    binned = binned_sky(exposure, bin=s.bin, source_sigma=s.source_sigma, grow=s.grow)
    resid = _smooth_sky(binned)
    known = np.isfinite(resid)
    filled = np.where(known, resid, 0.0)
    # the median of the blocks around each, on a map 4 times coarser (fast)
    ny, nx = filled.shape
    c = 4
    coarse = filled[:ny // c * c, :nx // c * c].reshape(ny // c, c, nx // c, c).mean(axis=(1, 3))
    with quiet_runtime_warnings():
        back = ndimage.median_filter(coarse, size=s.background, mode="nearest")
    back = ndimage.zoom(back, (ny / back.shape[0], nx / back.shape[1]), order=1, mode="nearest")
    back = np.pad(back, ((0, ny - back.shape[0]), (0, nx - back.shape[1])), mode="edge")[:ny, :nx]
    resid = filled - back
    # normalised convolution: unknown blocks do not pull the smoothed map to zero
    weight = ndimage.gaussian_filter(known.astype(np.float64), s.smooth)
    smooth = np.where(weight > 0.3, ndimage.gaussian_filter(np.where(known, resid, 0.0), s.smooth)
                      / np.maximum(weight, 1e-9), 0.0)
    scatter = 1.4826 * float(np.median(np.abs(smooth[weight > 0.3]))) if (weight > 0.3).any() else 1.0
    return smooth / max(scatter, 1e-12)


def box_statistics(exposure: Exposure, box: tuple[int, int, int, int], sigma: float) -> tuple[float, np.ndarray]:
    """The :func:`crowding` and the :func:`band_levels` of ``box`` (x0, y0, x1, y1), from one
    read of each band's rows around it (the box grown by its own width and height, cut by
    the image)."""
    x0, y0, x1, y1 = (int(v) for v in box)
    ny, nx = exposure.shape
    w, h = x1 - x0, y1 - y0
    fx0, fy0, fx1, fy1 = max(x0 - w, 0), max(y0 - h, 0), min(x1 + w, nx), min(y1 + h, ny)
    inner = np.zeros((fy1 - fy0, fx1 - fx0), bool)
    inner[y0 - fy0:y1 - fy0, x0 - fx0:x1 - fx0] = True
    fractions = []
    levels = np.full(len(exposure.bands), np.nan)
    for b in range(len(exposure.bands)):
        values, ignored = noise_units(exposure, b, ignored_bits=IGNORED_BITS, rows=slice(fy0, fy1))
        values = values[:, fx0:fx1]
        good = ~ignored[:, fx0:fx1] & np.isfinite(values)
        in_box = values[good & inner]
        if in_box.size:
            fractions.append(float(np.mean(in_box > np.median(in_box) + sigma)))
        box_values, frame_values = in_box[in_box < sigma], values[good & ~inner & (values < sigma)]
        if box_values.size > 50 and frame_values.size > 50:
            levels[b] = np.median(box_values) - np.median(frame_values)
    return (float(np.mean(fractions)) if fractions else 0.0), levels


def crowding(exposure: Exposure, box: tuple[int, int, int, int], sigma: float) -> float:
    """The fraction of the good pixels of ``box`` (x0, y0, x1, y1) at least ``sigma`` (noise
    units) above the box's median, the mean over the bands (NaN-free: 0 where none is good)."""
    return box_statistics(exposure, box, sigma)[0]


def band_levels(exposure: Exposure, box: tuple[int, int, int, int], sigma: float) -> np.ndarray:
    """Per band, the median of the good pixels of ``box`` (x0, y0, x1, y1) under ``sigma``
    (sources left out) less that of the frame around it (the box grown by its own width and
    height, cut by the image), in noise units; NaN where either has 50 good pixels or fewer."""
    return box_statistics(exposure, box, sigma)[1]


def find_tape_bumps(exposure: Exposure, settings: TapeBumpSettings | None = None) -> list[Artifact]:
    """Tape bumps (and dips) of ``exposure`` as ``tape-bump`` artifacts."""
    s = settings or TapeBumpSettings()
    ny, nx = exposure.shape
    if ny < 8 * s.bin or nx < 8 * s.bin:
        return []
    z = bump_map(exposure, s)
    out: list[Artifact] = []
    area_min = math.pi * (s.min_radius_px / s.bin) ** 2
    area_max = math.pi * (s.max_radius_px / s.bin) ** 2
    for sign in (1.0, -1.0):
        sz = sign * z
        labels, n = ndimage.label(sz > s.min_sigma)
        for k, sl in enumerate(ndimage.find_objects(labels), start=1):
            if sl is None:
                continue
            region = labels[sl] == k
            area = int(region.sum())
            if not area_min <= area <= area_max:
                continue
            h, w = region.shape
            cut = sl[0].start == 0 or sl[1].start == 0 or sl[0].stop == z.shape[0] or sl[1].stop == z.shape[1]
            if not cut and max(h, w) > s.max_elongation * min(h, w):
                continue
            vals = np.where(region, sz[sl], 0.0)
            peak = float(vals.max())
            py, px = np.unravel_index(int(np.argmax(vals)), vals.shape)
            cy, cx = (sl[0].start + py + 0.5) * s.bin, (sl[1].start + px + 0.5) * s.bin
            if min(cx, nx - cx, cy, ny - cy) > s.max_edge_px or peak < s.min_peak:
                continue
            core = region & (vals >= s.extent_fraction * peak)
            rows, cols = np.flatnonzero(core.any(axis=1)), np.flatnonzero(core.any(axis=0))
            x0, x1 = (sl[1].start + cols[0]) * s.bin, min((sl[1].start + cols[-1] + 1) * s.bin, nx)
            y0, y1 = (sl[0].start + rows[0]) * s.bin, min((sl[0].start + rows[-1] + 1) * s.bin, ny)
            crowded, levels = box_statistics(exposure, (x0, y0, x1, y1), s.source_sigma)
            # NaN (a band with too few good pixels there) never passes
            if crowded >= s.max_crowding or not np.all(sign * levels >= s.min_band_level):
                continue
            score = peak / (peak + s.min_significance) * (1.0 - crowded / s.max_crowding)
            out.append(Artifact.from_box(exposure.name, x0, y0, x1, y1, score=score, category="tape-bump"))
    return sorted(out, key=lambda a: -a.score)

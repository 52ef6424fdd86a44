"""Edge bleeds: the network's regions on a CCD's readout edge where a bleed trail reaches it.

A saturated star's bleed trail that runs into the top or bottom (readout) edge of a DECam
CCD spreads its charge along the edge rows: a bright glow a few to tens of rows deep.
The detector's network finds that glow but takes it, with the star's halo above it, for
a ghost. The physics tells them apart: a region touching the top or bottom edge, with
pixels DESDM flagged as saturated or as a bleed trail (``SATURATE``, ``TRAIL``) in the
``reach`` rows next to that edge within its columns, and at most ``max_height_px`` tall
(the star lies within a few hundred pixels of the edge), is an edge bleed. Its box keeps the
network's columns, widened along the edge while the glow goes on, and is cut to the rows
from the edge where the glow is visible: the
``percentile`` of each row over those columns (smoothed along the row over ``smooth_px``,
flagged pixels left out; the star takes a few columns only) at least ``visible_sigma`` sky
sigma in some band (at least ``min_rows`` of them, or the region is left as it was).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from scipy import ndimage

from .._errors import quiet_runtime_warnings
from ..categories import DESDM_BITS
from ..io.artifact import Artifact
from ..io.exposure import Exposure
from ..preprocess.normalise import noise_units

__all__ = ["EdgeBleedSettings", "relabel_edge_bleeds"]

#: Flags of a bleed trail (and the saturated core it starts from).
BLEED_BITS = DESDM_BITS["SATURATE"] | DESDM_BITS["TRAIL"]


@dataclass(frozen=True)
class EdgeBleedSettings:
    """When a region is an edge bleed, and how deep its box goes (see the module's notes)."""

    edge_px: int = 16
    reach: int = 6
    visible_sigma: float = 0.7
    percentile: float = 50.0
    max_height_px: float = 600.0
    smooth_px: int = 15
    min_rows: int = 3
    #: categories reported by finders, which are left as they are
    keep: tuple[str, ...] = ("satellite", "airplane", "cosmic-ray", "cross-talk", "dark-halo")


def _depth(exposure: Exposure, x0: int, x1: int, top: bool, limit: int, s: EdgeBleedSettings, cache: dict) -> int:
    """Rows from the edge over which the glow in columns ``[x0, x1)`` is visible (0: none)."""
    ny = exposure.shape[0]
    best = 0
    for b in range(len(exposure.bands)):
        if b not in cache:
            cache[b] = noise_units(exposure, b, ignored_bits=BLEED_BITS | DESDM_BITS["BPM"])
        values, ignored = cache[b]
        rows = slice(ny - limit, ny) if top else slice(0, limit)
        window = np.where(ignored[rows, x0:x1], np.nan, values[rows, x0:x1])
        if top:
            window = window[::-1]  # row 0 is the edge row
        known = np.isfinite(window).sum(axis=1) >= max(3, window.shape[1] // 4)
        # along-row smoothing: the percentile of the glow, not of the pixel noise
        filled = np.nan_to_num(window)
        weight = ndimage.uniform_filter1d(np.isfinite(window).astype(np.float32), s.smooth_px, axis=1)
        with np.errstate(all="ignore"):
            window = np.where(weight > 0.5, ndimage.uniform_filter1d(filled, s.smooth_px, axis=1) / weight, np.nan)
        with quiet_runtime_warnings():
            profile = np.nanpercentile(window, s.percentile, axis=1) if window.size else np.zeros(0)
        # rows with too few unflagged pixels (the flagged edge rows) say nothing
        profile = np.interp(np.arange(len(profile)), np.flatnonzero(known), profile[known]) if known.any() \
            else np.zeros(len(profile))
        profile = ndimage.uniform_filter1d(profile, 3, mode="nearest")
        below = np.flatnonzero(profile < s.visible_sigma)
        best = max(best, int(below[0]) if below.size else len(profile))
    return best


def _extent(exposure: Exposure, x0: int, x1: int, top: bool, depth: int, s: EdgeBleedSettings,
            cache: dict) -> tuple[int, int]:
    """Columns ``[x0, x1)`` widened along the edge while the glow stays visible in the third of its
    ``depth`` rows nearest the edge (where it is brightest)."""
    ny, nx = exposure.shape
    near = max(3, depth // 3)
    rows = slice(ny - near, ny) if top else slice(0, near)
    visible = np.zeros(nx, bool)
    for b in range(len(exposure.bands)):
        values, ignored = cache[b]
        window = np.where(ignored[rows], np.nan, values[rows])
        with quiet_runtime_warnings():
            column = np.nan_to_num(np.nanmean(window, axis=0))
        visible |= ndimage.uniform_filter1d(column, s.smooth_px, mode="nearest") >= s.visible_sigma
    while x0 > 0 and visible[x0 - 1]:
        x0 -= 1
    while x1 < nx and visible[x1]:
        x1 += 1
    return x0, x1


def relabel_edge_bleeds(artifacts: list[Artifact], exposure: Exposure,
                        settings: EdgeBleedSettings | None = None) -> list[Artifact]:
    """``artifacts`` with the network's regions that are edge bleeds relabelled ``edge-bleed``
    and cut to the visible glow (see the module's notes)."""
    s = settings or EdgeBleedSettings()
    if not artifacts or exposure.msk is None:
        return list(artifacts)
    ny, nx = exposure.shape
    cache: dict = {}
    out = []
    for a in artifacts:
        top, bottom = a.ymax >= ny - s.edge_px, a.ymin <= s.edge_px
        x0, x1 = max(int(math.floor(a.xmin)), 0), min(int(math.ceil(a.xmax)), nx)
        if (a.category in s.keep or top == bottom or x1 <= x0
                or a.ymax - a.ymin > s.max_height_px):
            out.append(a)
            continue
        edge_rows = exposure.msk[:, ny - s.reach:, x0:x1] if top else exposure.msk[:, :s.reach, x0:x1]
        if not (edge_rows & BLEED_BITS).any():
            out.append(a)
            continue
        limit = max(int(round(a.ymax - a.ymin)), 1)
        depth = _depth(exposure, x0, x1, top, limit, s, cache)
        if depth < s.min_rows:  # a bleed trail ends on the edge, but no charge spreads along it
            out.append(a)
            continue
        x0, x1 = _extent(exposure, x0, x1, top, depth, s, cache)
        y0, y1 = (float(ny - depth), float(ny)) if top else (0.0, float(depth))
        out.append(replace(a, x=(x0 + x1) / 2, y=(y0 + y1) / 2, xmin=float(x0), ymin=y0, xmax=float(x1), ymax=y1,
                           radius=0.5 * math.hypot(x1 - x0, y1 - y0), category="edge-bleed"))
    return out

"""Edge bleeds: the glow along a CCD's readout edge where a bleed trail reaches it.

A saturated star's bleed trail that runs into the top or bottom (readout) edge of a DECam
CCD spreads its charge along the edge rows: a bright glow a few to tens of rows deep.
The detector's network finds that glow but takes it, with the star's halo above it, for
a ghost. The physics tells them apart: a region touching the top or bottom edge, with
pixels DESDM flagged as saturated or as a bleed trail (``SATURATE``, ``TRAIL``) in the
``reach`` rows next to that edge within its columns, and at most ``max_height_px`` tall
(the star lies within a few hundred pixels of the edge; a region the namer already calls an
edge bleed may be taller), is an edge bleed. Its box keeps the
network's columns, widened along the edge while the glow goes on, and is cut to the rows
from the edge where the glow is visible: the
``percentile`` of each row over those columns (smoothed along the row over ``smooth_px``,
flagged pixels left out; the star takes a few columns only) at least ``visible_sigma`` sky
sigma in some band (at least ``min_rows`` of them, or the region is left as it was)
(:func:`relabel_edge_bleeds`, for the detector).

The tile classifier has no regions: :func:`find_edge_bleeds` finds the same glows from the
flags alone, starting from each bleed trail on the edge (:class:`EdgeBleedFinderSettings`).
Its boxes run deeper than the network's where the star's halo adds to the glow, so the
detector keeps its own (``docs/detector.md``).
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
from ..preprocess.normalise import bin_image, noise_units
from .marked import MarkedArtifact

__all__ = ["EdgeBleedSettings", "EdgeBleedFinderSettings", "relabel_edge_bleeds", "find_edge_bleeds"]

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


def _edge_rows(exposure: Exposure, b: int, top: bool, s: EdgeBleedSettings, cache: dict
               ) -> tuple[np.ndarray, np.ndarray]:
    """Band ``b`` in sky sigma and its ignored pixels over the ``max_height_px`` rows next to
    the top or bottom edge, row 0 the edge row (kept in ``cache``)."""
    if (b, top) not in cache:
        ny = exposure.shape[0]
        height = int(min(math.ceil(s.max_height_px), ny))
        rows = slice(ny - height, ny) if top else slice(0, height)
        values, ignored = noise_units(exposure, b, ignored_bits=BLEED_BITS | DESDM_BITS["BPM"], rows=rows)
        cache[b, top] = (values[::-1], ignored[::-1]) if top else (values, ignored)
    return cache[b, top]


def _profiles(exposure: Exposure, x0: int, x1: int, top: bool, limit: int, s: EdgeBleedSettings,
              cache: dict) -> list[np.ndarray]:
    """Each band's glow profile over columns ``[x0, x1)``: sky sigma of each of the ``limit``
    rows from the edge (index 0 the edge row), see the module's notes."""
    out = []
    for b in range(len(exposure.bands)):
        values, ignored = _edge_rows(exposure, b, top, s, cache)
        window = np.where(ignored[:limit, x0:x1], np.nan, values[:limit, x0:x1])
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
        out.append(ndimage.uniform_filter1d(profile, 3, mode="nearest"))
    return out


def _visible_rows(profile: np.ndarray, s: EdgeBleedSettings) -> int:
    """Rows from the edge before ``profile`` first falls below ``visible_sigma``."""
    below = np.flatnonzero(profile < s.visible_sigma)
    return int(below[0]) if below.size else len(profile)


def _fading_rows(profile: np.ndarray, s: EdgeBleedFinderSettings) -> int:
    """:func:`_visible_rows`, stopping where ``profile`` rises again (a star's halo beyond the
    glow): at its lowest before it first exceeds ``rise`` times its lowest so far plus one sigma."""
    visible = _visible_rows(profile, s)
    lowest = np.minimum.accumulate(profile[:visible])
    rising = np.flatnonzero(profile[:visible] > s.rise * lowest + 1.0)
    return int(np.argmin(profile[:rising[0]])) + 1 if rising.size else visible


def _depth(exposure: Exposure, x0: int, x1: int, top: bool, limit: int, s: EdgeBleedSettings, cache: dict) -> int:
    """Rows from the edge over which the glow in columns ``[x0, x1)`` is visible (0: none)."""
    return max(_visible_rows(p, s) for p in _profiles(exposure, x0, x1, top, limit, s, cache))


def _flagged_rows(exposure: Exposure, x0: int, x1: int, top: bool, limit: int, s: EdgeBleedSettings,
                  cache: dict) -> int:
    """Rows from the edge (of the first ``limit``) flagged over all of ``[x0, x1)`` in every band
    (DESDM's ``EDGE`` border); 0 when all are."""
    flagged = np.all([_edge_rows(exposure, b, top, s, cache)[1][:limit, x0:x1].all(axis=1)
                      for b in range(len(exposure.bands))], axis=0)
    return 0 if flagged.all() else int(np.argmin(flagged))


def _extent(exposure: Exposure, x0: int, x1: int, top: bool, depth: int, s: EdgeBleedSettings,
            cache: dict, *, start: int | None = None) -> tuple[int, int]:
    """Columns ``[x0, x1)`` widened along the edge while the glow stays visible in the third of its
    ``depth`` rows nearest the edge (where it is brightest).

    With ``start`` (the edge rows flagged over all of ``[x0, x1)`` in every band, DESDM's
    ``EDGE`` border; :func:`_flagged_rows`), that third starts past them, and a column whose
    rows there are all flagged saturated or bleed trail in a band (a glow bright enough to
    saturate) counts as visible."""
    ny, nx = exposure.shape
    near = max(3, depth // 3)
    past_flags = start is not None
    start = start or 0
    visible = np.zeros(nx, bool)
    for b in range(len(exposure.bands)):
        values, ignored = _edge_rows(exposure, b, top, s, cache)
        window = np.where(ignored[start:start + near], np.nan, values[start:start + near])
        with quiet_runtime_warnings():
            column = np.nan_to_num(np.nanmean(window, axis=0))
        visible |= ndimage.uniform_filter1d(column, s.smooth_px, mode="nearest") >= s.visible_sigma
    if past_flags:
        rows = exposure.msk[:, ny - start - near:ny - start] if top else exposure.msk[:, start:start + near]
        visible |= ((rows & BLEED_BITS) != 0).all(axis=1).any(axis=0)
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
        # a region the namer calls an edge bleed is cut to its glow however tall (its
        # network's region holds the star's halo, or a ghost beside it, too)
        if (a.category in s.keep or top == bottom or x1 <= x0
                or (a.ymax - a.ymin > s.max_height_px and a.category != "edge-bleed")):
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


@dataclass(frozen=True)
class EdgeBleedFinderSettings(EdgeBleedSettings):
    """Where the edge-bleed finder looks (:func:`find_edge_bleeds`), on top of how a glow is
    measured (:class:`EdgeBleedSettings`; ``edge_px`` and ``keep`` concern the network's
    regions only).

    A bleed trail reaching a readout edge is a run of columns with ``SATURATE`` or ``TRAIL``
    pixels in the ``reach`` rows next to it (runs closer than ``gap_px`` merged); its glow is
    measured over the run widened by ``side_px`` each side and over ``max_height_px`` rows.
    The glow ends where the profile falls below ``visible_sigma`` or, before that, where it
    starts to rise again (by ``rise`` times its lowest so far, plus one sigma: a star's halo
    beyond the glow). It must be at least ``min_rows`` deep, brightest in the third of its
    depth nearest the edge (a star's halo grows towards the star instead) and spread along
    the edge over at least ``min_width_px`` columns (the halo of a star near the edge is
    narrower). Glows of one edge whose columns overlap (two trails of one star) are one.

    The artifact (a :class:`~spacejunk.predict.marked.MarkedArtifact`) keeps the glow's
    pixels, each column's down to its first row no longer visible, on the image binned
    ``mark_bin`` x ``mark_bin``: the tile classifier scores the tiles the glow covers, not the
    corners of its box far from the star's column. The score is ``peak / (peak +
    score_sigma)``, ``peak`` the profile's highest in sky sigma in the third nearest the edge.
    """

    gap_px: int = 8
    side_px: int = 40
    max_height_px: float = 300.0
    min_width_px: float = 300.0
    mark_bin: int = 4
    rise: float = 1.5
    score_sigma: float = 5.0


def find_edge_bleeds(exposure: Exposure, settings: EdgeBleedFinderSettings | None = None) -> list[Artifact]:
    """Edge bleeds from DESDM's flags alone: a glow along a readout edge where a bleed trail
    reaches it (see :class:`EdgeBleedFinderSettings`), without the network.

    Returns
    -------
    list of Artifact
        Category ``edge-bleed``, one per glowing bleed trail; none without a bit mask.
    """
    s = settings or EdgeBleedFinderSettings()
    if exposure.msk is None:
        return []
    ny, nx = exposure.shape
    limit = int(min(s.max_height_px, ny))
    cache: dict = {}
    out = []
    for top in (False, True):
        glows = []
        rows = exposure.msk[:, ny - s.reach:] if top else exposure.msk[:, :s.reach]
        hit = ((rows & BLEED_BITS) != 0).any(axis=(0, 1))
        # runs closer than gap_px are one trail (closing padded, so runs at the sides stay)
        hit = ndimage.binary_closing(np.pad(hit, s.gap_px), np.ones(s.gap_px, bool))[s.gap_px:-s.gap_px]
        for (run,) in ndimage.find_objects(ndimage.label(hit)[0]):
            x0, x1 = max(run.start - s.side_px, 0), min(run.stop + s.side_px, nx)
            # the glow is measured past the edge's flagged border
            start = _flagged_rows(exposure, x0, x1, top, limit, s, cache)
            profiles = [p[start:] for p in _profiles(exposure, x0, x1, top, limit, s, cache)]
            depths = [_fading_rows(p, s) for p in profiles]
            b = int(np.argmax(depths))
            depth, profile = depths[b], profiles[b]
            if not s.min_rows <= depth < limit - start:  # no glow, or one that never fades (a halo, a ghost)
                continue
            near = max(depth // 3, 1)
            peak = float(profile[:near].max())
            if peak < float(profile[near:depth].max(initial=0.0)):  # brightest away from the edge
                continue
            depth += start
            x0, x1 = _extent(exposure, x0, x1, top, depth, s, cache, start=start)
            if x1 - x0 < s.min_width_px:
                continue
            y0, y1 = (float(ny - depth), float(ny)) if top else (0.0, float(depth))
            glows.append((float(x0), y0, float(x1), y1, peak / (peak + s.score_sigma)))
        out += [_edge_bleed(exposure, glow, top, s, cache) for glow in _merged(glows)]
    return out


def _glow_marks(exposure: Exposure, x0: int, x1: int, depth: int, top: bool, s: EdgeBleedFinderSettings,
                cache: dict) -> np.ndarray:
    """Bool ``(depth, x1 - x0)``, row 0 the edge row: the glow's pixels, each column's from the
    edge to its first row below ``visible_sigma`` in every band (smoothed over 3 rows and
    ``smooth_px`` columns; flagged pixels, the trail and saturated glow, count as glow)."""
    visible = np.zeros((depth, x1 - x0), bool)
    for b in range(len(exposure.bands)):
        values, ignored = _edge_rows(exposure, b, top, s, cache)
        known = ~ignored[:depth, x0:x1]
        weight = ndimage.uniform_filter(known.astype(np.float32), (3, s.smooth_px))
        total = ndimage.uniform_filter(np.where(known, values[:depth, x0:x1], np.float32(0)), (3, s.smooth_px))
        with np.errstate(all="ignore"):
            visible |= (weight <= 0.5) | (total >= s.visible_sigma * weight)
    return np.logical_and.accumulate(visible, axis=0)


def _merged(glows: list[tuple[float, float, float, float, float]]) -> list[tuple[float, float, float, float, float]]:
    """Glows ``(x0, y0, x1, y1, score)`` of one edge, those whose columns overlap merged (union
    of the boxes, best score)."""
    out: list[tuple[float, float, float, float, float]] = []
    for g in sorted(glows):
        if out and g[0] < out[-1][2]:
            last = out[-1]
            out[-1] = (last[0], min(last[1], g[1]), max(last[2], g[2]), max(last[3], g[3]), max(last[4], g[4]))
        else:
            out.append(g)
    return out


def _edge_bleed(exposure: Exposure, glow: tuple[float, float, float, float, float], top: bool,
                s: EdgeBleedFinderSettings, cache: dict) -> MarkedArtifact:
    """The artifact of a glow ``(x0, y0, x1, y1, score)``, its pixels marked on the image binned
    ``mark_bin`` x ``mark_bin``."""
    x0, y0, x1, y1, score = glow
    ny, nx = exposure.shape
    depth = int(y1 - y0)
    pixels = np.zeros((ny, nx), bool)
    glow_pixels = _glow_marks(exposure, int(x0), int(x1), depth, top, s, cache)
    if top:
        pixels[ny - depth:, int(x0):int(x1)] = glow_pixels[::-1]
    else:
        pixels[:depth, int(x0):int(x1)] = glow_pixels
    marks = bin_image(pixels, s.mark_bin, func="max")
    return MarkedArtifact(exposure.name, (x0 + x1) / 2, (y0 + y1) / 2, 0.5 * math.hypot(x1 - x0, y1 - y0),
                          x0, y0, x1, y1, score, "edge-bleed", marks=marks, bin=s.mark_bin)

"""Scattered light left after the sky was subtracted: a CCD, or a large part of it, above zero.

A ghost or scattered light can cover a whole CCD with no edge on it; then nothing inside
the CCD tells its light from the sky's, and the finders that look for edges
(:mod:`.ghost_discs`) see nothing. Where the sky was subtracted from ``SCI`` (DESDM's
``immasked`` images, whose sky model is fitted over the whole focal plane and does not
follow a ghost), that light stays behind as a level above zero. So, for the bands whose
``SCI`` header says the sky was subtracted (``keyword``, logical true):

1. each such band in sky-noise units above zero (not above its own measured sky), flagged
   pixels and sources (beyond ``clip`` sigma of the band's sky) left out, its mean in
   ``bin`` x ``bin`` blocks (NaN where under a fifth of a block is usable); the bands
   averaged;
2. blocks of at least ``min_level`` sigma are lit (on the simulator's clean sky-subtracted
   CCDs the blocks sit at 0.02-0.10: faint galaxies' wings); opened by one block (a
   star's halo, lone blocks); within each 8-connected region only the blocks of at least
   ``min_relative`` of its brighter blocks' level (its 90th percentile) stay lit (a ghost's
   central hole is lit too, dimmer than its ring), opened again; the regions of at least
   ``min_fraction`` of the CCD's blocks are scattered light.

Each region is a ``ghost`` artifact (a :class:`~spacejunk.predict.marked.MarkedArtifact`
that keeps its blocks, so the tile classifier scores the tiles it covers) scored
``level / (level + min_level)`` (0.5 at the limit), ``level`` the median of its blocks.
A CCD whose sky was not subtracted gives nothing: its ``SKYBRITE`` is measured on the CCD
itself, ghost included, so it is no reference.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ..io.artifact import Artifact
from ..io.exposure import Exposure
from ..preprocess.normalise import masked_bin, noise_units
from .blobs import IGNORED_BITS
from .marked import MarkedArtifact

__all__ = ["SkyExcessSettings", "sky_subtracted_bands", "excess_levels", "find_sky_excess"]


@dataclass(frozen=True)
class SkyExcessSettings:
    """How light left after the sky's subtraction is looked for (see the module's notes)."""

    keyword: str = "SKYSUB"
    bin: int = 128
    clip: float = 3.0
    min_level: float = 0.2
    min_relative: float = 0.5
    min_fraction: float = 0.02


def sky_subtracted_bands(exposure: Exposure, keyword: str = "SKYSUB") -> list[int]:
    """Indices of the bands whose ``SCI`` header holds ``keyword`` set to logical true."""
    return [b for b, h in enumerate(exposure.headers) if h.get(keyword, False) is True]


def excess_levels(exposure: Exposure, settings: SkyExcessSettings | None = None) -> np.ndarray | None:
    """The sky-subtracted bands' mean level in noise units in ``bin`` x ``bin`` blocks, averaged
    over those bands (NaN where a block has under a fifth of its pixels usable); None when no
    band's sky was subtracted."""
    s = settings or SkyExcessSettings()
    bands = sky_subtracted_bands(exposure, s.keyword)
    if not bands:
        return None
    total = None
    for b in bands:
        values, ignored = noise_units(exposure, b, ignored_bits=IGNORED_BITS)
        sky, noise = exposure.sky_noise(b)
        mean = masked_bin(values, ignored | (np.abs(values) > s.clip), s.bin)
        mean += sky / (noise if noise > 0 else 1.0)
        total = mean if total is None else total + mean
    return total / len(bands)


def find_sky_excess(exposure: Exposure, settings: SkyExcessSettings | None = None) -> list[Artifact]:
    """Regions of ``exposure`` left bright after the sky's subtraction, as ``ghost`` artifacts."""
    s = settings or SkyExcessSettings()
    levels = excess_levels(exposure, s)
    if levels is None or min(levels.shape) < 3:
        return []
    square = np.ones((3, 3), bool)
    filled = np.nan_to_num(levels, nan=0.0)
    lit = ndimage.binary_opening(filled >= s.min_level, structure=square)
    labels, n = ndimage.label(lit, structure=square)
    if s.min_relative > 0 and n:
        # a ghost's central hole is lit too, dimmer than its ring: keep each region's blocks
        # of at least min_relative of its brighter blocks' level (its 90th percentile)
        top = np.array([np.percentile(filled[labels == k], 90) for k in range(1, n + 1)])
        lit &= filled >= s.min_relative * np.concatenate([[0.0], top])[labels]
        lit = ndimage.binary_opening(lit, structure=square)
        labels, _ = ndimage.label(lit, structure=square)
    ny, nx = exposure.shape
    out = []
    for k, sl in enumerate(ndimage.find_objects(labels), start=1):
        region = labels == k
        if region.sum() < s.min_fraction * region.size:
            continue
        level = float(np.nanmedian(levels[region]))
        x0, x1 = sl[1].start * s.bin, min(sl[1].stop * s.bin, nx)
        y0, y1 = sl[0].start * s.bin, min(sl[0].stop * s.bin, ny)
        a = Artifact.from_box(exposure.name, float(x0), float(y0), float(x1), float(y1),
                              score=level / (level + s.min_level), category="ghost")
        out.append(MarkedArtifact(**Artifact.as_row(a), marks=region, bin=s.bin))
    return sorted(out, key=lambda a: -a.score)

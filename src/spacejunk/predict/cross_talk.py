"""Amplifier cross-talk: a faint copy of a saturated star mirrored into the other amplifier.

A DECam CCD is read by two amplifiers, each reading half of the columns towards its own
side; a little of the charge one reads leaks into the other's signal, at the mirror
column ``x -> nx - 1 - x`` and the same row, positive or negative, of order 0.1 % (Bernstein
et al. 2017, PASP 129, 114502). Only saturated stars and their bleed trails are bright
enough for that copy to show. So, for every band and every saturated region (``MSK`` bit
``SATURATE``):

1. the *source*: the region grown by ``pad`` pixels, in noise units above the sky;
2. the *copy*: the same pixels mirrored across the amplifier boundary;
3. the leak coefficient ``k`` that best explains the copy by the source (median of
   copy / source over the source's bright pixels, robust to stars lying in the copy;
   the copy's own background, the median where the source is faint, taken off first), and
   its significance ``|k| sqrt(sum source^2)`` (the copy's noise is 1);
4. where it is at least ``min_sigma``, and each half of the source's bright pixels (by
   row) leaks with the same sign at ``split_sigma`` or more (a leak is the same all
   along the source; the glow a bleed trail spreads along the readout edge lies under
   part of it only), the artifact is the copy's pixels where ``|k| source`` is visible
   (at least ``min(0.7, 0.3 peak)`` sky sigma), boxed.

The score is ``significance / (significance + score_sigma)``: a copy at the limit
(``min_sigma``, 12) scores 0.33, one of ``score_sigma`` (24) 0.5. On 40 simulated CCDs with
one copy each (seeds 100-139) the true copies reach 14-590 (36 of 38 above 24) and 5 of
the 8 false ones (a glow along the readout edge or a ghost's gradient where a bright
star's copy would be) 13-19, so at the detector's default threshold (0.5) most false
copies are not reported and nearly every true one is.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ..categories import DESDM_BITS
from ..io.artifact import Artifact
from ..io.exposure import Exposure
from ..stitch import join_overlapping

__all__ = ["CrossTalkSettings", "find_cross_talk"]


@dataclass(frozen=True)
class CrossTalkSettings:
    """How cross-talk copies are looked for (see the module's notes)."""

    pad: int = 20
    min_source_sigma: float = 50.0
    min_pixels: int = 20
    min_sigma: float = 12.0
    score_sigma: float = 24.0
    visible_sigma: float = 0.7
    visible_fraction: float = 0.3
    split_sigma: float = 6.0


def _leaks_throughout(copy: np.ndarray, src: np.ndarray, bright: np.ndarray, leak: float,
                      min_sigma: float) -> bool:
    """Whether both halves of the source's bright pixels (by row) leak with ``leak``'s sign
    at ``min_sigma`` or more: a leak is the same all along the source, while a glow or a
    gradient under part of it (the readout edge a bleed trail reaches) is not."""
    if min_sigma <= 0:
        return True
    rows, cols = np.nonzero(bright)
    cut = np.median(rows)
    for half in (rows <= cut, rows > cut):
        if not half.any():
            continue
        sel = (rows[half], cols[half])
        part = float(np.median(copy[sel] / src[sel]))
        if part * leak <= 0 or abs(part) * float(np.sqrt(np.sum(src[sel] ** 2))) < min_sigma:
            return False
    return True


def find_cross_talk(exposure: Exposure, settings: CrossTalkSettings | None = None) -> list[Artifact]:
    """Cross-talk copies of the saturated stars of ``exposure`` as ``cross-talk`` artifacts."""
    s = settings or CrossTalkSettings()
    ny, nx = exposure.shape
    mid = (nx - 1) / 2.0
    sat_bit = DESDM_BITS["SATURATE"]
    boxes: list[tuple[tuple[float, float, float, float], float]] = []
    for b in range(len(exposure.bands)):
        sci, msk = exposure.sci[b], exposure.msk[b]
        sat = (msk & sat_bit) != 0
        if not sat.any():
            continue
        sky, noise = exposure.sky_noise(b)
        noise = float(noise) if noise > 0 else 1.0
        labels, n = ndimage.label(sat, structure=np.ones((3, 3), bool))
        for k, sl in enumerate(ndimage.find_objects(labels), start=1):
            y0, y1 = max(sl[0].start - s.pad, 0), min(sl[0].stop + s.pad, ny)
            x0, x1 = max(sl[1].start - s.pad, 0), min(sl[1].stop + s.pad, nx)
            if x0 <= mid < x1:
                continue  # a source on the boundary has no clean copy
            src = (sci[y0:y1, x0:x1] - np.float32(sky)) / np.float32(noise)
            mx0, mx1 = nx - x1, nx - x0
            copy = ((sci[y0:y1, mx0:mx1] - np.float32(sky)) / np.float32(noise))[:, ::-1]
            copy_bad = (msk[y0:y1, mx0:mx1] != 0)[:, ::-1]
            bright = (src > s.min_source_sigma) & ~copy_bad
            faint = (np.abs(src) < 3.0) & ~copy_bad
            if bright.sum() < s.min_pixels or faint.sum() < s.min_pixels:
                continue
            # the copy's own background (a ghost, scattered light) is not a leak
            copy = copy - np.float32(np.median(copy[faint]))
            leak = float(np.median(copy[bright] / src[bright]))
            significance = abs(leak) * float(np.sqrt(np.sum(src[bright] ** 2)))
            if significance < s.min_sigma or not _leaks_throughout(copy, src, bright, leak, s.split_sigma):
                continue
            model = np.abs(leak) * np.maximum(src, 0.0)
            visible = model >= min(s.visible_sigma, s.visible_fraction * float(model.max()))
            rows, cols = np.nonzero(visible)
            if rows.size == 0:
                continue
            # mirrored columns: column c of the window is image column mx1 - 1 - c
            bx0, bx1 = mx1 - 1 - int(cols.max()), mx1 - int(cols.min())
            by0, by1 = y0 + int(rows.min()), y0 + int(rows.max()) + 1
            boxes.append(((float(bx0), float(by0), float(bx1), float(by1)), significance))
    # the same copy seen in several bands is one artifact: overlapping boxes are joined
    merged = join_overlapping(sorted(boxes, key=lambda t: -t[1]))
    return [Artifact.from_box(exposure.name, x0, y0, x1, y1, score=sig / (sig + s.score_sigma), category="cross-talk")
            for (x0, y0, x1, y1), sig in merged]

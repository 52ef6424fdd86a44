"""Cosmic rays DESDM did not flag: sharp, bright, in one band only.

DESDM flags most cosmic rays (``MSK`` bit ``CRAY``); those it misses are artifacts to
report. A cosmic ray is deposited in the CCD, not seen through the atmosphere, so it is
sharper than any star (not blurred by the PSF) and lies in one exposure, hence one band.
For every band:

1. the band in noise units above the sky, flagged pixels set to the sky;
2. *seeds*: 8-connected groups of pixels above ``seed_sigma``;
3. a seed is *sharp* when, at its brightest pixel, the median of the
   ``window`` x ``window`` pixels around it is below ``max_median_ratio`` of the peak
   (a star's core is a smooth hill, a cosmic ray a spike or a thin track);
4. it is *in one band* when no other band holds more than ``max_other_ratio`` of its
   peak around the same pixel (a star of any colour shows in the other bands);
5. the artifact is the group of pixels above ``grow_sigma`` connected to a kept seed
   (pieces of a track a pixel or two apart joined when the piece reaches
   ``bridge_sigma``: a lone noise pixel beside a small cluster is not the cluster's),
   boxed, scored by its peak: ``peak / (peak + seed_sigma)`` (0.5 at the limit); a group
   of more than ``max_pixels`` pixels is the wing of something else. A track is thin:
   its box may be large (a worm curls over a few hundred pixels) while the track holds few.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ..categories import DESDM_BITS
from ..io.artifact import Artifact
from ..io.exposure import Exposure
from ..preprocess.normalise import noise_units
from ..stitch import join_overlapping

__all__ = ["CosmicRaySettings", "find_cosmic_rays"]

#: Pixels DESDM has dealt with (cosmic rays it found among them) are set to the sky first.
IGNORED_BITS = (DESDM_BITS["BPM"] | DESDM_BITS["SATURATE"] | DESDM_BITS["CRAY"] | DESDM_BITS["TRAIL"]
                | DESDM_BITS["EDGEBLEED"] | DESDM_BITS["EDGE"] | DESDM_BITS["BADAMP"])


@dataclass(frozen=True)
class CosmicRaySettings:
    """How unflagged cosmic rays are looked for (see the module's notes)."""

    seed_sigma: float = 8.0
    grow_sigma: float = 3.0
    bridge_sigma: float = 5.0
    window: int = 5
    max_median_ratio: float = 0.15
    max_other_ratio: float = 0.2
    max_pixels: int = 5000


def _window_values(image: np.ndarray, ys: np.ndarray, xs: np.ndarray, half: int) -> np.ndarray:
    """(n, (2 half + 1)**2) pixel values around each (y, x), edges padded with zeros."""
    ny, nx = image.shape
    d = np.arange(-half, half + 1)
    yy = np.clip(ys[:, None, None] + d[None, :, None], 0, ny - 1)
    xx = np.clip(xs[:, None, None] + d[None, None, :], 0, nx - 1)
    return image[yy, xx].reshape(len(ys), -1)


def _pieces(image: np.ndarray, level: float, bridge: float) -> tuple[np.ndarray, np.ndarray]:
    """The 8-connected pieces of ``image`` above ``level`` (a label map) and, for each label
    (0: none), whether the piece reaches ``bridge``."""
    above = image > level
    pieces, n = ndimage.label(above, structure=np.ones((3, 3), bool))
    peaks = np.full(n + 1, -np.inf)
    np.maximum.at(peaks, pieces[above], image[above])  # over the pixels above only: no sort of the image
    strong = peaks > bridge
    strong[0] = False
    return pieces, strong


def _grow(pieces: np.ndarray, strong: np.ndarray, y: int, x: int,
          reach: int = 200) -> tuple[tuple[int, int, int, int], int]:
    """Box (x0, y0, x1, y1) and number of pixels of the track through (y, x).

    The track is the piece of ``pieces`` (:func:`_pieces`) holding (y, x), and the pieces a
    gap of a pixel or two from it that are ``strong`` (a track fading for a pixel or two;
    not a lone noise pixel above the level), looked for within ``reach``.
    """
    ny, nx = pieces.shape
    y0, y1, x0, x1 = max(y - reach, 0), min(y + reach + 1, ny), max(x - reach, 0), min(x + reach + 1, nx)
    cut = pieces[y0:y1, x0:x1]
    kept = strong[cut] | (cut == pieces[y, x])
    eight = np.ones((3, 3), bool)
    lab, _ = ndimage.label(ndimage.binary_dilation(kept, structure=eight), structure=eight)
    rows, cols = np.nonzero((lab == lab[y - y0, x - x0]) & kept)
    box = (x0 + int(cols.min()), y0 + int(rows.min()), x0 + int(cols.max()) + 1, y0 + int(rows.max()) + 1)
    return box, len(rows)


def find_cosmic_rays(exposure: Exposure, settings: CosmicRaySettings | None = None) -> list[Artifact]:
    """Unflagged cosmic rays of ``exposure`` as ``cosmic-ray`` artifacts (see the module's notes)."""
    s = settings or CosmicRaySettings()
    layers = [noise_units(exposure, b, ignored_bits=IGNORED_BITS) for b in range(len(exposure.bands))]
    half = s.window // 2
    out = []
    for b, (image, ignored) in enumerate(layers):
        clean = np.where(ignored, np.float32(0), image)
        # seeds: local maxima above the limit, away from flagged pixels (whose edges look sharp)
        ys, xs = np.nonzero(clean > s.seed_sigma)
        if len(ys) == 0:
            continue
        top = clean[ys, xs] >= _window_values(clean, ys, xs, 1).max(axis=1)
        ys, xs = ys[top], xs[top]
        away = ~_window_values(ignored, ys, xs, half + 1).any(axis=1)
        ys, xs = ys[away], xs[away]
        peaks = clean[ys, xs]
        keep = np.median(_window_values(clean, ys, xs, half), axis=1) < s.max_median_ratio * peaks
        for o, (other, _) in enumerate(layers):
            if o != b and keep.any():
                keep[keep] = (_window_values(other, ys[keep], xs[keep], 1).max(axis=1)
                              < s.max_other_ratio * peaks[keep])
        boxes: dict[tuple[int, int, int, int], float] = {}
        if keep.any():
            pieces, strong = _pieces(clean, s.grow_sigma, s.bridge_sigma)
        for y, x, p in zip(ys[keep], xs[keep], peaks[keep]):
            box, n_pixels = _grow(pieces, strong, int(y), int(x))
            if n_pixels > s.max_pixels:
                continue  # a region this large is the wing of something else
            boxes[box] = max(boxes.get(box, 0.0), float(p))
        # a track longer than _grow's reach is seen whole by none of its seeds: its pieces are one
        for (x0, y0, x1, y1), peak in join_overlapping(boxes.items()):
            out.append(Artifact.from_box(exposure.name, x0, y0, x1, y1, score=peak / (peak + s.seed_sigma),
                                         category="cosmic-ray"))
    out.sort(key=lambda a: -a.score)
    return out

"""Dark halos: a disc or ring of over-subtracted sky around a bright star.

When the sky background is estimated with a bright star's wings not masked, the sky
subtracted around that star is too high, and a dark region tens to hundreds of pixels
across is left around it, a fraction of a sky sigma to a few sigma deep in every band.
Per pixel it is lost in the noise; averaged over a block of pixels it is not. So:

1. each band in noise units above the sky, with flagged pixels and every source (pixels
   above ``source_sigma``, grown by ``grow`` pixels) left out;
2. the mean of what is left in ``bin`` x ``bin`` blocks, averaged over the bands (a
   halo is nearly grey), minus a smooth sky (a quadratic surface fitted with clipping,
   as the real sky has gradients);
3. smoothed by a Gaussian of ``smooth`` blocks and put in units of its own robust scatter;
4. connected regions below ``-min_sigma``, at least ``min_blocks`` blocks, roundish
   (box sides within ``max_elongation`` of each other, 2.5 when cut by the CCD's edge), at
   least ``min_significance``, and centred on a star of at least ``min_star_sigma`` (the
   circle about it reaching the region's farthest block covers the region's box, clipped to
   the CCD): that star is what made them;
5. the box is that of the region's blocks at least ``extent_fraction`` of its deepest.

The score is ``significance / (significance + min_significance)`` (0.5 at the limit), the
significance being the region's summed depth over the square root of its size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from .._errors import quiet_runtime_warnings
from ..categories import DESDM_BITS
from ..evaluate.coco import box_iou
from ..io.artifact import Artifact
from ..io.exposure import Exposure
from ..preprocess.normalise import noise_units

__all__ = ["DarkHaloSettings", "find_dark_halos", "sky_residual", "binned_sky", "fill_with_sky"]

#: Pixels left out of the sky: everything DESDM flagged.
IGNORED_BITS = (DESDM_BITS["BPM"] | DESDM_BITS["SATURATE"] | DESDM_BITS["CRAY"] | DESDM_BITS["TRAIL"]
                | DESDM_BITS["EDGEBLEED"] | DESDM_BITS["EDGE"] | DESDM_BITS["BADAMP"] | DESDM_BITS["INTERP"])


@dataclass(frozen=True)
class DarkHaloSettings:
    """How dark halos are looked for (see the module's notes)."""

    bin: int = 16
    source_sigma: float = 2.5
    grow: int = 4
    smooth: float = 2.0
    min_sigma: float = 4.0
    min_blocks: int = 8
    max_elongation: float = 1.6
    min_star_sigma: float = 200.0
    min_centred_iou: float = 0.5
    min_significance: float = 50.0
    extent_fraction: float = 0.3


def _block_sums(values: np.ndarray, good: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Sums of ``values`` over ``good`` pixels and counts of good pixels in size x size blocks
    (the last partial row and column of blocks dropped)."""
    ny, nx = values.shape[0] // size * size, values.shape[1] // size * size
    shape = (ny // size, size, nx // size, size)
    g = good[:ny, :nx]
    return (np.where(g, values[:ny, :nx], np.float32(0)).reshape(shape).sum(axis=(1, 3), dtype=np.float64),
            g.reshape(shape).sum(axis=(1, 3)))


def _smooth_sky(image: np.ndarray, *, clip: float = 3.0, iterations: int = 4) -> np.ndarray:
    """``image`` (NaN where unknown) minus a quadratic surface fitted with sigma clipping."""
    ny, nx = image.shape
    yy, xx = np.mgrid[:ny, :nx].astype(np.float64)
    xx, yy = xx / max(nx, ny), yy / max(nx, ny)
    design = np.stack([np.ones_like(xx), xx, yy, xx * xx, yy * yy, xx * yy], -1).reshape(-1, 6)
    z = image.reshape(-1)
    ok = np.isfinite(z)
    if ok.sum() < 12:
        return np.where(np.isfinite(image), image - np.nanmedian(image) if ok.any() else 0.0, np.nan)
    for _ in range(iterations):
        coef, *_ = np.linalg.lstsq(design[ok], z[ok], rcond=None)
        resid = z - design @ coef
        scatter = 1.4826 * float(np.median(np.abs(resid[ok])))
        ok = np.isfinite(z) & (np.abs(resid) < clip * max(scatter, 1e-12))
    return (z - design @ coef).reshape(ny, nx)


def binned_sky(exposure: Exposure, *, bin: int, source_sigma: float, grow: int) -> np.ndarray:
    """The sky of ``exposure`` in noise units, flagged pixels and sources left out, averaged in
    ``bin`` x ``bin`` blocks and over the bands.

    Sources are the pixels above ``source_sigma``, left out in 4 x 4 blocks grown by
    ``ceil(grow / 4)`` blocks (their wings).

    Returns
    -------
    ndarray, shape (ny // bin, nx // bin), float64
        NaN where no band has enough good pixels (a quarter of the block).
    """
    grow_blocks = max(1, math.ceil(grow / 4))
    sums, counts = 0.0, 0
    for b in range(len(exposure.bands)):
        values, ignored = noise_units(exposure, b, ignored_bits=IGNORED_BITS)
        bad = ignored | ~np.isfinite(values) | (values > source_sigma)
        # sources are left out in 4x4 blocks, grown by a block or more (their wings)
        ny4, nx4 = bad.shape[0] // 4 * 4, bad.shape[1] // 4 * 4
        bad4 = bad[:ny4, :nx4].reshape(ny4 // 4, 4, nx4 // 4, 4).any(axis=(1, 3))
        bad4 = ndimage.binary_dilation(bad4, iterations=grow_blocks)
        good = np.zeros(bad.shape, bool)
        good[:ny4, :nx4] = ~np.repeat(np.repeat(bad4, 4, axis=0), 4, axis=1)
        band_sum, band_count = _block_sums(values, good, bin)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = band_sum / band_count
        mean[band_count < bin * bin / 4] = np.nan
        sums = sums + np.nan_to_num(mean)
        counts = counts + np.isfinite(mean)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def sky_residual(exposure: Exposure, settings: DarkHaloSettings | None = None) -> np.ndarray:
    """The binned, smoothed sky of ``exposure`` less a smooth surface, in units of its scatter.

    Returns
    -------
    ndarray, shape (ny // bin, nx // bin), float64
        Negative where the sky is darker than its surroundings (0 where nothing is known).
    """
    s = settings or DarkHaloSettings()
    binned = binned_sky(exposure, bin=s.bin, source_sigma=s.source_sigma, grow=s.grow)
    resid = _smooth_sky(binned)
    smooth = ndimage.gaussian_filter(np.nan_to_num(resid), s.smooth)
    scatter = 1.4826 * float(np.median(np.abs(smooth)))
    return smooth / (scatter if scatter > 0 else 1.0)


def _centred_on_star(exposure: Exposure, bx: np.ndarray, by: np.ndarray, box: tuple[int, int, int, int],
                     s: DarkHaloSettings) -> bool:
    """Whether a star of at least ``min_star_sigma`` in ``box`` (the region's, pixels) is the
    region's centre: the circle about the star reaching the region's farthest block (centres
    ``bx``, ``by``, pixels), clipped to the CCD, covers about the same box as the region
    (``min_centred_iou``); a halo cut by the CCD's edge passes, a dark patch that merely
    holds a star does not."""
    ny, nx = exposure.shape
    x0, y0, x1, y1 = box
    for b in range(len(exposure.bands)):
        sky, noise = exposure.sky_noise(b)
        level = float(sky) + s.min_star_sigma * float(noise if noise > 0 else 1.0)
        stars, n = ndimage.label(exposure.sci[b][y0:y1, x0:x1] >= level)
        if n == 0:
            continue
        centres = np.array(ndimage.center_of_mass(np.ones((y1 - y0, x1 - x0)), stars, range(1, n + 1)))
        sy, sx = centres[:, 0] + y0, centres[:, 1] + x0
        reach = np.sqrt((bx[None] - sx[:, None]) ** 2 + (by[None] - sy[:, None]) ** 2).max(axis=1) + s.bin / 2
        circles = np.stack([np.maximum(sx - reach, 0.0), np.maximum(sy - reach, 0.0),
                            np.minimum(sx + reach, nx), np.minimum(sy + reach, ny)], axis=1)
        if (box_iou(circles, [box])[:, 0] >= s.min_centred_iou).any():
            return True
    return False


def find_dark_halos(exposure: Exposure, settings: DarkHaloSettings | None = None) -> list[Artifact]:
    """Dark halos around the bright stars of ``exposure`` as ``dark-halo`` artifacts (see the module's notes)."""
    s = settings or DarkHaloSettings()
    ny, nx = exposure.shape
    with quiet_runtime_warnings():
        z = sky_residual(exposure, s)
    labels, _ = ndimage.label(z < -s.min_sigma)
    out = []
    for k, sl in enumerate(ndimage.find_objects(labels), start=1):
        region = labels[sl] == k
        n = int(region.sum())
        if n < s.min_blocks:
            continue
        h, w = region.shape
        x0, y0 = sl[1].start * s.bin, sl[0].start * s.bin
        x1, y1 = min(sl[1].stop * s.bin, nx), min(sl[0].stop * s.bin, ny)
        on_edge = x0 <= 0 or y0 <= 0 or x1 >= nx - s.bin or y1 >= ny - s.bin
        # a disc cut by the CCD's edge is at most twice as long as it is deep
        if max(h, w) > (max(2.5, s.max_elongation) if on_edge else s.max_elongation) * min(h, w):
            continue
        significance = float(-z[sl][region].sum() / math.sqrt(n))
        if significance < s.min_significance:
            continue
        # the halo's extent: where it is at least ``extent_fraction`` of its depth
        region &= z[sl] <= s.extent_fraction * float(z[sl][region].min())
        rows, cols = np.nonzero(region)
        rows, cols = rows + sl[0].start, cols + sl[1].start
        x0, y0 = int(cols.min()) * s.bin, int(rows.min()) * s.bin
        x1, y1 = min((int(cols.max()) + 1) * s.bin, nx), min((int(rows.max()) + 1) * s.bin, ny)
        if not _centred_on_star(exposure, (cols + 0.5) * s.bin, (rows + 0.5) * s.bin, (x0, y0, x1, y1), s):
            continue
        out.append(Artifact.from_box(exposure.name, x0, y0, x1, y1,
                                     score=significance / (significance + s.min_significance), category="dark-halo"))
    out.sort(key=lambda a: -a.score)
    return out


def fill_with_sky(image: np.ndarray, boxes, *, seed: int = 0) -> np.ndarray:
    """``image`` (normalised bands, 0 the sky) with the ellipse inscribed in each box
    ``(xmin, ymin, xmax, ymax)`` replaced by sky: noise of each band's robust scatter (drawn
    with ``seed``, so the same image gets the same fill).

    The tile classifier's network flags a ring of tiles beyond a large dark halo, which its
    receptive field sees; the halo's own tiles are the finder's. Filled, the halo is
    hidden from the network (stop 34, seed 14: false tiles 237 -> 122, true ones 1,428 ->
    1,424; ``docs/classifier.md``).

    Parameters
    ----------
    image : ndarray, shape (n_bands, ny, nx)
    boxes : sequence of (xmin, ymin, xmax, ymax)
        Full-resolution pixels, as :func:`find_dark_halos` boxes them.

    Returns
    -------
    ndarray
        A filled copy, or ``image`` itself when there is no box.
    """
    if len(boxes) == 0:
        return image
    out = np.array(image, copy=True)
    ny, nx = out.shape[-2:]
    rng = np.random.default_rng(seed)
    # each box's pixels inside the image
    spans = [(box, max(math.floor(box[0]), 0), max(math.floor(box[1]), 0), min(math.ceil(box[2]), nx),
              min(math.ceil(box[3]), ny)) for box in boxes]
    spans = [span for span in spans if span[3] > span[1] and span[4] > span[2]]
    # each band's scatter from every 7th pixel outside the boxes
    outside = np.ones((ny, nx), bool)
    for _, x0, y0, x1, y1 in spans:
        outside[y0:y1, x0:x1] = False
    step = outside[::7, ::7]
    sample = out[:, ::7, ::7][:, step] if step.any() else out[:, ::7, ::7].reshape(len(out), -1)
    scatter = 1.4826 * np.median(np.abs(sample - np.median(sample, axis=1, keepdims=True)), axis=1)
    for (xmin, ymin, xmax, ymax), x0, y0, x1, y1 in spans:
        cx, cy = (xmin + xmax) / 2, (ymin + ymax) / 2
        rx, ry = max((xmax - xmin) / 2, 0.5), max((ymax - ymin) / 2, 0.5)
        yy, xx = np.ogrid[y0:y1, x0:x1]
        inside = ((xx + 0.5 - cx) / rx) ** 2 + ((yy + 0.5 - cy) / ry) ** 2 <= 1.0
        n = int(inside.sum())
        for b in range(len(out)):
            out[b, y0:y1, x0:x1][inside] = rng.normal(0.0, scatter[b], n).astype(out.dtype)
    return out

"""RGB composites of an exposure for previews and review (i, r, g -> R, G, B)."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..io.exposure import BAND_ORDER, Exposure
from .normalise import bin_image, normalise

__all__ = ["make_rgb", "rgb_bands", "binning_factor", "RGB_STRETCHES", "MASK_COLOR"]

#: Names accepted by ``make_rgb(..., stretch=...)``.
RGB_STRETCHES: tuple[str, ...] = ("asinh", "linear", "zscale")

#: Colour of masked pixels with ``show_mask=True``: magenta.
MASK_COLOR: tuple[int, int, int] = (255, 0, 255)


# Display constants, in units of the (unbinned) sky noise.
_ASINH_MINIMUM = -2.0  # black level of the Lupton stretch (sky is dark grey, not black)
_ASINH_SOFTENING = 2.0  # intensity where the stretch turns from linear to logarithmic
_ASINH_WHITE = 200.0  # intensity shown at full brightness
_LINEAR_RANGE = (-3.0, 20.0)  # black and white of the linear stretch


def binning_factor(scale: float) -> int:
    """Block size used for a picture at ``scale``: ``round(1 / scale)``.

    Parameters
    ----------
    scale : float
        Picture scale, 0 < scale <= 1 (0.25 -> 4 x 4 blocks; 0.3 -> 3 x 3).

    Returns
    -------
    int
        The factor, >= 1.
    """
    if isinstance(scale, bool) or not isinstance(scale, (int, float, np.integer, np.floating)):
        raise TypeError(f"scale must be a number, got {type(scale).__name__}")
    if not 0 < scale <= 1:
        raise ValueError(f"scale must be in (0, 1], got {scale!r}")
    return max(1, int(round(1.0 / scale)))


def rgb_bands(bands: Sequence[str]) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """Which bands make the R, G and B channels, as indices into ``bands``.

    Parameters
    ----------
    bands : sequence of str
        The bands available (e.g. ``Exposure.bands``), in layer order.

    Returns
    -------
    (red, green, blue) : tuple of three tuples of int
        Indices of the bands averaged into each channel.

    Notes
    -----
    The bands are sorted from blue to red (:data:`spacejunk.io.BAND_ORDER`: u, g, r, i,
    z, Y; other names last, in the order given):

    - three bands or more: the three bluest, reddest of them in R (g, r, i -> i, r, g,
      which is also what g, r, i, z, Y give; z, r, g -> z, r, g; r, i, z -> z, i, r);
    - two bands: the redder in R, the bluer in B, their mean in G;
    - one band: the same band in all three channels (grey).
    """
    bands = list(bands)
    if not bands:
        raise ValueError("bands must name at least one band")
    rank = {b: k for k, b in enumerate(BAND_ORDER)}
    order = sorted(range(len(bands)), key=lambda i: (rank.get(bands[i], len(rank)), i))
    if len(order) >= 3:
        blue, green, red = order[:3]
        return (red,), (green,), (blue,)
    if len(order) == 2:
        blue, red = order
        return (red,), (blue, red), (blue,)
    return (order[0],), (order[0],), (order[0],)


def _to_unit(channels: np.ndarray, stretch: str) -> np.ndarray:
    """Normalised channels (3, h, w) float32, noise units -> [0, 1] float32, in place."""
    if stretch == "asinh":
        # Lupton et al. (2004): stretch the mean intensity, scale the channels alike,
        # so colours stay true where a star saturates.
        channels -= np.float32(_ASINH_MINIMUM)
        np.maximum(channels, 0, out=channels)
        intensity = channels.mean(axis=0)
        positive = intensity > 0
        factor = np.zeros_like(intensity)
        ip = intensity[positive]
        factor[positive] = np.arcsinh(ip / _ASINH_SOFTENING) / (
            np.float32(np.arcsinh(_ASINH_WHITE / _ASINH_SOFTENING)) * ip
        )
        channels *= factor
        peak = channels.max(axis=0)
        np.maximum(peak, 1, out=peak)
        channels /= peak
        return channels
    if stretch == "linear":
        lo, hi = _LINEAR_RANGE
    else:
        # One pair of limits for the three channels (from their mean), so the sky stays
        # neutral grey: the bands are already in units of their own noise.
        from astropy.visualization import ZScaleInterval

        lo, hi = (float(v) for v in ZScaleInterval().get_limits(channels.mean(axis=0)))
        if not hi > lo:
            lo, hi = lo - 1.0, lo + 1.0
    channels -= np.float32(lo)
    channels *= np.float32(1.0 / (hi - lo))
    np.clip(channels, 0, 1, out=channels)
    return channels


def make_rgb(
    exposure: Exposure,
    *,
    bands: Sequence[str] | None = None,
    stretch: str = "asinh",
    scale: float = 1.0,
    show_mask: bool = False,
) -> np.ndarray:
    """An 8-bit RGB picture of an exposure.

    Parameters
    ----------
    exposure : Exposure
        The image.
    bands : sequence of str, optional
        Bands for (R, G, B), e.g. ``("z", "r", "g")``; one band gives grey, two bands give
        R = first, B = second, G = their mean. Default: chosen by :func:`rgb_bands`
        (i, r, g -> R, G, B when present).
    stretch : {"asinh", "linear", "zscale"}, optional
        ``"asinh"`` (default): Lupton-like asinh stretch of the mean intensity, black at
        2 sigma below the sky (which shows dark grey), linear near the sky,
        logarithmic above and white from ~200 sigma; colours of bright stars are kept. ``"linear"``: each channel from 3 sigma below to
        20 sigma above the sky. ``"zscale"``: linear between the IRAF zscale
        limits (:class:`astropy.visualization.ZScaleInterval`) of the channels' mean,
        the same for all three; shows faint extended light best.
    scale : float, optional
        Output scale, 0 < scale <= 1 (default 1). The image is block-averaged by
        ``factor = round(1 / scale)`` pixels, e.g. 0.25 -> 4 x 4 blocks.
    show_mask : bool, optional
        Paint pixels where any ``msk`` bit of any band is set in magenta (255, 0, 255).

    Returns
    -------
    ndarray, shape (ceil(ny / factor), ceil(nx / factor), 3), uint8
        Row 0 is image row 0 (y down, as numpy and PIL show arrays; FITS viewers show
        it flipped).

    Notes
    -----
    Each band is normalised by :func:`normalise` (sky 0, noise 1, no stretch), keeping
    masked pixels as they are and setting non-finite ones to the sky, then binned, so
    faint extended light (ghosts, scattered light) stands out more at small scales.
    At ``scale < 1`` a block is magenta when any of its pixels is masked; the last
    row/column of blocks may be partial (see :func:`bin_image`).
    """
    if not isinstance(exposure, Exposure):
        raise TypeError(f"exposure must be an Exposure, got {type(exposure).__name__}")
    if stretch not in RGB_STRETCHES:
        raise ValueError(f"stretch must be one of {', '.join(RGB_STRETCHES)}, got {stretch!r}")
    factor = binning_factor(scale)
    if bands is None:
        used = exposure
        channel_bands = rgb_bands(exposure.bands)
    else:
        if isinstance(bands, str):
            bands = [bands]
        bands = list(bands)
        if not 1 <= len(bands) <= 3:
            raise ValueError(f"bands must name 1, 2 or 3 bands for R, G, B, got {bands!r}")
        unique = list(dict.fromkeys(bands))
        used = exposure.select(unique)
        idx = [unique.index(b) for b in bands]
        if len(idx) == 3:
            channel_bands = ((idx[0],), (idx[1],), (idx[2],))
        elif len(idx) == 2:
            channel_bands = ((idx[0],), (idx[0], idx[1]), (idx[1],))
        else:
            channel_bands = ((idx[0],),) * 3
    needed = sorted({i for ch in channel_bands for i in ch})
    if len(needed) < len(used.bands):
        used = used.select([used.bands[i] for i in needed])
        channel_bands = tuple(tuple(needed.index(i) for i in ch) for ch in channel_bands)
    z = normalise(used, stretch=None, mask_bits=0)
    if factor > 1:
        z = bin_image(z, factor)
    channels = np.empty((3,) + z.shape[1:], dtype=np.float32)
    for c, members in enumerate(channel_bands):
        if len(members) == 1:
            channels[c] = z[members[0]]
        else:
            np.mean(z[list(members)], axis=0, out=channels[c])
    del z
    unit = _to_unit(channels, stretch)
    unit *= 255
    unit += 0.5
    rgb = np.empty(unit.shape[1:] + (3,), dtype=np.uint8)
    for c in range(3):
        rgb[..., c] = unit[c]
    if show_mask:
        masked = exposure.combined_mask != 0
        if factor > 1:
            masked = bin_image(masked, factor, func="max")
        rgb[masked] = MASK_COLOR
    return rgb

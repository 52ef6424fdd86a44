"""Detector effects of a simulated DECam CCD: saturation, bleed trails, defects, cosmic rays, noise.

Numbers and where they come from
--------------------------------
- Saturation and bleeding: charge above the full well of a pixel spills up and down
  its column (DECam's CCDs bleed along columns, i.e. along ``y``); the saturated core is
  flagged ``SATURATE`` (2), the bleed trail ``SATURATE | TRAIL`` (2 | 64), as DESDM does.
- Bad pixels flagged ``BPM`` (1), the same in every band (one CCD): 0-4 bad columns or
  column segments (hot or cold) and ~40 hot pixels per full CCD.
- Cosmic rays: about 25-60 per 90-s exposure per CCD (a rate of order one per cm^2 per
  minute on a 6 x 3 cm CCD), as short spots and as straight muon tracks up to ~60 px
  (the 250-um thick DECam CCDs give long tracks at grazing angles), 500-5,000 e- per
  pixel; flagged ``CRAY`` (16) where they exceed half a sky sigma, as DESDM's
  detection would, dilated by one pixel.
- The outer 2-8 rows and columns are flagged ``EDGE`` (512).
- ``SCI`` is flat-fielded: both amplifiers are brought to their mean gain, up to a
  residual mismatch of ~0.07 % (a faint step at the amplifier boundary), plus a bias
  residual of ~0.5 ADU per amplifier.
- Noise: Gaussian with the Poisson variance of the signal plus the read noise squared
  (the signal is thousands of electrons, where Poisson is Gaussian to better than 1 %).
- ``WGT`` is ``1 / variance`` in ADU^-2 of the sky and read noise only (as DESDM's
  weight maps), and 0 on every flagged pixel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..categories import DESDM_BITS
from ._render import segment_pixels
from ._scene import Scene
from .conditions import BandConditions

__all__ = ["Defects", "draw_defects", "apply_defects", "saturate_and_bleed", "add_cosmic_rays", "finish_band"]

_SAT = np.int32(DESDM_BITS["SATURATE"])
_TRAIL = np.int32(DESDM_BITS["TRAIL"])
_BPM = np.int32(DESDM_BITS["BPM"])
_CRAY = np.int32(DESDM_BITS["CRAY"])
_EDGE = np.int32(DESDM_BITS["EDGE"])
_FULL_CCD_PX = 4096 * 2048


@dataclass(frozen=True)
class Defects:
    """Flagged CCD defects, shared by all bands.

    Attributes
    ----------
    columns : list of tuple
        ``(x, y0, y1, width, factor, offset_sigma)`` per bad column: columns
        ``x .. x + width - 1`` between rows ``y0`` and ``y1`` (exclusive) have their
        signal multiplied by ``factor`` and ``offset_sigma`` sky sigmas added.
    hot_y, hot_x : ndarray of int, shape (m,)
        Hot pixels.
    hot_sigma : ndarray, shape (m,)
        Their excess, in sky sigmas.
    edge_px : int
        Width of the flagged border, pixels.
    """

    columns: list
    hot_y: np.ndarray
    hot_x: np.ndarray
    hot_sigma: np.ndarray
    edge_px: int


def draw_defects(rng: np.random.Generator, shape: tuple[int, int]) -> Defects:
    """Draw the flagged bad columns, hot pixels and edge width of one CCD."""
    ny, nx = shape
    area = ny * nx / _FULL_CCD_PX
    columns = []
    for _ in range(rng.poisson(1.5 * max(nx / 2048, 0.05))):
        x = int(rng.integers(0, nx))
        width = int(rng.choice([1, 1, 1, 2, 3]))
        if rng.random() < 0.5:
            y0, y1 = 0, ny
        elif rng.random() < 0.5:  # from a charge trap to the readout edge
            y0, y1 = 0, int(rng.integers(1, ny + 1))
        else:
            y0, y1 = int(rng.integers(0, ny)), ny
        if rng.random() < 0.6:
            columns.append((x, y0, y1, width, 1.0, float(np.exp(rng.uniform(np.log(5.0), np.log(500.0))))))
        else:
            columns.append((x, y0, y1, width, float(rng.uniform(0.0, 0.5)), 0.0))
    n_hot = rng.poisson(40.0 * area)
    return Defects(
        columns=columns,
        hot_y=rng.integers(0, ny, n_hot),
        hot_x=rng.integers(0, nx, n_hot),
        hot_sigma=np.exp(rng.uniform(np.log(5.0), np.log(2000.0), n_hot)),
        edge_px=int(rng.integers(2, 9)),
    )


def apply_defects(scene: Scene, defects: Defects) -> None:
    """Put the flagged defects into every band (signal in electrons, ``BPM`` and ``EDGE`` bits)."""
    ny, nx = scene.shape
    for b, cond in enumerate(scene.conditions):
        img, msk = scene.electrons[b], scene.msk[b]
        for x, y0, y1, width, factor, offset in defects.columns:
            sl = (slice(y0, y1), slice(x, min(x + width, nx)))
            img[sl] = img[sl] * np.float32(factor) + np.float32(offset * cond.sigma_e)
            msk[sl] |= _BPM
        img[defects.hot_y, defects.hot_x] += (defects.hot_sigma * cond.sigma_e).astype(np.float32)
        msk[defects.hot_y, defects.hot_x] |= _BPM
        e = min(defects.edge_px, ny // 2, nx // 2)
        if e > 0:
            msk[:e] |= _EDGE
            msk[-e:] |= _EDGE
            msk[:, :e] |= _EDGE
            msk[:, -e:] |= _EDGE


def saturate_and_bleed(image: np.ndarray, msk: np.ndarray, saturate_e: np.ndarray) -> None:
    """Clip one band at saturation and bleed the excess charge along columns, in place.

    Parameters
    ----------
    image : ndarray, shape (ny, nx), float32
        Signal, electrons.
    msk : ndarray, shape (ny, nx), int32
        Mask; saturated pixels get ``SATURATE``, the bleed trail ``SATURATE | TRAIL``.
    saturate_e : ndarray, shape (2,)
        Full well of amplifiers A (columns ``< nx // 2``) and B, electrons.

    Notes
    -----
    Each saturated run of a column keeps ``saturate`` electrons per pixel; half its
    excess charge fills the pixels above it up to ``saturate``, half those below, the
    last one partly; charge is conserved except where the trail meets the CCD edge (lost
    to the serial register).
    """
    ny, nx = image.shape
    split = nx // 2
    level = np.empty(nx, np.float32)
    level[:split], level[split:] = saturate_e[0], saturate_e[1]
    over_cols = np.flatnonzero((image > level[None, :]).any(axis=0))
    for c in over_cols:
        col = image[:, c]
        s = level[c]
        rows = np.flatnonzero(col > s)
        breaks = np.flatnonzero(np.diff(rows) > 1)
        starts = np.concatenate([[rows[0]], rows[breaks + 1]])
        stops = np.concatenate([rows[breaks], [rows[-1]]]) + 1
        for r0, r1 in zip(starts, stops):
            excess = float(np.sum(col[r0:r1] - s))
            col[r0:r1] = s
            msk[r0:r1, c] |= _SAT
            _spill(col, msk[:, c], r1, +1, 0.5 * excess, s)
            _spill(col, msk[:, c], r0 - 1, -1, 0.5 * excess, s)


def _spill(col: np.ndarray, mcol: np.ndarray, start: int, step: int, charge: float, s: float) -> None:
    """Pour ``charge`` electrons into ``col`` from ``start`` in direction ``step``, filling pixels up to ``s``.

    Filled pixels are flagged ``SATURATE | TRAIL``; what is left tops up the next pixel;
    charge reaching the end of the column is lost.
    """
    if charge <= 0.0 or not 0 <= start < col.size:
        return
    idx = np.arange(start, col.size) if step > 0 else np.arange(start, -1, -1)
    room = np.maximum(s - col[idx], 0.0)
    filled = np.cumsum(room, dtype=np.float64)
    n_full = int(np.searchsorted(filled, charge, side="right"))
    full = idx[:n_full]
    col[full] = s
    mcol[full] |= _SAT | _TRAIL
    if n_full < idx.size:
        left = charge - (filled[n_full - 1] if n_full else 0.0)
        col[idx[n_full]] += np.float32(left)


def add_cosmic_rays(rng: np.random.Generator, image: np.ndarray, msk: np.ndarray, cond: BandConditions) -> None:
    """Add the cosmic rays DESDM would find (flagged ``CRAY``) to one band, in place.

    About 25-60 per full CCD and 90 s (scaled by area and exposure time): 60 % short
    spots (1-3 px), 40 % straight tracks of 3-60 px; 500-5,000 e- per pixel, sharp
    (not blurred by the PSF).
    """
    ny, nx = image.shape
    area = ny * nx / _FULL_CCD_PX
    n = rng.poisson(rng.uniform(25.0, 60.0) * area * cond.exptime_s / 90.0)
    sigma = cond.sigma_e
    for _ in range(n):
        x, y = rng.uniform(0, nx), rng.uniform(0, ny)
        length = rng.uniform(0.0, 3.0) if rng.random() < 0.6 else np.exp(rng.uniform(np.log(3.0), np.log(60.0)))
        theta = rng.uniform(0.0, np.pi)
        x1, y1 = x + length * np.cos(theta), y + length * np.sin(theta)
        width = rng.uniform(0.5, 1.3)
        yy, xx, d, t = segment_pixels((ny, nx), x, y, x1, y1, width + 1.0)
        if yy.size == 0:
            continue
        per_px = np.exp(rng.uniform(np.log(500.0), np.log(5000.0)))
        values = per_px * np.exp(-0.5 * (d / width) ** 2) * rng.uniform(0.6, 1.4, yy.size)
        image[yy, xx] += values.astype(np.float32)
        hit = values > 0.5 * sigma
        flag_y, flag_x = yy[hit], xx[hit]
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                fy, fx = np.clip(flag_y + dy, 0, ny - 1), np.clip(flag_x + dx, 0, nx - 1)
                msk[fy, fx] |= _CRAY


def finish_band(rng: np.random.Generator, electrons: np.ndarray, msk: np.ndarray, cond: BandConditions,
                sky_e: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Noise, conversion to ADU, optional sky subtraction and weights for one band.

    Parameters
    ----------
    rng : numpy.random.Generator
        Random generator of the noise.
    electrons : ndarray, shape (ny, nx), float32
        Noise-free signal (sky included), electrons. Overwritten (used as work space).
    msk : ndarray, shape (ny, nx), int32
        Mask; flagged pixels get weight 0, saturated ones the saturation value.
    cond : BandConditions
        The band's conditions.
    sky_e : ndarray, shape (ny, nx), float32
        The smooth sky model, electrons.

    Returns
    -------
    sci : ndarray, shape (ny, nx), float32
        ADU: ``electrons / gain + bias`` with ``gain`` the amplifiers' mean gain times
        ``1 + cond.flat_mismatch`` (flat-fielding equalises the amplifiers); when
        ``cond.sky_subtracted``, minus the bias and a sky model holding the mean level
        and 70 % of the gradient. Saturated pixels hold the saturation level.
    wgt : ndarray, shape (ny, nx), float32
        Inverse variance of the sky and read noise, ADU^-2; 0 where ``msk`` is not 0.
    sky_adu : float
        Mean sky level in ADU (``SKYBRITE``).
    """
    ny, nx = electrons.shape
    # Flat-fielding brings both amplifiers to a common gain, up to a small mismatch.
    gain = (np.float32(np.mean(cond.gain)) * (1.0 + cond.per_column(cond.flat_mismatch, nx)))[None, :]
    rn2 = cond.per_column(cond.read_noise_e ** 2, nx)[None, :]
    bias = cond.per_column(cond.bias_adu, nx)[None, :]
    var = np.maximum(electrons, 0.0)
    var += rn2
    np.sqrt(var, out=var)
    noise = rng.standard_normal((ny, nx), dtype=np.float32)
    noise *= var
    sci = electrons
    sci += noise
    del noise
    sci /= gain
    sci += bias
    saturated = (msk & _SAT) != 0
    if saturated.any():
        sat_adu = np.broadcast_to(cond.per_column(cond.saturate_adu, nx)[None, :], (ny, nx))
        sci[saturated] = sat_adu[saturated]
    if cond.sky_subtracted:
        # DESDM's sky model follows most of the gradient and absorbs the bias residual.
        sci -= (np.float32(0.3 * cond.sky_e) + np.float32(0.7) * sky_e) / gain
        sci -= bias
    var = sky_e + rn2
    wgt = (gain * gain) / var
    wgt[msk != 0] = 0.0
    return sci, wgt.astype(np.float32, copy=False), float(cond.sky_e / np.mean(cond.gain))

"""Detector and electronics artifacts: edge bleeds, cross-talk, bad columns, tape bumps, others.

Every generator takes ``(scene, rng, *, scale)``, adds its signal (electrons) and
returns its truth footprints. Compact ones are true where their signal is at least
``min(0.7 sky sigma, 0.3 peak)`` in some band; tape bumps where their shape is at
least 0.3. None is flagged in ``MSK`` (DESDM missed them), except pixels that saturate.
"""

from __future__ import annotations

import numpy as np

from ..categories import DESDM_BITS
from ._render import band_colours, box_offsets, clip_box, log_uniform
from ._scene import Footprint, Scene, shape_footprint, visible_footprint
from .detector import saturate_and_bleed
from .sky import add_star

__all__ = [
    "inject_edge_bleed",
    "inject_cross_talk",
    "inject_column_mask",
    "inject_tape_bump",
    "inject_other",
]

_SAT = np.int32(DESDM_BITS["SATURATE"])


# --------------------------------------------------------------------------- edge bleed
def inject_edge_bleed(scene: Scene, rng: np.random.Generator, *, scale: float = 1.0) -> list[Footprint]:
    """Charge spreading along the top or bottom (readout) edge from a saturated star's bleed trail.

    Notes
    -----
    A star of i = 8-10.5 is put 20-400 px from the edge (at most a third of the image
    height); its bleed trail is made to reach the edge, where the charge spreads along
    the edge rows: ``A exp(-|x - x_star| / Lx) exp(-distance / Ly)`` with Lx 20-400 px
    (each side its own), Ly 3-40 px and ``A`` 5-120 % of saturation. The truth is that
    glow, not the star.
    """
    ny, nx = scene.shape
    x = float(rng.uniform(0.1 * nx, 0.9 * nx))
    dist = float(rng.uniform(min(20.0, ny / 8), max(min(400.0, ny / 3), min(20.0, ny / 8) + 1)))
    top = rng.random() < 0.5
    y = ny - 1 - dist if top else dist
    add_star(scene, x, y, float(rng.uniform(8.0, 10.5)), rng=rng)
    sat = scene.saturate_e(x)
    core = int(np.clip(round(scene.conditions[0].fwhm_px * rng.uniform(0.5, 1.2)), 1, 6))
    c0, c1 = max(int(round(x)) - core, 0), min(int(round(x)) + core + 1, nx)
    r0, r1 = (int(y), ny) if top else (0, int(y) + 1)
    for b in range(scene.n_bands):
        strip = scene.electrons[b, r0:r1, c0:c1]
        np.maximum(strip, np.float32(1.02 * sat[b]), out=strip)
    lx = log_uniform(rng, 20.0, 400.0, 2)
    ly = float(log_uniform(rng, 3.0, 40.0))
    box = clip_box((ny, nx), x - 6 * lx[0], (ny - 1 - 5 * ly) if top else 0, x + 6 * lx[1], (ny - 1) if top else 5 * ly)
    if box is None:
        return []
    X, Y = box_offsets(box, x, ny - 1 if top else 0)
    along = np.exp(-np.abs(X) / np.where(X < 0, np.float32(lx[0]), np.float32(lx[1])))
    across = np.exp(-np.abs(Y) / np.float32(ly))
    ripple = 1.0 + np.float32(rng.uniform(0.0, 0.3)) * np.sin(X / np.float32(rng.uniform(5.0, 30.0)))
    profile = (along * ripple) * across
    amp = scale * sat * rng.uniform(0.05, 1.2) * band_colours(rng, scene.n_bands, spread=0.15)
    values = amp[:, None, None].astype(np.float32) * profile[None]
    scene.electrons[:, box[1]:box[3], box[0]:box[2]] += values
    fp = visible_footprint("edge-bleed", box[0], box[1], values, scene.sigma_e)
    return [fp] if fp is not None else []


# --------------------------------------------------------------------------- cross-talk
def _saturated_star(scene: Scene, rng: np.random.Generator, margin: float) -> tuple[float, float]:
    """A saturated star away from the amplifier boundary: one of the image's, or a new one."""
    ny, nx = scene.shape
    mid = (nx - 1) / 2.0
    ok = ((scene.bright_x >= 0) & (scene.bright_x < nx) & (scene.bright_y >= 0) & (scene.bright_y < ny)
          & (np.abs(scene.bright_x - mid) > margin))
    cand = [i for i in np.flatnonzero(ok)
            if (scene.msk[:, int(scene.bright_y[i]), int(scene.bright_x[i])] & _SAT).any()]
    if cand and rng.random() < 0.5:
        i = int(rng.choice(cand))
        return float(scene.bright_x[i]), float(scene.bright_y[i])
    side = rng.random() < 0.5
    lo, hi = (0.0, mid - margin) if side else (mid + margin, nx - 1.0)
    x, y = float(rng.uniform(lo, max(hi, lo + 1))), float(rng.uniform(0, ny))
    add_star(scene, x, y, float(rng.uniform(9.0, 12.5)), rng=rng)
    for b, cond in enumerate(scene.conditions):
        saturate_and_bleed(scene.electrons[b], scene.msk[b], cond.saturate_e)
    return x, y


def inject_cross_talk(scene: Scene, rng: np.random.Generator, *, scale: float = 1.0) -> list[Footprint]:
    """A faint (or negative) copy of a saturated star mirrored across the amplifier boundary.

    Notes
    -----
    The source is a saturated star (with its bleed trail) of one amplifier; the copy
    appears at ``x -> nx - 1 - x`` in the other, with a coefficient of +-(0.05-0.4) %
    (positive 60 % of the time), in every band where the source is bright. DECam's
    amplifier cross-talk is of this order (Bernstein et al. 2017, PASP 129, 114502).
    """
    ny, nx = scene.shape
    fwhm = scene.conditions[0].fwhm_px
    margin = 3 * fwhm + 12
    x, y = _saturated_star(scene, rng, margin)
    col = int(np.clip(round(x), 0, nx - 1))
    pad = 3 * fwhm + 10
    ylo, yhi = y - pad, y + pad
    sat_rows = np.flatnonzero((scene.msk[:, :, col] & _SAT).any(axis=0))
    if sat_rows.size:  # the saturated core and bleed trail through the star
        runs = np.split(sat_rows, np.flatnonzero(np.diff(sat_rows) > 1) + 1)
        run = min(runs, key=lambda r: np.min(np.abs(r - y)))
        if np.min(np.abs(run - y)) < pad:
            ylo, yhi = min(ylo, run[0] - pad), max(yhi, run[-1] + pad)
    half = min(margin, abs(x - (nx - 1) / 2.0) - 1)
    box = clip_box((ny, nx), x - half, ylo, x + half, yhi)
    if box is None:
        return []
    x0, y0, x1, y1 = box
    sign = 1.0 if rng.random() < 0.6 else -1.0
    coef = sign * scale * log_uniform(rng, 5e-4, 4e-3)
    source = scene.electrons[:, y0:y1, x0:x1] - scene.sky_e[:, None, None].astype(np.float32)
    values = (np.float32(coef) * np.maximum(source, 0.0))[:, :, ::-1]
    dx0, dx1 = nx - x1, nx - x0
    scene.electrons[:, y0:y1, dx0:dx1] += values
    fp = visible_footprint("cross-talk", dx0, y0, values, scene.sigma_e)
    return [fp] if fp is not None else []


# --------------------------------------------------------------------------- column mask
def inject_column_mask(scene: Scene, rng: np.random.Generator, *, scale: float = 1.0) -> list[Footprint]:
    """A bad column or column segment that is NOT flagged ``BPM``: bright or dark, in every band.

    Notes
    -----
    1-3 columns wide; the whole height (40 %), from a charge trap to the readout edge
    (40 %), or a segment of 30 px to the full height (20 %). Bright (55 %): 0.7-30 sky
    sigma added; dark (45 %): the signal cut by 20-100 %.
    """
    ny, nx = scene.shape
    width = int(rng.choice([1, 1, 1, 2, 3]))
    x = int(rng.integers(0, max(nx - width, 1)))
    u = rng.random()
    if u < 0.4:
        y0, y1 = 0, ny
    elif u < 0.8:
        cut = int(rng.integers(1, ny))
        y0, y1 = (0, cut) if rng.random() < 0.5 else (cut, ny)
    else:
        length = int(min(log_uniform(rng, min(30.0, ny), ny), ny))
        y0 = int(rng.integers(0, ny - length + 1))
        y1 = y0 + length
    strip = scene.electrons[:, y0:y1, x:x + width]
    if rng.random() < 0.55:
        sig = scale * log_uniform(rng, 0.7, 30.0) * scene.sigma_e * band_colours(rng, scene.n_bands, spread=0.1)
        values = np.broadcast_to(sig[:, None, None].astype(np.float32), strip.shape).copy()
    else:
        cut = min(scale * rng.uniform(0.2, 1.0), 1.0)
        values = -np.float32(cut) * np.maximum(strip, 0.0)
    strip += values
    fp = visible_footprint("column-mask", x, y0, values, scene.sigma_e)
    return [fp] if fp is not None else []


# --------------------------------------------------------------------------- tape bump
def inject_tape_bump(scene: Scene, rng: np.random.Generator, *, scale: float = 1.0) -> list[Footprint]:
    """A tape bump: a low, round bump (radius 30-80 px) near a CCD edge, in every band.

    Notes
    -----
    DECam CCDs have bumps from the tape under the sensor near their long (left and
    right) edges; 80 % are put there, 20 % near the top or bottom, their centre 0.3 R to
    R + 100 px from the edge. Plain bumps (60 %) or rims with a dip (40 %); +-0.3-2 sky
    sigma (about 0.5-3 % of the sky; positive 70 % of the time). True where the shape is
    at least 0.3.
    """
    ny, nx = scene.shape
    radius = float(rng.uniform(30.0, 80.0))
    inset = float(rng.uniform(0.3 * radius, radius + 100.0))
    if rng.random() < 0.8:
        inset = min(inset, nx / 2)
        cx = inset if rng.random() < 0.5 else nx - 1 - inset
        cy = float(rng.uniform(0, ny))
    else:
        inset = min(inset, ny / 2)
        cy = inset if rng.random() < 0.5 else ny - 1 - inset
        cx = float(rng.uniform(0, nx))
    box = clip_box((ny, nx), cx - radius, cy - radius, cx + radius, cy + radius)
    if box is None:
        return []
    X, Y = box_offsets(box, cx, cy)
    r2 = (X * X + Y * Y) / np.float32(radius * radius)
    profile = np.clip(1.0 - r2, 0.0, None) ** 2
    if rng.random() < 0.4:
        profile = profile * (1.0 - np.float32(rng.uniform(0.5, 1.2)) * np.exp(-r2 / np.float32(0.15)))
        profile /= np.float32(max(float(np.abs(profile).max()), 1e-6))
    truth = shape_footprint("tape-bump", box[0], box[1], np.abs(profile), level=0.3)
    sign = 1.0 if rng.random() < 0.7 else -1.0
    amp = sign * scale * log_uniform(rng, 0.3, 2.0) * scene.sigma_e * band_colours(rng, scene.n_bands, spread=0.1)
    scene.add_profile(box, profile, amp)
    return [truth] if truth is not None else []


# --------------------------------------------------------------------------- other
def inject_other(scene: Scene, rng: np.random.Generator, *, scale: float = 1.0) -> list[Footprint]:
    """A compact non-astrophysical blob or a smudge, in one band or in all.

    Notes
    -----
    Blobs (50 %): an elliptical Gaussian of sigma 1.5-15 px, axis ratio 0.3-1, +-1-30 sky
    sigma (positive 80 %). Smudges (50 %): 3-8 overlapping Gaussians within 20-150 px,
    +-0.4-3 sky sigma. Half of them in one band, half in all with strong colours.
    """
    ny, nx = scene.shape
    cx, cy = float(rng.uniform(0, nx)), float(rng.uniform(0, ny))
    sign = 1.0 if rng.random() < 0.8 else -1.0
    if rng.random() < 0.5:
        sigma = float(log_uniform(rng, 1.5, 15.0))
        parts = [(0.0, 0.0, sigma, rng.uniform(0.3, 1.0), rng.uniform(0, np.pi), 1.0)]
        sigmas = log_uniform(rng, 1.0, 30.0)
        reach = 4.0 * sigma
    else:
        size = float(log_uniform(rng, 20.0, 150.0))
        parts = [(rng.normal(0, 0.4 * size), rng.normal(0, 0.4 * size), size * rng.uniform(0.1, 0.4),
                  rng.uniform(0.4, 1.0), rng.uniform(0, np.pi), rng.uniform(0.3, 1.0))
                 for _ in range(int(rng.integers(3, 9)))]
        sigmas = log_uniform(rng, 0.4, 3.0)
        reach = 2.0 * size
    box = clip_box((ny, nx), cx - reach, cy - reach, cx + reach, cy + reach)
    if box is None:
        return []
    X, Y = box_offsets(box, cx, cy)
    profile = np.zeros((box[3] - box[1], box[2] - box[0]), np.float32)
    for ox, oy, s, q, a, w in parts:
        c, sn = np.float32(np.cos(a)), np.float32(np.sin(a))
        u = (X - np.float32(ox)) * c + (Y - np.float32(oy)) * sn
        v = (Y - np.float32(oy)) * c - (X - np.float32(ox)) * sn
        profile += np.float32(w) * np.exp(-0.5 * (u * u + v * v / np.float32(q * q)) / np.float32(s * s))
    profile /= np.float32(max(float(profile.max()), 1e-6))
    if rng.random() < 0.5:
        colours = np.zeros(scene.n_bands)
        colours[int(rng.integers(scene.n_bands))] = 1.0
    else:
        colours = band_colours(rng, scene.n_bands, spread=0.8)
    amp = sign * scale * sigmas * scene.sigma_e * colours
    values = amp[:, None, None].astype(np.float32) * profile[None]
    scene.electrons[:, box[1]:box[3], box[0]:box[2]] += values
    fp = visible_footprint("other", box[0], box[1], values, scene.sigma_e)
    return [fp] if fp is not None else []

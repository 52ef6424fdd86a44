"""Trails and tracks: satellites, airplanes and the cosmic rays DESDM missed.

Each band of an image is a separate exposure, so these appear in ONE band only. Every
generator takes ``(scene, rng, *, scale)``, adds its signal (electrons) and returns its
truth footprints; a pixel is true where the added signal is at least
``min(0.7 sky sigma, 0.3 peak)`` (:func:`spacejunk.simulate._scene.visible_footprint`).
None of them is flagged in ``MSK`` (that is what makes them artifacts), except where a
very bright one saturates.
"""

from __future__ import annotations

import numpy as np
from scipy.special import erf

from ._render import log_uniform, segment_pixels
from ._scene import VISIBLE_FRACTION, VISIBLE_SIGMA, Footprint, Scene, pixel_footprint, visible_footprint

__all__ = ["inject_satellite", "inject_airplane", "inject_cosmic_ray"]


def _crossing_line(rng: np.random.Generator, shape: tuple[int, int]) -> tuple[float, float, float, float]:
    """End points (x0, y0, x1, y1) of a line through a random point of the image, beyond its corners."""
    ny, nx = shape
    px, py = rng.uniform(0, nx), rng.uniform(0, ny)
    phi = rng.uniform(0.0, np.pi)
    half = float(np.hypot(ny, nx)) + 10.0
    return px - half * np.cos(phi), py - half * np.sin(phi), px + half * np.cos(phi), py + half * np.sin(phi)


def _wiggle(rng: np.random.Generator, t: np.ndarray, amplitude: float) -> np.ndarray:
    """Slow brightness variation along a trail: 1 + two sines of 200-3,000 px wavelength."""
    out = np.ones_like(t)
    for _ in range(2):
        lam = log_uniform(rng, 200.0, 3000.0)
        out += np.float32(rng.uniform(0.0, amplitude)) * np.sin(np.float32(2 * np.pi / lam) * t +
                                                                 np.float32(rng.uniform(0, 2 * np.pi)))
    return out


def _trail_profile(d: np.ndarray, width: float, fwhm: float) -> np.ndarray:
    """Cross-section of a trail of full width ``width`` seen through a PSF of ``fwhm``, peak ~1."""
    sigma = fwhm / 2.355
    core = max(width - fwhm, 0.0) / 2.0
    k = np.float32(1.0 / (np.sqrt(2.0) * sigma))
    prof = 0.5 * (erf((d + np.float32(core)) * k) - erf((d - np.float32(core)) * k))
    peak = 0.5 * (erf(core * k) * 2.0) if core > 0 else 0.0
    if peak <= 0.0:
        return np.exp(-0.5 * (d / np.float32(sigma)) ** 2)
    return prof / np.float32(peak)


def _add_band_pixels(scene: Scene, band: int, yy: np.ndarray, xx: np.ndarray, values: np.ndarray) -> None:
    np.add.at(scene.electrons[band], (yy, xx), values.astype(np.float32))


def _visible_pixels(category: str, yy, xx, values, sigma: float) -> Footprint | None:
    peak = float(np.abs(values).max()) if values.size else 0.0
    keep = np.abs(values) >= min(VISIBLE_SIGMA * sigma, VISIBLE_FRACTION * peak)
    return pixel_footprint(category, yy[keep], xx[keep])


# --------------------------------------------------------------------------- satellite
def inject_satellite(scene: Scene, rng: np.random.Generator, *, scale: float = 1.0) -> list[Footprint]:
    """A satellite trail: a long straight line across the image, in one band.

    Notes
    -----
    Full width 2-12 px (the satellite's own width and the PSF), peak 0.8-80 sky sigma,
    brightness varying slowly along the trail by up to ~15 %, and in 20 % of the cases a
    glint (a 50-300 px brightening by 1-4 times).
    """
    ny, nx = scene.shape
    band = int(rng.integers(scene.n_bands))
    cond = scene.conditions[band]
    x0, y0, x1, y1 = _crossing_line(rng, (ny, nx))
    width = rng.uniform(2.0, 12.0)
    half = max(width, cond.fwhm_px) / 2.0 + 1.5 * cond.fwhm_px
    yy, xx, d, t = segment_pixels((ny, nx), x0, y0, x1, y1, half)
    if yy.size == 0:
        return []
    amp = scale * log_uniform(rng, 0.8, 80.0) * cond.sigma_e
    values = amp * _trail_profile(d, width, cond.fwhm_px) * _wiggle(rng, t, 0.08)
    if rng.random() < 0.2:
        tc = rng.uniform(float(t.min()), float(t.max()))
        values *= 1.0 + np.float32(rng.uniform(1.0, 4.0)) * np.exp(-0.5 * ((t - np.float32(tc)) /
                                                                            np.float32(rng.uniform(50, 300))) ** 2)
    _add_band_pixels(scene, band, yy, xx, values)
    fp = _visible_pixels("satellite", yy, xx, values, cond.sigma_e)
    return [fp] if fp is not None else []


# --------------------------------------------------------------------------- airplane
def inject_airplane(scene: Scene, rng: np.random.Generator, *, scale: float = 1.0) -> list[Footprint]:
    """An airplane: one to three parallel trails with blinking (dashed) lights, in one band.

    Notes
    -----
    50 % a pair of trails 8-40 px apart (wing-tip lights), 20 % the pair plus a steady
    fainter central trail, 30 % a single dashed trail. Lights blink with a period of
    40-400 px along the trail and a duty cycle of 15-50 %; width 2-6 px; 1.5-40 sky sigma.
    """
    ny, nx = scene.shape
    band = int(rng.integers(scene.n_bands))
    cond = scene.conditions[band]
    x0, y0, x1, y1 = _crossing_line(rng, (ny, nx))
    length = float(np.hypot(x1 - x0, y1 - y0))
    ux, uy = (x1 - x0) / length, (y1 - y0) / length
    u = rng.random()
    sep = rng.uniform(8.0, 40.0)
    offsets = [0.0] if u < 0.3 else [-sep / 2, sep / 2]
    steady = [False] * len(offsets)
    if u >= 0.8:
        offsets.append(0.0)
        steady.append(True)
    period, duty = rng.uniform(40.0, 400.0), rng.uniform(0.15, 0.5)
    amp_main = scale * log_uniform(rng, 1.5, 40.0) * cond.sigma_e
    all_y, all_x, all_v = [], [], []
    for off, is_steady in zip(offsets, steady):
        width = rng.uniform(2.0, 6.0)
        half = max(width, cond.fwhm_px) / 2.0 + 1.5 * cond.fwhm_px
        sx, sy = x0 - off * uy, y0 + off * ux
        yy, xx, d, t = segment_pixels((ny, nx), sx, sy, sx + length * ux, sy + length * uy, half)
        if yy.size == 0:
            continue
        values = _trail_profile(d, width, cond.fwhm_px)
        if is_steady:
            values *= np.float32(amp_main * rng.uniform(0.15, 0.5))
        else:
            phase = (t / np.float32(period) + np.float32(rng.uniform(0.0, 1.0))) % 1.0
            on = np.clip((np.float32(duty) - phase) * np.float32(period / 2.0), 0.0, 1.0)
            values *= np.float32(amp_main * rng.uniform(0.6, 1.0)) * on
        all_y.append(yy)
        all_x.append(xx)
        all_v.append(values)
    if not all_y:
        return []
    yy, xx, values = np.concatenate(all_y), np.concatenate(all_x), np.concatenate(all_v)
    _add_band_pixels(scene, band, yy, xx, values)
    fp = _visible_pixels("airplane", yy, xx, values, cond.sigma_e)
    return [fp] if fp is not None else []


# --------------------------------------------------------------------------- cosmic ray
def inject_cosmic_ray(scene: Scene, rng: np.random.Generator, *, scale: float = 1.0) -> list[Footprint]:
    """A cosmic ray DESDM did not flag: a cluster or a worm, in one band.

    Notes
    -----
    Worms (55 %): curved tracks of 30-300 px (an electron scattering in the 250-um thick
    CCD), heading changing by a random walk, 300-3,000 e- per half pixel of track,
    deposited bilinearly (1-2 px wide). Clusters (45 %): 3-25 connected pixels of
    500-8,000 e- each. Sharp: not blurred by the PSF.
    """
    ny, nx = scene.shape
    band = int(rng.integers(scene.n_bands))
    cond = scene.conditions[band]
    px, py = rng.uniform(0, nx), rng.uniform(0, ny)
    if rng.random() < 0.55:
        n_steps = int(2 * log_uniform(rng, 30.0, 300.0))
        heading = rng.uniform(0.0, 2 * np.pi) + np.cumsum(rng.normal(0.0, rng.uniform(0.01, 0.08), n_steps))
        xs, ys = np.cumsum(0.5 * np.cos(heading)), np.cumsum(0.5 * np.sin(heading))
        xs, ys = xs + (px - xs[n_steps // 2]), ys + (py - ys[n_steps // 2])  # centred on (px, py)
        charge = log_uniform(rng, 300.0, 3000.0) * np.exp(rng.normal(0.0, 0.3, n_steps))
        ix, iy = np.floor(xs).astype(int), np.floor(ys).astype(int)
        fx, fy = xs - ix, ys - iy
        cols = np.concatenate([ix, ix + 1, ix, ix + 1])
        rows = np.concatenate([iy, iy, iy + 1, iy + 1])
        vals = np.concatenate([(1 - fx) * (1 - fy), fx * (1 - fy), (1 - fx) * fy, fx * fy]) * np.tile(charge, 4)
    else:
        n_px = int(rng.integers(3, 26))
        steps = rng.integers(-1, 2, (n_px, 2))
        steps[0] = 0
        walk = np.cumsum(steps, axis=0)
        cols, rows = int(px) + walk[:, 0], int(py) + walk[:, 1]
        vals = log_uniform(rng, 500.0, 8000.0, n_px)
    inside = (cols >= 0) & (cols < nx) & (rows >= 0) & (rows < ny)
    cols, rows, vals = cols[inside], rows[inside], scale * vals[inside]
    if cols.size == 0:
        return []
    x0, y0 = int(cols.min()), int(rows.min())
    canvas = np.zeros((1, int(rows.max()) - y0 + 1, int(cols.max()) - x0 + 1), np.float32)
    np.add.at(canvas[0], (rows - y0, cols - x0), vals.astype(np.float32))
    h, w = canvas.shape[1:]
    scene.electrons[band, y0:y0 + h, x0:x0 + w] += canvas[0]
    fp = visible_footprint("cosmic-ray", x0, y0, canvas, np.array([cond.sigma_e]))
    return [fp] if fp is not None else []

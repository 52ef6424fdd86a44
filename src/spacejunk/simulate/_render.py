"""Low-level drawing of the simulator: vectorised stamps, profiles, lines and boxes."""

from __future__ import annotations

from typing import Callable

import numpy as np

__all__ = [
    "moffat_alpha",
    "add_stamps",
    "segment_pixels",
    "clip_box",
    "smoothstep",
    "log_uniform",
    "sample_quantiles",
    "band_colours",
    "box_offsets",
]

#: Most stamp pixels evaluated at once by :func:`add_stamps` (bounds the memory, ~16 MB).
_CHUNK_PIXELS = 1 << 22


def moffat_alpha(fwhm_px: float, beta: float) -> float:
    """Moffat core radius ``alpha`` (pixels) of a profile of FWHM ``fwhm_px`` and index ``beta``.

    The Moffat profile is ``I(r) = I0 (1 + (r / alpha)**2) ** -beta`` with
    ``FWHM = 2 alpha sqrt(2**(1/beta) - 1)`` and total flux ``pi alpha**2 I0 / (beta - 1)``.
    """
    return float(fwhm_px) / (2.0 * np.sqrt(2.0 ** (1.0 / beta) - 1.0))


def log_uniform(rng: np.random.Generator, lo: float, hi: float, size=None):
    """Draws uniform in ``log`` between ``lo`` and ``hi`` (both > 0)."""
    return np.exp(rng.uniform(np.log(lo), np.log(hi), size))


def sample_quantiles(rng: np.random.Generator, percent: np.ndarray, values: np.ndarray, size=None):
    """Draw from a distribution given by its quantiles, interpolating ``log(values)``.

    Parameters
    ----------
    percent : ndarray, shape (k,)
        Increasing percent levels from 0 to 100.
    values : ndarray, shape (k,)
        The distribution's quantiles at those levels (> 0).
    """
    u = rng.uniform(0.0, 100.0, size)
    return np.exp(np.interp(u, percent, np.log(values)))


def band_colours(rng: np.random.Generator, n_bands: int, *, spread: float = 0.4) -> np.ndarray:
    """Relative brightness of an artifact in each band, shape (n_bands,), mean about 1.

    A random trend from the first to the last band (blue or red) times a log-normal
    scatter of ``spread``; a mix of colours like that of real ghosts and scattered light.
    """
    trend = rng.normal(0.0, spread) * np.linspace(-1.0, 1.0, n_bands) if n_bands > 1 else np.zeros(1)
    c = np.exp(trend + rng.normal(0.0, 0.5 * spread, n_bands))
    return c / np.mean(c)


def smoothstep(t: np.ndarray) -> np.ndarray:
    """0 below ``t = -1``, 1 above ``t = 1``, a smooth cubic between (float32 in, float32 out)."""
    s = np.clip(0.5 * (t + 1.0), 0.0, 1.0)
    return s * s * (3.0 - 2.0 * s)


def clip_box(shape: tuple[int, int], x0: float, y0: float, x1: float, y1: float) -> tuple[int, int, int, int] | None:
    """Integer box ``(ix0, iy0, ix1, iy1)`` (max exclusive) of ``[x0, x1] x [y0, y1]`` within ``shape``.

    None when the box misses the image.
    """
    ny, nx = shape
    ix0, iy0 = max(int(np.floor(x0)), 0), max(int(np.floor(y0)), 0)
    ix1, iy1 = min(int(np.ceil(x1)) + 1, nx), min(int(np.ceil(y1)) + 1, ny)
    if ix0 >= ix1 or iy0 >= iy1:
        return None
    return ix0, iy0, ix1, iy1


def box_offsets(box: tuple[int, int, int, int], cx: float, cy: float) -> tuple[np.ndarray, np.ndarray]:
    """Offsets of the pixels of ``box = (x0, y0, x1, y1)`` from (cx, cy): X (1, w) and Y (h, 1), float32."""
    x0, y0, x1, y1 = box
    X = (np.arange(x0, x1, dtype=np.float64) - cx).astype(np.float32)[None, :]
    Y = (np.arange(y0, y1, dtype=np.float64) - cy).astype(np.float32)[:, None]
    return X, Y


def add_stamps(image: np.ndarray, x: np.ndarray, y: np.ndarray, half: int,
               profile: Callable[[np.ndarray, np.ndarray, slice], np.ndarray]) -> None:
    """Add square stamps of ``2 half + 1`` pixels centred on many sources, in place.

    Parameters
    ----------
    image : ndarray, shape (ny, nx), float32, C-contiguous
        Image to add to.
    x, y : ndarray, shape (n,)
        Source centres, pixels (pixel centres are at integer coordinates).
    half : int
        Stamp half-size, pixels.
    profile : callable
        ``profile(dx, dy, sel)`` with ``dx`` of shape (m, 1, S) and ``dy`` of shape
        (m, S, 1) (offsets from the centres, pixels, float32) and ``sel`` the slice of
        the sources in this chunk; returns the values to add, shape (m, S, S).

    Notes
    -----
    Stamp pixels outside the image are dropped. Sources are processed in chunks so that
    at most ~4 M stamp pixels exist at once; one ``np.add.at`` per chunk.
    """
    if not image.flags.c_contiguous:
        raise ValueError("image: expected a C-contiguous array")
    ny, nx = image.shape
    flat = image.reshape(-1)
    size = 2 * half + 1
    off = np.arange(-half, half + 1)
    chunk = max(1, _CHUNK_PIXELS // (size * size))
    for start in range(0, len(x), chunk):
        sel = slice(start, start + chunk)
        xs, ys = np.asarray(x[sel], float), np.asarray(y[sel], float)
        ix, iy = np.rint(xs).astype(np.int64), np.rint(ys).astype(np.int64)
        px = ix[:, None] + off  # (m, S)
        py = iy[:, None] + off
        dx = (px - xs[:, None]).astype(np.float32)[:, None, :]
        dy = (py - ys[:, None]).astype(np.float32)[:, :, None]
        values = profile(dx, dy, sel)
        valid = ((px >= 0) & (px < nx))[:, None, :] & ((py >= 0) & (py < ny))[:, :, None]
        index = py[:, :, None] * nx + px[:, None, :]
        np.add.at(flat, index[valid], values[valid].astype(np.float32, copy=False))


def segment_pixels(shape: tuple[int, int], x0: float, y0: float, x1: float, y1: float,
                   half_width: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Pixels within ``half_width`` of the segment (x0, y0)-(x1, y1), clipped to ``shape``.

    Parameters
    ----------
    shape : (ny, nx)
        Image shape.
    x0, y0, x1, y1 : float
        End points, pixels; they may lie outside the image.
    half_width : float
        Largest perpendicular distance kept, pixels.

    Returns
    -------
    yy, xx : ndarray of int, shape (m,)
        Row and column of each pixel, each pixel once.
    d : ndarray of float32, shape (m,)
        Signed perpendicular distance to the line, pixels.
    t : ndarray of float32, shape (m,)
        Distance along the segment from (x0, y0), pixels; kept within
        ``[-half_width, length + half_width]``.
    """
    ny, nx = shape
    dxs, dys = x1 - x0, y1 - y0
    length = float(np.hypot(dxs, dys))
    if length < 1e-6:
        dxs, dys, length = 1.0, 0.0, 1e-6
    ux, uy = dxs / length, dys / length
    hw = float(half_width)
    # Walk along the major axis; in each column (or row) the band spans a short interval.
    if abs(ux) >= abs(uy):
        m0 = max(int(np.floor(min(x0, x1) - hw)), 0)
        m1 = min(int(np.ceil(max(x0, x1) + hw)), nx - 1)
        if m1 < m0:
            return _empty_segment()
        major = np.arange(m0, m1 + 1)
        centre = y0 + (major - x0) * (uy / ux)
        span = int(np.ceil(hw / abs(ux))) + 1
        minor = np.rint(centre).astype(np.int64)[:, None] + np.arange(-span, span + 1)
        xx = np.broadcast_to(major[:, None], minor.shape)
        yy = minor
    else:
        m0 = max(int(np.floor(min(y0, y1) - hw)), 0)
        m1 = min(int(np.ceil(max(y0, y1) + hw)), ny - 1)
        if m1 < m0:
            return _empty_segment()
        major = np.arange(m0, m1 + 1)
        centre = x0 + (major - y0) * (ux / uy)
        span = int(np.ceil(hw / abs(uy))) + 1
        minor = np.rint(centre).astype(np.int64)[:, None] + np.arange(-span, span + 1)
        yy = np.broadcast_to(major[:, None], minor.shape)
        xx = minor
    xx, yy = xx.ravel(), yy.ravel()
    fx, fy = (xx - x0).astype(np.float32), (yy - y0).astype(np.float32)
    d = fy * np.float32(ux) - fx * np.float32(uy)
    t = fx * np.float32(ux) + fy * np.float32(uy)
    keep = (np.abs(d) <= hw) & (t >= -hw) & (t <= length + hw) & (xx >= 0) & (xx < nx) & (yy >= 0) & (yy < ny)
    return yy[keep], xx[keep], d[keep], t[keep]


def _empty_segment():
    e = np.zeros(0, np.int64)
    f = np.zeros(0, np.float32)
    return e, e, f, f

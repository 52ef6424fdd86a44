"""Scattered-light artifacts: ghosts, bright arcs, sprays of rays, brush strokes and dark halos.

Sizes come from the real DES labels
-----------------------------------
The radii of ghosts and ray fans are drawn from the 6,607 regions of
``des-ghosts/single_annotator_regions.json`` (DeepGhostBusters, Tanoglidis et al. 2021,
Astronomy & Computing 39, 100580), measured at 70 CCD pixels per image pixel: a circle's
``r``, an ellipse's ``sqrt(rx ry)``, a polygon's or polyline's quarter of (width + height)
of its bounding box. Over all regions this gives a median of ~1,960 CCD px and a 5-95 %
range of ~875-8,640 px; the tables below hold the quantiles of each type. On one CCD
(4096 x 2048) a real ghost is as large as the CCD or larger, faint, and cut by its
edges: centres are placed so that a random point of the CCD lies on the ghost, and may
lie far outside the CCD.

Every generator takes ``(scene, rng, *, scale)``, adds its signal (electrons) to
``scene.electrons`` and returns the truth footprints (one per artifact). ``scale``
multiplies the brightness. Large faint artifacts are true where their normalised shape
is at least ~0.2-0.5 (the disc/ring/fan area), whatever their brightness.
"""

from __future__ import annotations

import numpy as np

from ._render import (
    band_colours,
    box_offsets,
    clip_box,
    log_uniform,
    sample_quantiles,
    segment_pixels,
    smoothstep,
)
from ._scene import Footprint, Scene, mask_footprint, shape_footprint
from .sky import add_star

__all__ = [
    "RADIUS_PERCENTS",
    "GHOST_BRIGHT_RADIUS_PX",
    "GHOST_FAINT_RADIUS_PX",
    "RAYS_RADIUS_PX",
    "inject_ghost",
    "inject_bright_arc",
    "inject_bright_spray",
    "inject_brush_strokes",
    "inject_dark_halo",
]

#: Percent levels of the radius tables.
RADIUS_PERCENTS = np.array([0, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 100], float)
#: Radius quantiles (CCD px) of the 2,163 real ``Bright`` ghost regions.
GHOST_BRIGHT_RADIUS_PX = np.array([454, 840, 910, 980, 1050, 1120, 1260, 1603, 1850, 2030, 2427, 2660, 9483], float)
#: Radius quantiles (CCD px) of the 2,901 real ``Faint`` ghost regions.
GHOST_FAINT_RADIUS_PX = np.array([472, 928, 1046, 1295, 1855, 2205, 2590, 5110, 5550, 7630, 8683, 9100, 11025],
                                 float)
#: Radius quantiles (CCD px) of the 1,543 real ``Rays`` regions.
RAYS_RADIUS_PX = np.array([385, 822, 998, 1278, 1505, 1802, 2065, 2398, 2824, 3412, 4319, 5456, 10342], float)

#: Share of ``Bright`` among the real ghost regions (2,163 of 5,064).
_BRIGHT_SHARE = 2163 / 5064


def _point_in_image(rng: np.random.Generator, shape: tuple[int, int]) -> tuple[float, float]:
    ny, nx = shape
    return float(rng.uniform(0, nx)), float(rng.uniform(0, ny))


def _amplitudes(scene: Scene, rng: np.random.Generator, sigmas: float, *, spread: float) -> np.ndarray:
    """Per-band amplitudes in electrons: ``sigmas`` sky sigmas times a band colour."""
    return sigmas * scene.sigma_e * band_colours(rng, scene.n_bands, spread=spread)


# --------------------------------------------------------------------------- ghost
def inject_ghost(scene: Scene, rng: np.random.Generator, *, scale: float = 1.0) -> list[Footprint]:
    """A pupil ghost: a soft disc or annulus, often with a brighter rim and a central hole.

    Notes
    -----
    85 % take their radius from the real ``Bright``/``Faint`` tables (in their real
    proportions), 15 % are small (80-600 px) ghosts beside a bright star. The central hole
    is 20-55 % of the radius (the telescope's central obstruction); 60 % show the
    shadows of the four spider vanes. Brightness per pixel: 0.8-6 sky sigma (``Bright``,
    small) or 0.25-1 sigma (``Faint``), with a colour across bands. True where the
    ghost's disc-minus-hole shape is at least 0.5, inside the CCD.
    """
    ny, nx = scene.shape
    small = rng.random() < 0.15
    bright = small or rng.random() < _BRIGHT_SHARE
    if small:
        radius = float(log_uniform(rng, 80.0, 600.0))
    else:
        table = GHOST_BRIGHT_RADIUS_PX if bright else GHOST_FAINT_RADIUS_PX
        radius = float(sample_quantiles(rng, RADIUS_PERCENTS, table))
    hole = rng.uniform(0.2, 0.55)
    soft = radius * rng.uniform(0.004, 0.03) + 2.0
    px, py = _point_in_image(rng, (ny, nx))
    if small and scene.bright_x.size and rng.random() < 0.7:
        i = int(rng.integers(scene.bright_x.size))
        px, py = float(np.clip(scene.bright_x[i], 0, nx - 1)), float(np.clip(scene.bright_y[i], 0, ny - 1))
    rho = rng.uniform(hole * radius + soft, max(radius - soft, hole * radius + soft + 1.0))
    phi = rng.uniform(0.0, 2.0 * np.pi)
    cx, cy = px - rho * np.cos(phi), py - rho * np.sin(phi)
    if small and rng.random() < 0.5:
        add_star(scene, px + rng.normal(0.0, 0.3 * radius), py + rng.normal(0.0, 0.3 * radius),
                 float(rng.uniform(9.0, 12.0)), rng=rng)
    reach = radius + 3.0 * soft
    box = clip_box((ny, nx), cx - reach, cy - reach, cx + reach, cy + reach)
    if box is None:
        return []
    # The ghost is radial: tabulate its profile every 1/4 pixel, then look it up.
    step = 0.25
    rg = np.arange(0.0, reach + 2.0, step, dtype=np.float32)
    disc1 = smoothstep((np.float32(radius) - rg) / np.float32(soft))
    ring1 = disc1 * smoothstep((rg - np.float32(hole * radius)) / np.float32(soft))
    hole_level = np.float32(rng.uniform(0.0, 0.3))
    prof1 = ring1 * (1.0 - hole_level) + disc1 * hole_level
    rim_w = np.float32(radius * rng.uniform(0.01, 0.05) + 1.0)
    rim = np.float32(rng.uniform(0.0, 2.0))
    prof1 *= 1.0 + rim * np.exp(-0.5 * ((rg - np.float32(radius - 1.5 * soft)) / rim_w) ** 2)
    if rng.random() < 0.3:  # a second, inner ring
        r2, w2 = np.float32(radius * rng.uniform(0.6, 0.9)), np.float32(radius * rng.uniform(0.01, 0.04) + 1.0)
        prof1 += np.float32(rng.uniform(0.3, 1.0)) * ring1 * np.exp(-0.5 * ((rg - r2) / w2) ** 2)
    X, Y = box_offsets(box, cx, cy)
    index = np.sqrt(X * X + Y * Y)
    index *= np.float32(1.0 / step)
    index = index.astype(np.int32)
    np.minimum(index, rg.size - 1, out=index)
    inside = np.flatnonzero(ring1 >= 0.5)
    truth = None
    if inside.size:
        truth = mask_footprint("ghost", box[0], box[1], (index >= inside[0]) & (index <= inside[-1]))
    profile = prof1[index]
    del index
    if rng.random() < 0.6:  # spider-vane shadows: two lines through the centre
        theta = rng.uniform(0.0, np.pi / 2)
        width = float(radius * rng.uniform(0.004, 0.012) + 1.0)
        depth = np.float32(rng.uniform(0.3, 1.0))
        for a in (theta, theta + np.pi / 2):
            ux, uy = reach * np.cos(a), reach * np.sin(a)
            yy, xx, d, _ = segment_pixels((ny, nx), cx - ux, cy - uy, cx + ux, cy + uy, 4.0 * width)
            yy, xx = yy - box[1], xx - box[0]
            ok = (yy >= 0) & (yy < profile.shape[0]) & (xx >= 0) & (xx < profile.shape[1])
            shade = 1.0 - depth * np.exp(-0.5 * (d[ok] / np.float32(width)) ** 2)
            profile[yy[ok], xx[ok]] *= shade
    psi = rng.uniform(0.0, 2.0 * np.pi)
    tilt = np.float32(rng.uniform(0.0, 0.4) / radius)
    profile *= 1.0 + tilt * (X * np.float32(np.cos(psi)) + Y * np.float32(np.sin(psi)))
    sigmas = log_uniform(rng, 0.8, 6.0) if bright else log_uniform(rng, 0.25, 1.0)
    scene.add_profile(box, profile, scale * _amplitudes(scene, rng, sigmas, spread=0.5))
    return [truth] if truth is not None else []


# --------------------------------------------------------------------------- bright arc
def inject_bright_arc(scene: Scene, rng: np.random.Generator, *, scale: float = 1.0) -> list[Footprint]:
    """A scattered-light arc: part of a ring of radius drawn from the real ``Rays`` table.

    Notes
    -----
    Thickness 0.5-3 % of the radius (4-150 px), the inner edge sharper than the outer,
    angular extent 15-100 degrees, brightness varying along the arc, 0.5-8 sky sigma.
    True where the normalised shape is at least 0.3.
    """
    ny, nx = scene.shape
    radius = float(sample_quantiles(rng, RADIUS_PERCENTS, RAYS_RADIUS_PX))
    thick = float(np.clip(radius * rng.uniform(0.005, 0.03), 4.0, 150.0))
    half_span = np.radians(rng.uniform(15.0, 100.0)) / 2.0
    px, py = _point_in_image(rng, (ny, nx))
    phi = rng.uniform(0.0, 2.0 * np.pi)
    cx, cy = px - radius * np.cos(phi), py - radius * np.sin(phi)
    mid = phi + rng.uniform(-0.6, 0.6) * half_span
    angles = mid + np.linspace(-half_span, half_span, 200)
    xs, ys = cx + radius * np.cos(angles), cy + radius * np.sin(angles)
    pad = 4.0 * thick
    box = clip_box((ny, nx), xs.min() - pad, ys.min() - pad, xs.max() + pad, ys.max() + pad)
    if box is None:
        return []
    X, Y = box_offsets(box, cx, cy)
    r = np.sqrt(X * X + Y * Y)
    c, s = np.float32(np.cos(mid)), np.float32(np.sin(mid))
    ang = np.arctan2(Y * c - X * s, X * c + Y * s)
    dr = r - np.float32(radius)
    inner, outer = np.float32(0.5 * thick), np.float32(thick * rng.uniform(1.0, 2.5))
    radial = np.exp(-0.5 * (dr / np.where(dr < 0, inner, outer)) ** 2)
    along = smoothstep((np.float32(half_span) - np.abs(ang)) / np.float32(0.3 * half_span))
    k, ph = rng.uniform(2.0, 12.0) / half_span, rng.uniform(0.0, 2.0 * np.pi)
    profile = radial * along * (1.0 + np.float32(rng.uniform(0.0, 0.4)) * np.sin(np.float32(k) * ang + np.float32(ph)))
    peak = float(profile.max())
    if peak <= 0.0:
        return []
    profile /= np.float32(peak)
    truth = shape_footprint("bright-arc", box[0], box[1], profile, level=0.3)
    scene.add_profile(box, profile, scale * _amplitudes(scene, rng, log_uniform(rng, 0.5, 8.0), spread=0.4))
    return [truth] if truth is not None else []


# --------------------------------------------------------------------------- bright spray
def inject_bright_spray(scene: Scene, rng: np.random.Generator, *, scale: float = 1.0) -> list[Footprint]:
    """A fan-shaped spray of rays from a bright star (usually off the CCD).

    Notes
    -----
    The apex lies at a distance drawn from the real ``Rays`` table (times 0.3-1) from a
    random point of the CCD; 4-25 rays within a fan of 3-25 degrees half-opening, each
    a thin wedge (0.05-0.35 degrees) of its own brightness, starting 0-60 % of the way
    and fading with distance; 0.5-10 sky sigma. True where both the ray (angular
    profile at least 0.2 of its maximum) and the radial envelope (at least 0.2) are.
    """
    ny, nx = scene.shape
    dist = float(sample_quantiles(rng, RADIUS_PERCENTS, RAYS_RADIUS_PX)) * rng.uniform(0.3, 1.0)
    psi = rng.uniform(0.0, 2.0 * np.pi)
    px, py = _point_in_image(rng, (ny, nx))
    half_open = np.radians(rng.uniform(3.0, 25.0))
    n_rays = int(rng.integers(4, 26))
    theta = rng.uniform(-half_open, half_open, n_rays)
    # Turn the fan about its apex so that its first ray passes through (px, py).
    psi -= theta[0]
    ax, ay = px - dist * np.cos(psi + theta[0]), py - dist * np.sin(psi + theta[0])
    width = log_uniform(rng, np.radians(0.05), np.radians(0.35), n_rays)
    power = log_uniform(rng, 0.2, 1.0, n_rays)
    power[0] = 1.0
    d0, d1 = dist * rng.uniform(0.0, 0.6), dist * rng.uniform(1.3, 3.0)
    fan = np.linspace(-half_open, half_open, 9) + psi
    near, far = max(d0 - 0.1 * dist, 0.0), d1 + 0.25 * dist
    xs = np.concatenate([ax + near * np.cos(fan), ax + far * np.cos(fan)])
    ys = np.concatenate([ay + near * np.sin(fan), ay + far * np.sin(fan)])
    box = clip_box((ny, nx), xs.min(), ys.min(), xs.max(), ys.max())
    if box is None:
        return []
    grid = np.linspace(-half_open - 5 * width.max(), half_open + 5 * width.max(), 8192)
    f = (power[None, :] * np.exp(-0.5 * ((grid[:, None] - theta[None, :]) / width[None, :]) ** 2)).sum(axis=1)
    f /= f.max()
    X, Y = box_offsets(box, ax, ay)
    c, s = np.float32(np.cos(psi)), np.float32(np.sin(psi))
    ang = np.arctan2(Y * c - X * s, X * c + Y * s)
    fa = np.interp(ang.ravel(), grid, f, left=0.0, right=0.0).astype(np.float32).reshape(ang.shape)
    del ang
    d = np.sqrt(X * X + Y * Y)
    env = (smoothstep((d - np.float32(d0)) / np.float32(0.1 * dist)) * smoothstep((np.float32(d1) - d) /
           np.float32(0.25 * dist)) * np.sqrt(np.float32(dist) / np.maximum(d, np.float32(0.1 * dist))))
    truth = shape_footprint("bright-spray", box[0], box[1], np.minimum(fa, env), level=0.2)
    profile = fa * env
    scene.add_profile(box, profile, scale * _amplitudes(scene, rng, log_uniform(rng, 0.5, 10.0), spread=0.4))
    return [truth] if truth is not None else []


# --------------------------------------------------------------------------- brush strokes
def inject_brush_strokes(scene: Scene, rng: np.random.Generator, *, scale: float = 1.0) -> list[Footprint]:
    """Parallel streaky strokes of scattered light, as if painted with a brush.

    Notes
    -----
    4-15 parallel strokes spread over 40-500 px across, each 100-1,500 px long and
    1.5-12 px wide (Gaussian sigma), tapered at the ends and streaky along their length;
    0.5-6 sky sigma at the brightest. True where the normalised sum is at least 0.2.
    """
    ny, nx = scene.shape
    px, py = _point_in_image(rng, (ny, nx))
    phi = rng.uniform(0.0, np.pi)
    ux, uy = np.cos(phi), np.sin(phi)
    n = int(rng.integers(4, 16))
    spread = float(log_uniform(rng, 40.0, 500.0))
    lengths = log_uniform(rng, 100.0, 1500.0, n)
    offsets = rng.uniform(-spread / 2, spread / 2, n)
    centres = rng.normal(0.0, 0.2 * np.median(lengths), n)
    widths = log_uniform(rng, 1.5, 12.0, n)
    powers = log_uniform(rng, 0.3, 1.0, n)
    strokes = []
    for i in range(n):
        sx = px + (centres[i] - lengths[i] / 2) * ux - offsets[i] * uy
        sy = py + (centres[i] - lengths[i] / 2) * uy + offsets[i] * ux
        ex, ey = sx + lengths[i] * ux, sy + lengths[i] * uy
        yy, xx, d, t = segment_pixels((ny, nx), sx, sy, ex, ey, 3.0 * widths[i])
        if yy.size:
            strokes.append((i, yy, xx, d, t))
    if not strokes:
        return []
    y0 = min(int(s[1].min()) for s in strokes)
    y1 = max(int(s[1].max()) for s in strokes) + 1
    x0 = min(int(s[2].min()) for s in strokes)
    x1 = max(int(s[2].max()) for s in strokes) + 1
    canvas = np.zeros((y1 - y0, x1 - x0), np.float32)
    for i, yy, xx, d, t in strokes:
        frac = np.clip(t / np.float32(lengths[i]), 0.0, 1.0)
        taper = np.sqrt(np.maximum(np.sin(np.pi * frac), 0.0))
        lam1, lam2 = log_uniform(rng, 20.0, 300.0, 2)
        streak = 1.0 + 0.3 * np.sin(2 * np.pi * t / lam1 + rng.uniform(0, 6.3)) + \
            0.2 * np.sin(2 * np.pi * t / lam2 + rng.uniform(0, 6.3))
        values = powers[i] * np.exp(-0.5 * (d / np.float32(widths[i])) ** 2) * taper * streak
        np.add.at(canvas, (yy - y0, xx - x0), values.astype(np.float32))
    peak = float(canvas.max())
    if peak <= 0.0:
        return []
    canvas /= np.float32(peak)
    truth = shape_footprint("brush-strokes", x0, y0, canvas, level=0.2)
    scene.add_profile((x0, y0, x1, y1), canvas, scale * _amplitudes(scene, rng, log_uniform(rng, 0.5, 6.0), spread=0.4))
    return [truth] if truth is not None else []


# --------------------------------------------------------------------------- dark halo
def inject_dark_halo(scene: Scene, rng: np.random.Generator, *, scale: float = 1.0) -> list[Footprint]:
    """A dark disc or ring around a bright star, where the sky was over-subtracted.

    Notes
    -----
    Centred on a bright star of the image (70 % when one is on the CCD) or on a new
    one of i = 9.5-12.5; radius 60-500 px; a disc (60 %) or a ring with a partly
    refilled centre (40 %); depth 0.4-3 sky sigma, nearly grey. True where the shape
    is at least 0.3.
    """
    ny, nx = scene.shape
    on = np.flatnonzero((scene.bright_x >= 0) & (scene.bright_x < nx) & (scene.bright_y >= 0) &
                        (scene.bright_y < ny))
    if on.size and rng.random() < 0.7:
        i = int(rng.choice(on))
        cx, cy = float(scene.bright_x[i]), float(scene.bright_y[i])
    else:
        cx, cy = _point_in_image(rng, (ny, nx))
        add_star(scene, cx, cy, float(rng.uniform(9.5, 12.5)), rng=rng)
    radius = float(log_uniform(rng, 60.0, 500.0))
    reach = 1.3 * radius
    box = clip_box((ny, nx), cx - reach, cy - reach, cx + reach, cy + reach)
    if box is None:
        return []
    X, Y = box_offsets(box, cx, cy)
    r = np.sqrt(X * X + Y * Y)
    profile = smoothstep((np.float32(radius) - r) / np.float32(0.2 * radius))
    if rng.random() < 0.4:
        profile *= 1.0 - np.float32(rng.uniform(0.5, 1.0)) * np.exp(-0.5 * (r / np.float32(0.4 * radius)) ** 2)
        profile /= np.float32(max(float(profile.max()), 1e-6))
    truth = shape_footprint("dark-halo", box[0], box[1], profile, level=0.3)
    scene.add_profile(box, profile, -scale * _amplitudes(scene, rng, log_uniform(rng, 0.4, 3.0), spread=0.15))
    return [truth] if truth is not None else []

"""Simulated focal-plane pictures: a binned DECam exposure with ghosts, rays and their truth.

The picture imitates the DeepGhostBusters images (Tanoglidis et al. 2021): the 62 CCDs
of DECam (2048 x 4096 px each, long side horizontal) binned about 70x into a 400 x 400
picture, grey gaps between CCDs, each CCD background-subtracted on its own, stars,
bright stars with halos and spikes, satellite trails, and the artifacts the real labels
mark -- ghosts (bright doughnuts, faint pupil discs with spider shadows) and scattered-
light rays (fans of streaks). Artifact shapes, sizes, counts, positions and kinds are
taken from real label sets (``single_annotator_regions.json``) when given, so the truth
is drawn the way a person draws it.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy import ndimage

from ..categories import FOCAL_PLANE_CATEGORIES
from ..io.focal_plane import Region, regions_to_mask

__all__ = ["SimulatedFocalPlane", "ccd_index_map", "decam_layout", "random_regions", "simulate_focal_plane"]

#: CCDs per row of the DECam focal plane, top to bottom (62 science CCDs).
DECAM_ROWS: tuple[int, ...] = (3, 4, 5, 6, 6, 7, 7, 6, 6, 5, 4, 3)

# Geometry measured on the 400 x 400 DeepGhostBusters pictures (pixels of that picture).
_REF = 400.0
_ROW_TOP, _ROW_PITCH, _CCD_H = 10.0, 31.9, 29.0
_COL_PITCH, _CCD_W, _X_CENTRE = 60.45, 57.5, 199.5

#: Type frequencies of the real single-annotator labels (Bright, Faint, Rays).
_TYPE_FREQ = {"ghost-bright": 2163, "ghost-faint": 2901, "rays": 1543}


@dataclass(frozen=True)
class SimulatedFocalPlane:
    """One simulated focal-plane picture and its truth.

    Attributes
    ----------
    image : numpy.ndarray
        float32 ``(3, ny, nx)`` RGB picture on the 0-255 scale of a JPG.
    truth : numpy.ndarray
        bool ``(n_categories, ny, nx)``, one plane per
        :data:`~spacejunk.categories.FOCAL_PLANE_CATEGORIES`.
    regions : list of Region
        The artifacts as drawn (label-like shapes).
    ccd_mask : numpy.ndarray
        bool ``(ny, nx)``: pixels on a live CCD.
    """

    image: np.ndarray
    truth: np.ndarray
    regions: list
    ccd_mask: np.ndarray


def decam_layout(shape: tuple[int, int] = (400, 400), *, scale: float = 1.0,
                 offset: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """Boxes of the 62 DECam CCDs in a focal-plane picture.

    Parameters
    ----------
    shape : (ny, nx)
        Picture size; the layout of the 400 x 400 DeepGhostBusters pictures is scaled
        to it.
    scale : float, optional
        Extra zoom about the picture centre (1 = as measured).
    offset : (dx, dy), optional
        Shift of the whole layout, pixels.

    Returns
    -------
    numpy.ndarray
        float ``(62, 4)`` of ``(x0, y0, x1, y1)`` (exclusive ends), unclipped: the widest
        rows run off the left and right edges as in the real pictures. Rows go top to
        bottom, CCDs left to right.
    """
    ny, nx = shape
    sy, sx = ny / _REF * scale, nx / _REF * scale
    cy, cx = ny / 2.0, nx / 2.0
    boxes = []
    for i, n in enumerate(DECAM_ROWS):
        y0 = _ROW_TOP + i * _ROW_PITCH
        left = _X_CENTRE - (n * _COL_PITCH - (_COL_PITCH - _CCD_W)) / 2.0
        for j in range(n):
            x0 = left + j * _COL_PITCH
            box = (x0, y0, x0 + _CCD_W, y0 + _CCD_H)
            boxes.append(((box[0] - _REF / 2) * sx + cx + offset[0], (box[1] - _REF / 2) * sy + cy + offset[1],
                          (box[2] - _REF / 2) * sx + cx + offset[0], (box[3] - _REF / 2) * sy + cy + offset[1]))
    return np.asarray(boxes, dtype=float)


# --------------------------------------------------------------------------- regions
def random_regions(rng: np.random.Generator, shape: tuple[int, int] = (400, 400), *,
                   region_sets: Sequence[Sequence[Region]] | None = None) -> list[Region]:
    """Artifacts for one picture: a real label set (randomly flipped) or a parametric draw.

    Parameters
    ----------
    rng : numpy.random.Generator
    shape : (ny, nx)
        Picture size; real label sets (drawn on 400 x 400 pictures) are scaled to it.
    region_sets : sequence of sequences of Region, optional
        Real label sets, one per exposure (e.g. the values of :func:`read_via` on
        ``single_annotator_regions.json``). Without them, 1-7 regions are drawn from
        distributions like the real ones: faint discs of radius 10-140 px, bright
        discs and ellipses of 5-35 px, ray fans from the focal-plane edge.
    """
    ny, nx = shape
    if region_sets:
        regs = list(region_sets[int(rng.integers(len(region_sets)))])
        flip_x, flip_y = bool(rng.random() < 0.5), bool(rng.random() < 0.5)
        return [_transform_region(r, sx=nx / _REF, sy=ny / _REF, nx=nx, ny=ny, flip_x=flip_x, flip_y=flip_y)
                for r in regs]
    cats = list(_TYPE_FREQ)
    p = np.array([_TYPE_FREQ[c] for c in cats], dtype=float)
    out: list[Region] = []
    s = min(ny, nx) / _REF
    for _ in range(int(rng.integers(1, 8))):
        cat = cats[int(rng.choice(len(cats), p=p / p.sum()))]
        cx, cy = rng.uniform(0.1, 0.9) * nx, rng.uniform(0.1, 0.9) * ny
        if cat == "ghost-faint":
            r = (rng.uniform(100, 140) if rng.random() < 0.5 else rng.uniform(10, 40)) * s
            out.append(Region("circle", {"cx": cx, "cy": cy, "r": r}, cat))
        elif cat == "ghost-bright":
            rx = rng.uniform(5, 35) * s
            ry = rx * rng.uniform(0.5, 1.0)
            out.append(Region("ellipse", {"cx": cx, "cy": cy, "rx": rx, "ry": ry,
                                          "theta": rng.uniform(0, math.pi)}, cat))
        else:
            ang = rng.uniform(0, 2 * math.pi)
            ox, oy = nx / 2 + 0.55 * nx * math.cos(ang), ny / 2 + 0.55 * ny * math.sin(ang)
            length, half = rng.uniform(40, 150) * s, rng.uniform(0.1, 0.4)
            a = ang + math.pi
            pts = [(ox, oy), (ox + length * math.cos(a - half), oy + length * math.sin(a - half)),
                   (ox + length * math.cos(a + half), oy + length * math.sin(a + half))]
            out.append(Region("polygon", {"all_points_x": tuple(float(q[0]) for q in pts),
                                          "all_points_y": tuple(float(q[1]) for q in pts)}, cat))
    return out


def _transform_region(reg: Region, *, sx: float, sy: float, nx: int, ny: int, flip_x: bool,
                      flip_y: bool) -> Region:
    """Scale a region drawn on a 400 x 400 picture to ``(ny, nx)`` and flip it."""
    p = dict(reg.params)

    def fx(x):
        x = x * sx
        return nx - 1 - x if flip_x else x

    def fy(y):
        y = y * sy
        return ny - 1 - y if flip_y else y

    if reg.kind in ("circle", "ellipse"):
        p["cx"], p["cy"] = fx(p["cx"]), fy(p["cy"])
        if reg.kind == "circle":
            p["r"] = p["r"] * math.sqrt(sx * sy)
        else:
            p["rx"], p["ry"] = p["rx"] * sx, p["ry"] * sy
            if flip_x != flip_y:
                p["theta"] = -p.get("theta", 0.0)
    elif reg.kind == "rect":
        x0, x1 = sorted((fx(p["x"]), fx(p["x"] + p["width"])))
        y0, y1 = sorted((fy(p["y"]), fy(p["y"] + p["height"])))
        p.update(x=x0, y=y0, width=x1 - x0, height=y1 - y0)
    else:
        p["all_points_x"] = tuple(fx(v) for v in p["all_points_x"])
        p["all_points_y"] = tuple(fy(v) for v in p["all_points_y"])
    return Region(reg.kind, p, reg.category)


# --------------------------------------------------------------------------- rendering
def ccd_index_map(shape: tuple[int, int], boxes: np.ndarray) -> np.ndarray:
    """int ``(ny, nx)``: index of the CCD under each pixel, -1 in gaps."""
    ny, nx = shape
    idx = np.full(shape, -1, dtype=np.int32)
    for k, (x0, y0, x1, y1) in enumerate(boxes):
        xa, xb = max(int(round(x0)), 0), min(int(round(x1)), nx)
        ya, yb = max(int(round(y0)), 0), min(int(round(y1)), ny)
        if xa < xb and ya < yb:
            idx[ya:yb, xa:xb] = k
    return idx


def _stars(rng: np.random.Generator, shape: tuple[int, int], n: int, s: float) -> np.ndarray:
    """Faint stars and galaxies: delta sources blurred by a binned PSF."""
    ny, nx = shape
    img = np.zeros(shape, dtype=np.float32)
    ys, xs = rng.integers(0, ny, n), rng.integers(0, nx, n)
    flux = (rng.pareto(1.3, n) + 1.0) * rng.uniform(15, 40)
    np.add.at(img, (ys, xs), flux.astype(np.float32))
    return ndimage.gaussian_filter(img, sigma=max(0.6 * s, 0.4)) * 4.0


def _bright_star(rng: np.random.Generator, shape: tuple[int, int], x: float, y: float, s: float) -> np.ndarray:
    """A saturated star with a halo, diffraction spikes and a horizontal bleed."""
    ny, nx = shape
    yy, xx = np.mgrid[0:ny, 0:nx].astype(np.float32)
    r = np.hypot(xx - x, yy - y) + 0.5
    core = rng.uniform(2, 8) * s
    amp = rng.uniform(150, 600)
    img = amp / (1.0 + (r / core) ** 2) ** 1.2
    spike_len = rng.uniform(8, 40) * s
    ang0 = rng.uniform(0, math.pi / 2) if rng.random() < 0.3 else math.pi / 4
    for a in (ang0, ang0 + math.pi / 2):
        u = (xx - x) * math.cos(a) + (yy - y) * math.sin(a)
        v = -(xx - x) * math.sin(a) + (yy - y) * math.cos(a)
        img += amp * 0.5 * np.exp(-0.5 * (v / (0.7 * s)) ** 2) * np.exp(-np.abs(u) / spike_len)
    if rng.random() < 0.7:  # bleed trail along the CCD rows
        img += amp * np.exp(-0.5 * ((yy - y) / (0.6 * s)) ** 2) * np.exp(-np.abs(xx - x) / (rng.uniform(5, 25) * s))
    if rng.random() < 0.5:  # radial streaks of scattered light around very bright stars
        theta = np.arctan2(yy - y, xx - x)
        k = int(rng.integers(8, 24))
        streak = np.cos(k * theta + rng.uniform(0, 6.3)) ** 8
        img += amp * 0.3 * streak * np.exp(-r / (rng.uniform(6, 20) * s))
    return img


def _trail(rng: np.random.Generator, shape: tuple[int, int], s: float) -> np.ndarray:
    """A satellite trail: a thin straight line across the picture (not an artifact label)."""
    ny, nx = shape
    yy, xx = np.mgrid[0:ny, 0:nx].astype(np.float32)
    x0, y0 = rng.uniform(0, nx), rng.uniform(0, ny)
    a = rng.uniform(0, math.pi)
    d = -(xx - x0) * math.sin(a) + (yy - y0) * math.cos(a)
    width = rng.uniform(0.4, 1.0) * s
    amp = rng.uniform(15, 80) * (1 if rng.random() < 0.8 else -0.5)
    line = amp * np.exp(-0.5 * (d / width) ** 2)
    if rng.random() < 0.5:  # dashed (tumbling satellite or faint, noisy trail)
        u = (xx - x0) * math.cos(a) + (yy - y0) * math.sin(a)
        line *= (np.sin(u / rng.uniform(2, 6)) > -0.2)
    return line


def _region_geometry(reg: Region, mask: np.ndarray) -> tuple[float, float, np.ndarray]:
    """Centre of a region and a normalised radius map rho (0 centre, 1 edge) over the picture."""
    ny, nx = mask.shape
    yy, xx = np.mgrid[0:ny, 0:nx].astype(np.float32)
    p = reg.params
    if reg.kind == "circle":
        cx, cy = p["cx"], p["cy"]
        rho = np.hypot(xx - cx, yy - cy) / max(p["r"], 1e-3)
    elif reg.kind == "ellipse":
        cx, cy = p["cx"], p["cy"]
        c, s_ = math.cos(p.get("theta", 0.0)), math.sin(p.get("theta", 0.0))
        u, v = (xx - cx) * c + (yy - cy) * s_, -(xx - cx) * s_ + (yy - cy) * c
        rho = np.sqrt((u / max(p["rx"], 1e-3)) ** 2 + (v / max(p["ry"], 1e-3)) ** 2)
    else:
        if mask.any():
            cy, cx = (float(v) for v in ndimage.center_of_mass(mask))
        else:
            cx, cy = float(np.mean(p.get("all_points_x", [p.get("x", 0)]))), \
                float(np.mean(p.get("all_points_y", [p.get("y", 0)])))
        inside = ndimage.distance_transform_edt(mask)
        rho = 1.0 - inside / max(float(inside.max()), 1.0)
    return float(cx), float(cy), rho.astype(np.float32)


def _render_region(rng: np.random.Generator, reg: Region, mask: np.ndarray, s: float) -> np.ndarray:
    """Surface brightness of one artifact (0-255 picture units), soft-edged, inside its shape."""
    ny, nx = mask.shape
    soft = ndimage.gaussian_filter(mask.astype(np.float32), sigma=rng.uniform(0.5, 1.5) * s)
    cx, cy, rho = _region_geometry(reg, mask)
    yy, xx = np.mgrid[0:ny, 0:nx].astype(np.float32)
    theta = np.arctan2(yy - cy, xx - cx)
    if reg.category == "ghost-bright":
        amp = rng.uniform(25, 200)
        ring = np.exp(-0.5 * ((rho - rng.uniform(0.6, 0.9)) / rng.uniform(0.08, 0.25)) ** 2)
        fill = rng.uniform(0.1, 0.6)
        hole = (rho < rng.uniform(0.25, 0.55)) * rng.uniform(-0.6, 0.3)
        spokes = 1.0 - rng.uniform(0.0, 0.8) * (np.cos(2 * (theta - rng.uniform(0, math.pi))) ** 40)
        flux = amp * (ring + fill + hole) * spokes
    elif reg.category == "ghost-faint":
        amp = rng.uniform(3, 25)
        rim = np.exp(-0.5 * ((rho - 1.0) / (rng.uniform(0.5, 2.5) * s / max(_radius(reg, mask), 1.0))) ** 2)
        flux = amp * (rng.uniform(0.2, 1.0) + rng.uniform(0.5, 3.0) * rim)
        big = _radius(reg, mask) > 50 * s  # pupil ghosts: their spider shadows are what people see
        if rng.random() < 0.6:  # central obscuration of the pupil
            flux -= amp * rng.uniform(0.3, 1.0) * (rho < rng.uniform(0.25, 0.4))
        if rng.random() < (0.9 if big else 0.4):  # spider shadows: a dark X about the centre
            a0 = math.pi / 4 + rng.normal(0, 0.1)
            inner, outer = rng.uniform(0.2, 0.45), rng.uniform(0.75, 1.0)
            depth = rng.uniform(15, 45) if big else amp * rng.uniform(1.0, 4.0)
            for a in (a0, a0 + math.pi / 2):
                d = np.abs(-(xx - cx) * math.sin(a) + (yy - cy) * math.cos(a))
                flux -= depth * np.exp(-0.5 * (d / (rng.uniform(0.5, 1.0) * s)) ** 2) * (rho > inner) * (rho < outer)
    else:  # rays: a fan of streaks from an origin outside or at the edge of the shape
        ang = rng.uniform(0, 2 * math.pi)
        ox, oy = cx + math.cos(ang) * _radius(reg, mask) * 1.2, cy + math.sin(ang) * _radius(reg, mask) * 1.2
        phi = np.arctan2(yy - oy, xx - ox)
        r = np.hypot(xx - ox, yy - oy)
        k = int(rng.integers(15, 60))
        streaks = (0.5 + 0.5 * np.cos(k * phi + rng.uniform(0, 6.3))) ** rng.uniform(2, 10)
        streaks += 0.5 * (0.5 + 0.5 * np.cos(k * 2.3 * phi + rng.uniform(0, 6.3))) ** 6
        amp = rng.uniform(20, 160)
        decay = np.exp(-r / (rng.uniform(1.0, 3.0) * max(_radius(reg, mask), 3.0)))
        flux = amp * streaks * (rng.uniform(0.2, 0.6) + decay)
    flux = flux * soft
    if rng.random() < 0.3:
        flux = flux * (1.0 + rng.normal(0, 0.3, size=flux.shape).astype(np.float32))
    return flux.astype(np.float32)


def _radius(reg: Region, mask: np.ndarray) -> float:
    p = reg.params
    if reg.kind == "circle":
        return p["r"]
    if reg.kind == "ellipse":
        return math.sqrt(max(p["rx"] * p["ry"], 0.0))
    return math.sqrt(max(float(mask.sum()), 1.0) / math.pi)


def simulate_focal_plane(*, seed: int | np.random.Generator | None = None, shape: tuple[int, int] = (400, 400),
                         region_sets: Sequence[Sequence[Region]] | None = None,
                         regions: Sequence[Region] | None = None, jpeg: bool = True) -> SimulatedFocalPlane:
    """Simulate one focal-plane picture with ghosts and rays and its truth masks.

    Parameters
    ----------
    seed : int or numpy.random.Generator, optional
        Randomness; the same seed gives the same picture.
    shape : (ny, nx), optional
        Picture size (default 400 x 400, the DeepGhostBusters size).
    region_sets : sequence of label sets, optional
        Real label sets to draw the artifacts from (see :func:`random_regions`).
    regions : sequence of Region, optional
        Exactly these artifacts (overrides ``region_sets``); an empty list gives a clean
        picture.
    jpeg : bool, optional
        Pass the picture through JPEG compression (quality 60-95) like the real ones.

    Returns
    -------
    SimulatedFocalPlane

    Notes
    -----
    Pipeline: DECam layout (random zoom within 2 %, dead CCDs), sky with a level and
    noise per CCD, stars, 0-2 bright stars (often beside bright ghosts), 0-2 satellite
    trails (not labelled, as in the real labels), the artifacts, then each CCD is
    background-subtracted on its own (which hides most of a large faint ghost but its
    rim and spider shadows), saturated at 255, and written as JPEG.
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    ny, nx = int(shape[0]), int(shape[1])
    if ny < 8 or nx < 8:
        raise ValueError(f"shape must be at least 8 x 8, got {shape!r}")
    s = min(ny, nx) / _REF
    boxes = decam_layout((ny, nx), scale=rng.uniform(0.98, 1.02), offset=tuple(rng.normal(0, 1.0 * s, 2)))
    ccd = ccd_index_map((ny, nx), boxes)
    dead = set()
    for k, p_dead in ((1, 0.7), (len(boxes) - 2, 0.8)):  # the middle CCDs of the top and bottom rows
        if rng.random() < p_dead:
            dead.add(k)
    for k in rng.choice(len(boxes), size=int(rng.integers(0, 2)), replace=False):
        dead.add(int(k))
    live = (ccd >= 0) & ~np.isin(ccd, list(dead))

    if regions is None:
        regs = random_regions(rng, (ny, nx), region_sets=region_sets)
        if rng.random() < 0.05:
            regs = []
    else:
        regs = list(regions)
    truth = regions_to_mask(regs, (ny, nx))

    signal = _stars(rng, (ny, nx), int(rng.uniform(400, 1500) * s * s), s)
    bright_near = [r for r in regs if r.category == "ghost-bright"]
    n_bright = int(rng.integers(0, 3))
    for i in range(n_bright + (1 if bright_near and rng.random() < 0.6 else 0)):
        if i == n_bright and bright_near:
            ref = bright_near[int(rng.integers(len(bright_near)))]
            m = regions_to_mask([ref], (ny, nx))[FOCAL_PLANE_CATEGORIES.index("ghost-bright")]
            cx, cy, _ = _region_geometry(ref, m)
            x, y = cx + rng.normal(0, 30 * s), cy + rng.normal(0, 30 * s)
        else:
            x, y = rng.uniform(0, nx), rng.uniform(0, ny)
        signal += _bright_star(rng, (ny, nx), x, y, s)
    for _ in range(int(rng.choice([0, 0, 1, 1, 2]))):
        signal += _trail(rng, (ny, nx), s)
    for reg in regs:
        m = regions_to_mask([reg], (ny, nx))[FOCAL_PLANE_CATEGORIES.index(reg.category)]
        if m.any():
            signal += _render_region(rng, reg, m, s)

    # sky and per-CCD processing
    sky_level = rng.uniform(35, 60)
    gap_level = rng.uniform(15, 25)
    img = np.full((ny, nx), gap_level, dtype=np.float32)
    noise_global = rng.uniform(4, 12)
    n_ccd = len(boxes)
    levels = sky_level + rng.normal(0, 3, n_ccd)
    noises = noise_global * rng.uniform(0.7, 1.4, n_ccd)
    subtract = rng.uniform(0.6, 1.0)
    for k in range(n_ccd):
        on = ccd == k
        if not on.any() or k in dead:
            continue
        vals = signal[on]
        bg = float(np.median(vals)) * subtract
        img[on] = levels[k] + vals - bg + rng.normal(0, noises[k], int(on.sum())).astype(np.float32)
    img[~live] = gap_level + rng.normal(0, 0.7, int((~live).sum())).astype(np.float32)
    rgb = np.repeat(img[None], 3, axis=0)
    if rng.random() < 0.2:  # a colour cast, as in colour renderings of exposures
        rgb *= rng.uniform(0.85, 1.15, size=(3, 1, 1)).astype(np.float32)
    rgb = np.clip(rgb, 0, 255)
    if jpeg:
        rgb = _jpeg(rgb, quality=int(rng.integers(60, 96)))
    return SimulatedFocalPlane(image=rgb.astype(np.float32), truth=truth, regions=regs, ccd_mask=live)


def _jpeg(rgb: np.ndarray, *, quality: int) -> np.ndarray:
    """Round-trip a ``(3, ny, nx)`` 0-255 picture through JPEG compression."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.moveaxis(rgb.round().astype(np.uint8), 0, -1)).save(buf, format="JPEG", quality=quality)
    buf.seek(0)
    with Image.open(buf) as im:
        return np.moveaxis(np.asarray(im.convert("RGB"), dtype=np.float32), -1, 0)

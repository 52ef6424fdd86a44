"""Faint ghost discs larger than the CCD, found by the circular edge they draw across it.

A pupil ghost can be a disc thousands of pixels across and only a quarter of a sky sigma
bright per pixel (the simulator draws the real ``Faint`` ghosts' radii, up to 11,000 px,
at 0.25-1 sigma). A tile inside it sees a flat sky, and a network that sees the CCD binned
cannot tell its plateau from the sky's own level. What gives it away is its edge, or the
edge of its central hole: a step along a circle arc across the CCD, summed over thousands
of pixels tens of sigma. So:

1. every band in noise units above the sky, its two amplifiers brought to one level
   (:func:`~spacejunk.preprocess.normalise.level_amplifiers`), stars (beyond ``clip`` sigma)
   and DESDM-flagged pixels left out; each band's mean in ``bin`` x ``bin`` blocks, the
   bands averaged; the blocks within ``edge_rows`` of the readout edges are left out
   (an edge bleed's glow lies along them);
2. the binned sky is modelled as a smooth surface (a quadratic in x and y: the sky's own
   gradient) plus a constant step inside a circle. For every circle of a grid whose edge
   crosses the CCD (``n_radii`` radii in ``radius_range`` on a log scale, ``n_angles``
   directions of its centre, the edge's nearest point to the CCD's centre every ``bin``
   px) the step's least-squares amplitude over its error is its *significance* (the error
   from the scatter of neighbouring blocks), computed for all circles at once as matrix
   products;
3. the ``candidates`` best circles (each covering different blocks) are refined on blocks
   of ``bin / 2``, and the first that passes these tests is the ghost's edge:

   - its significance is at least ``min_sigma``, it leaves ``min_fraction`` of the CCD on
     each side, and its radius is at least ``radius_range[0]`` (``min_hole_radius`` when
     its inside is darker);
   - *plateau*: with a band along its edge on the bright side (each of ``plateau_widths``
     times the radius wide) fitted beside it, the step keeps ``min_plateau`` of its
     significance (a bright arc's ring, a spray's fan or a glow along an edge is such a
     band; a disc goes on). A hole's bright side is the ghost's ring, wider than the hole
     (0.8-4 times its radius), so a hole is asked for a wider band too
     (``hole_plateau_widths``); a disc's bright side may end at its hole, 0.45-0.8 of its
     radius in from the edge;
   - fitted again with the blocks more than ``clip_blocks`` sigma off the model, and
     their neighbours, left out (an arc's or a spray's rays, a star's halo), it is still
     at least ``min_sigma``;
   - no dark disc up to ``halo_radius`` px round a saturated star on its dark side both
     explains the step ``halo_share`` as well and, fitted beside it, leaves it under
     ``halo_keep`` of its significance (a dark halo cut by the CCD's edge fits a hole's
     circle, or a disc covering all the rest; a few dark blocks outside a large ghost's
     edge fit well too, as the quadratic sky cannot follow the step, but take little of
     its significance).

   A bright inside is a disc, whose region is the CCD's part inside the circle; a dark
   inside is the ghost's central hole, whose region is the part outside it. A second
   significant edge of the other sign on the same centre (the hole inside a disc, at
   0.15-0.6 of its radius; the disc's rim outside a hole, at 1.6-6 times) bounds the region;
4. up to ``max_discs`` ghosts: the blocks of the ghost found (a disc's inside, a hole's
   outside, its edge moved out by ``margin`` of its radius and a block) are left out and
   steps 2-3 run again on the rest, asking ``later_min_sigma`` of the next edge (what
   the first ghost leaves beside its blocks, its rim or its wings, is not flat). A bright
   ghost's edge outshines a faint ghost's that covers the rest of the CCD, which a single
   search never reaches.

The score is ``z / (z + min_sigma)`` (0.5 at the limit), ``z`` the significance of the
clipped fit. The artifact (:class:`DiscArtifact`) keeps its region, so the tile classifier
scores the tiles the region covers, not all of its box. The detector keeps the network's
ghosts beside this finder's; of two ghosts on one place, the disc's box with the better of
their scores.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np
from astropy.stats import mad_std
from scipy import ndimage

from ..categories import DESDM_BITS
from ..io.artifact import Artifact
from ..io.exposure import Exposure
from ..preprocess.normalise import bin_image, level_amplifiers, masked_bin, noise_units
from .blobs import IGNORED_BITS

__all__ = ["GhostDiscSettings", "GhostDisc", "DiscArtifact", "binned_sky", "find_ghost_disc", "find_ghost_disc_edges",
           "disc_box", "find_ghost_discs"]


@dataclass(frozen=True)
class GhostDiscSettings:
    """How ghost discs are looked for (see the module's notes); lengths in full-resolution pixels."""

    bin: int = 64
    clip: float = 3.0
    radius_range: tuple[float, float] = (500.0, 12000.0)
    n_radii: int = 14
    n_angles: int = 60
    min_sigma: float = 30.0
    min_fraction: float = 0.02
    min_hole_radius: float = 700.0
    min_plateau: float = 0.4
    plateau_widths: tuple[float, ...] = (0.05, 0.15, 0.3)
    hole_plateau_widths: tuple[float, ...] = (0.05, 0.15, 0.3, 0.5)
    edge_rows: int = 128
    candidates: int = 6
    clip_blocks: float = 5.0
    halo_radius: float = 650.0
    halo_share: float = 1.0
    halo_keep: float = 0.5
    max_discs: int = 2
    margin: float = 0.1
    later_min_sigma: float = 60.0


@dataclass(frozen=True)
class GhostDisc:
    """A ghost's circular edge on a CCD: centre ``(x, y)`` and ``radius`` in pixels (the centre
    often off the CCD), ``sign`` +1 when the inside is brighter (a disc), -1 when darker (a
    hole); ``inner``/``outer`` the radii bounding its region (0 and ``radius``, or ``radius``
    and infinity, unless a second edge bounds it); ``significance`` of the step."""

    x: float
    y: float
    radius: float
    sign: int
    inner: float
    outer: float
    significance: float

    def region(self, px: np.ndarray, py: np.ndarray) -> np.ndarray:
        """Whether the points ``(px, py)`` lie in the ghost's region (between ``inner`` and ``outer``)."""
        r = np.hypot(np.asarray(px, np.float64) - self.x, np.asarray(py, np.float64) - self.y)
        return (r >= self.inner) & (r < self.outer)


def binned_sky(exposure: Exposure, settings: GhostDiscSettings | None = None, *, bin: int | None = None
               ) -> np.ndarray:
    """The bands' mean sky in noise units, in ``bin`` x ``bin`` blocks (NaN where a block has
    under a fifth of its pixels usable), amplifiers levelled, stars and flagged pixels left out."""
    s = settings or GhostDiscSettings()
    b = bin or s.bin
    total = None
    for k in range(len(exposure.bands)):
        values, ignored = noise_units(exposure, k, ignored_bits=IGNORED_BITS)
        level_amplifiers(values, ignored)
        mean = masked_bin(values, ignored | (np.abs(values) > s.clip), b)
        total = mean if total is None else total + mean
    total = (total / len(exposure.bands)).astype(np.float64)
    edge = int(math.ceil(s.edge_rows / b))
    if edge:
        total[:edge] = np.nan
        total[-edge:] = np.nan
    return total


def _pairs_binned(sky: np.ndarray) -> np.ndarray:
    """``sky`` binned 2 x 2 (the mean of its finite blocks; NaN where none is), a last odd
    row or column dropped."""
    ny, nx = sky.shape[0] // 2 * 2, sky.shape[1] // 2 * 2
    blocks = sky[:ny, :nx].reshape(ny // 2, 2, nx // 2, 2)
    count = np.isfinite(blocks).sum(axis=(1, 3))
    total = np.nansum(blocks, axis=(1, 3))
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


class _Fit:
    """The least-squares machinery of one binned sky: a quadratic surface, and the step of
    any set of circles over it, scored all at once."""

    def __init__(self, sky: np.ndarray, bin: int):
        ny, nx = sky.shape
        self.shape = sky.shape
        self.ok = np.isfinite(sky).ravel()
        yy, xx = np.mgrid[0:ny, 0:nx]
        self.px = ((xx.ravel()[self.ok] + 0.5) * bin).astype(np.float64)
        self.py = ((yy.ravel()[self.ok] + 0.5) * bin).astype(np.float64)
        u, v = self.px / (nx * bin) - 0.5, self.py / (ny * bin) - 0.5
        self.X = np.stack([np.ones_like(u), u, v, u * u, v * v, u * v], 1)
        values = sky.ravel()[self.ok]
        self.values = values
        self.G_inv = np.linalg.pinv(self.X.T @ self.X)
        self.resid = values - self.X @ (self.G_inv @ (self.X.T @ values))
        diffs = np.concatenate([np.diff(sky, axis=0).ravel(), np.diff(sky, axis=1).ravel()])
        diffs = diffs[np.isfinite(diffs)]
        self.sigma = max(float(mad_std(diffs)) / math.sqrt(2.0), 1e-9) if diffs.size else 1.0
        self.columns = np.concatenate([self.X, self.resid[:, None]], 1).astype(np.float32)
        # |p - c|^2 < R^2  <=>  p2 - 2 p.c + (c2 - R^2) < 0: one matrix product per batch
        self.points_t = np.stack([self.px, self.py, np.ones_like(self.px)], 0).astype(np.float32)
        self.p2 = (self.px ** 2 + self.py ** 2).astype(np.float32)

    @property
    def n(self) -> int:
        """Number of usable blocks."""
        return int(self.ok.sum())

    def inside(self, cx: np.ndarray, cy: np.ndarray, radius: np.ndarray) -> np.ndarray:
        """(k, n) float32: the binned points inside each circle."""
        coef = np.stack([-2.0 * cx, -2.0 * cy, cx * cx + cy * cy - radius * radius], 1).astype(np.float32)
        d = coef @ self.points_t
        d += self.p2[None, :]
        return (d < 0).astype(np.float32)

    def circle(self, x: float, y: float, radius: float) -> np.ndarray:
        """(n,) float32: the binned points inside one circle."""
        return self.inside(np.array([x]), np.array([y]), np.array([radius]))[0]

    def significance(self, inside: np.ndarray, min_fraction: float) -> np.ndarray:
        """Significance of a step inside each row of ``inside`` (k, n); 0 for a step leaving
        under ``min_fraction`` of the blocks on either side."""
        sums = inside @ self.columns
        q = sums[:, :-1].astype(np.float64)
        var = q[:, 0] - np.einsum("ki,ij,kj->k", q, self.G_inv, q)
        z = sums[:, -1] / (self.sigma * np.sqrt(np.maximum(var, 1e-9)))
        frac = q[:, 0] / max(self.n, 1)
        return np.where((var > 1e-6) & (frac >= min_fraction) & (frac <= 1.0 - min_fraction), z, 0.0)

    def _last_step(self, X: np.ndarray, values: np.ndarray) -> tuple[float, np.ndarray]:
        """(significance of the last column's coefficient, coefficients) of ``values`` fitted by ``X``."""
        G_inv = np.linalg.pinv(X.T @ X)
        beta = G_inv @ (X.T @ values)
        return float(beta[-1] / (self.sigma * math.sqrt(max(G_inv[-1, -1], 1e-18)))), beta

    def two_steps(self, first: np.ndarray, second: np.ndarray) -> float:
        """Significance of a step inside ``second`` (n,), fitted beside one inside ``first`` (n,)."""
        return self._last_step(np.concatenate([self.X, first[:, None], second[:, None]], 1), self.resid)[0]

    def clipped(self, step: np.ndarray, clip: float, iterations: int = 3) -> float:
        """Significance of a step inside ``step`` (n,), fitted with the blocks more than ``clip``
        sigma off the model (sky and step), and their neighbours, left out, again and again:
        an arc, a spray's rays or a star's halo lifts a circle's inside where it lies, a disc
        all over it."""
        X = np.concatenate([self.X, step[:, None]], 1)
        keep = np.ones(self.n, bool)
        z = 0.0
        for _ in range(iterations):
            z, beta = self._last_step(X[keep], self.values[keep])
            off = np.zeros(self.shape, bool).ravel()
            off[self.ok] = np.abs(self.values - X @ beta) > clip * self.sigma
            now = ~ndimage.binary_dilation(off.reshape(self.shape)).ravel()[self.ok]
            if (now == keep).all() or now.sum() < X.shape[1] + 2:
                break
            keep = now
        return z


def _circles(shape: tuple[int, int], radii: np.ndarray, angles: np.ndarray, step: float):
    """Centres and radii of circles whose edge passes within the CCD's half-diagonal of its
    centre: for each radius and direction ``u``, the edge's nearest point to the centre
    ``m`` at signed distances ``s`` every ``step`` (the circle's centre is ``m + (s + R) u``)."""
    ny, nx = shape
    mx, my, half = nx / 2.0, ny / 2.0, math.hypot(nx, ny) / 2.0
    cx, cy, rr = [], [], []
    for radius in radii:
        s = np.arange(max(-half, -radius), half, step)
        for a in angles:
            cx.append(mx + (s + radius) * math.cos(a))
            cy.append(my + (s + radius) * math.sin(a))
            rr.append(np.full(s.size, radius))
    return np.concatenate(cx), np.concatenate(cy), np.concatenate(rr)


def _candidates(fit: _Fit, cx, cy, rr, min_fraction: float, *, keep: int, batch: int = 4096) -> list[int]:
    """Indices of up to ``keep`` circles of greatest absolute significance, each covering a
    different set of blocks (less than 80 % shared with a better one)."""
    scored = []
    for start in range(0, cx.size, batch):
        sl = slice(start, start + batch)
        z = fit.significance(fit.inside(cx[sl], cy[sl], rr[sl]), min_fraction)
        top = np.argsort(-np.abs(z))[:4 * keep]
        scored += [(abs(float(z[t])), start + int(t)) for t in top if z[t] != 0]
    chosen: list[tuple[int, np.ndarray]] = []
    for _, i in sorted(scored, reverse=True):
        region = fit.circle(cx[i], cy[i], rr[i]) > 0
        if all((region & r).sum() < 0.8 * max((region | r).sum(), 1) for _, r in chosen):
            chosen.append((i, region))
        if len(chosen) == keep:
            break
    return [i for i, _ in chosen]


def _refine(fit: _Fit, shape, x: float, y: float, radius: float, s: "GhostDiscSettings") -> tuple[float, float, float, float]:
    """(significance, x, y, radius) of the best circle near one: radii one grid step either
    side (within ``radius_range``), directions one step either side, the edge moved by up to
    1.5 coarse blocks."""
    ny, nx = shape
    ratio = (s.radius_range[1] / s.radius_range[0]) ** (1.0 / max(s.n_radii - 1, 1))
    da = 2.0 * math.pi / s.n_angles
    angle = math.atan2(y - ny / 2.0, x - nx / 2.0)
    near = math.hypot(x - nx / 2.0, y - ny / 2.0) - radius
    radii = np.clip(radius * ratio ** np.linspace(-2, 1, 13), 0.5 * s.radius_range[0], s.radius_range[1])
    r, a, d = (v.ravel() for v in np.meshgrid(radii, angle + da * np.linspace(-1, 1, 9),
                                               near + s.bin * np.linspace(-1.5, 1.5, 7), indexing="ij"))
    cx, cy = nx / 2.0 + (d + r) * np.cos(a), ny / 2.0 + (d + r) * np.sin(a)
    z = fit.significance(fit.inside(cx, cy, r), s.min_fraction)
    j = int(np.argmax(np.abs(z)))
    return float(z[j]), float(cx[j]), float(cy[j]), float(r[j])


def _plateau(fit: _Fit, x: float, y: float, radius: float, sign: int, widths: tuple[float, ...]) -> float:
    """The step's least significance with a band along its edge fitted beside it (each of
    ``widths`` times the radius wide, on its bright side): an arc's ring, a spray's fan or
    a glow along the CCD's edge is such a band, a disc's plateau goes on inside it."""
    step = fit.circle(x, y, radius)
    worst = math.inf
    for w in widths:
        band = (step - fit.circle(x, y, radius * (1 - w)) if sign > 0
                else fit.circle(x, y, radius * (1 + w)) - step)
        worst = min(worst, sign * fit.two_steps(band, step))
    return worst


def _saturated_stars(exposure: Exposure, bin: int = 16) -> np.ndarray:
    """(k, 2) centres (x, y) of the groups of saturated pixels, in pixels."""
    saturated = (exposure.combined_mask & DESDM_BITS["SATURATE"]) != 0
    labels, n = ndimage.label(bin_image(saturated.astype(np.float32), bin) > 0)
    if not n:
        return np.zeros((0, 2))
    centres = np.array(ndimage.center_of_mass(np.ones_like(labels), labels, range(1, n + 1)), np.float64)
    return (centres[:, ::-1] + 0.5) * bin


def _dark_halo_instead(fit: _Fit, stars: np.ndarray, x: float, y: float, radius: float, sign: int,
                       z: float, s: "GhostDiscSettings") -> bool:
    """Whether a dark disc round a saturated star on the circle's dark side (up to
    ``halo_radius`` px: a dark halo, the sky over-subtracted round a bright star, which has
    its own finder) explains the step at least ``halo_share`` as well as the circle does
    and, fitted beside the circle, leaves it under ``halo_keep`` of its own significance. A
    dark halo cut by the CCD's edge fits a hole's circle or, the other way round, a disc
    covering all the rest."""
    if not len(stars):
        return False
    r = np.hypot(stars[:, 0] - x, stars[:, 1] - y)
    dark = (r < radius + s.halo_radius) if sign < 0 else (r > radius - s.halo_radius)
    step = fit.circle(x, y, radius)
    alone = None  # the circle's own (unclipped) significance, computed when first needed
    for sx, sy in stars[dark]:
        for halo in np.geomspace(60.0, s.halo_radius, 8):
            inside = fit.circle(sx, sy, halo)
            if inside.sum() < 2 or -fit.clipped(inside, s.clip_blocks) < s.halo_share * abs(z):
                continue
            # The halo fits as well as the circle; it explains the step only when, fitted
            # beside it, it takes most of the circle's significance away. A few dark blocks
            # outside a large ghost's edge fit "well" too, as the sky model (a quadratic)
            # cannot follow the step, but leave the circle its significance.
            if alone is None:
                alone = sign * float(fit.significance(step[None], 0.0)[0])
            if sign * fit.two_steps(inside, step) < s.halo_keep * alone:
                return True
    return False


def _second_edge(fit: _Fit, x: float, y: float, radius: float, sign: int, s: "GhostDiscSettings") -> float | None:
    """Radius of a significant edge of the other sign on the same centre: the central hole
    inside a disc (0.15-0.6 of its radius), the disc's rim outside a hole (1.6-6 times)."""
    first = fit.circle(x, y, radius)
    best, found = s.min_sigma, None
    for other in radius * (np.geomspace(0.15, 0.6, 12) if sign > 0 else np.geomspace(1.6, 6.0, 12)):
        second = fit.circle(x, y, other)
        if (np.abs(second - first).mean() < s.min_fraction
                or not s.min_fraction <= second.mean() <= 1.0 - s.min_fraction):
            continue  # the two edges must both cross the CCD
        z = -sign * fit.two_steps(first, second)
        if z >= best:
            best, found = z, float(other)
    return found


def _search(shape: tuple[int, int], fine_sky: np.ndarray, stars: Callable[[], np.ndarray], s: GhostDiscSettings
            ) -> GhostDisc | None:
    """Steps 2-3 of the module's notes on the blocks of ``fine_sky`` (``bin / 2`` px, NaN where
    left out) of a CCD of ``shape``: the most significant ghost edge passing the tests, or
    None. ``stars()`` gives the CCD's saturated stars (:func:`_saturated_stars`), asked for
    only when a circle gets as far as the dark-halo test."""
    ny, nx = shape
    half = max(s.bin // 2, 1)
    coarse = _Fit(_pairs_binned(fine_sky), 2 * half)
    if coarse.n < 16:
        return None
    radii = np.geomspace(*s.radius_range, s.n_radii)
    angles = np.arange(s.n_angles) * (2.0 * math.pi / s.n_angles)
    cx, cy, rr = _circles((ny, nx), radii, angles, float(s.bin))
    fine = None  # refined on blocks half as large
    for i in _candidates(coarse, cx, cy, rr, s.min_fraction, keep=s.candidates):
        if fine is None:
            fine = _Fit(fine_sky, half)
        z, x, y, radius = _refine(fine, (ny, nx), float(cx[i]), float(cy[i]), float(rr[i]), s)
        sign = 1 if z > 0 else -1
        if abs(z) < s.min_sigma or radius < (s.min_hole_radius if sign < 0 else s.radius_range[0]):
            continue
        widths = s.plateau_widths if sign > 0 else s.hole_plateau_widths
        if _plateau(fine, x, y, radius, sign, widths) < s.min_plateau * abs(z):
            continue
        z = fine.clipped(fine.circle(x, y, radius), s.clip_blocks)
        if sign * z < s.min_sigma:
            continue
        if _dark_halo_instead(fine, stars(), x, y, radius, sign, z, s):
            continue
        other = _second_edge(fine, x, y, radius, sign, s)
        inner, outer = (0.0, radius) if sign > 0 else (radius, math.inf)
        if other is not None:
            inner, outer = (other, radius) if sign > 0 else (radius, other)
        return GhostDisc(x, y, radius, sign, inner, outer, abs(z))
    return None


def _without(fine_sky: np.ndarray, disc: GhostDisc, bin: int, margin: float) -> np.ndarray:
    """``fine_sky`` (blocks of ``bin`` px) with the blocks of ``disc``'s ghost set to NaN: a
    disc's inside (its hole too), or the outside of a hole, its edge moved out by ``margin``
    times its radius and a block."""
    ny, nx = fine_sky.shape
    yy, xx = np.mgrid[0:ny, 0:nx]
    r = np.hypot((xx + 0.5) * bin - disc.x, (yy + 0.5) * bin - disc.y)
    if disc.sign > 0:  # a disc, its hole too
        near = r < disc.outer * (1.0 + margin) + bin
    else:  # a hole and all the ghost's ring outside it
        near = r >= disc.inner * (1.0 - margin) - bin
    return np.where(near, np.nan, fine_sky)


def find_ghost_disc_edges(exposure: Exposure, settings: GhostDiscSettings | None = None) -> list[GhostDisc]:
    """Up to ``max_discs`` ghost edges on ``exposure`` (see the module's notes), most
    significant first: each next one looked for with the blocks of the ghosts found before
    (and ``margin`` of their radius about them) left out, as a bright ghost's edge outshines
    a faint one covering the rest of the CCD, and at least ``later_min_sigma`` significant."""
    s = settings or GhostDiscSettings()
    ny, nx = exposure.shape
    if ny < 4 * s.bin or nx < 4 * s.bin:
        return []
    half = max(s.bin // 2, 1)
    fine_sky = binned_sky(exposure, s, bin=half)
    stars = functools.cache(lambda: _saturated_stars(exposure))
    found: list[GhostDisc] = []
    while len(found) < s.max_discs:
        asked = replace(s, min_sigma=max(s.min_sigma, s.later_min_sigma)) if found else s
        disc = _search(exposure.shape, fine_sky, stars, asked)
        if disc is None:
            break
        found.append(disc)
        fine_sky = _without(fine_sky, disc, half, s.margin)
    return found


def find_ghost_disc(exposure: Exposure, settings: GhostDiscSettings | None = None) -> GhostDisc | None:
    """The most significant ghost edge on ``exposure`` (see the module's notes), or None."""
    edges = find_ghost_disc_edges(exposure, replace(settings or GhostDiscSettings(), max_discs=1))
    return edges[0] if edges else None


def disc_box(disc: GhostDisc, shape: tuple[int, int], step: int = 16) -> tuple[float, float, float, float] | None:
    """Box (xmin, ymin, xmax, ymax) of the CCD's pixels in ``disc``'s region, sampled every ``step`` px."""
    ny, nx = shape
    ys = np.arange(step / 2.0, ny, step)
    xs = np.arange(step / 2.0, nx, step)
    inside = disc.region(xs[None, :], ys[:, None])
    if not inside.any():
        return None
    rows, cols = np.flatnonzero(inside.any(axis=1)), np.flatnonzero(inside.any(axis=0))
    half = step / 2.0
    return (max(xs[cols[0]] - half, 0.0), max(ys[rows[0]] - half, 0.0),
            min(xs[cols[-1]] + half, float(nx)), min(ys[rows[-1]] + half, float(ny)))


@dataclass(frozen=True)
class DiscArtifact(Artifact):
    """A ghost found by :func:`find_ghost_disc`: an :class:`~spacejunk.io.Artifact` that also
    knows its region (``disc``), so the tile classifier scores the tiles the region covers,
    not all those of its box (a disc covering the CCD but a corner has the CCD for box)."""

    disc: GhostDisc | None = None

    def tile_fractions(self, grid: np.ndarray, samples: int = 8) -> np.ndarray:
        """Fraction of each tile ``(x0, y0, x1, y1)`` of ``grid`` in the region, from
        ``samples`` x ``samples`` points per tile."""
        grid = np.asarray(grid, np.float64).reshape(-1, 4)
        f = (np.arange(samples) + 0.5) / samples
        px = grid[:, 0, None, None] + (grid[:, 2] - grid[:, 0])[:, None, None] * f[None, None, :]
        py = grid[:, 1, None, None] + (grid[:, 3] - grid[:, 1])[:, None, None] * f[None, :, None]
        return self.disc.region(px, py).mean(axis=(1, 2))

    def pixels(self, shape: tuple[int, int]) -> np.ndarray:
        """(ny, nx) bool: the CCD's pixels in the region (what ``<image>_mask.fits`` paints)."""
        ny, nx = shape
        return self.disc.region(np.arange(nx)[None, :] + 0.5, np.arange(ny)[:, None] + 0.5)


def find_ghost_discs(exposure: Exposure, settings: GhostDiscSettings | None = None) -> list[Artifact]:
    """The ghost discs of ``exposure`` (:func:`find_ghost_disc_edges`) as ``ghost``
    artifacts (:class:`DiscArtifact`), most significant first."""
    s = settings or GhostDiscSettings()
    out = []
    for disc in find_ghost_disc_edges(exposure, s):
        box = disc_box(disc, exposure.shape)
        if box is None:
            continue
        z = disc.significance
        a = Artifact.from_box(exposure.name, *box, score=z / (z + s.min_sigma), category="ghost")
        out.append(DiscArtifact(**Artifact.as_row(a), disc=disc))
    return out

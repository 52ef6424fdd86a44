"""Sky background, stars and galaxies of a simulated DECam CCD (noise-free, electrons).

Numbers and where they come from
--------------------------------
- Stars: a bright population (i = 10.5-16, about 4 per full CCD, most of them
  saturated) and a faint one (i = 16-24.5, 800-5,000 per full CCD, ``dN/dm ~ 10**(0.15 m)``)
  as in high-latitude DES fields (Galactic models such as TRILEGAL give
  ``10**3.5-10**4.5`` stars per square degree to i = 24; a CCD is 0.045 deg^2). Colours
  follow the stellar locus (g - r 0.25-1.45, M dwarfs red in r - i; Covey et al. 2007).
- Galaxies: 1,500-3,500 per full CCD with i = 16-24.5 and ``dN/dm ~ 10**(0.33 m)``
  (faint-galaxy counts, e.g. Yasuda et al. 2001); exponential discs (Sersic n = 1) and de
  Vaucouleurs spheroids (n = 4), half-light radius ``~2.2 px 10**(-0.16 (i - 22))`` with
  0.2 dex scatter, axis ratio 0.15-1 (discs) or 0.5-1 (spheroids), random position angle,
  blue-to-red colours (g - r 0.35-1.6).
- PSF: Moffat (see :mod:`spacejunk.simulate.conditions`); galaxies are drawn with their
  radius softened by the PSF (``sqrt(r**2 + (0.5 FWHM)**2)``), cheaper than a convolution.
- Bright stars get diffraction spikes from the four vanes of the Blanco prime-focus
  spider, along the CCD axes, and a faint aureole (3 % of their light in a Moffat of
  6 PSF FWHM and index 1.8) reaching hundreds of pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._render import add_stamps, moffat_alpha, segment_pixels
from ._scene import Scene
from .conditions import BandConditions

__all__ = ["Sources", "sky_model", "draw_sources", "render_sources", "add_star", "STAMP_HALVES"]

#: Stamp half-sizes (pixels) sources are grouped into; larger ones are drawn one by one.
STAMP_HALVES: tuple[int, ...] = (4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512)

_B_SERSIC = {1: 1.678, 4: 7.669}
_FULL_CCD_PX = 4096 * 2048


@dataclass(frozen=True)
class Sources:
    """Stars and galaxies of one image.

    Attributes
    ----------
    x, y : ndarray, shape (n,)
        Positions, pixels.
    mag : ndarray, shape (n, n_bands)
        AB magnitudes in each band.
    is_star : ndarray of bool, shape (n,)
        Stars (PSF) or galaxies (Sersic).
    re_px : ndarray, shape (n,)
        Half-light radius of galaxies, pixels (0 for stars).
    sersic : ndarray of int, shape (n,)
        Sersic index, 1 or 4 (0 for stars).
    q, angle : ndarray, shape (n,)
        Axis ratio and position angle (radians) of galaxies.
    """

    x: np.ndarray
    y: np.ndarray
    mag: np.ndarray
    is_star: np.ndarray
    re_px: np.ndarray
    sersic: np.ndarray
    q: np.ndarray
    angle: np.ndarray


def sky_model(cond: BandConditions, shape: tuple[int, int]) -> np.ndarray:
    """Smooth sky of one band in electrons, float32 (ny, nx): level times the gradient."""
    ny, nx = shape
    X = np.linspace(-1.0, 1.0, nx, dtype=np.float32)[None, :]
    Y = np.linspace(-1.0, 1.0, ny, dtype=np.float32)[:, None]
    gx, gy, gxx, gyy = (np.float32(g) for g in cond.gradient)
    row = np.float32(cond.sky_e) * (1.0 + gx * X + gxx * X * X)
    col = np.float32(cond.sky_e) * (gy * Y + gyy * Y * Y)
    return row + col


def _power_law_mags(rng: np.random.Generator, n: int, lo: float, hi: float, slope: float) -> np.ndarray:
    """``n`` magnitudes in [lo, hi] with ``dN/dm ~ 10**(slope m)``."""
    a, b = 10.0 ** (slope * lo), 10.0 ** (slope * hi)
    return np.log10(a + rng.random(n) * (b - a)) / slope


def _star_colours(rng: np.random.Generator, n: int) -> np.ndarray:
    """Colours (g-r, r-i, i-z, z-Y) along the stellar locus, shape (n, 4)."""
    t = rng.beta(2.0, 2.5, n)
    gr = 0.25 + 1.2 * t
    ri = 0.08 + 0.3 * t + 4.0 * np.maximum(t - 0.8, 0.0)
    iz = 0.03 + 0.45 * ri
    zy = 0.02 + 0.15 * ri
    return np.stack([gr, ri, iz, zy], axis=1) + rng.normal(0.0, 0.03, (n, 4))


def _galaxy_colours(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Colours (g-r, r-i, i-z, z-Y), shape (n, 4), and the redness in [0, 1], shape (n,)."""
    u = rng.beta(1.3, 1.3, n)
    gr = 0.35 + 1.25 * u + rng.normal(0.0, 0.1, n)
    ri = 0.15 + 0.5 * u + rng.normal(0.0, 0.08, n)
    iz = 0.05 + 0.35 * u + rng.normal(0.0, 0.05, n)
    zy = 0.03 + 0.1 * u + rng.normal(0.0, 0.03, n)
    return np.stack([gr, ri, iz, zy], axis=1), u


def _band_mags(mag_i: np.ndarray, colours: np.ndarray, bands: tuple[str, ...]) -> np.ndarray:
    """Magnitudes in ``bands`` from i-band magnitudes and colours (g-r, r-i, i-z, z-Y)."""
    gr, ri, iz, zy = colours.T
    table = {"g": mag_i + ri + gr, "r": mag_i + ri, "i": mag_i, "z": mag_i - iz, "Y": mag_i - iz - zy}
    return np.stack([table[b] for b in bands], axis=1)


def draw_sources(rng: np.random.Generator, shape: tuple[int, int], bands: tuple[str, ...]) -> Sources:
    """Draw the stars and galaxies of one image (numbers scale with the image area).

    Parameters
    ----------
    rng : numpy.random.Generator
        Random generator.
    shape : (ny, nx)
        Image shape, pixels.
    bands : tuple of str
        Bands, for the magnitudes.

    Returns
    -------
    Sources
        Positions uniform over the image plus a 20-pixel margin (sources just outside
        still spill light onto the edges).
    """
    ny, nx = shape
    area = ny * nx / _FULL_CCD_PX
    n_bright = rng.poisson(4.0 * area)
    n_faint = rng.poisson(np.exp(rng.uniform(np.log(800.0), np.log(5000.0))) * area)
    n_gal = rng.poisson(rng.uniform(1500.0, 3500.0) * area)
    star_i = np.concatenate([rng.uniform(10.5, 16.0, n_bright), _power_law_mags(rng, n_faint, 16.0, 24.5, 0.15)])
    n_star = star_i.size
    gal_i = _power_law_mags(rng, n_gal, 16.0, 24.5, 0.33)
    gal_col, red = _galaxy_colours(rng, n_gal)
    mag = np.concatenate([_band_mags(star_i, _star_colours(rng, n_star), bands), _band_mags(gal_i, gal_col, bands)])
    n = n_star + n_gal
    sersic = np.where(rng.random(n_gal) < np.where(red > 0.6, 0.6, 0.2), 4, 1)
    re = 2.2 * 10.0 ** (-0.16 * (gal_i - 22.0) + rng.normal(0.0, 0.2, n_gal)) * np.where(sersic == 4, 0.8, 1.0)
    q = np.where(sersic == 4, rng.uniform(0.5, 1.0, n_gal), rng.uniform(0.15, 1.0, n_gal))
    return Sources(
        x=rng.uniform(-20.0, nx + 20.0, n),
        y=rng.uniform(-20.0, ny + 20.0, n),
        mag=mag,
        is_star=np.arange(n) < n_star,
        re_px=np.concatenate([np.zeros(n_star), np.clip(re, 0.3, 150.0)]),
        sersic=np.concatenate([np.zeros(n_star, int), sersic]),
        q=np.concatenate([np.ones(n_star), q]),
        angle=np.concatenate([np.zeros(n_star), rng.uniform(0.0, np.pi, n_gal)]),
    )


def _half_for(radius_px: np.ndarray) -> np.ndarray:
    """Smallest :data:`STAMP_HALVES` entry covering each radius (the largest one beyond)."""
    halves = np.array(STAMP_HALVES)
    return halves[np.minimum(np.searchsorted(halves, np.ceil(radius_px)), halves.size - 1)]


def _moffat_stamps(cond: BandConditions, flux_e: np.ndarray, *, fwhm_px: float | None = None,
                   beta: float | None = None):
    """Profile callable for :func:`add_stamps` drawing Moffat stars of ``flux_e`` electrons.

    The PSF of ``cond`` unless ``fwhm_px``/``beta`` are given (the aureole of bright stars).
    """
    beta = cond.beta if beta is None else beta
    alpha = moffat_alpha(cond.fwhm_px if fwhm_px is None else fwhm_px, beta)
    c, s = np.cos(cond.psf_angle), np.sin(cond.psf_angle)
    q = cond.psf_q
    i0 = (flux_e * (beta - 1.0) / (np.pi * alpha * alpha)).astype(np.float32)
    a2, b2 = np.float32(1.0 / (alpha * alpha * q)), np.float32(q / (alpha * alpha))
    cs, sn, mbeta = np.float32(c), np.float32(s), np.float32(-beta)

    def profile(dx, dy, sel):
        u = dx * cs + dy * sn
        v = dy * cs - dx * sn
        return i0[sel, None, None] * np.power(1.0 + u * u * a2 + v * v * b2, mbeta)

    return profile


def _moffat_radius(cond: BandConditions, flux_e: np.ndarray, level_e: float) -> np.ndarray:
    """Radius (pixels) where a Moffat star of ``flux_e`` falls to ``level_e`` per pixel."""
    alpha = moffat_alpha(cond.fwhm_px, cond.beta)
    i0 = flux_e * (cond.beta - 1.0) / (np.pi * alpha * alpha)
    ratio = np.maximum(i0 / level_e, 1.0)
    return alpha * np.sqrt(ratio ** (1.0 / cond.beta) - 1.0)


def _sersic_stamps(cond: BandConditions, flux_e, re_px, sersic, q, angle):
    """Profile callable for :func:`add_stamps` drawing PSF-softened Sersic galaxies."""
    soft2 = np.float32((0.5 * cond.fwhm_px) ** 2)
    f = flux_e.astype(np.float32)
    inv_re = (1.0 / re_px).astype(np.float32)
    inv_q2 = (1.0 / q ** 2).astype(np.float32)
    c, s = np.cos(angle).astype(np.float32), np.sin(angle).astype(np.float32)
    b_n = np.where(sersic == 4, _B_SERSIC[4], _B_SERSIC[1]).astype(np.float32)
    power = np.where(sersic == 4, 0.25, 1.0).astype(np.float32)

    def profile(dx, dy, sel):
        cc, ss = c[sel, None, None], s[sel, None, None]
        u = dx * cc + dy * ss
        v = dy * cc - dx * ss
        r = np.sqrt(u * u + v * v * inv_q2[sel, None, None] + soft2) * inv_re[sel, None, None]
        img = np.exp(-b_n[sel, None, None] * np.power(r, power[sel, None, None]))
        norm = img.sum(axis=(1, 2), keepdims=True)
        return img * (f[sel, None, None] / np.maximum(norm, 1e-30))

    return profile


def _spikes(image: np.ndarray, cond: BandConditions, x: float, y: float, flux_e: float, *,
            level_e: float) -> None:
    """Add the four diffraction spikes of a bright star (along the CCD axes), in place.

    The spike brightness per pixel is ``3e-5 flux / (1 + d / FWHM) ** 2`` at distance ``d``
    (a 1/d^2 fall-off), over a Gaussian cross-section of FWHM width; it is drawn out to
    where it falls below ``level_e``.
    """
    peak = 3e-5 * flux_e
    if peak < level_e:
        return
    fwhm = cond.fwhm_px
    length = fwhm * (np.sqrt(peak / level_e) - 1.0)
    sigma = 0.5 * fwhm
    for ux, uy in ((1.0, 0.0), (0.0, 1.0)):
        yy, xx, d, t = segment_pixels(image.shape, x - length * ux, y - length * uy, x + length * ux,
                                      y + length * uy, 3.0 * sigma)
        dist = np.abs(t - np.float32(length))
        values = peak / (1.0 + dist / fwhm) ** 2 * np.exp(-0.5 * (d / sigma) ** 2)
        image[yy, xx] += values.astype(np.float32)


#: Share of a star's light in its aureole, the aureole's FWHM in PSF FWHMs, and its Moffat index.
AUREOLE = (0.03, 6.0, 1.8)


def _aureole(image: np.ndarray, cond: BandConditions, x: float, y: float, flux_e: float, *,
             level_e: float) -> None:
    """Add the wide, faint halo of a bright star (a Moffat of :data:`AUREOLE`), in place.

    Bright stars in DECam images sit in halos of scattered light reaching hundreds of
    pixels; drawn out to ``level_e`` per pixel, at most 384 px.
    """
    share, width, beta = AUREOLE
    fwhm = width * cond.fwhm_px
    alpha = moffat_alpha(fwhm, beta)
    i0 = share * flux_e * (beta - 1.0) / (np.pi * alpha * alpha)
    if i0 < level_e:
        return
    radius = alpha * np.sqrt((i0 / level_e) ** (1.0 / beta) - 1.0)
    half = int(_half_for(np.array([min(radius, 384.0)]))[0])
    add_stamps(image, np.array([x]), np.array([y]), half,
               _moffat_stamps(cond, np.array([share * flux_e]), fwhm_px=fwhm, beta=beta))


def render_sources(scene: Scene, sources: Sources) -> None:
    """Draw ``sources`` into every band of ``scene.electrons``, in place.

    Stamps are grouped by size (:data:`STAMP_HALVES`): a star's stamp reaches out to where
    its profile falls to 0.05 sky sigma, a galaxy's to 5 (n = 1) or 8 (n = 4) half-light
    radii plus two FWHM. Stars whose peak reaches a tenth of saturation also get
    diffraction spikes and an aureole, and are recorded in ``scene.bright_*``.
    """
    stars = np.flatnonzero(sources.is_star)
    gals = np.flatnonzero(~sources.is_star)
    bright = np.zeros(sources.x.size, bool)
    for b, cond in enumerate(scene.conditions):
        image = scene.electrons[b]
        level = 0.05 * cond.sigma_e
        flux = cond.flux_e(sources.mag[:, b])
        # Stars, grouped by stamp size.
        fs = flux[stars]
        keep = fs > 0.3 * cond.sigma_e
        idx = stars[keep]
        radius = np.maximum(_moffat_radius(cond, flux[idx], level), 2.0 * cond.fwhm_px)
        halves = _half_for(radius)
        for half in np.unique(halves):
            sel = idx[halves == half]
            add_stamps(image, sources.x[sel], sources.y[sel], int(half), _moffat_stamps(cond, flux[sel]))
        alpha = moffat_alpha(cond.fwhm_px, cond.beta)
        peak = flux * (cond.beta - 1.0) / (np.pi * alpha * alpha)
        hot = stars[peak[stars] > 0.1 * cond.saturate_e.min()]
        bright[hot] = True
        for i in hot:
            _spikes(image, cond, sources.x[i], sources.y[i], flux[i], level_e=0.3 * cond.sigma_e)
            _aureole(image, cond, sources.x[i], sources.y[i], flux[i], level_e=0.1 * cond.sigma_e)
        # Galaxies.
        fg = flux[gals]
        idx = gals[fg > 0.3 * cond.sigma_e]
        reach = np.where(sources.sersic[idx] == 4, 8.0, 5.0) * sources.re_px[idx] + 2.0 * cond.fwhm_px
        halves = _half_for(np.minimum(reach, 256.0))
        for half in np.unique(halves):
            sel = idx[halves == half]
            add_stamps(image, sources.x[sel], sources.y[sel], int(half),
                       _sersic_stamps(cond, flux[sel], sources.re_px[sel], sources.sersic[sel], sources.q[sel],
                                      sources.angle[sel]))
    sel = np.flatnonzero(bright)
    fluxes = np.stack([c.flux_e(sources.mag[sel, b]) for b, c in enumerate(scene.conditions)], axis=1)
    scene.bright_x = np.concatenate([scene.bright_x, sources.x[sel]])
    scene.bright_y = np.concatenate([scene.bright_y, sources.y[sel]])
    scene.bright_flux = np.concatenate([scene.bright_flux.reshape(-1, scene.n_bands), fluxes])


def add_star(scene: Scene, x: float, y: float, mag_i: float, *, rng: np.random.Generator) -> np.ndarray:
    """Draw one (bright) star with stellar colours into every band; returns its fluxes (n_bands,), e-.

    The star is recorded in ``scene.bright_*``. Used by the artifact generators that
    need a bright or saturated source (cross-talk, edge-bleed, dark-halo, ghosts).
    """
    bands = tuple(c.band for c in scene.conditions)
    mags = _band_mags(np.array([mag_i]), _star_colours(rng, 1), bands)[0]
    fluxes = np.array([c.flux_e(m) for c, m in zip(scene.conditions, mags)])
    for b, cond in enumerate(scene.conditions):
        f = np.array([fluxes[b]])
        radius = float(_moffat_radius(cond, f, 0.05 * cond.sigma_e)[0])
        half = int(_half_for(np.array([max(radius, 2.0 * cond.fwhm_px)]))[0])
        add_stamps(scene.electrons[b], np.array([x]), np.array([y]), half, _moffat_stamps(cond, f))
        _spikes(scene.electrons[b], cond, x, y, float(f[0]), level_e=0.3 * cond.sigma_e)
        _aureole(scene.electrons[b], cond, x, y, float(f[0]), level_e=0.1 * cond.sigma_e)
    scene.bright_x = np.append(scene.bright_x, x)
    scene.bright_y = np.append(scene.bright_y, y)
    scene.bright_flux = np.concatenate([scene.bright_flux.reshape(-1, scene.n_bands), fluxes[None, :]])
    return fluxes

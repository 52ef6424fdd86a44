"""Observing conditions and detector constants of a simulated DECam CCD exposure.

Numbers and where they come from
--------------------------------
- Pixel scale 0.263 arcsec/pixel (DECam, Flaugher et al. 2015, AJ 150, 150).
- Zero points: DECam count rates for an AB = 20 source of 590, 588, 566, 446, 159
  e-/s in g, r, i, z, Y (H. Lin, DES science-verification wiki "Sig-R2", from the
  transmission curves of DES docdb 6229); the magnitude giving 1 e-/s is
  ``20 + 2.5 log10(rate)``: 26.93, 26.92, 26.88, 26.62, 25.50.
- Dark-sky brightness 22.0, 21.1, 20.1, 18.7, 18.0 mag/arcsec^2 in g, r, i, z, Y
  (CTIO dark sky as used by the DECam exposure-time calculator and the PreCam
  survey plan). This gives about 6.5, 15, 36, 100 and 70 e-/s/pixel: g darkest, z and
  Y brightest. The Moon brightens the sky by up to 1.6 mag in g and 0.5 mag in Y
  (DES observes g, r in dark time and i, z, Y in grey time).
- Exposure time 90 s in g, r, i, z and 45 s in Y (DES wide survey, Abbott et al. 2018,
  ApJS 239, 18).
- Seeing: r-band FWHM drawn log-normally around 0.95 arcsec (DES Y6 median PSF FWHM
  0.95 arcsec in r, 1.09 in g, 0.88 in i; D. Tucker, DESDR2_ABoffsets) and clipped to
  0.8-1.6 arcsec (3-6 pixels); other bands scale as ``wavelength ** -0.2``. The PSF
  is a Moffat profile with ``beta`` between 2.5 and 4 and a small ellipticity.
- Sky gradient across the CCD: linear terms of ~0.3 % and quadratic ones of ~0.15 % of
  the sky (Moon, twilight, scattered light), different in each band; DESDM's sky model
  removes most of it in sky-subtracted images.
- Two amplifiers per CCD (columns ``< nx // 2`` are amplifier A, the others B), gain
  about 4 e-/ADU (3.7-4.3, the amplifiers differing by ~1 %; flat-fielding brings
  them to a common level up to ~0.07 %), read noise 5.5-8 e-,
  bias residual of ~0.5 ADU, saturation 33,000-50,000 ADU (about 130-200 ke-, the
  DECam full well; DECam instrument paper).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "PIXEL_SCALE_ARCSEC",
    "BANDS",
    "BandSpec",
    "BAND_SPECS",
    "BandConditions",
    "draw_conditions",
    "check_bands",
]

#: DECam pixel scale, arcsec per pixel.
PIXEL_SCALE_ARCSEC: float = 0.263

#: Bands the simulator knows, blue to red.
BANDS: tuple[str, ...] = ("g", "r", "i", "z", "Y")


@dataclass(frozen=True)
class BandSpec:
    """Fixed properties of one DECam band.

    Attributes
    ----------
    zeropoint_1s : float
        AB magnitude of a source giving 1 e-/s in the whole PSF.
    sky_mag : float
        Dark-sky surface brightness, AB mag/arcsec^2.
    moon_max_mag : float
        Largest brightening of the sky by the Moon, mag.
    exptime_s : float
        Exposure time, seconds.
    seeing_ratio : float
        PSF FWHM relative to the r band (``(wavelength / 635 nm) ** -0.2``).
    """

    zeropoint_1s: float
    sky_mag: float
    moon_max_mag: float
    exptime_s: float
    seeing_ratio: float


#: The five DECam bands used by DES (see the module docstring for the sources).
BAND_SPECS: dict[str, BandSpec] = {
    "g": BandSpec(26.93, 22.0, 1.6, 90.0, 1.06),
    "r": BandSpec(26.92, 21.1, 1.3, 90.0, 1.00),
    "i": BandSpec(26.88, 20.1, 1.0, 90.0, 0.96),
    "z": BandSpec(26.62, 18.7, 0.6, 90.0, 0.93),
    "Y": BandSpec(25.50, 18.0, 0.5, 45.0, 0.91),
}


@dataclass(frozen=True)
class BandConditions:
    """Conditions of one band (one exposure) of a simulated image.

    Attributes
    ----------
    band : str
        Band name.
    exptime_s : float
        Exposure time, seconds.
    zeropoint : float
        AB magnitude giving 1 e- in this exposure: ``flux_e = 10 ** (-0.4 (m - zeropoint))``.
    sky_e : float
        Mean sky level, electrons per pixel.
    gradient : ndarray, shape (4,)
        Relative sky gradient ``(gx, gy, gxx, gyy)``: the sky is ``sky_e (1 + gx X + gy Y
        + gxx X**2 + gyy Y**2)`` with ``X``, ``Y`` in [-1, 1] across the image.
    gain : ndarray, shape (2,)
        Gain of amplifiers A and B, e-/ADU.
    flat_mismatch : ndarray, shape (2,)
        Relative level error of each amplifier left by flat-fielding (~0.0007).
    read_noise_e : ndarray, shape (2,)
        Read noise of each amplifier, electrons.
    bias_adu : ndarray, shape (2,)
        Residual bias of each amplifier after bias subtraction, ADU.
    saturate_adu : ndarray, shape (2,)
        Saturation level of each amplifier, ADU.
    fwhm_px : float
        PSF full width at half maximum, pixels.
    beta : float
        Moffat index of the PSF.
    psf_q : float
        PSF axis ratio (minor / major), 0.9-1.
    psf_angle : float
        PSF major-axis angle, radians from the x axis.
    sky_subtracted : bool
        Whether the sky is subtracted from ``SCI`` (as in DESDM ``immasked`` files).
    """

    band: str
    exptime_s: float
    zeropoint: float
    sky_e: float
    gradient: np.ndarray
    gain: np.ndarray
    flat_mismatch: np.ndarray
    read_noise_e: np.ndarray
    bias_adu: np.ndarray
    saturate_adu: np.ndarray
    fwhm_px: float
    beta: float
    psf_q: float
    psf_angle: float
    sky_subtracted: bool

    @property
    def saturate_e(self) -> np.ndarray:
        """Saturation of each amplifier in electrons, shape (2,)."""
        return self.saturate_adu * self.gain

    @property
    def sigma_e(self) -> float:
        """Per-pixel noise of the mean sky, electrons (sky Poisson and read noise)."""
        return float(np.sqrt(self.sky_e + np.mean(self.read_noise_e ** 2)))

    def flux_e(self, mag) -> np.ndarray:
        """Electrons collected from sources of AB magnitude ``mag`` (array-like)."""
        return 10.0 ** (-0.4 * (np.asarray(mag, float) - self.zeropoint))

    def per_column(self, values: np.ndarray, nx: int) -> np.ndarray:
        """Spread a per-amplifier pair ``values`` (2,) over ``nx`` columns, float32 (nx,)."""
        out = np.empty(nx, np.float32)
        out[: nx // 2] = values[0]
        out[nx // 2:] = values[1]
        return out


def check_bands(bands) -> tuple[str, ...]:
    """Validate ``bands`` (a sequence of names among :data:`BANDS`); returns a tuple."""
    if isinstance(bands, str):
        bands = tuple(b.strip() for b in bands.split(",") if b.strip())
    try:
        bands = tuple(str(b) for b in bands)
    except TypeError:
        raise TypeError(f"bands: expected a sequence of band names, got {bands!r}") from None
    if not bands:
        raise ValueError("bands: expected at least one band")
    fixed = []
    for b in bands:
        name = "Y" if b in ("y", "Y") else b
        if name not in BAND_SPECS:
            raise ValueError(f"bands: unknown band {b!r}; expected some of {', '.join(BANDS)}")
        fixed.append(name)
    if len(set(fixed)) != len(fixed):
        raise ValueError(f"bands: repeated band in {bands}")
    return tuple(fixed)


def draw_conditions(rng: np.random.Generator, bands: tuple[str, ...]) -> tuple[BandConditions, ...]:
    """Draw the observing conditions and detector constants of one image.

    Parameters
    ----------
    rng : numpy.random.Generator
        Random generator.
    bands : tuple of str
        Bands (see :data:`BANDS`).

    Returns
    -------
    tuple of BandConditions
        One per band. The CCD (gain, read noise, saturation) is shared by all bands;
        seeing, Moon and sky gradient vary between images and slightly between bands;
        whether the sky is subtracted is decided once per image.
    """
    bands = check_bands(bands)
    gain0 = rng.uniform(3.7, 4.3)
    gain = gain0 * (1.0 + rng.normal(0.0, 0.01, 2))
    read_noise = rng.uniform(5.5, 8.0, 2)
    saturate = rng.uniform(33000.0, 50000.0) * (1.0 + rng.normal(0.0, 0.03, 2))
    fwhm_r_arcsec = float(np.clip(0.95 * np.exp(rng.normal(0.0, 0.18)), 0.8, 1.6))
    beta = rng.uniform(2.5, 4.0)
    psf_q = rng.uniform(0.9, 1.0)
    psf_angle = rng.uniform(0.0, np.pi)
    moon = rng.beta(1.0, 2.5)
    sky_subtracted = bool(rng.random() < 0.5)
    out = []
    for band in bands:
        spec = BAND_SPECS[band]
        zeropoint = spec.zeropoint_1s + 2.5 * np.log10(spec.exptime_s)
        sky_mag = spec.sky_mag - moon * spec.moon_max_mag + rng.normal(0.0, 0.1)
        sky_e = 10.0 ** (-0.4 * (sky_mag - zeropoint)) * PIXEL_SCALE_ARCSEC ** 2
        fwhm_arcsec = np.clip(fwhm_r_arcsec * spec.seeing_ratio * (1.0 + rng.normal(0.0, 0.02)), 0.75, 1.75)
        out.append(BandConditions(
            band=band,
            exptime_s=spec.exptime_s,
            zeropoint=float(zeropoint),
            sky_e=float(sky_e),
            gradient=np.concatenate([rng.normal(0.0, 0.003, 2), rng.normal(0.0, 0.0015, 2)]),
            gain=gain,
            flat_mismatch=rng.normal(0.0, 0.0007, 2),
            read_noise_e=read_noise,
            bias_adu=rng.normal(0.0, 0.5, 2),
            saturate_adu=saturate,
            fwhm_px=float(fwhm_arcsec / PIXEL_SCALE_ARCSEC),
            beta=float(beta + rng.normal(0.0, 0.05)),
            psf_q=float(np.clip(psf_q + rng.normal(0.0, 0.01), 0.85, 1.0)),
            psf_angle=float(psf_angle + rng.normal(0.0, 0.1)),
            sky_subtracted=sky_subtracted,
        ))
    return tuple(out)

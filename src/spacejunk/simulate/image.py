"""One simulated DECam CCD image with injected artifacts and their truth."""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from astropy.io import fits

from ..io.artifact import Artifact
from ..io.exposure import Exposure
from ._scene import Scene, footprint_to_artifact, truth_mask
from .artifacts import inject, resolve_artifacts
from .conditions import PIXEL_SCALE_ARCSEC, BandConditions, check_bands, draw_conditions
from .detector import add_cosmic_rays, apply_defects, draw_defects, finish_band, saturate_and_bleed
from .sky import draw_sources, render_sources, sky_model

__all__ = ["SimulatedImage", "simulate_image", "check_shape"]

#: Smallest image side the simulator accepts, pixels.
MIN_SIDE_PX = 16


@dataclass(frozen=True, eq=False)
class SimulatedImage:
    """A simulated image and its truth.

    Attributes
    ----------
    exposure : Exposure
        The image: ``sci`` (ADU), ``msk`` (DESDM bits), ``wgt`` (ADU^-2), each
        ``(n_bands, ny, nx)``, and one header per band (``BAND``, ``GAINA``/``GAINB``,
        ``RDNOISEA``/``RDNOISEB``, ``SATURATA``/``SATURATB``, ``SKYBRITE``, ``SKYSIGMA``,
        ``SKYSUB``, ``FWHM`` in pixels, ``EXPTIME``, ...).
    artifacts : tuple of Artifact
        The truth: one record per injected artifact that is visible, its box the bounding
        box of its visible pixels (max exclusive), ``x, y`` the box centre and ``radius``
        the enclosing radius of the visible pixels; ``score`` 1.
    truth_mask : ndarray, shape (ny, nx), int32
        OR of :data:`spacejunk.categories.CATEGORY_BITS` where each artifact is visible.
    """

    exposure: Exposure
    artifacts: tuple[Artifact, ...]
    truth_mask: np.ndarray


def check_shape(shape) -> tuple[int, int]:
    """Validate an image ``shape`` (ny, nx) of integers >= 16; returns it as a tuple."""
    try:
        ny, nx = shape
    except (TypeError, ValueError):
        raise TypeError(f"shape: expected (ny, nx), got {shape!r}") from None
    if not all(isinstance(v, numbers.Integral) for v in (ny, nx)):
        raise TypeError(f"shape: expected two integers, got {shape!r}")
    if ny < MIN_SIDE_PX or nx < MIN_SIDE_PX:
        raise ValueError(f"shape: each side must be at least {MIN_SIDE_PX} pixels, got {shape!r}")
    return int(ny), int(nx)


def _header(cond: BandConditions, *, seed: int, name: str, sky_adu: float, n_artifacts: int) -> fits.Header:
    gain = float(np.mean(cond.gain))
    h = fits.Header()
    h["BAND"] = (cond.band, "filter band")
    h["EXPTIME"] = (cond.exptime_s, "exposure time [s]")
    h["PIXSCALE"] = (PIXEL_SCALE_ARCSEC, "pixel scale [arcsec/pixel]")
    for i, amp in enumerate("AB"):
        h[f"GAIN{amp}"] = (round(float(cond.gain[i]), 5), f"amplifier {amp} gain [e-/ADU]")
        h[f"RDNOISE{amp}"] = (round(float(cond.read_noise_e[i]), 4), f"amplifier {amp} read noise [e-]")
        h[f"SATURAT{amp}"] = (round(float(cond.saturate_adu[i]), 2), f"amplifier {amp} saturation [ADU]")
    h["SATURATE"] = (round(float(cond.saturate_adu.min()), 2), "saturation level [ADU]")
    h["SKYBRITE"] = (round(sky_adu, 4), "mean sky level [ADU]")
    h["SKYSIGMA"] = (round(cond.sigma_e / gain, 5), "sky noise per pixel [ADU]")
    h["SKYSUB"] = (bool(cond.sky_subtracted), "sky subtracted from SCI")
    h["FWHM"] = (round(cond.fwhm_px, 4), "PSF FWHM [pixels]")
    h["MOFFBETA"] = (round(cond.beta, 4), "PSF Moffat index")
    h["MAGZERO"] = (round(cond.zeropoint - 2.5 * np.log10(gain), 4), "AB mag of 1 ADU in the exposure")
    h["BUNIT"] = ("ADU", "unit of SCI")
    h["SIMULATE"] = (True, "simulated by spacejunk.simulate")
    h["SIMSEED"] = (int(seed), "simulation seed")
    h["SIMNAME"] = (name, "simulated image name")
    h["NARTIF"] = (int(n_artifacts), "injected artifacts visible (truth)")
    return h


def simulate_image(*, seed: int, name: str = "sim", shape: tuple[int, int] = (4096, 2048),
                   bands: Sequence[str] = ("g", "r", "i"), artifacts: str | Sequence[str] | None = "random",
                   artifact_scale: float = 1.0) -> SimulatedImage:
    """Simulate one DECam-like CCD image with injected artifacts and their truth.

    Parameters
    ----------
    seed : int
        Random seed; the same seed (and options) gives the same image. The sky, the
        sources, the detector, the artifacts and the noise use separate streams, so
        asking for other artifacts leaves the rest of the image unchanged.
    name : str, default "sim"
        Image name (of the exposure and of the truth records).
    shape : (int, int), default (4096, 2048)
        (ny, nx), pixels; a DECam CCD by default. Numbers of sources, defects and cosmic
        rays scale with the area; artifact sizes do not.
    bands : sequence of str, default ("g", "r", "i")
        Bands among g, r, i, z, Y (each a separate exposure of the same CCD).
    artifacts : "random", str, sequence of str or None, default "random"
        ``"random"``: a realistic mix (15 % of images without any); a category or a list
        of categories (repeats allowed): one artifact of each; None: a clean image.
    artifact_scale : float, default 1.0
        Multiplies the brightness of every injected artifact.

    Returns
    -------
    SimulatedImage
        The exposure, the truth records and the truth mask.

    Notes
    -----
    A compact artifact is visible where the signal it adds reaches ``min(0.7 sky sigma,
    0.3 of its peak)`` in some band; a large faint one (ghost, arc, spray, brush strokes,
    dark halo, tape bump) where its normalised shape passes a threshold (its disc, ring
    or rays), however faint. Artifacts whose visible part misses the image are dropped
    from the truth, so a requested category may (rarely) be absent. Flagged features
    (saturated stars and their bleed trails, ``BPM`` columns and hot pixels, cosmic rays
    DESDM would catch, edges) are not artifacts. See :mod:`~spacejunk.simulate.conditions`,
    :mod:`~spacejunk.simulate.sky`, :mod:`~spacejunk.simulate.detector` and the
    ``artifacts_*`` modules for the numbers chosen and their sources.
    """
    if not isinstance(seed, numbers.Integral) or isinstance(seed, bool) or seed < 0:
        raise TypeError(f"seed: expected a non-negative integer, got {seed!r}")
    if not isinstance(name, str) or not name:
        raise TypeError(f"name: expected a non-empty string, got {name!r}")
    shape = check_shape(shape)
    bands = check_bands(bands)
    if not np.isfinite(artifact_scale) or artifact_scale < 0:
        raise ValueError(f"artifact_scale: expected a finite number >= 0, got {artifact_scale!r}")

    ss_cond, ss_src, ss_det, ss_mix, ss_art, ss_cr, ss_noise = np.random.SeedSequence(int(seed)).spawn(7)
    categories = resolve_artifacts(artifacts, np.random.default_rng(ss_mix))
    conditions = draw_conditions(np.random.default_rng(ss_cond), bands)
    scene = Scene.empty(conditions, shape)
    skies = []
    for b, cond in enumerate(conditions):
        sky = sky_model(cond, shape)
        scene.electrons[b] += sky
        skies.append(sky)
    render_sources(scene, draw_sources(np.random.default_rng(ss_src), shape, bands))
    for b, cond in enumerate(conditions):
        saturate_and_bleed(scene.electrons[b], scene.msk[b], cond.saturate_e)

    footprints = inject(scene, categories, ss_art, scale=float(artifact_scale))

    apply_defects(scene, draw_defects(np.random.default_rng(ss_det), shape))
    cr_rng, noise_rng = np.random.default_rng(ss_cr), np.random.default_rng(ss_noise)
    sci = np.empty_like(scene.electrons)
    wgt = np.empty_like(scene.electrons)
    headers = []
    records = tuple(footprint_to_artifact(name, fp) for fp in footprints)
    for b, cond in enumerate(conditions):
        add_cosmic_rays(cr_rng, scene.electrons[b], scene.msk[b], cond)
        saturate_and_bleed(scene.electrons[b], scene.msk[b], cond.saturate_e)
        sci[b], wgt[b], sky_adu = finish_band(noise_rng, scene.electrons[b], scene.msk[b], cond, skies[b])
        headers.append(_header(cond, seed=int(seed), name=name, sky_adu=sky_adu, n_artifacts=len(records)))
    exposure = Exposure(name=name, bands=bands, sci=sci, msk=scene.msk, wgt=wgt, headers=tuple(headers))
    return SimulatedImage(exposure, records, truth_mask(shape, footprints))

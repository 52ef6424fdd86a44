"""The noise-free scene being built, and the truth footprints of injected artifacts."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..categories import CATEGORY_BITS
from ..io.artifact import Artifact
from .conditions import BandConditions

__all__ = [
    "Scene",
    "Footprint",
    "visible_footprint",
    "shape_footprint",
    "mask_footprint",
    "pixel_footprint",
    "footprint_to_artifact",
    "truth_mask",
    "VISIBLE_SIGMA",
    "VISIBLE_FRACTION",
]

#: A compact artifact is visible where its added signal exceeds this many sky sigmas ...
VISIBLE_SIGMA: float = 0.7
#: ... or this fraction of its own peak, whichever is lower (so faint ones keep their shape).
VISIBLE_FRACTION: float = 0.3


@dataclass(eq=False)
class Scene:
    """The noise-free image in electrons while it is being built (mutable, internal).

    Attributes
    ----------
    conditions : tuple of BandConditions
        One per band.
    electrons : ndarray, shape (n_bands, ny, nx), float32
        Signal in electrons per pixel: sky, sources and artifacts, before noise.
    msk : ndarray, shape (n_bands, ny, nx), int32
        DESDM mask bits set so far.
    bright_x, bright_y : ndarray, shape (m,)
        Positions of the bright (saturated or nearly) stars, pixels.
    bright_flux : ndarray, shape (m, n_bands)
        Their fluxes, electrons.
    """

    conditions: tuple[BandConditions, ...]
    electrons: np.ndarray
    msk: np.ndarray
    bright_x: np.ndarray = field(default_factory=lambda: np.zeros(0))
    bright_y: np.ndarray = field(default_factory=lambda: np.zeros(0))
    bright_flux: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))

    @classmethod
    def empty(cls, conditions: tuple[BandConditions, ...], shape: tuple[int, int]) -> "Scene":
        """A scene of zeros, shape (n_bands, ny, nx)."""
        n = len(conditions)
        return cls(conditions, np.zeros((n, *shape), np.float32), np.zeros((n, *shape), np.int32),
                   bright_flux=np.zeros((0, n)))

    @property
    def shape(self) -> tuple[int, int]:
        """(ny, nx)."""
        return tuple(self.electrons.shape[1:])  # type: ignore[return-value]

    @property
    def n_bands(self) -> int:
        """Number of bands."""
        return len(self.conditions)

    @property
    def sigma_e(self) -> np.ndarray:
        """Per-pixel sky noise of each band, electrons, shape (n_bands,)."""
        return np.array([c.sigma_e for c in self.conditions])

    @property
    def sky_e(self) -> np.ndarray:
        """Mean sky level of each band, electrons, shape (n_bands,)."""
        return np.array([c.sky_e for c in self.conditions])

    def saturate_e(self, x: float) -> np.ndarray:
        """Saturation (electrons) of the amplifier holding column ``x``, per band, shape (n_bands,)."""
        amp = 0 if x < self.shape[1] // 2 else 1
        return np.array([c.saturate_e[amp] for c in self.conditions])

    def add_profile(self, box: tuple[int, int, int, int], profile: np.ndarray, amplitude_e: np.ndarray) -> None:
        """Add ``amplitude_e[b] * profile`` to band ``b`` inside ``box = (x0, y0, x1, y1)``.

        ``profile`` has shape (y1 - y0, x1 - x0); ``amplitude_e`` has shape (n_bands,).
        """
        x0, y0, x1, y1 = box
        for b, a in enumerate(np.asarray(amplitude_e, float)):
            if a != 0.0:
                self.electrons[b, y0:y1, x0:x1] += np.float32(a) * profile


@dataclass(frozen=True, eq=False)
class Footprint:
    """Where one injected artifact is visible: a bool mask placed at (x0, y0).

    Attributes
    ----------
    category : str
        Artifact category.
    x0, y0 : int
        Column and row of the mask's first pixel.
    mask : ndarray of bool, shape (h, w)
        True where the artifact is visible; cropped to its bounding box.
    """

    category: str
    x0: int
    y0: int
    mask: np.ndarray

    @property
    def box(self) -> tuple[int, int, int, int]:
        """``(xmin, ymin, xmax, ymax)``, max exclusive."""
        h, w = self.mask.shape
        return self.x0, self.y0, self.x0 + w, self.y0 + h


def _cropped(category: str, x0: int, y0: int, mask: np.ndarray) -> Footprint | None:
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    return Footprint(category, int(x0 + c0), int(y0 + r0), np.ascontiguousarray(mask[r0:r1, c0:c1]))


def visible_footprint(category: str, x0: int, y0: int, values: np.ndarray, sigma_e: np.ndarray, *,
                      k_sigma: float = VISIBLE_SIGMA, fraction: float = VISIBLE_FRACTION) -> Footprint | None:
    """Footprint of a compact artifact from the signal it adds.

    Parameters
    ----------
    category : str
        Artifact category.
    x0, y0 : int
        Position of ``values[:, 0, 0]`` in the image.
    values : ndarray, shape (n_bands, h, w)
        Signal added in each band, electrons (may be negative).
    sigma_e : ndarray, shape (n_bands,)
        Sky noise of each band, electrons.
    k_sigma, fraction : float
        A pixel is visible in a band where ``|value| >= min(k_sigma * sigma, fraction * peak)``
        with ``peak`` the band's largest ``|value|``; visible overall in any band.

    Returns
    -------
    Footprint or None
        None where nothing is visible.
    """
    mask = np.zeros(values.shape[1:], bool)
    for b in range(values.shape[0]):
        a = np.abs(values[b])
        peak = float(a.max()) if a.size else 0.0
        if peak <= 0.0:
            continue
        mask |= a >= min(k_sigma * float(sigma_e[b]), fraction * peak)
    return _cropped(category, x0, y0, mask)


def shape_footprint(category: str, x0: int, y0: int, profile: np.ndarray, *, level: float) -> Footprint | None:
    """Footprint of a large faint artifact: where its normalised ``profile`` (h, w) is at least ``level``."""
    return _cropped(category, x0, y0, profile >= level)


def mask_footprint(category: str, x0: int, y0: int, mask: np.ndarray) -> Footprint | None:
    """Footprint of the True pixels of ``mask`` (h, w) placed at (x0, y0), cropped."""
    return _cropped(category, x0, y0, mask)


def pixel_footprint(category: str, yy: np.ndarray, xx: np.ndarray) -> Footprint | None:
    """Footprint made of the pixels ``(yy, xx)`` (int arrays, inside the image)."""
    if yy.size == 0:
        return None
    y0, x0 = int(yy.min()), int(xx.min())
    mask = np.zeros((int(yy.max()) - y0 + 1, int(xx.max()) - x0 + 1), bool)
    mask[yy - y0, xx - x0] = True
    return Footprint(category, x0, y0, mask)


def footprint_to_artifact(image: str, fp: Footprint) -> Artifact:
    """The truth record of a footprint.

    The box is the footprint's bounding box (max exclusive), ``x, y`` its centre and
    ``radius`` the distance from the centre to the farthest corner of a visible pixel.
    """
    xmin, ymin, xmax, ymax = fp.box
    cx, cy = 0.5 * (xmin + xmax), 0.5 * (ymin + ymax)
    rows = np.flatnonzero(fp.mask.any(axis=1))
    left = np.argmax(fp.mask[rows], axis=1)
    right = fp.mask.shape[1] - 1 - np.argmax(fp.mask[rows, ::-1], axis=1)
    y = rows + fp.y0
    dy = np.maximum(np.abs(y - cy), np.abs(y + 1 - cy))
    dx = np.maximum(np.abs(left + fp.x0 - cx), np.abs(right + fp.x0 + 1 - cx))
    radius = float(np.sqrt(np.max(dx * dx + dy * dy)))
    return Artifact(image, float(cx), float(cy), radius, float(xmin), float(ymin), float(xmax), float(ymax),
                    1.0, fp.category)


def truth_mask(shape: tuple[int, int], footprints) -> np.ndarray:
    """OR of :data:`~spacejunk.categories.CATEGORY_BITS` over ``footprints``, int32 (ny, nx)."""
    out = np.zeros(shape, np.int32)
    for fp in footprints:
        x0, y0, x1, y1 = fp.box
        out[y0:y1, x0:x1] |= np.where(fp.mask, np.int32(CATEGORY_BITS[fp.category]), np.int32(0))
    return out

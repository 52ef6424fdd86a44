"""The Exposure: one image (one pointing, one pixel grid) in one band or several."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from astropy.io import fits

__all__ = ["Exposure"]


@dataclass(frozen=True, eq=False)
class Exposure:
    """Aligned bands of one image with their DESDM layers.

    Attributes
    ----------
    name : str
        Image name: ``<image>`` of ``<image>_<band>.fits[.fz]``, or the DESDM file stem
        without ``.fits.fz`` (e.g. ``D00362921_r_c57_r2331p02_immasked``).
    bands : tuple of str
        Band names in layer order, e.g. ``("g", "r", "i")``.
    sci : ndarray, shape (n_bands, ny, nx), float32
        Science layer, ADU. Non-finite input pixels are replaced by 0 and flagged in ``msk``.
    msk : ndarray, shape (n_bands, ny, nx), int32
        DESDM bit mask (BPM 1, SATURATE 2, INTERP 4, CRAY 16, TRAIL 64, EDGEBLEED 128, ...).
    wgt : ndarray, shape (n_bands, ny, nx), float32
        Inverse variance; 0 where a pixel carries no information.
    headers : tuple of astropy.io.fits.Header
        The ``SCI`` header of each band.
    paths : tuple of Path
        The file each band was read from (empty for an in-memory exposure).
    """

    name: str
    bands: tuple[str, ...]
    sci: np.ndarray
    msk: np.ndarray
    wgt: np.ndarray
    headers: tuple[fits.Header, ...] = field(default=())
    paths: tuple[Path, ...] = field(default=())

    def __post_init__(self) -> None:
        n = len(self.bands)
        for layer in ("sci", "msk", "wgt"):
            arr = getattr(self, layer)
            if arr.ndim != 3 or arr.shape[0] != n:
                raise ValueError(
                    f"Exposure {self.name!r}: {layer} must have shape (n_bands={n}, ny, nx), got {arr.shape}"
                )
        if not (self.sci.shape == self.msk.shape == self.wgt.shape):
            raise ValueError(f"Exposure {self.name!r}: sci, msk and wgt shapes differ")
        if len(set(self.bands)) != n:
            raise ValueError(f"Exposure {self.name!r}: repeated band in {self.bands}")

    @property
    def shape(self) -> tuple[int, int]:
        """(ny, nx) of the pixel grid."""
        return tuple(self.sci.shape[1:])  # type: ignore[return-value]

    def band_index(self, band: str) -> int:
        """Layer index of ``band``; ValueError naming the bands present if absent."""
        try:
            return self.bands.index(band)
        except ValueError:
            raise ValueError(f"Exposure {self.name!r} has no band {band!r}; it has {', '.join(self.bands)}") from None

    def select(self, bands) -> "Exposure":
        """A new Exposure with only ``bands`` (in that order)."""
        idx = [self.band_index(b) for b in bands]
        return Exposure(
            name=self.name,
            bands=tuple(self.bands[i] for i in idx),
            sci=self.sci[idx],
            msk=self.msk[idx],
            wgt=self.wgt[idx],
            headers=tuple(self.headers[i] for i in idx) if self.headers else (),
            paths=tuple(self.paths[i] for i in idx) if self.paths else (),
        )

    @property
    def combined_mask(self) -> np.ndarray:
        """Bitwise OR of the bands' ``msk`` layers, shape (ny, nx), int32."""
        return np.bitwise_or.reduce(self.msk, axis=0)

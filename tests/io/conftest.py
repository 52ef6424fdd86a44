"""Fixtures of the io tests: tiny DESDM-like FITS files built on the fly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

SHAPE = (64, 32)


@pytest.fixture
def layers():
    """Seeded SCI (float32, sky 100 + noise 5), MSK (int16, a few bits) and WGT (float32) of SHAPE."""
    rng = np.random.default_rng(42)
    sci = rng.normal(100.0, 5.0, SHAPE).astype(np.float32)
    msk = np.zeros(SHAPE, dtype=np.int16)
    msk[3, 4] = 16
    msk[10, 20] = 1 | 1024
    wgt = rng.uniform(0.03, 0.05, SHAPE).astype(np.float32)
    return sci, msk, wgt


@pytest.fixture
def write_fits():
    """Write a FITS file from ``[(extname, array, header_cards_dict), ...]`` after an empty primary HDU.

    ``compress=True`` writes RICE (floats) / PLIO (integers) CompImageHDUs, as fpack does;
    ``primary`` is a dict of cards for the primary header.
    """

    def write(path: Path, hdus, *, compress: bool = False, primary: dict | None = None) -> Path:
        out = [fits.PrimaryHDU(header=fits.Header(list((primary or {}).items())))]
        for name, data, cards in hdus:
            header = fits.Header(list((cards or {}).items()))
            if compress:
                kind = "PLIO_1" if np.issubdtype(data.dtype, np.integer) else "RICE_1"
                out.append(fits.CompImageHDU(data, header=header, name=name, compression_type=kind))
            else:
                out.append(fits.ImageHDU(data, header=header, name=name))
        fits.HDUList(out).writeto(path)
        return path

    return write

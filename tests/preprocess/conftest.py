"""Small seeded synthetic exposures for the preprocess tests."""

import numpy as np
import pytest

from spacejunk.io import Exposure


def _make_exposure(*, shape=(256, 128), bands=("g", "r", "i"), sky=(500.0, 800.0, 1200.0),
                   noise=(8.0, 12.0, 20.0), seed=0, name="sim"):
    rng = np.random.default_rng(seed)
    n = len(bands)
    sky = np.resize(np.asarray(sky, dtype=float), n)
    noise = np.resize(np.asarray(noise, dtype=float), n)
    sci = (sky[:, None, None] + noise[:, None, None] * rng.standard_normal((n,) + shape)).astype(np.float32)
    msk = np.zeros((n,) + shape, dtype=np.int32)
    wgt = np.broadcast_to((1.0 / noise**2)[:, None, None], (n,) + shape).astype(np.float32)
    return Exposure(name, tuple(bands), sci, msk, wgt)


@pytest.fixture
def make_exposure():
    """Factory: ``make_exposure(shape=..., bands=..., sky=..., noise=..., seed=...)``."""
    return _make_exposure

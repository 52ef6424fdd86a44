"""Fixtures of the simulator tests: small seeded images (256 x 128)."""

from __future__ import annotations

import pytest

from spacejunk.simulate import simulate_image


@pytest.fixture(scope="session")
def small_shape():
    """(ny, nx) of the test images."""
    return (256, 128)


@pytest.fixture(scope="session")
def clean_image(small_shape):
    """A clean three-band image (no artifacts), seed 11."""
    return simulate_image(seed=11, shape=small_shape, artifacts=None)


@pytest.fixture(scope="session")
def quiet_clean_image():
    """A larger clean g,r,i image (512 x 256), for noise statistics."""
    return simulate_image(seed=21, shape=(512, 256), artifacts=None)

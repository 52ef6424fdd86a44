"""The simulator's building blocks: stamps, segments, footprints, saturation, sources."""

from __future__ import annotations

import numpy as np
import pytest

from spacejunk.categories import CATEGORY_BITS, DESDM_BITS
from spacejunk.simulate._render import add_stamps, moffat_alpha, segment_pixels
from spacejunk.simulate._scene import Footprint, footprint_to_artifact, truth_mask, visible_footprint
from spacejunk.simulate.conditions import draw_conditions
from spacejunk.simulate.detector import saturate_and_bleed
from spacejunk.simulate.sky import _moffat_stamps


def test_moffat_alpha_gives_the_fwhm():
    alpha = moffat_alpha(4.0, 3.0)
    r = 2.0  # half the FWHM
    assert (1 + (r / alpha) ** 2) ** -3.0 == pytest.approx(0.5)


def test_stamps_conserve_flux_and_centre():
    cond = draw_conditions(np.random.default_rng(0), ("r",))[0]
    image = np.zeros((200, 100), np.float32)
    flux = np.array([1e5, 2e5])
    add_stamps(image, np.array([30.3, 70.0]), np.array([50.0, 150.6]), 48, _moffat_stamps(cond, flux))
    assert image[:100].sum() == pytest.approx(1e5, rel=0.02)
    assert image[100:].sum() == pytest.approx(2e5, rel=0.02)
    assert np.unravel_index(np.argmax(image[:100]), (100, 100)) == (50, 30)
    # A star on the first column loses the half outside.
    edge = np.zeros((100, 100), np.float32)
    add_stamps(edge, np.array([0.0]), np.array([50.0]), 48, _moffat_stamps(cond, np.array([1e5])))
    assert 0.5e5 < edge.sum() < 0.7e5


def test_segment_pixels_of_a_horizontal_line():
    yy, xx, d, t = segment_pixels((40, 80), 5.0, 10.0, 50.0, 10.0, 2.0)
    assert set(yy.tolist()) == {8, 9, 10, 11, 12}
    assert xx.min() == 3 and xx.max() == 52
    np.testing.assert_allclose(d, yy - 10.0)
    np.testing.assert_allclose(t, xx - 5.0)
    assert len(set(zip(yy.tolist(), xx.tolist()))) == yy.size  # each pixel once


def test_segment_pixels_of_a_steep_line_clipped():
    yy, xx, d, t = segment_pixels((50, 30), 10.0, -100.0, 14.0, 200.0, 1.5)
    assert yy.min() == 0 and yy.max() == 49
    assert (np.abs(d) <= 1.5).all() and ((xx >= 9) & (xx <= 15)).all()


def test_footprint_to_artifact_box_centre_radius():
    mask = np.zeros((10, 10), bool)
    mask[:, :] = True
    art = footprint_to_artifact("im", Footprint("ghost", 20, 30, mask))
    assert art.box == (20.0, 30.0, 30.0, 40.0)
    assert (art.x, art.y) == (25.0, 35.0)
    assert art.radius == pytest.approx(np.sqrt(50.0))
    assert art.category == "ghost" and art.score == 1.0


def test_visible_footprint_threshold_and_crop():
    values = np.zeros((2, 20, 20), np.float32)
    values[0, 5, 6] = 10.0  # 1 sigma in band 0
    values[1, 12, 14] = 0.5  # 0.05 sigma, 5 % of band 1's peak: not visible
    values[1, 10, 10] = 10.0
    fp = visible_footprint("other", 100, 200, values, np.array([10.0, 10.0]))
    assert fp.box == (106, 205, 111, 211)
    assert fp.mask.sum() == 2


def test_truth_mask_ors_bits():
    a = Footprint("satellite", 0, 0, np.ones((2, 2), bool))
    b = Footprint("ghost", 1, 1, np.ones((2, 2), bool))
    m = truth_mask((4, 4), [a, b])
    assert m.dtype == np.int32
    assert m[1, 1] == CATEGORY_BITS["satellite"] | CATEGORY_BITS["ghost"]
    assert m[0, 0] == CATEGORY_BITS["satellite"] and m[2, 2] == CATEGORY_BITS["ghost"] and m[3, 0] == 0


def test_saturation_bleeds_along_the_column_and_keeps_the_charge():
    image = np.full((100, 10), 10.0, np.float32)
    image[50, 3] = 1000.0  # 900 e- of excess at level 100: ten pixels of 90 e- room
    image[50, 4] = 150.0
    image[50, 7] = 150.0  # amplifier B saturates at 1e9
    msk = np.zeros(image.shape, np.int32)
    total = image.sum()
    saturate_and_bleed(image, msk, np.array([100.0, 1e9]))
    assert image.sum() == pytest.approx(total, rel=1e-6)
    assert image[:, :5].max() == 100.0
    trail = (msk[:, 3] & DESDM_BITS["TRAIL"]) != 0
    assert trail.sum() == 10 and trail[45:50].all() and trail[51:56].all()
    assert msk[50, 3] == DESDM_BITS["SATURATE"]
    assert image[49, 4] == image[51, 4] == 35.0 and msk[50, 4] == DESDM_BITS["SATURATE"]
    assert not msk[:, [0, 1, 2, 5, 6, 7, 8, 9]].any()


def test_bleed_reaching_the_edge_loses_charge():
    image = np.full((20, 4), 0.0, np.float32)
    image[2, 1] = 100.0 + 1000.0
    msk = np.zeros(image.shape, np.int32)
    saturate_and_bleed(image, msk, np.array([100.0, 100.0]))
    assert image[:, 1].tolist()[:8] == [100.0] * 8
    assert image.sum() == pytest.approx(100.0 + 2 * 100.0 + 500.0)

"""The finder of light left after the sky's subtraction (spacejunk.predict.sky_excess) on small simulated CCDs."""

import numpy as np
import pytest

from spacejunk.io import Exposure
from spacejunk.predict.finders import FINDERS, DETECTOR_FINDERS, box_tile_scores
from spacejunk.predict.sky_excess import SkyExcessSettings, excess_levels, find_sky_excess, sky_subtracted_bands
from spacejunk.preprocess import tile_grid
from spacejunk.simulate import simulate_image

SHAPE = (1024, 512)


def _with_level(seed, level, rows=slice(None)):
    """A clean simulated CCD (seed 1: sky subtracted; seed 0: not) with ``level`` sky sigma
    added to ``rows`` of every band: a ghost with no edge on them."""
    clean = simulate_image(seed=seed, shape=SHAPE, artifacts=[]).exposure
    sci = clean.sci.copy()
    for b in range(len(clean.bands)):
        _, noise = clean.sky_noise(b)
        sci[b, rows] += np.float32(level * noise)
    return Exposure(clean.name, clean.bands, sci, clean.msk, clean.wgt, headers=clean.headers)


def test_a_ghost_over_the_whole_sky_subtracted_ccd_is_found():
    exposure = _with_level(1, 0.5)
    assert sky_subtracted_bands(exposure) == [0, 1, 2]
    (ghost,) = find_sky_excess(exposure)
    assert ghost.category == "ghost" and ghost.box == (0.0, 0.0, 512.0, 1024.0)
    assert ghost.score == pytest.approx(0.5 / 0.7, abs=0.04)  # level 0.5 sigma over its 0.2 sigma limit
    assert ghost.marks.all()


def test_a_ghost_over_part_of_the_ccd_marks_its_tiles():
    exposure = _with_level(1, 0.5, rows=slice(0, 512))
    (ghost,) = find_sky_excess(exposure)
    assert ghost.box == (0.0, 0.0, 512.0, 512.0)
    grid = tile_grid(exposure.shape, tile=200)
    scores = box_tile_scores([ghost], grid, min_fraction=0.01)
    assert np.all(scores[grid[:, 1] < 500] == np.float32(ghost.score))
    assert np.all(scores[grid[:, 1] >= 512] == 0)


def test_a_dimmer_part_beside_a_bright_one_is_left_out():
    # a ghost's central hole is lit too (up to 0.3 of its ring's level), and is not the ghost
    bright = _with_level(1, 1.0, rows=slice(0, 512))
    exposure = Exposure(bright.name, bright.bands, bright.sci.copy(), bright.msk, bright.wgt, headers=bright.headers)
    for b in range(3):
        exposure.sci[b, 512:] += np.float32(0.3 * bright.sky_noise(b)[1])
    (ring,) = find_sky_excess(exposure)
    assert ring.box == (0.0, 0.0, 512.0, 512.0)
    (both,) = find_sky_excess(exposure, SkyExcessSettings(min_relative=0.0))
    assert both.box == (0.0, 0.0, 512.0, 1024.0)


def test_nothing_on_clean_ccds_nor_where_the_sky_was_not_subtracted():
    clean = simulate_image(seed=1, shape=SHAPE, artifacts=[]).exposure
    levels = excess_levels(clean)
    assert np.nanmax(np.abs(levels)) < 0.15  # the clean sky-subtracted sky sits near 0
    assert find_sky_excess(clean) == []
    assert find_sky_excess(_with_level(1, 0.1)) == []  # under min_level
    # no reference where the sky was not subtracted: the CCD's own sky holds the ghost
    unsubtracted = _with_level(0, 1.0)
    assert sky_subtracted_bands(unsubtracted) == [] and excess_levels(unsubtracted) is None
    assert find_sky_excess(unsubtracted) == []
    assert find_sky_excess(_with_level(1, 0.5), SkyExcessSettings(keyword="NOSUCHKEY")) == []


def test_the_classifier_asks_for_it_the_detector_does_not():
    from spacejunk.train.classifier import CLASSIFIER_FINDERS

    assert FINDERS["sky_excess"][0] == "ghost"
    assert "sky_excess" in CLASSIFIER_FINDERS and "sky_excess" not in DETECTOR_FINDERS

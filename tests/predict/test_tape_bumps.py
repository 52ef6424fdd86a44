"""The tape-bump finder (spacejunk.predict.tape_bumps) on small simulated and hand-made images."""

import numpy as np
import pytest

from spacejunk.evaluate.coco import box_iou
from spacejunk.io import Exposure
from spacejunk.predict.tape_bumps import TapeBumpSettings, bump_map, crowding, find_tape_bumps
from spacejunk.simulate import simulate_image

SHAPE = (1024, 512)


def _boxes(items):
    return np.array([[a.xmin, a.ymin, a.xmax, a.ymax] for a in items], float).reshape(-1, 4)


@pytest.mark.parametrize("seed", [2, 5, 7])
def test_finds_the_simulators_tape_bump(seed):
    image = simulate_image(seed=seed, shape=SHAPE, artifacts=["tape-bump"])
    truth = [a for a in image.artifacts if a.category == "tape-bump"]
    found = find_tape_bumps(image.exposure)
    assert len(truth) == 1 and len(found) == 1
    assert found[0].category == "tape-bump" and 0.25 < found[0].score < 1
    assert box_iou(_boxes(found), _boxes(truth))[0, 0] > 0.8


def test_nothing_in_clean_images():
    for seed in (0, 1, 2):
        assert find_tape_bumps(simulate_image(seed=seed, shape=SHAPE, artifacts=None).exposure) == []


def _bump_image(cx, cy, amplitude, radius=60.0, shape=(1024, 512), seed=0):
    rng = np.random.default_rng(seed)
    sci = rng.normal(1000.0, 10.0, (2,) + shape).astype(np.float32)
    yy, xx = np.mgrid[:shape[0], :shape[1]]
    r2 = ((xx - cx) ** 2 + (yy - cy) ** 2) / radius ** 2
    sci += (amplitude * 10.0 * np.clip(1 - r2, 0, None) ** 2).astype(np.float32)
    return Exposure("e", ("g", "r"), sci, np.zeros(sci.shape, np.int32), np.ones(sci.shape, np.float32))


def test_a_bump_or_dip_near_the_edge_is_found_and_one_in_the_middle_is_not():
    # truth: where the profile is at least 0.3, r <= 0.67 R
    truth = np.array([[80 - 40.2, 500 - 40.2, 80 + 40.2, 500 + 40.2]])
    for amplitude in (1.0, -1.0):
        found = find_tape_bumps(_bump_image(80, 500, amplitude))
        assert len(found) == 1 and found[0].category == "tape-bump"
        assert box_iou(_boxes(found), truth)[0, 0] > 0.6
        assert found[0].score > 0.4  # 1 sigma over a disc of radius 60 px: ~26 units of the map's scatter
    assert find_tape_bumps(_bump_image(256, 500, 1.0)) == []  # 256 px from every edge: not a tape bump
    assert find_tape_bumps(_bump_image(80, 500, 1.0), TapeBumpSettings(min_peak=1e4)) == []


def _with_sources(exposure, every=6):
    """``exposure`` with a 3 x 3 px source of 6 sigma every ``every`` px in x and y: the
    pixels they cover, (3 / every) ** 2 of all, stand out of the box's median."""
    sci = exposure.sci.copy()
    for dy in range(3):
        for dx in range(3):
            sci[:, dy::every, dx::every] += 60.0
    return Exposure(exposure.name, exposure.bands, sci, exposure.msk, exposure.wgt)


def test_crowding_is_the_fraction_of_pixels_standing_out_of_the_box():
    clean = _bump_image(80, 500, 1.0)
    box = (0, 300, 512, 700)
    assert 0.003 < crowding(clean, box, 2.5) < 0.01  # a Gaussian's tail beyond 2.5 sigma: 0.0062
    assert crowding(_with_sources(clean), box, 2.5) == pytest.approx(0.25 + 0.75 * 0.0062, abs=0.01)
    assert crowding(_with_sources(clean, every=12), box, 2.5) == pytest.approx(0.0625 + 0.94 * 0.0062, abs=0.01)


def test_a_bump_among_many_sources_is_their_wings_and_not_reported():
    bump = _bump_image(80, 500, 1.0)
    alone = find_tape_bumps(bump)
    crowded = _with_sources(bump, every=24)  # crowding 9 / 576 + 0.006 = 0.022
    found = find_tape_bumps(crowded)
    assert len(alone) == len(found) == 1
    assert found[0].score == pytest.approx(alone[0].score * (1 - 0.022 / 0.12), abs=0.03)
    assert find_tape_bumps(crowded, TapeBumpSettings(max_crowding=0.02)) == []


def test_a_bump_that_a_band_does_not_see_is_not_a_tape_bump():
    from spacejunk.categories import DESDM_BITS
    from spacejunk.predict.tape_bumps import band_levels

    both = _bump_image(80, 500, 1.0)
    found = find_tape_bumps(both)
    assert len(found) == 1
    levels = band_levels(both, found[0].box, 2.5)
    assert np.all(levels > 0.3) and abs(levels[0] - levels[1]) < 0.1  # about half a sigma in each band
    # r flagged bad around the bump: the bump is still found in g, but r cannot confirm it
    msk = both.msk.copy()
    msk[1, 380:620, :] = DESDM_BITS["BPM"]
    blind = Exposure("e", both.bands, both.sci, msk, both.wgt)
    assert np.isnan(band_levels(blind, found[0].box, 2.5)[1])
    assert bump_map(blind).max() > TapeBumpSettings().min_peak  # g alone shows it as clearly
    assert find_tape_bumps(blind) == []
    # a band that shows nothing there measures nothing
    flat = Exposure("e", both.bands, np.stack([both.sci[0], _bump_image(80, 500, 0.0).sci[1]]), both.msk, both.wgt)
    assert abs(band_levels(flat, found[0].box, 2.5)[1]) < 0.05

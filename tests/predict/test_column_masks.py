"""The bad-column finder (spacejunk.predict.column_masks) on small simulated and hand-made images."""

import numpy as np
import pytest

from spacejunk.evaluate.coco import box_iou
from spacejunk.io import Exposure
from spacejunk.predict.column_masks import ColumnMaskSettings, best_runs, find_column_masks
from spacejunk.simulate import simulate_image

SHAPE = (1024, 512)


def _boxes(items):
    return np.array([[a.xmin, a.ymin, a.xmax, a.ymax] for a in items], float).reshape(-1, 4)


@pytest.mark.parametrize("seed", [2, 5, 6])  # a column from the edge, a segment, a 3-px-wide one
def test_finds_the_simulators_unflagged_bad_column(seed):
    image = simulate_image(seed=seed, shape=SHAPE, artifacts=["column-mask"])
    truth = [a for a in image.artifacts if a.category == "column-mask"]
    found = find_column_masks(image.exposure)
    assert len(truth) == 1 and len(found) == 1
    assert found[0].category == "column-mask" and found[0].score > 0.5
    assert found[0].xmin == truth[0].xmin and found[0].xmax == truth[0].xmax  # the very columns
    assert box_iou(_boxes(found), _boxes(truth))[0, 0] > 0.9


def test_no_bad_column_in_a_clean_image_nor_a_too_short_one():
    for seed in (0, 1, 2):
        assert find_column_masks(simulate_image(seed=seed, shape=SHAPE, artifacts=None).exposure) == []
    # seed 0's column is 57 rows long: under min_blocks (6) blocks of 32 rows
    assert find_column_masks(simulate_image(seed=0, shape=SHAPE, artifacts=["column-mask"]).exposure) == []


def test_dark_column_stars_and_flagged_columns():
    rng = np.random.default_rng(1)
    ny, nx = 512, 256
    sci = rng.normal(1000.0, 10.0, (1, ny, nx)).astype(np.float32)
    msk = np.zeros((1, ny, nx), np.int32)
    sci[0, 64:448, 40] -= 10.0              # 1 sigma dark over 384 rows: ~20 sigma summed
    sci[0, :, 200] += 50.0                  # a bright column DESDM flagged BPM: not news
    msk[0, :, 200] = 1
    yy, xx = np.mgrid[:ny, :nx]
    for x, y in rng.uniform([10, 10], [nx - 10, ny - 10], (40, 2)):  # stars
        sci[0] += 500.0 * np.exp(-0.5 * ((xx - x) ** 2 + (yy - y) ** 2) / 1.5 ** 2).astype(np.float32)
    found = find_column_masks(Exposure("e", ("g",), sci, msk, np.ones_like(sci)))
    assert [(a.xmin, a.xmax) for a in found] == [(40.0, 41.0)]
    assert 32 <= found[0].ymin <= 96 and 416 <= found[0].ymax <= 480
    assert 0.2 < found[0].score < 0.5  # ~20 sigma: found, but under the detector's default threshold
    # a stricter limit drops it
    assert find_column_masks(Exposure("e", ("g",), sci, msk, np.ones_like(sci)),
                             ColumnMaskSettings(min_sigma=200.0)) == []


def test_best_runs_is_the_maximum_sum_run():
    z = np.array([[0.0], [3.0], [-0.5], [4.0], [-5.0], [2.5]])
    start, end, sums = best_runs(z, penalty=1.0)
    # (3 - 1) + (-0.5 - 1) + (4 - 1) = 3.5 beats 3 (block 3 alone) and 1.5 (block 5)
    assert (start[0], end[0], sums[0]) == (1, 4, pytest.approx(6.5))

"""The bright-arc finder: circles fitted, arcs found on simulated CCDs, straight and broad light left alone."""

import math

import numpy as np
import pytest

from spacejunk.evaluate.coco import box_iou
from spacejunk.predict.bright_arcs import _same_arc, angular_extent, find_bright_arcs, fit_circle
from spacejunk.stitch import join_overlapping
from spacejunk.simulate import simulate_image


def test_a_circle_is_fitted_through_a_quarter_of_it():
    rng = np.random.default_rng(0)
    t = np.linspace(0.2, 0.2 + math.pi / 2, 200)
    x, y = 300 + 900 * np.cos(t) + rng.normal(0, 5, t.size), -400 + 900 * np.sin(t) + rng.normal(0, 5, t.size)
    cx, cy, r = fit_circle(x, y, np.ones_like(x))
    assert (cx, cy, r) == pytest.approx((300, -400, 900), abs=10)
    assert fit_circle(np.arange(10.0), 2 * np.arange(10.0), np.ones(10)) is None  # a line
    assert angular_extent(t) == pytest.approx(math.pi / 2, abs=0.01)
    assert angular_extent(np.radians([-30.0, -10.0, 0.0, 20.0, 30.0])) == pytest.approx(math.radians(60.0))


def test_pieces_of_one_arc_are_one():
    pieces = [((768, 2944, 2048, 4096), 50.0), ((1232, 3440, 2048, 4096), 80.0), ((0, 0, 500, 400), 60.0)]
    joined = sorted(join_overlapping(pieces, _same_arc))
    assert joined == [((0, 0, 500, 400), 60.0), ((768, 2944, 2048, 4096), 80.0)]
    # overlapping at IoU under 0.5 with neither 80 % inside the other: two arcs
    assert not _same_arc((0, 0, 100, 100), (50, 0, 200, 100))


@pytest.mark.parametrize("seed", [5, 7, 8])
def test_a_simulated_arc_is_found(seed):
    image = simulate_image(seed=seed, artifacts=["bright-arc"])
    (truth,) = [a for a in image.artifacts if a.category == "bright-arc"]
    (found,) = find_bright_arcs(image.exposure)
    assert found.category == "bright-arc" and 0.3 < found.score < 1
    assert box_iou([found.box], [truth.box])[0, 0] >= 0.5


@pytest.mark.parametrize("category", ["brush-strokes", "bright-spray", "ghost", "satellite"])
def test_straight_or_broad_light_is_no_arc(category):
    image = simulate_image(seed=2, artifacts=[category])
    assert find_bright_arcs(image.exposure) == []

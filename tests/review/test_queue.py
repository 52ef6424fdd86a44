"""The review queue: uncertainty measures and the greedy uncertainty + diversity order."""

from __future__ import annotations

import numpy as np
import pytest

from spacejunk.categories import CATEGORIES
from spacejunk.review.queue import (
    SCORE_BINS,
    binary_entropy,
    image_features,
    image_uncertainty,
    mark_uncertainty,
    review_order,
)


def test_binary_entropy_values():
    h = binary_entropy([0.0, 0.5, 1.0, 0.11, 0.89])
    np.testing.assert_allclose(h, [0.0, 1.0, 0.0, 0.4999, 0.4999], atol=1e-3)


@pytest.mark.parametrize("threshold, scores, expected", [
    (0.5, [0.5, 1.0, 0.0, 0.75, 0.25], [1.0, 0.0, 0.0, 0.5, 0.5]),
    (0.3, [0.3, 1.0, 0.0, 0.65], [1.0, 0.0, 1 - 0.3 / 0.7, 0.5]),
])
def test_mark_uncertainty(threshold, scores, expected):
    np.testing.assert_allclose(mark_uncertainty(scores, threshold=threshold), expected, atol=1e-12)


def test_mark_uncertainty_rejects_bad_input():
    with pytest.raises(ValueError, match="threshold must be in"):
        mark_uncertainty([0.5], threshold=1.0)
    with pytest.raises(ValueError, match="scores must be finite probabilities"):
        mark_uncertainty([1.5])


def test_image_uncertainty_top_tiles_and_marks():
    tiles = np.full(20, 0.01)
    assert image_uncertainty(tiles) == pytest.approx(binary_entropy(0.01))
    tiles[3] = 0.5                     # one doubtful tile in 20: the top 10 % are 2 tiles
    assert image_uncertainty(tiles) == pytest.approx((1.0 + binary_entropy(0.01)) / 2)
    # a mark right on the threshold dominates
    assert image_uncertainty(tiles, [0.5]) == pytest.approx(1.0)
    assert image_uncertainty([], [0.9, 0.75], threshold=0.5) == pytest.approx(0.5)
    assert image_uncertainty() == 0.0


def test_image_features():
    f = image_features([0.05, 0.05, 0.95, 0.5], ["ghost", "ghost", "satellite", "unknown-thing"])
    assert f.shape == (SCORE_BINS + len(CATEGORIES),)
    np.testing.assert_allclose(f[:SCORE_BINS], [0.5, 0, 0, 0, 0, 0.25, 0, 0, 0, 0.25])
    mix = dict(zip(CATEGORIES, f[SCORE_BINS:]))
    assert mix["ghost"] == 0.5 and mix["satellite"] == 0.25 and mix["other"] == 0.25
    assert not image_features().any()


def test_order_without_diversity_is_uncertainty_then_name():
    order = review_order([0.2, 0.9, 0.5, 0.9], names=["d", "c", "a", "b"], diversity=0.0)
    assert order == [3, 1, 2, 0]           # 0.9 (b), 0.9 (c), 0.5, 0.2


def test_diversity_splits_near_duplicates():
    u = [1.0, 0.95, 0.8]
    f = [[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]     # image 1 is a near-copy of image 0
    assert review_order(u, f, diversity=0.0) == [0, 1, 2]
    assert review_order(u, f, diversity=0.3) == [0, 2, 1]


def test_reviewed_images_are_left_out_but_count_for_diversity():
    u = [1.0, 0.95, 0.8]
    f = [[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]
    assert review_order(u, f, reviewed=[True, False, False], diversity=0.3) == [2, 1]
    assert review_order(u, f, reviewed=[True, False, False], diversity=0.0) == [1, 2]
    assert review_order(u, f, reviewed=[True, True, True]) == []


def test_order_rejects_bad_arguments():
    with pytest.raises(ValueError, match="diversity must be in"):
        review_order([0.1, 0.2], diversity=1.5)
    with pytest.raises(ValueError, match="features must have shape"):
        review_order([0.1, 0.2], [[1.0]], diversity=0.5)
    with pytest.raises(ValueError, match="reviewed must have 2 entries"):
        review_order([0.1, 0.2], reviewed=[True])
    with pytest.raises(ValueError, match="uncertainty must be finite"):
        review_order([np.nan, 0.2])

"""Merging boxes across tile borders, and artifact masks (spacejunk.stitch)."""

import numpy as np
import pytest

from spacejunk.categories import CATEGORY_BITS
from spacejunk.io import Artifact
from spacejunk.preprocess import tile_grid
from spacejunk.stitch import artifacts_to_mask, merge_boxes


def _detect_on_tiles(truth_box, grid):
    """What a perfect detector reports on each tile: the truth box clipped to the tile."""
    boxes, tiles = [], []
    for x0, y0, x1, y1 in grid:
        b = [max(truth_box[0], x0), max(truth_box[1], y0), min(truth_box[2], x1), min(truth_box[3], y1)]
        if b[2] > b[0] and b[3] > b[1]:
            boxes.append(b)
            tiles.append([x0, y0, x1, y1])
    return np.array(boxes, float), np.array(tiles, float)


@pytest.mark.parametrize("truth_box", [
    (550, 100, 700, 140),     # cut by one vertical border (wider than the overlap)
    (100, 560, 130, 760),     # cut by one horizontal border
    (450, 450, 1300, 1250),   # cut by several borders in both directions
    (520, 300, 580, 330),     # inside the overlap strip: seen whole on two tiles
])
def test_box_cut_by_tile_borders_becomes_one(truth_box):
    grid = tile_grid((1400, 1400), tile=600, overlap=100)
    boxes, tiles = _detect_on_tiles(truth_box, grid)
    assert len(boxes) >= 2  # the artifact is seen on several tiles
    scores = np.linspace(0.9, 0.6, len(boxes))
    merged, s, lab = merge_boxes(boxes, scores, ["satellite"] * len(boxes), tiles=tiles, shape=(1400, 1400))
    assert len(merged) == 1
    np.testing.assert_allclose(merged[0], truth_box)
    assert s[0] == pytest.approx(0.9) and lab[0] == "satellite"


def test_different_classes_and_distant_boxes_stay_apart():
    boxes = np.array([[10, 10, 50, 50], [10, 10, 50, 50], [200, 200, 220, 220]], float)
    out, s, lab = merge_boxes(boxes, [0.9, 0.8, 0.7], [1, 2, 1])
    assert len(out) == 3
    np.testing.assert_array_equal(lab, [1, 2, 1])


def test_nms_and_containment_drop_duplicates():
    boxes = np.array([[0, 0, 100, 100], [2, 2, 98, 101], [10, 10, 40, 40], [300, 0, 310, 10]], float)
    out, s, lab = merge_boxes(boxes, [0.9, 0.8, 0.7, 0.6], [1, 1, 1, 1])
    np.testing.assert_allclose(out, [[0, 0, 100, 100], [300, 0, 310, 10]])
    np.testing.assert_allclose(s, [0.9, 0.6])


def test_box_touching_the_image_edge_is_not_fused():
    # two separate trails ending on the image's outer edge (not a tile border)
    grid = np.array([[0, 0, 600, 600], [500, 0, 1100, 600]], float)
    boxes = np.array([[0, 10, 40, 20], [1060, 10, 1100, 20]], float)
    out, _, _ = merge_boxes(boxes, [0.9, 0.9], [1, 1], tiles=grid, shape=(600, 1100))
    assert len(out) == 2


def test_merge_boxes_checks_input():
    with pytest.raises(ValueError, match="boxes must have shape"):
        merge_boxes(np.zeros((3, 3)), np.zeros(3), np.zeros(3))
    with pytest.raises(ValueError, match="same length"):
        merge_boxes(np.zeros((3, 4)), np.zeros(2), np.zeros(3))
    out, s, lab = merge_boxes(np.zeros((0, 4)), [], [])
    assert out.shape == (0, 4) and len(s) == 0


def test_artifacts_to_mask_sets_category_bits():
    arts = [Artifact("a", 5, 5, 5, 2, 3, 6.5, 8, category="satellite"),
            Artifact("a", 5, 5, 5, 4, 4, 12, 12, category="cosmic-ray"),
            Artifact("a", 0, 0, 5, -5, -5, 1, 1, category="ghost")]
    mask = artifacts_to_mask(arts, (10, 8))
    assert mask.dtype == np.int32 and mask.shape == (10, 8)
    assert mask[3, 2] == CATEGORY_BITS["satellite"]
    assert mask[5, 5] == CATEGORY_BITS["satellite"] | CATEGORY_BITS["cosmic-ray"]
    assert mask[9, 7] == CATEGORY_BITS["cosmic-ray"]
    assert mask[0, 0] == CATEGORY_BITS["ghost"] and mask[1, 1] == 0
    assert mask[2, 2] == 0  # ymin = 3
    assert np.count_nonzero(mask & CATEGORY_BITS["satellite"]) == 5 * 5  # x 2..6 (ceil 6.5), y 3..7
    assert not artifacts_to_mask([], (4, 4)).any()
    with pytest.raises(ValueError, match="no mask bit"):
        artifacts_to_mask([Artifact("a", 1, 1, 1, 0, 0, 2, 2, category="rays")], (4, 4))


def test_join_overlapping_chains_and_keeps_the_best_score():
    from spacejunk.stitch import join_overlapping

    boxes = [((0, 0, 10, 10), 0.9), ((8, 0, 20, 10), 0.5), ((18, 0, 30, 10), 0.7),  # a chain: one box
             ((30, 0, 40, 10), 0.4),                                                 # touches only: apart
             ((50, 50, 60, 60), 0.8)]
    assert join_overlapping(boxes) == [((0, 0, 30, 10), 0.9), ((30, 0, 40, 10), 0.4), ((50, 50, 60, 60), 0.8)]
    # the union of two may reach a third that neither reached: it joins too
    assert join_overlapping([((0, 0, 10, 10), 0.2), ((5, 8, 20, 20), 0.3), ((12, 2, 18, 6), 0.1)]) == \
        [((0, 0, 20, 20), 0.3)]

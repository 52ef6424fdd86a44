"""Pixel IoU, precision and recall, and the focal-plane scores built on them."""

from __future__ import annotations

import numpy as np
import pytest

from spacejunk.evaluate.focal_plane import annotator_scores, fold_assignment, score_mask, summarise
from spacejunk.evaluate.segmentation import pixel_iou, pixel_precision, pixel_recall, pixel_scores
from spacejunk.io.focal_plane import AnnotatedImage


def test_known_values():
    pred = np.zeros((4, 4), dtype=bool)
    truth = np.zeros((4, 4), dtype=bool)
    pred[0, :3] = True        # 3 pixels
    truth[0, 1:] = True       # 3 pixels, 2 shared
    truth[1, 0] = True        # 4 in all
    s = pixel_scores(pred, truth)
    assert (s.tp, s.fp, s.fn) == (2, 1, 2)
    assert s.iou == pytest.approx(2 / 5)
    assert s.precision == pytest.approx(2 / 3)
    assert s.recall == pytest.approx(2 / 4)
    assert pixel_iou(pred, truth) == pytest.approx(0.4)
    assert pixel_precision(pred, truth) == pytest.approx(2 / 3)
    assert pixel_recall(pred, truth) == pytest.approx(0.5)
    assert pixel_iou(truth, truth) == 1.0


def test_edge_cases():
    empty, full = np.zeros((3, 3), bool), np.ones((3, 3), bool)
    both_empty = pixel_scores(empty, empty)
    assert (both_empty.iou, both_empty.precision, both_empty.recall) == (1.0, 1.0, 1.0)
    missed = pixel_scores(empty, full)
    assert (missed.iou, missed.precision, missed.recall) == (0.0, 1.0, 0.0)
    spurious = pixel_scores(full, empty)
    assert (spurious.iou, spurious.precision, spurious.recall) == (0.0, 0.0, 1.0)
    assert pixel_iou(np.array([0, 2, 0]), np.array([0, 1, 1])) == pytest.approx(0.5)   # non-zero is True
    with pytest.raises(ValueError, match="same shape"):
        pixel_iou(empty, np.zeros((3, 4), bool))


def test_score_mask_per_category():
    codes = np.zeros((2, 4), dtype=np.uint8)
    codes[0, :2] = 1          # ghost-bright
    codes[1, :2] = 3          # rays
    ref = np.zeros((4, 2, 4), dtype=bool)
    ref[0, 0, :2] = True      # bright agrees
    ref[2, 1, 1:3] = True     # rays: 1 shared of 3
    ref[3] = ref[:3].any(0)
    row = score_mask(codes, ref)
    assert row["iou"] == pytest.approx(3 / 5)
    assert row["iou_ghost-bright"] == 1.0
    assert row["iou_rays"] == pytest.approx(1 / 3)
    assert np.isnan(row["iou_ghost-faint"])            # nobody has it: left out of medians
    assert summarise([row, {**row, "iou": 0.2}])["iou"] == pytest.approx(0.4)


def test_annotator_scored_against_the_others():
    # 3 annotators on a 1 x 4 picture, one category: A1 = A2 = pixels 0-1, A3 = pixels 0-3.
    m = np.zeros((3, 3, 1, 4), dtype=bool)
    m[0, 1, 0, :2] = m[1, 1, 0, :2] = True
    m[2, 1, 0, :] = True
    rows = annotator_scores([AnnotatedImage("p.jpg", np.zeros((1, 1, 4), np.float32), m)])
    by = {r["annotator"]: r["iou"] for r in rows}
    # consensus of A2, A3 (at least 1 of 2) = pixels 0-3 -> A1 scores 2/4; same for A2;
    # consensus of A1, A2 = pixels 0-1 -> A3 scores 2/4.
    assert by == {1: 0.5, 2: 0.5, 3: 0.5}


def test_folds_are_balanced_disjoint_and_seeded():
    names = [f"im{i:02d}.jpg" for i in range(20)]
    a = fold_assignment(names, folds=5, seed=0)
    assert sorted(a) == sorted(names)
    assert sorted(list(a.values()).count(f) for f in range(1, 6)) == [4] * 5
    assert a == fold_assignment(list(reversed(names)), folds=5, seed=0)
    assert a != fold_assignment(names, folds=5, seed=1)
    with pytest.raises(ValueError, match="folds"):
        fold_assignment(names, folds=1)

"""COCO box metrics on hand-made boxes (spacejunk.evaluate.coco)."""

import math

import pytest

from spacejunk.evaluate.coco import box_iou, coco_scores, match_detections
from spacejunk.io import Artifact


def art(box, *, score=1.0, category="ghost", image="a"):
    x0, y0, x1, y1 = box
    return Artifact(image, (x0 + x1) / 2, (y0 + y1) / 2, 1.0, x0, y0, x1, y1, score, category)


def test_perfect_detections_score_one():
    truth = [art((0, 0, 10, 10)), art((20, 20, 60, 30), category="satellite"), art((5, 5, 9, 9), image="b")]
    dets = [art(a.box, score=0.9, category=a.category, image=a.image) for a in truth]
    s = coco_scores(truth, dets)
    assert s.ap == pytest.approx(1.0) and s.ap50 == pytest.approx(1.0) and s.ar100 == pytest.approx(1.0)
    assert s.per_category["satellite"]["ap"] == pytest.approx(1.0)
    assert s.n_images == 2 and s.n_truth == 3 and s.n_detections == 3


def test_half_overlapping_box_has_known_ap():
    # IoU exactly 0.5: a match at threshold 0.50 only, 1 of the 10 COCO thresholds
    truth = [art((0, 0, 10, 10))]
    dets = [art((0, 0, 10, 20), score=0.8)]
    assert box_iou([dets[0].box], [truth[0].box])[0, 0] == pytest.approx(0.5)
    s = coco_scores(truth, dets)
    assert s.ap50 == pytest.approx(1.0)
    assert s.ap75 == pytest.approx(0.0)
    assert s.ap == pytest.approx(0.1)
    assert s.ar100 == pytest.approx(0.1)


def test_wrong_category_misses_unless_agnostic():
    truth = [art((0, 0, 10, 10))]
    dets = [art((0, 0, 10, 10), score=0.8, category="satellite")]
    assert coco_scores(truth, dets).ap == pytest.approx(0.0)
    assert coco_scores(truth, dets, class_agnostic=True).ap == pytest.approx(1.0)


def test_false_positive_ranked_first_halves_precision():
    # one truth, two detections: the better-scored one is a false positive. Precision at
    # recall 1 is 1/2, so AP50 is 0.5 (101-point interpolation: p = 0.5 at every recall).
    truth = [art((0, 0, 10, 10))]
    dets = [art((50, 50, 60, 60), score=0.9), art((0, 0, 10, 10), score=0.5)]
    s = coco_scores(truth, dets)
    assert s.ap50 == pytest.approx(0.5)
    assert s.ar100 == pytest.approx(1.0)


def test_missed_box_halves_recall_and_clean_image_counts():
    truth = {"a": [art((0, 0, 10, 10)), art((30, 30, 40, 40))], "clean": []}
    dets = {"a": [art((0, 0, 10, 10), score=0.9)], "clean": [art((0, 0, 5, 5), score=0.95, image="clean")]}
    s = coco_scores(truth, dets)
    assert s.ar100 == pytest.approx(0.5)
    assert s.n_images == 2
    # the false positive on the clean image outranks the hit: precision 1/2 up to recall 1/2
    assert s.ap50 == pytest.approx(0.5 * 51 / 101)


def test_no_truth_gives_nan():
    s = coco_scores([], [art((0, 0, 1, 1))])
    assert math.isnan(s.ap) and math.isnan(s.ar100)


def test_match_detections_splits_tp_fp_fn():
    truth = [art((0, 0, 10, 10)), art((30, 30, 40, 40))]
    dets = [art((1, 1, 10, 10), score=0.9), art((100, 100, 110, 110), score=0.5)]
    tps, fps, fns = match_detections(truth, dets)
    assert [t.box for _, t in tps] == [truth[0].box]
    assert fps == [dets[1]] and fns == [truth[1]]


def test_operating_point_counts_only_detections_at_the_threshold():
    from spacejunk.evaluate.detector import operating_point

    truth = {"a": [art((0, 0, 10, 10)), art((30, 30, 40, 40), category="satellite")], "clean": []}
    dets = {
        "a": [art((0, 0, 10, 10), score=0.9),                        # a hit
              art((30, 30, 40, 40), score=0.7),                      # the right place, the wrong name
              art((0, 0, 10, 10), score=0.2, category="satellite")],  # under the threshold
        "clean": [art((0, 0, 5, 5), score=0.6, image="clean")],      # false
    }
    point = operating_point(truth, dets, 0.5)
    assert point["n_detections"] == 3 and point["n_truth"] == 2 and point["tp"] == 1
    assert point["precision"] == pytest.approx(1 / 3) and point["recall"] == pytest.approx(1 / 2)
    assert point["precision_agnostic"] == pytest.approx(2 / 3) and point["recall_agnostic"] == pytest.approx(1.0)
    low = operating_point(truth, dets, 0.1)  # the low "satellite" counts now, but lies on the ghost: false
    assert low["n_detections"] == 4 and low["tp"] == 1 and low["precision"] == pytest.approx(1 / 4)
    none = operating_point({"clean": []}, {"clean": []}, 0.5)
    assert none["precision"] is None and none["recall"] is None

import json
import math

import numpy as np
import pytest
import torch

from spacejunk.evaluate.classifier import (
    average_precision,
    evaluate_classifier,
    precision_recall_curve,
    roc_auc,
    roc_curve,
    threshold_for_recall,
    tile_metrics,
    write_classifier_report,
)
from spacejunk.models import build_model
from spacejunk.models.classifier import ARCH
from spacejunk.simulate import simulate_dataset

LABELS = np.array([1, 1, 0, 1, 0, 0, 1, 0], bool)
SCORES = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2])


def test_confusion_at_a_threshold():
    m = tile_metrics(LABELS, SCORES, 0.55)
    assert (m["tp"], m["fp"], m["fn"], m["tn"]) == (3, 1, 1, 3)
    assert m["recall"] == 0.75 and m["precision"] == 0.75 and m["false_positive_rate"] == 0.25
    assert m["accuracy"] == 0.75
    assert tile_metrics(LABELS, SCORES, 0.95)["precision"] == 1.0  # nothing called positive
    assert math.isnan(tile_metrics([0, 0], [0.1, 0.2], 0.5)["recall"])


def test_curves_and_areas():
    fpr, tpr, thr = roc_curve(LABELS, SCORES)
    np.testing.assert_allclose(fpr, [0, 0, 0, .25, .25, .5, .75, .75, 1])
    np.testing.assert_allclose(tpr, [0, .25, .5, .5, .75, .75, .75, 1, 1])
    assert thr[0] == np.inf
    # 16 positive-negative pairs, 12 ordered correctly
    assert roc_auc(LABELS, SCORES) == pytest.approx(12 / 16)
    precision, recall, _ = precision_recall_curve(LABELS, SCORES)
    np.testing.assert_allclose(recall, [.25, .5, .5, .75, .75, .75, 1, 1])
    # AP = 0.25 * (1 + 1 + 3/4 + 4/7)
    assert average_precision(LABELS, SCORES) == pytest.approx(0.25 * (1 + 1 + 0.75 + 4 / 7))
    assert roc_auc([1, 1], [0.2, 0.3]) != roc_auc([1, 1], [0.2, 0.3])  # NaN without negatives


def test_ties_count_half():
    assert roc_auc([1, 0], [0.5, 0.5]) == pytest.approx(0.5)


def test_threshold_for_recall():
    assert threshold_for_recall(LABELS, SCORES, 0.75) == 0.6
    assert threshold_for_recall(LABELS, SCORES, 0.76) == 0.3
    assert threshold_for_recall(LABELS, SCORES, 1.0) == 0.3
    assert tile_metrics(LABELS, SCORES, threshold_for_recall(LABELS, SCORES, 0.5))["recall"] >= 0.5
    assert math.isnan(threshold_for_recall([0, 0], [0.1, 0.2], 0.9))
    with pytest.raises(ValueError, match="target must be in"):
        threshold_for_recall(LABELS, SCORES, 0.0)
    with pytest.raises(ValueError, match="same length"):
        tile_metrics([1, 0], [0.5], 0.5)


def test_summary_reports_the_curves_operating_points():
    from spacejunk.evaluate.classifier import _summary

    m = _summary(LABELS, SCORES, 0.55, 0.95)
    # every recall above 3/4 needs the 4th positive (0.3): 4 of the 7 tiles above it
    assert m["precision_at_recall"] == pytest.approx({"0.80": 4 / 7, "0.90": 4 / 7, "0.95": 4 / 7})
    # precision >= 0.80 holds down to 0.8 (recall 2/4); at 0.6 it is 3/4
    assert m["recall_at_precision_0.80"] == 0.5
    assert m["precision_at_target_recall"] == pytest.approx(4 / 7) and m["threshold_for_target_recall"] == 0.3
    none = _summary(np.zeros(3, bool), np.array([0.1, 0.5, 0.9]), 0.5, 0.95)
    assert math.isnan(none["precision_at_recall"]["0.95"]) and none["recall_at_precision_0.80"] == 0.0


def test_evaluate_a_model_on_a_folder_and_write_the_report(tmp_path):
    simulate_dataset(tmp_path / "d", n=2, seed=11, shape=(400, 300), quiet=True)
    torch.manual_seed(0)
    model = build_model(ARCH, bands=("g", "r", "i"), widths=(8, 8, 8, 8), blocks=(0, 0, 0), hidden=8).eval()
    meta = {"task": "classifier", "bands": ["g", "r", "i"], "tile": 200, "threshold": 0.5, "context_bin": 16,
            "min_fraction": 0.01}
    ev = evaluate_classifier(tmp_path / "d", model=model, meta=meta, quiet=True)
    assert len(ev.scores) == 2 * 4 and ev.grid.shape == (8, 4)
    m = ev.metrics
    assert m["n_tiles"] == 8 and m["n_images"] == 2 and m["n_positive"] == int(ev.labels.sum())
    assert m["tp"] + m["fn"] == m["n_positive"] and m["bands"] == ["g", "r", "i"]
    for cat, v in m["per_category"].items():
        assert v["n_positive"] <= m["n_positive"]
    files = write_classifier_report(ev, tmp_path / "out")
    assert all(p.is_file() for p in files.values())
    saved = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert saved["n_tiles"] == 8 and "roc_auc" in saved and "per_image" in saved
    assert set(saved["precision_at_recall"]) == {"0.80", "0.90", "0.95"} and "recall_at_precision_0.80" in saved
    assert (tmp_path / "out" / "roc.png").read_bytes()[:4] == b"\x89PNG"
    two = evaluate_classifier(tmp_path / "d", model=model, meta=meta, bands=("g", "r"), quiet=True)
    assert two.metrics["bands"] == ["g", "r"]

"""The detector's region namer (spacejunk.predict.namer, spacejunk.train.namer)."""

import numpy as np
import pytest
import torch

from spacejunk.categories import CATEGORIES
from spacejunk.io import Artifact
from spacejunk.models.detector import SegmentationDetector
from spacejunk.predict.detector import detect_array
from spacejunk.predict.namer import FEATURES, NONE, _feature_names, namer_from_meta, region_features
from spacejunk.train.namer import fit_namer, image_regions

GHOST = CATEGORIES.index("ghost")
VIEW = ["ghost", "bright-arc"]


def _feature(feats, name, view=VIEW, n_bands=3):
    return feats[:, _feature_names(view, n_bands).index(name)]


def test_region_features_measure_shape_place_and_contrast():
    prob = np.zeros((2, 64, 32), np.float32)
    prob[0, 10:50, 0:2] = 0.8                   # a tall thin region on the left edge
    prob[1, 5:9, 20:28] = 0.9                   # a small wide one, arc probability
    image = np.zeros((3, 64, 32), np.float32)
    image[:, 10:50, 0:2] = np.array([1.0, 2.0, 5.0])[:, None, None]
    boxes = np.array([[0, 10, 2, 50], [20, 5, 28, 9]], float)
    feats = region_features(prob, image, boxes, np.array([0, 1]), np.array([0.8, 0.9]), scale=8)
    assert feats.shape == (2, len(_feature_names(VIEW, 3)))
    assert _feature(feats, "log_width") == pytest.approx(np.log10([16, 64]))
    assert _feature(feats, "log_height") == pytest.approx(np.log10([320, 32]))
    assert _feature(feats, "vertical")[0] == pytest.approx(1.0, abs=1e-3)
    assert _feature(feats, "elongation")[0] > 2.0
    assert list(_feature(feats, "edge_left")) == [1.0, 0.0]
    assert list(_feature(feats, "label_ghost")) == [1.0, 0.0]
    assert list(_feature(feats, "label_bright-arc")) == [0.0, 1.0]
    assert _feature(feats, "prob_mean_ghost")[0] == pytest.approx(0.8)
    # contrast per band against the ring around the box (the sky is 0): 1, 2 and 5
    assert [_feature(feats, f"contrast_{k}")[0] for k in range(3)] == pytest.approx([1.0, 2.0, 5.0])
    assert [_feature(feats, f"colour_{k}")[0] for k in range(3)] == pytest.approx([0.125, 0.25, 0.625])
    assert _feature(feats, "contrast_mean")[1] == pytest.approx(0.0)


def _toy(n=1000, seed=0):
    """Features where 'fill' says ghost (low) or bright-arc (high), and 'score' below 0.3 says none."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, len(_feature_names(VIEW, 3)))).astype(np.float32)
    fill, score = FEATURES.index("fill"), FEATURES.index("score")
    names = np.where(x[:, fill] > 0, "bright-arc", "ghost").astype(object)
    names[x[:, score] < -0.5] = NONE
    return x, list(names)


def test_fit_namer_learns_a_separable_naming():
    x, names = _toy()
    classes = ["ghost", "bright-arc", NONE]
    namer, loss = fit_namer(x, names, classes, epochs=300, seed=0)
    xt, truth = _toy(seed=1)
    pred = [classes[i] for i in namer.probabilities(xt).argmax(axis=1)]
    assert np.mean([p == t for p, t in zip(pred, truth)]) > 0.85
    assert loss < 0.3


class _Blob(SegmentationDetector):
    """Probability of 'ghost' = 0.9 where band 0 > 4."""

    def logits(self, x):
        z = torch.full((x.shape[0], self.num_classes - 1, *x.shape[-2:]), -30.0)
        z[:, GHOST] = torch.where(x[:, 0] > 4, torch.tensor(float(np.log(9.0))), torch.tensor(-30.0))
        return z


def _meta_with_namer(label: str, *, ghost_logit: float = 0.0, second_fraction: float = 0.5):
    """A detector meta whose whole-image view has a namer that calls every region ``label``
    (logit 5; ``ghost_logit`` for a ghost, 0 for the rest)."""
    view = ["ghost", "bright-arc"]
    n = len(_feature_names(view, 3))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, n)).astype(np.float32)
    namer, _ = fit_namer(x, [label] * 20 + ["ghost"] * 10 + [NONE] * 10, ["ghost", "bright-arc", NONE],
                         epochs=5, seed=0)
    with torch.no_grad():  # whatever the features: the last layer decides alone
        last = namer.net[-1]
        last.weight.zero_()
        last.bias.copy_(torch.tensor([5.0 if c == label else ghost_logit if c == "ghost" else 0.0
                                      for c in ["ghost", "bright-arc", NONE]]))
    meta = {"bands": ["g", "r", "i"], "classes": list(CATEGORIES), "threshold": 0.5,
            "views": [{"bin": 2, "tile": None, "overlap": 0, "categories": view}]}
    meta["namer"] = namer.to_meta(feature_names=_feature_names(view, 3), view_classes=view, second_fraction=second_fraction,
                                  min_score=0.05)
    return meta


def _image():
    img = np.zeros((3, 96, 64), np.float32)
    img[0, 20:60, 10:40] = 5.0
    return img


def test_namer_renames_rescores_and_drops_regions():
    model = _Blob(n_bands=3, base_channels=2, depth=1, min_area_px=1).eval()
    arts = detect_array(_image(), bands=["g", "r", "i"], model=model, meta=_meta_with_namer("bright-arc"))
    assert [(a.category, a.box) for a in arts] == [("bright-arc", (10.0, 20.0, 40.0, 60.0))]
    p = (np.exp(5.0) + 1) / (np.exp(5.0) + 2)
    assert arts[0].score == pytest.approx(p, abs=1e-4)  # 1 - P(none)
    # the network's own name and score without the namer
    plain = detect_array(_image(), bands=["g", "r", "i"], model=model, meta=_meta_with_namer("bright-arc"),
                         use_namer=False)
    assert [(a.category, round(a.score, 3)) for a in plain] == [("ghost", 0.9)]
    # a namer that calls it nothing drops it
    assert detect_array(_image(), bands=["g", "r", "i"], model=model, meta=_meta_with_namer(NONE)) == []


def test_namer_meta_round_trip_and_view_check(tmp_path):
    meta = _meta_with_namer("bright-arc")
    torch.save({"meta": meta}, tmp_path / "m.pt")
    loaded = torch.load(tmp_path / "m.pt", weights_only=True)["meta"]
    namer = namer_from_meta(loaded)
    assert namer.model.classes == ["ghost", "bright-arc", NONE]
    assert namer_from_meta({"bands": ["g"]}) is None
    model = _Blob(n_bands=3, base_channels=2, depth=1, min_area_px=1).eval()
    wrong = dict(meta, views=[{"bin": 2, "tile": None, "overlap": 0, "categories": ["ghost"]}])
    with pytest.raises(ValueError, match="namer was trained on maps"):
        detect_array(_image(), bands=["g", "r", "i"], model=model, meta=wrong)


def test_image_regions_names_regions_by_their_truth():
    from spacejunk.io import Exposure

    model = _Blob(n_bands=3, base_channels=2, depth=1, min_area_px=1).eval()
    meta = _meta_with_namer("bright-arc")
    meta["normalisation"] = {"stretch": "linear", "softening": 5.0, "clip": None, "mask_bits": 0}
    rng = np.random.default_rng(0)
    sci = rng.normal(100, 1, (3, 96, 64)).astype(np.float32)
    sci[0, 20:60, 10:40] += 50
    sci[0, 70:80, 50:60] += 50
    exposure = Exposure("e", ("g", "r", "i"), sci, np.zeros(sci.shape, np.int32), np.ones(sci.shape, np.float32))
    truth = [Artifact("e", 25, 40, 25, 10, 20, 40, 60, 1.0, "bright-arc")]
    feats, names, view = image_regions(model, meta, exposure, truth)
    assert view == ["ghost", "bright-arc"]
    assert feats.shape == (2, len(_feature_names(view, 3)))
    assert sorted(names) == ["bright-arc", NONE]
    feats, names, view = image_regions(model, meta, exposure, truth, min_side_px=20)  # the 10 x 10 px one goes
    assert names == ["bright-arc"]


def test_the_namers_second_choice_adds_a_box_from_second_fraction_up():
    model = _Blob(n_bands=3, base_channels=2, depth=1, min_area_px=1).eval()

    def named(fraction):
        meta = _meta_with_namer("bright-arc", ghost_logit=3.0, second_fraction=fraction)
        return [(a.category, round(a.score, 4)) for a in detect_array(_image(), bands=["g", "r", "i"], model=model,
                                                                     meta=meta, threshold=0.05)]

    p_arc, p_ghost, p_none = np.exp([5.0, 3.0, 0.0]) / np.exp([5.0, 3.0, 0.0]).sum()
    assert named(0.5) == [("bright-arc", round(1 - p_none, 4))]  # the ghost is e^-2 = 0.14 as probable
    # the second box scores the namer's probability of its name, not the first's score scaled
    assert named(0.1) == [("bright-arc", round(1 - p_none, 4)), ("ghost", round(p_ghost, 4))]

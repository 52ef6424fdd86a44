"""Detection on full images (spacejunk.predict.detector): tiles, views, stitching, bands."""

import warnings

import numpy as np
import pytest
import torch

from spacejunk import NoArtifactsWarning
from spacejunk.categories import CATEGORIES
from spacejunk.io import Exposure
from spacejunk.models.detector import SegmentationDetector
from spacejunk.predict.detector import detect_array, detect_exposure

K = CATEGORIES.index("satellite")


class _Pixelwise(SegmentationDetector):
    """Probability of 'satellite' = 0.9 where band 0 > 4 (no context: stitching must be exact)."""

    def logits(self, x):
        z = torch.full((x.shape[0], self.num_classes - 1, *x.shape[-2:]), -30.0)
        z[:, K] = torch.where(x[:, 0] > 4, torch.tensor(float(np.log(9.0))), torch.tensor(-30.0))  # p = 0.9
        return z


META = {"bands": ["g", "r", "i"], "classes": list(CATEGORIES), "threshold": 0.5,
        "views": [{"bin": 1, "tile": 64, "overlap": 16}]}


def _image(shape=(200, 150)):
    img = np.zeros((3,) + shape, np.float32)
    img[0, 30:34, 10:140] = 5.0     # a trail crossing several tile borders
    img[0, 100:180, 70:72] = 5.0    # a column crossing a horizontal border
    return img


def test_regions_cut_by_tiles_are_one_box_each():
    model = _Pixelwise(n_bands=3, base_channels=2, depth=1, min_area_px=4).eval()
    arts = detect_array(_image(), bands=["g", "r", "i"], model=model, meta=META, name="x")
    boxes = sorted(a.box for a in arts)
    assert boxes == [(10.0, 30.0, 140.0, 34.0), (70.0, 100.0, 72.0, 180.0)]
    assert all(a.category == "satellite" and a.score == pytest.approx(0.9, abs=1e-3) for a in arts)
    assert all(a.image == "x" for a in arts)


def test_binned_view_scales_boxes_back_and_categories_route():
    model = _Pixelwise(n_bands=3, base_channels=2, depth=1, min_area_px=1).eval()
    meta = dict(META, views=[{"bin": 2, "tile": None, "overlap": 0, "categories": ["satellite"]}])
    arts = detect_array(_image(), bands=["g", "r", "i"], model=model, meta=meta)
    assert sorted(a.box for a in arts) == [(10.0, 30.0, 140.0, 34.0), (70.0, 100.0, 72.0, 180.0)]
    meta = dict(META, views=[{"bin": 2, "tile": None, "overlap": 0, "categories": ["ghost"]}])
    assert detect_array(_image(), bands=["g", "r", "i"], model=model, meta=meta) == []


def test_subset_of_bands_and_threshold():
    model = _Pixelwise(n_bands=3, base_channels=2, depth=1).eval()
    img = _image()
    arts = detect_array(img[:1], bands=["g"], model=model, meta=META)  # r and i missing
    assert len(arts) == 2
    assert detect_array(img[:1], bands=["g"], model=model, meta=META, threshold=0.95) == []
    with pytest.raises(ValueError, match="none of the image's bands"):
        detect_array(img[:1], bands=["z"], model=model, meta=META)


def test_detect_exposure_normalises_and_warns_when_nothing_found():
    torch.manual_seed(0)
    model = _Pixelwise(n_bands=3, base_channels=2, depth=1).eval()
    rng = np.random.default_rng(0)
    sci = rng.normal(100, 5, (2, 128, 96)).astype(np.float32)
    exposure = Exposure("e", ("g", "r"), sci, np.zeros(sci.shape, np.int32), np.ones(sci.shape, np.float32))
    with pytest.warns(NoArtifactsWarning):
        assert detect_exposure(exposure, model=model, meta=META) == []
    sci[0, 50:54, 5:90] += 500  # a bright trail, far above the noise
    exposure = Exposure("e", ("g", "r"), sci, np.zeros(sci.shape, np.int32), np.ones(sci.shape, np.float32))
    with warnings.catch_warnings():
        warnings.simplefilter("error", NoArtifactsWarning)
        arts = detect_exposure(exposure, model=model, meta=META)
    assert [a.box for a in arts] == [(5.0, 50.0, 90.0, 54.0)]
    with pytest.raises(ValueError, match="meta is needed"):
        detect_exposure(exposure, model=model)


def test_box_detector_on_tiles_gives_no_duplicates():
    """A torchvision-style detector that reports the visible part of one trail on each tile."""
    truth = (20.0, 40.0, 180.0, 44.0)

    meta = dict(META, views=[{"bin": 1, "tile": 64, "overlap": 16}])
    from spacejunk.predict import detector as det

    class _Fake(torch.nn.Module):
        calls = 0

        def forward(self, images):
            return [self._one(im) for im in images]

        def _one(self, im):
            i = _Fake.calls
            _Fake.calls += 1
            x0, y0, x1, y1 = grid[i]
            b = [max(truth[0], x0) - x0, max(truth[1], y0) - y0, min(truth[2], x1) - x0, min(truth[3], y1) - y0]
            if b[2] <= b[0] or b[3] <= b[1]:
                return {"boxes": torch.zeros(0, 4), "scores": torch.zeros(0), "labels": torch.zeros(0, dtype=torch.int64)}
            return {"boxes": torch.tensor([b]), "scores": torch.tensor([0.8]), "labels": torch.tensor([K + 1])}

    from spacejunk.preprocess import tile_grid

    grid = tile_grid((100, 200), tile=64, overlap=16)
    arts = det.detect_array(np.zeros((3, 100, 200), np.float32), bands=["g", "r", "i"], model=_Fake(), meta=meta,
                            batch_size=3)
    assert [a.box for a in arts] == [truth]


def test_detections_on_desdm_flagged_bleed_trails_are_dropped():
    from spacejunk.categories import DESDM_BITS
    from spacejunk.io import Artifact
    from spacejunk.predict.detector import drop_flagged

    sci = np.zeros((2, 300, 200), np.float32)
    msk = np.zeros(sci.shape, np.int32)
    msk[1, 50:250, 100:106] = DESDM_BITS["SATURATE"] | DESDM_BITS["TRAIL"]   # a bleed trail in r only
    exposure = Exposure("e", ("g", "r"), sci, msk, np.ones(sci.shape, np.float32))

    def box(x0, y0, x1, y1):
        return Artifact(image="e", x=(x0 + x1) / 2, y=(y0 + y1) / 2, radius=10.0, xmin=x0, ymin=y0, xmax=x1,
                        ymax=y1, score=0.6, category="dark-halo")

    on_trail = box(100, 60, 106, 120)          # fully flagged
    half_on = box(97, 60, 106, 120)            # 6 of 9 columns flagged
    across = box(0, 0, 200, 300)               # a large artifact the trail crosses: 2 % flagged
    beside = box(120, 60, 130, 120)
    kept = drop_flagged([on_trail, half_on, across, beside], exposure)
    assert kept == [across, beside]
    assert drop_flagged([on_trail], exposure, max_fraction=1.01) == [on_trail]
    clean = Exposure("e", ("g", "r"), sci, np.zeros_like(msk), np.ones(sci.shape, np.float32))
    assert drop_flagged([on_trail, beside], clean) == [on_trail, beside]


def test_fan_sprays_and_the_networks_keep_the_better_of_an_overlapping_pair():
    from spacejunk.io import Artifact
    from spacejunk.predict.detector import _alongside

    def _with_fans(artifacts, fans, threshold):
        return _alongside(artifacts, fans, "bright-spray", threshold)

    box = (0.0, 0.0, 1000.0, 2000.0)
    own = Artifact.from_box("x", *box, score=0.9, category="bright-spray")
    ghost = Artifact.from_box("x", *box, score=0.8, category="ghost")
    weak_fan = Artifact.from_box("x", 10.0, 0.0, 1000.0, 2000.0, score=0.7, category="bright-spray")
    far_fan = Artifact.from_box("x", 1500.0, 3000.0, 2000.0, 4000.0, score=0.6, category="bright-spray")
    faint_fan = Artifact.from_box("x", 1500.0, 0.0, 2000.0, 900.0, score=0.4, category="bright-spray")
    out = _with_fans([own, ghost], [weak_fan, far_fan, faint_fan], threshold=0.5)
    assert out == [own, ghost, far_fan]  # the network's better spray stays, the fan under threshold goes
    strong_fan = Artifact.from_box("x", 10.0, 0.0, 1000.0, 2000.0, score=0.95, category="bright-spray")
    assert _with_fans([own, ghost], [strong_fan], threshold=0.5) == [strong_fan, ghost]
    assert _with_fans([ghost], [], threshold=0.5) == [ghost]
    # ghost discs join the network's ghosts the same way
    disc = Artifact.from_box("x", 0.0, 0.0, 1000.0, 1990.0, score=0.85, category="ghost")
    assert _alongside([own, ghost], [disc], "ghost", 0.5) == [own, disc]
    # as the detector calls it (found_box): the disc's box takes the place of the network's
    # ghost it overlaps, with the better of their scores; a ghost elsewhere stays
    weak_disc = Artifact.from_box("x", 0.0, 0.0, 1000.0, 1990.0, score=0.6, category="ghost")
    far_ghost = Artifact.from_box("x", 1500.0, 3000.0, 2000.0, 4000.0, score=0.7, category="ghost")
    out = _alongside([own, ghost, far_ghost], [weak_disc], "ghost", 0.5, found_box=True)
    assert [(a.box, a.score) for a in out] == [(own.box, 0.9), (weak_disc.box, 0.8), (far_ghost.box, 0.7)]
    assert _alongside([ghost], [disc], "ghost", 0.5, found_box=True) == [disc]
    assert _alongside([ghost], [weak_disc], "ghost", 0.7, found_box=True) == [ghost]  # under threshold
    assert Artifact.from_box("x", 0, 0, 30, 40).radius == 25.0


def test_brush_strokes_get_a_second_name_under_the_threshold():
    from spacejunk.io import Artifact
    from spacejunk.predict.detector import _second_names

    brush = Artifact.from_box("x", 100.0, 200.0, 500.0, 900.0, score=0.8, category="brush-strokes")
    faint = Artifact.from_box("x", 1000.0, 200.0, 1200.0, 900.0, score=0.4, category="brush-strokes")
    ghost = Artifact.from_box("x", 0.0, 0.0, 2048.0, 4096.0, score=0.9, category="ghost")
    out = _second_names([ghost, brush, faint], threshold=0.2)
    sprays = [a for a in out if a.category == "bright-spray"]
    assert [(a.box, round(a.score, 3)) for a in sprays] == [(brush.box, 0.36)]  # 0.4 * 0.45 < 0.2: none
    assert [a for a in out if a.category != "bright-spray"] == [ghost, brush, faint]
    assert max(a.score for a in sprays) < 0.5  # never reported at the default threshold
    # a spray already reported there keeps its place
    spray = Artifact.from_box("x", 100.0, 210.0, 500.0, 900.0, score=0.7, category="bright-spray")
    assert [a for a in _second_names([brush, spray], 0.2) if a.category == "bright-spray"] == [spray]
    assert _second_names([ghost], 0.2) == [ghost]


def test_trails_are_reported_under_the_other_trail_name_too():
    from spacejunk.io import Artifact
    from spacejunk.predict.detector import _second_names

    sat = Artifact.from_box("x", 0.0, 100.0, 2048.0, 900.0, score=0.8, category="satellite")
    plane = Artifact.from_box("x", 0.0, 2000.0, 2048.0, 2400.0, score=0.6, category="airplane")
    out = _second_names([sat, plane], threshold=0.05)
    seconds = sorted((a.category, a.box, round(a.score, 3)) for a in out if a not in (sat, plane))
    # copies of the artifacts given, not of each other's copies
    assert seconds == [("airplane", sat.box, 0.36), ("satellite", plane.box, 0.27)]
    assert max(s for *_, s in seconds) < 0.5  # never reported at the default threshold


def test_an_arc_inside_a_ghosts_box_is_scored_as_its_rim():
    from spacejunk.io import Artifact
    from spacejunk.predict.detector import _rims_of_ghosts

    ghost = Artifact.from_box("x", 0.0, 1000.0, 2048.0, 4096.0, score=0.7, category="ghost")
    rim = Artifact.from_box("x", 0.0, 1010.0, 2048.0, 3500.0, score=0.99, category="bright-arc")
    # 30 % inside the ghost's box: an arc beside it
    beside = Artifact.from_box("x", 0.0, 0.0, 1000.0, 1430.0, score=0.9, category="bright-arc")
    out = _rims_of_ghosts([rim, beside, ghost])
    assert [(a.category, a.box, round(a.score, 3)) for a in out] == [
        ("bright-arc", beside.box, 0.9), ("ghost", ghost.box, 0.7), ("bright-arc", rim.box, 0.297)]
    assert _rims_of_ghosts([rim, beside]) == [rim, beside]  # no ghost: unchanged

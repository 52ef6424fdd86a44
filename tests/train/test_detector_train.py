"""Training a detector (spacejunk.train.detector) on small simulated images."""

import json

import numpy as np
import pytest
import torch

from spacejunk.categories import CATEGORIES
from spacejunk.cli import main
from spacejunk.models import load_checkpoint
from spacejunk.simulate import simulate_dataset, simulate_image
from spacejunk.train.datasets import ImageRecord
from spacejunk.train.detector import (
    AUGMENTATIONS,
    NORMALISATION,
    DetectorTrainSettings,
    augment_sample,
    make_sample,
    train_detector,
)

TINY = {"base_channels": 4, "depth": 2}


def _record(seed, artifacts, shape=(256, 192)):
    sim = simulate_image(seed=seed, name=f"t{seed}", shape=shape, artifacts=artifacts)
    return ImageRecord(name=sim.exposure.name, bands=sim.exposure.bands, image=NORMALISATION.apply(sim.exposure),
                       mask=sim.truth_mask, artifacts=tuple(sim.artifacts), mask_source="truth")


@pytest.fixture(scope="module")
def records():
    return [_record(1, ["satellite", "cosmic-ray"]), _record(2, ["edge-bleed", "column-mask"]), _record(3, None)]


def test_make_sample_boxes_are_visible_parts(records):
    rec = records[0]
    data, planes, boxes, labels = make_sample(rec, (0, 0, 192, 128), scale=1, band_order=["g", "r", "z", "i"])
    assert data.shape == (4, 128, 192) and planes.shape == (len(CATEGORIES), 128, 192)
    assert not data[2].any()  # the band the image lacks is zeros
    np.testing.assert_array_equal(data[3], rec.image[rec.bands.index("i"), :128])
    for box, lab in zip(boxes, labels):  # each box is tight around its category's pixels
        x0, y0, x1, y1 = box.astype(int)
        plane = planes[lab - 1]
        assert plane[y0:y1, x0:x1].any(axis=0).all() and plane[y0:y1, x0:x1].any(axis=1).all()
    # a binned whole-image view has the boxes binned too
    data2, planes2, boxes2, labels2 = make_sample(rec, None, scale=4, band_order=list(rec.bands))
    assert data2.shape == (3, 64, 48)
    assert sorted(labels2) == sorted(CATEGORIES.index(a.category) + 1 for a in rec.artifacts)


@pytest.mark.parametrize("preset", list(AUGMENTATIONS))
def test_augmentation_moves_boxes_with_pixels(preset):
    rng = np.random.default_rng(0)
    planes = np.zeros((2, 40, 40), bool)
    planes[0, 5:9, 20:31] = True
    data = planes[:1].astype(np.float32)
    boxes = np.array([[20, 5, 31, 9]], np.float32)
    for _ in range(8):
        d, p, b = augment_sample(data, planes, boxes, preset=preset, rng=rng)
        x0, y0, x1, y1 = b[0].astype(int)
        ys, xs = np.nonzero(p[0])
        assert (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1) == (x0, y0, x1, y1)
    with pytest.raises(ValueError, match="unknown augmentation preset 'nope'"):
        augment_sample(data, planes, boxes, preset="nope", rng=rng)
    with pytest.raises(ValueError, match="unknown augmentation preset"):
        DetectorTrainSettings(data="d", out="o", augment="nope")


def test_tiny_detector_loss_falls_and_checkpoint_records_settings(records, tmp_path):
    settings = DetectorTrainSettings(data="unused", out=str(tmp_path / "d.pt"), arch="unet_boxes", config=TINY,
                                     epochs=3, steps_per_epoch=20, batch_size=2, lr=1e-2, tile=64, overlap=16,
                                     global_bin=2, global_fraction=0.3, augment="flips", seed=1, threads=1, quiet=True)
    path = train_detector(settings, images=records)
    model, meta = load_checkpoint(path)
    history = meta["history"]
    assert len(history) == 3
    bce = [h["loss_bce"] for h in history]
    assert bce[-1] < 0.8 * bce[0]
    assert meta["bands"] == ["g", "r", "i"] and meta["classes"] == list(CATEGORIES)
    assert meta["tile"] == 64 and meta["threshold"] == 0.5
    assert [{k: v for k, v in view.items() if k != "categories"} for view in meta["views"]] == [
        {"bin": 1, "tile": 64, "overlap": 16}, {"bin": 2, "tile": None, "overlap": 0}]
    tile_cats, whole_cats = (view["categories"] for view in meta["views"])
    assert set(tile_cats) | set(whole_cats) == set(CATEGORIES)
    assert meta["recipe"]["seed"] == 1 and meta["normalisation"]["mask_bits"] == 0


def test_whole_view_only_training_bins_images_as_read(records, tmp_path):
    settings = DetectorTrainSettings(data="unused", out=str(tmp_path / "w.pt"), arch="unet_boxes", config=TINY,
                                     epochs=3, steps_per_epoch=15, batch_size=2, lr=1e-2, global_bin=4,
                                     global_fraction=1.0, augment="flips", seed=2, threads=1, quiet=True)
    path = train_detector(settings, images=list(records))
    model, meta = load_checkpoint(path)
    assert meta["views"] == [{"bin": 4, "tile": None, "overlap": 0}]  # the whole-image view alone, every category
    bce = [h["loss_bce"] for h in meta["history"]]
    assert bce[-1] < 0.8 * bce[0]
    assert meta["n_train_images"] == 3 and meta["bands"] == ["g", "r", "i"]
    # it runs on a whole image at the view's binning
    out = model([torch.zeros(3, 64, 48)])
    assert set(out[0]) == {"boxes", "scores", "labels"}


def test_train_is_reproducible_with_a_seed(records, tmp_path):
    kw = dict(data="unused", arch="unet_boxes", config=TINY, epochs=1, steps_per_epoch=3, batch_size=2, tile=64, overlap=16,
              global_bin=0, seed=5, threads=1, quiet=True)
    a = load_checkpoint(train_detector(DetectorTrainSettings(out=str(tmp_path / "a.pt"), **kw), images=records))[1]
    b = load_checkpoint(train_detector(DetectorTrainSettings(out=str(tmp_path / "b.pt"), **kw), images=records))[1]
    assert a["history"] == b["history"]


def test_cli_train_evaluate_detect_round_trip(tmp_path):
    torch.set_num_threads(2)
    data = tmp_path / "data"
    simulate_dataset(data, n=2, seed=11, shape=(192, 128), quiet=True)
    model = tmp_path / "det.pt"
    assert main(["train", "detector", "--data", str(data), "--out", str(model), "--config", json.dumps(TINY),
                 "--epochs", "1", "--steps-per-epoch", "4", "--batch-size", "2", "--tile", "64", "--overlap", "16",
                 "--global-bin", "2", "--seed", "3", "-q"]) == 0
    out = tmp_path / "eval"
    assert main(["evaluate", "detector", "--model", str(model), "--data", str(data), "--out", str(out),
                 "--pictures", "1", "-q"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"AP", "AP50", "AR@100", "seconds_per_image", "per_category"} <= set(metrics)
    assert metrics["n_images"] == 2
    assert len(list(out.glob("*_matches.png"))) == 1
    assert (out / "artifacts.csv").is_file()
    assert main(["train", "detector", "--data", str(data), "--out", str(model), "--config", "{bad", "-q"]) == 1


def test_cli_train_names_bad_input(tmp_path, capsys):
    assert main(["train", "detector", "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "m.pt"),
                 "-q"]) == 1
    assert "data folder not found" in capsys.readouterr().err

"""Focal-plane mode end to end: masks, pictures, artifacts.csv, bad inputs, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from astropy.io import fits
from PIL import Image
from scipy import ndimage
from torch import nn

from spacejunk import NoArtifactsWarning
from spacejunk.cli import main
from spacejunk.focal_plane import (FocalPlaneModel, detect_focal_plane, load_focal_plane_model, mask_to_artifacts,
                                   network_logits, probabilities_to_mask, segment_focal_plane)
from spacejunk.io.outputs import read_artifacts
from spacejunk.predict.pupil_ghost import PupilGhostSettings
from spacejunk.models.ensemble import members_of
from spacejunk.models.registry import build_model
from spacejunk.train.focal_plane import FocalPlaneTrainConfig


class BrightIsGhost(nn.Module):
    """A stand-in network: 'any artifact' where the normalised picture is above 0.5, always a bright ghost."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        any_logit = (x - 0.5) * 40.0
        cats = torch.cat([torch.full_like(x, 5.0), torch.zeros_like(x), torch.zeros_like(x)], dim=1)
        return torch.cat([any_logit, cats], dim=1)


@pytest.fixture
def model():
    return FocalPlaneModel(network=BrightIsGhost(), input_size=32, threshold=0.5, radial_channel=False)


def _picture(path, *, blobs=((20, 30, 8),), size=64, seed=0):
    rng = np.random.default_rng(seed)
    img = 40 + rng.normal(0, 1.5, (size, size))
    yy, xx = np.mgrid[0:size, 0:size]
    for cx, cy, r in blobs:
        img[(xx - cx) ** 2 + (yy - cy) ** 2 <= r * r] = 250
    Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).convert("RGB").save(path)


def test_mask_to_artifacts_hand_made():
    mask = np.zeros((10, 12), dtype=np.uint8)
    mask[2:4, 1:5] = 1      # 8 px, centre (2.5, 2.5)
    mask[6:9, 8:11] = 3     # 9 px, centre (9, 7)
    prob = np.zeros((3, 10, 12), dtype=np.float32)
    prob[0][mask == 1] = 0.8
    prob[2][mask == 3] = 0.6
    prob[1][mask == 3] = 0.3
    arts = mask_to_artifacts(mask, prob, image="pic")
    assert [a.category for a in arts] == ["rays", "ghost-bright"]        # sorted by score: 0.9, 0.8
    rays, bright = arts
    assert (rays.x, rays.y, rays.box, rays.score) == (9.0, 7.0, (8.0, 6.0, 11.0, 9.0), pytest.approx(0.9))
    assert rays.radius == pytest.approx(np.sqrt(9 / np.pi))
    assert (bright.x, bright.y, bright.box) == (2.5, 2.5, (1.0, 2.0, 5.0, 4.0))
    assert mask_to_artifacts(np.zeros((4, 4), np.uint8), np.zeros((3, 4, 4)), image="x") == []


def test_one_category_per_region():
    prob = np.zeros((3, 6, 10), dtype=np.float32)
    prob[0, 1:5, 1:4] = 0.9          # region A: bright on 12 px ...
    prob[1, 1:3, 1:4] = 0.05
    prob[:, 1:3, 3] = [[0.2], [0.7], [0.0]]  # ... but 2 of them more likely faint: A stays bright
    prob[2, 2:4, 6:9] = 0.6          # region B: rays on 6 px, a little faint on 2 of them
    prob[1, 2, 6:8] = 0.65
    pixel = probabilities_to_mask(prob, threshold=0.5, per_region=False)
    assert set(np.unique(pixel[1:5, 1:4])) == {1, 2} and set(np.unique(pixel[2:4, 6:9])) == {2, 3}
    region = probabilities_to_mask(prob, threshold=0.5)
    assert np.array_equal(region > 0, pixel > 0)                       # the same pixels are marked
    assert set(np.unique(region[1:5, 1:4])) == {1} and set(np.unique(region[2:4, 6:9])) == {3}
    assert not probabilities_to_mask(np.zeros((3, 4, 4)), threshold=0.5).any()


def test_small_regions_are_dropped():
    prob = np.zeros((3, 20, 20), dtype=np.float32)
    prob[0, 2:8, 2:8] = 0.9          # 36 px = 0.09 of the picture
    prob[2, 15:17, 15:18] = 0.9      # 6 px = 0.015
    prob[1, 12, 2] = 0.9             # 1 px = 0.0025
    every = probabilities_to_mask(prob, threshold=0.5)
    assert (every > 0).sum() == 43 and set(np.unique(every)) == {0, 1, 2, 3}
    assert np.array_equal(probabilities_to_mask(prob, threshold=0.5, min_area=0.0025), every)  # at the limit: kept
    mid = probabilities_to_mask(prob, threshold=0.5, min_area=0.01)
    assert (mid > 0).sum() == 42 and set(np.unique(mid)) == {0, 1, 3}
    big = probabilities_to_mask(prob, threshold=0.5, min_area=0.05)
    assert np.array_equal(big > 0, prob[0] > 0.5) and set(np.unique(big)) == {0, 1}
    ring = np.zeros((3, 20, 20), dtype=np.float32)
    ring[0, 5:12, 5:12] = 0.9
    ring[0, 7:10, 7:10] = 0.0        # 40 px outline, 49 px once its hole is filled
    assert (probabilities_to_mask(ring, threshold=0.5, fill_holes=True, min_area=45 / 400) > 0).sum() == 49
    assert not probabilities_to_mask(ring, threshold=0.5, min_area=45 / 400).any()
    with pytest.raises(ValueError, match="min_area"):
        probabilities_to_mask(prob, threshold=0.5, min_area=1.5)


def test_segment_finds_the_blob_at_full_size(tmp_path, model):
    _picture(tmp_path / "p.png")
    img = np.asarray(Image.open(tmp_path / "p.png").convert("RGB"), dtype=np.float32).transpose(2, 0, 1)
    prob, mask = segment_focal_plane(img, model=model)
    assert prob.shape == (3, 64, 64) and mask.shape == (64, 64)
    truth = np.zeros((64, 64), bool)
    yy, xx = np.mgrid[0:64, 0:64]
    truth[(xx - 20) ** 2 + (yy - 30) ** 2 <= 64] = True
    assert set(np.unique(mask)) == {0, 1}
    assert ((mask > 0) & truth).sum() / ((mask > 0) | truth).sum() > 0.8   # IoU after the 32 -> 64 upsampling
    _, strict = segment_focal_plane(img, model=model, threshold=0.99)
    assert 0 < (strict > 0).sum() < (mask > 0).sum() and not np.any((strict > 0) & (mask == 0))


def test_detect_batch_reports_bad_inputs_and_goes_on(tmp_path, model):
    pics = tmp_path / "in"
    pics.mkdir()
    _picture(pics / "a.png", blobs=((20, 30, 8), (48, 48, 6)))
    _picture(pics / "b.jpg", blobs=((40, 20, 7),), seed=1)
    good = pics / "full.jpg"
    _picture(good, seed=2)
    raw = good.read_bytes()
    (pics / "cut.jpg").write_bytes(raw[: len(raw) // 3])
    good.unlink()
    fits.PrimaryHDU(np.zeros((3, 8, 8), dtype=np.float32)).writeto(pics / "cube.fits")
    out = tmp_path / "out"
    summary = detect_focal_plane([pics, tmp_path / "missing.png"], out, model=model, quiet=True)
    assert (summary["done"], summary["failed"], summary["skipped"]) == (2, 3, 0)
    reasons = {e["path"].split("/")[-1]: e["reason"] for e in summary["errors"]}
    assert set(reasons) == {"cut.jpg", "cube.fits", "missing.png"}
    assert "truncated" in reasons["cut.jpg"] and "2-D" in reasons["cube.fits"] and "not found" in reasons["missing.png"]

    mask_a = np.asarray(Image.open(out / "a_mask.png"))
    assert mask_a.shape == (64, 64) and mask_a.dtype == np.uint8 and set(np.unique(mask_a)) == {0, 1}
    assert Image.open(out / "a.png").size == (64, 64) and (out / "b.png").exists()
    rows = read_artifacts(out / "artifacts.csv")
    assert summary["artifacts"] == len(rows) == 3
    a_rows = sorted((r for r in rows if r.image == "a"), key=lambda r: r.x)
    assert [r.category for r in a_rows] == ["ghost-bright"] * 2
    assert a_rows[0].x == pytest.approx(20, abs=1) and a_rows[0].y == pytest.approx(30, abs=1)
    assert a_rows[1].x == pytest.approx(48, abs=1) and a_rows[0].radius == pytest.approx(8, abs=1.5)
    assert all(0.5 <= r.score <= 1 for r in rows)
    assert not list(out.glob(".*.part"))

    again = detect_focal_plane([pics / "a.png", pics / "b.jpg"], out, model=model, quiet=True)
    assert (again["done"], again["skipped"], again["failed"]) == (0, 2, 0)
    assert len(read_artifacts(out / "artifacts.csv")) == 3                 # rows of skipped pictures kept
    redo = detect_focal_plane([pics / "b.jpg"], out, model=model, overwrite=True, quiet=True, write_png=False)
    assert redo["done"] == 1 and len(read_artifacts(out / "artifacts.csv")) == 3
    # The 6 px-radius blob of a.png covers 113 / 4096 = 2.8 % of it, the 8 px one 4.9 %.
    fewer = detect_focal_plane([pics / "a.png"], out, model=model, overwrite=True, quiet=True, min_area=0.04)
    assert fewer["artifacts"] == 1
    a_rows = [r for r in read_artifacts(out / "artifacts.csv") if r.image == "a"]
    assert len(a_rows) == 1 and a_rows[0].x == pytest.approx(20, abs=1)
    assert not np.asarray(Image.open(out / "a_mask.png"))[40:56, 40:56].any()


def test_nothing_found_warns(tmp_path, model):
    _picture(tmp_path / "clean.png", blobs=())
    with pytest.warns(NoArtifactsWarning):
        s = detect_focal_plane([tmp_path / "clean.png"], tmp_path / "o", model=model, quiet=True)
    assert s["done"] == 1 and not np.asarray(Image.open(tmp_path / "o" / "clean_mask.png")).any()
    assert read_artifacts(tmp_path / "o" / "artifacts.csv") == []


def test_load_rejects_non_focal_plane_checkpoints(tmp_path):
    from spacejunk import InputError
    from spacejunk.models.registry import save_checkpoint

    net = build_model("unet", in_channels=1, out_channels=4, base_channels=2, depth=1)
    save_checkpoint(tmp_path / "other.pt", net, arch="unet",
                    config=dict(in_channels=1, out_channels=4, base_channels=2, depth=1), meta={"task": "tiles"})
    with pytest.raises(InputError, match="not a focal-plane model"):
        load_focal_plane_model(tmp_path / "other.pt")


@pytest.fixture
def tiny_des_ghosts(tmp_path):
    """A DeepGhostBusters-like folder: 3 pictures, 2 annotators, 1 single-annotator label set."""
    root = tmp_path / "des-ghosts"
    (root / "common_core" / "images").mkdir(parents=True)
    for i in range(3):
        _picture(root / "common_core" / "images" / f"G{i}.jpg", blobs=((20 + 10 * i, 30, 8),), seed=i)
    for k in (1, 2):
        meta = {f"G{i}.jpg": {"filename": f"G{i}.jpg", "regions": [
            {"shape_attributes": {"name": "circle", "cx": 20 + 10 * i, "cy": 30, "r": 8 + k},
             "region_attributes": {"Type": "Bright"}}]} for i in range(3)}
        (root / "common_core" / f"annotator_{k}.json").write_text(json.dumps({"_via_img_metadata": meta}))
    single = {"x": {"filename": "x.jpg", "regions": [{"shape_attributes": {"name": "circle", "cx": 200, "cy": 200,
                                                                          "r": 30}, "region_attributes": {"Type": "Faint"}}]}}
    (root / "single_annotator_regions.json").write_text(json.dumps({"_via_img_metadata": single}))
    return root


@pytest.mark.filterwarnings("ignore::spacejunk.NoArtifactsWarning")
def test_cli_train_evaluate_detect(tmp_path, tiny_des_ghosts):
    torch.set_num_threads(2)
    ckpt = tmp_path / "fp.pt"
    opts = ["--data", str(tiny_des_ghosts), "--steps", "2", "--pretrain-steps", "1", "--n-sim", "2",
            "--input-size", "32", "--base-channels", "4", "-q"]
    assert main(["train", "focal-plane", "--out", str(ckpt), "--folds", "1/3", *opts]) == 0
    model = load_focal_plane_model(ckpt)
    assert model.min_area == FocalPlaneTrainConfig().min_area
    assert len(model.meta["real_images"]) == 2 and model.meta["recipe"]["steps"] == 2
    assert model.meta["init"]["real_images"] == [] and model.meta["init"]["recipe"]["steps"] == 1  # pre-trained
    assert len(members_of(model.network)) == FocalPlaneTrainConfig().members  # each from the one pre-trained network
    # no picture holds a pupil ghost, no large circle in the label sets: the finder's defaults
    assert model.pupil == PupilGhostSettings()
    plain = tmp_path / "plain.pt"
    assert model.strokes is not None and model.strokes.density in (0.03, 0.04, 0.05, 0.06, 0.08, 0.10, 0.12, 0.15)
    assert main(["train", "focal-plane", "--out", str(plain), *opts, "--pretrain-steps", "0", "--no-pupil-ghosts",
                 "--no-strokes"]) == 0
    assert load_focal_plane_model(plain).pupil is None and load_focal_plane_model(plain).strokes is None
    report = tmp_path / "table.md"
    assert main(["evaluate", "focal-plane", "--model", str(ckpt), "--out", str(report), *opts]) == 0
    text = report.read_text()
    assert "| image | model | A1 | A2 | annotators' median |" in text and "| G0.jpg |" in text
    figures = json.loads(report.with_suffix(".json").read_text())
    assert len(figures["rows"]) == 3 and len(figures["annotator_rows"]) == 6
    pics = tiny_des_ghosts / "common_core" / "images"
    status = main(["detect", "--mode", "focal-plane", "--model", str(ckpt), "--out", str(tmp_path / "o"),
                   str(pics / "G0.jpg"), str(tmp_path / "absent.jpg"), "-q"])
    assert status == 1                                                      # one picture failed
    assert (tmp_path / "o" / "G0_mask.png").exists() and (tmp_path / "o" / "artifacts.csv").exists()
    assert main(["detect", "--mode", "focal-plane", "--model", str(ckpt), "--out", str(tmp_path / "o2"),
                 "--min-area", "0.99", str(pics / "G0.jpg"), "-q"]) == 0
    before = np.asarray(Image.open(tmp_path / "o" / "G0_mask.png"))
    kept = np.zeros(before.shape, dtype=bool)
    for code in (1, 2, 3):   # a region: connected pixels of one code (a pupil ghost's disc is one of its own)
        labels, _ = ndimage.label(before == code, structure=np.ones((3, 3)))
        sizes = np.bincount(labels.ravel())
        kept |= (labels > 0) & (sizes[labels] >= 0.99 * before.size)        # only a region covering 99 % stays
    assert np.array_equal(np.asarray(Image.open(tmp_path / "o2" / "G0_mask.png")) > 0, kept)
    assert main(["detect", "--mode", "focal-plane", "--out", str(tmp_path / "o3"), "--min-area", "1",
                 str(pics / "G0.jpg"), "-q"]) == 1
    assert main(["detect", "--out", str(tmp_path / "o3"), "--min-area", "0.1", str(pics / "G0.jpg"), "-q"]) == 1
    assert not (tmp_path / "o3").exists()
    assert main(["train", "focal-plane", "--out", str(ckpt), "--real-images", "nope.jpg", *opts]) == 1


class LeftColumns(nn.Module):
    """A stand-in network that marks the picture's 2 leftmost columns whatever it sees, and
    passes its input through as the other channel."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        left = torch.zeros_like(x)
        left[..., :2] = 8.0
        return torch.cat([left, x], dim=1)


def test_network_logits_average_over_flips_and_quarter_turns():
    x = torch.arange(36.0).reshape(1, 1, 6, 6)
    one, two, eight = (network_logits(LeftColumns(), x, views=v) for v in (1, 2, 8))
    assert one[0, 0, :, :2].eq(8).all() and one[0, 0, :, 2:].eq(0).all()
    assert two[0, 0, :, :2].eq(4).all() and two[0, 0, :, -2:].eq(4).all() and two[0, 0, :, 2:4].eq(0).all()
    # every view marks two columns or two rows at one side: 8 views, each edge strip twice
    assert eight[0, 0, 2:4, :2].eq(2).all() and eight[0, 0, 2:4, 2:4].eq(0).all()
    assert eight[0, 0, 0, 0] == pytest.approx(4.0)   # a corner lies in a row strip and a column strip
    for out in (one, two, eight):                    # what the network passes through is turned back
        assert torch.equal(out[:, 1:], x)
    with pytest.raises(ValueError, match="views"):
        network_logits(LeftColumns(), x, views=4)
    with pytest.raises(ValueError, match="views"):
        FocalPlaneModel(network=LeftColumns(), views=3)


def test_shipped_model_loads():
    model = load_focal_plane_model()
    assert model.meta["task"] == "focal-plane" and model.input_size >= 64
    assert model.meta["codes"] == {"ghost-bright": 1, "ghost-faint": 2, "rays": 3}
    assert len(members_of(model.network)) == FocalPlaneTrainConfig().members  # trained with today's default
    # The shipped model carries the cross-validation figures that docs/focal-plane.md shows.
    docs = json.loads((Path(__file__).parents[1] / "docs" / "focal-plane-cv.json").read_text())
    assert model.meta["cv"]["median_iou"] == pytest.approx(docs["summary"]["iou"])
    assert model.meta["cv"]["annotators_median_iou"] == pytest.approx(docs["annotators"]["iou"])
    prob, mask = segment_focal_plane(np.full((3, 100, 120), 40.0, np.float32), model=model)
    assert prob.shape == (3, 100, 120) and mask.shape == (100, 120)


def test_cross_validation_and_scoring_saved_fold_models(tiny_des_ghosts, model):
    import dataclasses

    from spacejunk.evaluate.focal_plane import cross_validate_focal_plane, fold_assignment
    from spacejunk.io.focal_plane import read_des_ghosts

    torch.set_num_threads(2)
    data, region_sets = read_des_ghosts(tiny_des_ghosts)
    config = FocalPlaneTrainConfig(steps=3, n_sim=2, input_size=32, base_channels=4, depth=2, batch_size=2, members=1)
    cv = cross_validate_focal_plane(data, folds=3, config=config, region_sets=region_sets, quiet=True)
    assign = fold_assignment([d.name for d in data], folds=3, seed=0)
    assert sorted(r["image"] for r in cv.rows) == ["G0.jpg", "G1.jpg", "G2.jpg"]
    for r in cv.rows:        # each picture scored by the one model that never saw it
        assert r["fold"] == assign[r["image"]] and r["image"] not in cv.models[r["fold"]].meta["real_images"]
        assert len(cv.models[r["fold"]].meta["real_images"]) == 2
    again = cross_validate_focal_plane(data, folds=3, config=config, fold_models=cv.models, quiet=True)
    assert [(r["image"], r["iou"], r["precision"]) for r in again.rows] == \
        [(r["image"], r["iou"], r["precision"]) for r in cv.rows]

    assert all(m.pupil is not None and m.strokes is not None for m in cv.models.values())  # each fold's training

    # Saved models scored at another least region: each picture's blob (radius 8 px, 4.9 % of
    # the 64 x 64 picture) against the consensus (the annotators' circles of radius 9 and 10).
    blobs = {f: model for f in (1, 2, 3)}
    config = dataclasses.replace(config, pupil_ghosts=False, strokes=False)  # these pictures have no DECam layout
    kept = cross_validate_focal_plane(data, folds=3, config=dataclasses.replace(config, min_area=0.04),
                                      fold_models=blobs, quiet=True)
    assert all(0.5 < r["iou"] < 1.0 and r["precision"] > 0.95 for r in kept.rows)
    dropped = cross_validate_focal_plane(data, folds=3, config=dataclasses.replace(config, min_area=0.06),
                                         fold_models=blobs, quiet=True)
    assert all(r["iou"] == 0.0 and r["recall"] == 0.0 for r in dropped.rows)
    assert all(m.min_area == 0.06 for m in dropped.models.values()) and model.min_area == 0.0
    plain = cross_validate_focal_plane(data, folds=3, config=config, fold_models=cv.models, quiet=True)
    assert all(m.pupil is None and m.strokes is None for m in plain.models.values())  # the finders off
    with pytest.raises(ValueError, match="fold 2"):
        cross_validate_focal_plane(data, folds=3, config=config, fold_models={1: model}, quiet=True)

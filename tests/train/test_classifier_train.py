import argparse

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from spacejunk import InputError
from spacejunk.io import Artifact, write_labels
from spacejunk.models import build_model, load_checkpoint
from spacejunk.models.classifier import ARCH
from spacejunk.predict.classifier import classify_exposure
from spacejunk.simulate import simulate_dataset, simulate_image
from spacejunk.train.classifier import (
    AUGMENTATIONS,
    ClassifierTrainSettings,
    _augment,
    _TileSampler,
    _to_slots,
    build_parser,
    settings_from_args,
    train_classifier,
)
from spacejunk.train.datasets import Normalisation, load_image_folder, make_record

TINY = dict(widths=(8, 8, 8, 8), blocks=(0, 0, 0), hidden=8, lattice=50, batch_size=3, window=416)


@pytest.fixture(scope="module")
def sims():
    """Three 400 x 400 simulated images with artifacts (seeded)."""
    out = []
    for seed in (104, 105, 103):
        s = simulate_image(seed=seed, name=f"t{seed}", shape=(400, 400), bands=("g", "r", "i"))
        out.append(s)
    return out


@pytest.fixture(scope="module")
def records(sims):
    return [make_record(s.exposure, s.truth_mask, context_bin=None, dtype=np.float16) for s in sims]


def _settings(tmp_path, **kw):
    return ClassifierTrainSettings(data=str(tmp_path), out=str(tmp_path / "c.pt"), quiet=True, **{**TINY, **kw})


def test_loss_falls_on_a_fixed_batch(records, tmp_path):
    torch.manual_seed(0)
    settings = _settings(tmp_path, balance=0.5)
    images = [_to_slots(r, ("g", "r", "i"), settings, keep_mask=False) for r in records]
    rng = np.random.default_rng(0)
    batch = _augment(_TileSampler(images, settings, rng).batch(), "none", rng, Normalisation(), 16)
    assert 0 < batch["target"].sum() < len(batch["target"])
    model = build_model(ARCH, bands=("g", "r", "i"), widths=(8, 8, 8, 8), blocks=(0, 0, 0), hidden=8).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(25):
        logits = model(batch["crops"], batch["present"], batch["boxes"], batch["context"], batch["gboxes"])
        loss = F.binary_cross_entropy_with_logits(logits, batch["target"])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_sampler_labels_tiles_by_covered_fraction(records, tmp_path):
    settings = _settings(tmp_path, batch_size=6)
    images = [_to_slots(r, ("g", "r", "i"), settings, keep_mask=False) for r in records]
    batch = _TileSampler(images, settings, np.random.default_rng(1)).batch()
    target, frac = batch["target"], batch["fractions"]
    np.testing.assert_array_equal(target, ((frac >= 0.01) & (frac > 0)).astype(np.float32))
    assert len(target) == 6 * 4  # a 400 x 400 image fits one window: its 4 tiles
    assert 0 < target.sum() < len(target)
    assert (batch["gboxes"][:, 3] - batch["gboxes"][:, 1] == 200).all()
    assert batch["fine_cover"].shape == (6, 13, 13) and ((batch["fine_cover"] >= 0) & (batch["fine_cover"] <= 1)).all()


def _synthetic_image(shape=(1000, 900), seed=0):
    rng = np.random.default_rng(seed)
    covered = np.zeros(shape, bool)
    covered[300:420, 500:640] = True
    image = rng.standard_normal((3, *shape)).astype(np.float16)
    image[:, covered] += 5
    record = make_record.__globals__["ImageRecord"]("syn", ("g", "r", "i"), image, covered.astype(np.int32))
    return record


def test_window_tiles_keep_their_margin_and_align_with_the_border(tmp_path):
    settings = _settings(tmp_path, window=512, crop_margin=64, batch_size=40, balance=0.5)
    im = _to_slots(_synthetic_image(), ("g", "r", "i"), settings, keep_mask=False)
    batch = _TileSampler([im], settings, np.random.default_rng(3)).batch()
    owner = batch["boxes"][:, 0].astype(int)
    assert set(owner) == set(range(40))  # every window holds tiles
    local, glob = batch["boxes"][:, 1:], batch["gboxes"][:, 1:]
    origin = glob - local  # window origin (x, y, x, y) of each tile
    wx0, wy0 = origin[:, 0], origin[:, 1]
    for k in range(len(local)):
        x0, y0, x1, y1 = local[k]
        gx0, gy0, gx1, gy1 = glob[k]
        assert (x0 >= 64 or wx0[k] == 0) and (y0 >= 64 or wy0[k] == 0)
        assert (x1 <= 512 - 64 or wx0[k] + 512 >= 900) and (y1 <= 512 - 64 or wy0[k] + 512 >= 1000)
        assert 0 <= gx0 and gx1 <= 900 and 0 <= gy0 and gy1 <= 1000
        # the crop holds the image's pixels of the tile
        np.testing.assert_array_equal(batch["crops"][owner[k], 0, int(y0):int(y1), int(x0):int(x1)],
                                      im.image[0, int(gy0):int(gy1), int(gx0):int(gx1)].astype(np.float32))
    # windows at the left border start their grid at x = 0; at the right border end at x = 900
    left = wx0 == 0
    assert left.any() and all(((glob[left & (owner == b), 0] % 200) == 0).all() for b in set(owner[left]))
    right = wx0 + 512 >= 900
    assert right.any() and (glob[right, 2].max() == 900)
    assert 0 < batch["target"].mean() < 1


def test_soft_labels_follow_the_fraction(records, tmp_path):
    settings = _settings(tmp_path, soft_labels=True, batch_size=64)
    images = [_to_slots(r, ("g", "r", "i"), settings, keep_mask=False) for r in records]
    batch = _TileSampler(images, settings, np.random.default_rng(2)).batch()
    np.testing.assert_allclose(batch["target"], np.minimum(batch["fractions"] / 0.01, 1.0), rtol=1e-6)


def test_flips_and_transpose_move_boxes_with_the_pixels():
    """A bright square under the tile box stays under it whatever the augmentation does."""
    rng = np.random.default_rng(0)
    B, C, S = 16, 3, 96
    crops = np.zeros((B, C, S, S), np.float32)
    ctx = np.zeros((B, C, 8, 8), np.float32)
    boxes = np.zeros((B, 5), np.float32)
    gboxes = np.zeros((B, 5), np.float32)
    fine = np.zeros((B, 3, 3), np.float32)
    for b in range(B):
        x0, y0 = rng.integers(0, 60, 2)
        crops[b, :, y0:y0 + 30, x0:x0 + 30] = 1.0
        boxes[b] = (b, x0, y0, x0 + 30, y0 + 30)
        fine[b, y0 // 32, x0 // 32] = 1.0 + b
        gboxes[b] = (b, x0 + 10, y0 + 20, x0 + 40, y0 + 50)
        ctx[b, :, (y0 + 20) // 16, (x0 + 10) // 16] = 1.0
    batch = {"crops": crops, "context": ctx, "boxes": boxes, "gboxes": gboxes,
             "shapes": np.tile([128, 128], (B, 1)), "present": np.ones((B, C), np.float32),
             "target": np.ones(B, np.float32), "fine_cover": fine}
    for seed in range(4):
        out = _augment({k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in batch.items()}, "geometric",
                       np.random.default_rng(seed), Normalisation(), 16)
        for b in range(B):
            _, x0, y0, x1, y1 = out["boxes"][b].int().tolist()
            assert out["crops"][b, 0, y0:y1, x0:x1].sum() == 900.0
            assert (out["fine_cover"][b] == 1.0 + b).sum() == 1
            _, gx0, gy0, gx1, gy1 = (int(v) for v in out["gboxes"][b].tolist())
            cy, cx = np.argwhere(out["context"][b, 0].numpy() == 1.0)[0]
            assert gx0 // 16 <= cx <= (gx1 - 1) // 16 and gy0 // 16 <= cy <= (gy1 - 1) // 16


def test_band_dropout_keeps_at_least_one_band():
    rng = np.random.default_rng(0)
    B = 200
    batch = {"crops": np.zeros((B, 3, 8, 8), np.float32), "context": None, "boxes": np.zeros((B, 5), np.float32),
             "gboxes": np.zeros((B, 5), np.float32), "shapes": np.tile([8, 8], (B, 1)),
             "present": np.ones((B, 3), np.float32), "target": np.zeros(B, np.float32)}
    out = _augment(batch, "physics", rng, Normalisation(), 16)
    kept = out["present"].sum(1)
    assert (kept >= 1).all() and (kept < 3).any() and (kept == 3).any()


def test_physics_noise_keeps_the_sky_at_unit_noise():
    rng = np.random.default_rng(0)
    z = rng.standard_normal((4, 3, 64, 64)).astype(np.float32)
    v = 5 * np.arcsinh(z / 5)
    batch = {"crops": v, "context": None, "boxes": np.zeros((4, 5), np.float32),
             "gboxes": np.zeros((4, 5), np.float32), "shapes": np.tile([64, 64], (4, 1)),
             "present": np.ones((4, 3), np.float32), "target": np.zeros(4, np.float32)}
    out = _augment(batch, "physics", rng, Normalisation(), 16)["crops"].numpy()
    assert abs(out.std() - 1.0) < 0.2 and abs(out.mean()) < 0.2


def test_unknown_preset_is_named(tmp_path):
    with pytest.raises(ValueError, match="unknown augmentation preset 'rotate'; known: none, geometric, physics"):
        ClassifierTrainSettings(data="d", out="o", augment="rotate")
    assert set(AUGMENTATIONS) == {"none", "geometric", "physics"}
    with pytest.raises(ValueError, match="balance must be in"):
        ClassifierTrainSettings(data="d", out="o", balance=1.5)


def test_settings_from_the_command_line():
    p = build_parser(argparse.ArgumentParser())
    args = p.parse_args(["--data", "d", "--out", "o.pt", "--balance", "0.2", "--augment", "none", "--seed", "3",
                         "--widths", "8,8,8,8", "--no-context", "--labels", "l.csv", "--init", "i.pt"])
    s = settings_from_args(args)
    assert (s.balance, s.augment, s.seed, s.widths, s.context, s.labels, s.init) == \
        (0.2, "none", 3, (8, 8, 8, 8), False, "l.csv", "i.pt")
    assert s.fill_dark_halos and not settings_from_args(
        p.parse_args(["--data", "d", "--out", "o", "--no-fill-dark-halos"])).fill_dark_halos
    with pytest.raises(InputError, match="--widths must be 4"):
        settings_from_args(p.parse_args(["--data", "d", "--out", "o", "--widths", "8,8"]))
    with pytest.raises(InputError, match="unknown augmentation preset"):
        settings_from_args(p.parse_args(["--data", "d", "--out", "o", "--augment", "nope"]))


def test_train_save_reload_predict(records, sims, tmp_path):
    settings = _settings(tmp_path, epochs=2, steps_per_epoch=3, seed=1)
    result = train_classifier(settings, train_records=records[:2], val_records=records[2:])
    meta = result.meta
    assert result.path.is_file() and result.path.stat().st_size < 200_000
    assert meta["task"] == "classifier" and meta["bands"] == ["g", "r", "i"] and meta["tile"] == 200
    assert 0.0 <= meta["threshold"] <= 1.0 and meta["min_fraction"] == 0.01
    assert meta["normalisation"]["stretch"] == "asinh" and meta["context_bin"] == 16
    assert len(meta["history"]) == 2 and meta["settings"]["balance"] == 0.5
    assert meta["train_seconds"] > 0 and "val" in meta["metrics"]
    # the dark halos the finder finds are hidden from the network at inference
    assert meta["fill_dark_halos"] is True and meta["dark_halos"] is not None
    model, loaded_meta = load_checkpoint(result.path)
    a = classify_exposure(sims[2].exposure, model=result.model, meta=meta)
    b = classify_exposure(sims[2].exposure, model=model, meta=loaded_meta)
    np.testing.assert_allclose(a.scores, b.scores, atol=1e-6)
    assert a.threshold == meta["threshold"]


def test_fine_tune_from_a_checkpoint_keeps_its_bands(records, tmp_path):
    first = train_classifier(_settings(tmp_path, epochs=1, steps_per_epoch=2),
                             train_records=records[:2], val_records=records[2:])
    settings = _settings(tmp_path, epochs=1, steps_per_epoch=2, init=str(first.path), bands=("g",),
                         widths=(16, 16, 16, 16))
    second = train_classifier(settings, train_records=records[:2], val_records=records[2:])
    assert second.meta["bands"] == ["g", "r", "i"] and second.meta["config"]["widths"] == [8, 8, 8, 8]


def test_data_folder_with_truth_or_labels(tmp_path):
    simulate_dataset(tmp_path / "d", n=2, seed=5, shape=(256, 256), quiet=True)
    recs = load_image_folder(tmp_path / "d", quiet=True)
    assert [r.mask_source for r in recs] == ["truth", "truth"]
    assert recs[0].image.shape == (3, 256, 256) and recs[0].context.shape == (3, 16, 16)
    labels = tmp_path / "labels.csv"
    write_labels(labels, [Artifact.from_circle(recs[0].name, 100.0, 120.0, 25.0, category="satellite")])
    by_labels = load_image_folder(tmp_path / "d", labels=labels, quiet=True)
    assert by_labels[0].mask_source == "labels"
    assert by_labels[0].mask[120, 100] != 0 and by_labels[0].mask[120, 130] == 0
    assert (by_labels[1].mask == 0).all()
    with pytest.raises(InputError, match="data folder not found"):
        load_image_folder(tmp_path / "missing")


def test_train_from_a_folder_holds_out_validation_images(tmp_path):
    simulate_dataset(tmp_path / "d", n=3, seed=6, shape=(256, 256), quiet=True)
    settings = ClassifierTrainSettings(data=str(tmp_path / "d"), out=str(tmp_path / "c.pt"), epochs=1,
                                       steps_per_epoch=2, quiet=True, **TINY)
    result = train_classifier(settings)
    assert len(result.meta["data"]["val"]) == 1 and len(result.meta["data"]["train"]) == 2

    # --images: only the reviewed images of a partly reviewed folder
    names = sorted(result.meta["data"]["val"] + result.meta["data"]["train"])
    (tmp_path / "reviewed.txt").write_text(f"{names[0]}\n{names[2]}\n")
    args = build_parser().parse_args(["--data", str(tmp_path / "d"), "--out", str(tmp_path / "c2.pt"),
                                      "--images", str(tmp_path / "reviewed.txt")])
    assert settings_from_args(args).images == (names[0], names[2])
    result = train_classifier(ClassifierTrainSettings(**{**settings.__dict__, "images": (names[0], names[2]),
                                                         "out": str(tmp_path / "c2.pt")}))
    assert sorted(result.meta["data"]["val"] + result.meta["data"]["train"]) == [names[0], names[2]]


def test_learning_rate_schedules():
    from spacejunk.train.classifier import _lr_factor

    assert _lr_factor(0.0, "onecycle") == pytest.approx(0.1) and _lr_factor(0.1, "onecycle") == pytest.approx(1.0)
    assert _lr_factor(1.0, "onecycle") == pytest.approx(1e-3)
    assert _lr_factor(0.0, "cosine") == 0.0 and _lr_factor(0.05, "cosine") == pytest.approx(1.0)
    assert _lr_factor(1.0, "cosine") == pytest.approx(0.0) and _lr_factor(0.525, "cosine") == pytest.approx(0.5)
    assert _lr_factor(2.0, "cosine") == pytest.approx(0.0)


def test_band_dropout_spares_windows_with_one_band_artifacts(tmp_path):
    """A satellite trail lies in one band: dropping that band would leave a positive tile with nothing to see."""
    sim = simulate_image(seed=7, name="trail", shape=(400, 400), bands=("g", "r", "i"), artifacts=["satellite"])
    clean = simulate_image(seed=8, name="clean", shape=(400, 400), bands=("g", "r", "i"), artifacts=None)
    assert (sim.truth_mask != 0).any()
    settings = _settings(tmp_path, balance=0.5, window=416)
    for s, expect_kept in ((sim, True), (clean, False)):
        image = _to_slots(make_record(s.exposure, s.truth_mask, context_bin=None), ("g", "r", "i"), settings,
                          keep_mask=False)
        rng = np.random.default_rng(0)
        raw = _TileSampler([image], settings, rng).batch()
        assert raw["keep_bands"].tolist() == [expect_kept] * settings.batch_size
        dropped = 0
        for _ in range(20):
            batch = _augment({**raw, "present": raw["present"].copy()}, "physics", rng, Normalisation(), 16)
            dropped += int((batch["present"] == 0).any(dim=1).sum())
        assert (dropped == 0) if expect_kept else (dropped > 0)


def _two_category_image(tmp_path):
    """A 1000 x 900 image with one large ghost (many tiles) and one small brush stroke (one tile)."""
    from spacejunk.categories import CATEGORY_BITS
    from spacejunk.train.datasets import ImageRecord

    mask = np.zeros((1000, 900), np.int32)
    mask[0:800, 0:600] = CATEGORY_BITS["ghost"]
    mask[900:960, 800:860] = CATEGORY_BITS["brush-strokes"]
    image = np.random.default_rng(0).standard_normal((3, 1000, 900)).astype(np.float16)
    return ImageRecord("two", ("g", "r", "i"), image, mask)


def test_category_sampling_draws_rare_categories_more_often(tmp_path):
    from spacejunk.categories import CATEGORY_BITS

    settings = {positives: _settings(tmp_path, lattice=20, positives=positives) for positives in ("tile", "category")}
    record = _two_category_image(tmp_path)
    images = {positives: _to_slots(record, ("g", "r", "i"), s, keep_mask=False) for positives, s in settings.items()}
    assert images["tile"].categories is None           # made only for the category sampler
    im = images["category"]
    brush = (im.categories & CATEGORY_BITS["brush-strokes"]) != 0
    ghost = (im.categories & CATEGORY_BITS["ghost"]) != 0
    # the categories of each candidate tile follow the mask: brush tiles lie around (830, 930)
    assert brush.any() and ghost.sum() > 20 * brush.sum()
    assert (np.abs(im.origins[brush] + 100 - [930, 830]) <= 130).all()
    counts = {}
    for positives, s in settings.items():
        sampler = _TileSampler([images[positives]], s, np.random.default_rng(0))
        rows = np.array([sampler._positive(np.random.default_rng(k)) for k in range(400)])
        counts[positives] = brush[sampler.pos[rows, 1]].mean()
    # square-root balance: p(brush) = sqrt(n_brush) / (sqrt(n_brush) + sqrt(n_ghost))
    n_b, n_g = brush.sum(), ghost.sum()
    expected = np.sqrt(n_b) / (np.sqrt(n_b) + np.sqrt(n_g))
    assert counts["tile"] < 0.05 and abs(counts["category"] - expected) < 0.06
    assert counts["category"] > 3 * max(counts["tile"], 0.01)


def test_ema_weights_are_validated_and_saved(records, tmp_path):
    settings = _settings(tmp_path, epochs=2, steps_per_epoch=3, seed=1, ema=0.5)
    result = train_classifier(settings, train_records=records[:2], val_records=records[2:])
    assert result.meta["settings"]["ema"] == 0.5
    model, _ = load_checkpoint(result.path)
    state = result.model.state_dict()
    for k, v in model.state_dict().items():
        if v.is_floating_point():
            torch.testing.assert_close(v, state[k], atol=2e-3, rtol=2e-3)
    with pytest.raises(ValueError, match="ema"):
        _settings(tmp_path, ema=1.0)


def test_mask_flagged_hides_desdm_flagged_pixels_from_the_network(sims, tmp_path):
    from dataclasses import replace

    from spacejunk.categories import FLAGGED_BITS

    simulate_dataset(tmp_path / "d", n=3, seed=6, shape=(256, 256), quiet=True)
    settings = ClassifierTrainSettings(data=str(tmp_path / "d"), out=str(tmp_path / "c.pt"), epochs=1,
                                       steps_per_epoch=2, quiet=True, mask_flagged=True, **TINY)
    parse = build_parser().parse_args
    assert settings_from_args(parse(["--data", "d", "--out", "o.pt", "--mask-flagged"])).mask_flagged
    assert not settings_from_args(parse(["--data", "d", "--out", "o.pt"])).mask_flagged
    result = train_classifier(settings)
    assert result.meta["normalisation"]["mask_bits"] == FLAGGED_BITS and result.meta["settings"]["mask_flagged"]
    model, meta = load_checkpoint(result.path)
    exposure = sims[0].exposure
    # a bright bad column, flagged BPM: the masked model's scores do not see it
    sci, msk = exposure.sci.copy(), exposure.msk.copy()
    sci[:, :, 150:153] += 5000.0
    msk[:, :, 150:153] |= 1
    flagged = replace(exposure, sci=sci, msk=msk)
    only_flag = replace(exposure, msk=msk)
    a = classify_exposure(only_flag, model=model, meta=meta).scores
    b = classify_exposure(flagged, model=model, meta=meta).scores
    np.testing.assert_allclose(a, b, atol=1e-6)
    # without the option the same column changes the scores
    plain = {**meta, "normalisation": {**meta["normalisation"], "mask_bits": 0}}
    assert not np.allclose(classify_exposure(only_flag, model=model, meta=plain).scores,
                           classify_exposure(flagged, model=model, meta=plain).scores, atol=1e-6)


def test_background_plane_makes_the_network_blind_to_a_tilted_sky(sims, tmp_path):
    from dataclasses import replace

    simulate_dataset(tmp_path / "d", n=3, seed=6, shape=(256, 256), quiet=True)
    settings = ClassifierTrainSettings(data=str(tmp_path / "d"), out=str(tmp_path / "c.pt"), epochs=1,
                                       steps_per_epoch=2, quiet=True, background="plane", **TINY)
    parse = build_parser().parse_args
    assert settings_from_args(parse(["--data", "d", "--out", "o.pt", "--background", "plane"])).background == "plane"
    assert settings_from_args(parse(["--data", "d", "--out", "o.pt"])).background == "none"
    assert settings_from_args(parse(["--data", "d", "--out", "o.pt", "--background", "amplifiers"])).background \
        == "amplifiers"
    with pytest.raises(InputError, match="background"):
        settings_from_args(argparse.Namespace(**{**vars(parse(["--data", "d", "--out", "o.pt"])), "background": "x"}))
    result = train_classifier(settings)
    assert result.meta["normalisation"]["background"] == "plane" and result.meta["settings"]["background"] == "plane"
    model, meta = load_checkpoint(result.path)
    exposure = sims[0].exposure
    # the sky tilted by 1.5 sigma across the image, each amplifier offset differently
    noise = np.array([exposure.sky_noise(b)[1] for b in range(len(exposure.bands))], np.float32)
    yy, xx = np.mgrid[: exposure.shape[0], : exposure.shape[1]] / np.float32(exposure.shape[0])
    tilt = (1.5 * yy - 0.5 * xx + np.where(xx < 0.5, 0.3, -0.2)).astype(np.float32)
    tilted = replace(exposure, sci=exposure.sci + noise[:, None, None] * tilt)
    # the network's input is the flat sky's, the scores with it; without the plane the input tilts
    norm = Normalisation.from_dict(meta["normalisation"])
    np.testing.assert_allclose(norm.apply(tilted).mean(axis=(1, 2)), norm.apply(exposure).mean(axis=(1, 2)), atol=0.05)
    assert np.abs(norm.apply(tilted) - norm.apply(exposure)).mean() < 0.15
    plain = Normalisation.from_dict({**meta["normalisation"], "background": "none"})
    assert np.abs(plain.apply(tilted) - plain.apply(exposure)).mean() > 0.4
    np.testing.assert_allclose(classify_exposure(tilted, model=model, meta=meta).scores,
                               classify_exposure(exposure, model=model, meta=meta).scores, atol=1e-3)

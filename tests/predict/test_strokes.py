"""The stroke finder of focal-plane pictures: ray fans found, stars and trails left, its threshold, the model."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from scipy import ndimage

from spacejunk.predict.strokes import StrokeSettings, calibrate_stroke_settings, stroke_density, stroke_regions
from spacejunk.simulate.focal_plane import ccd_index_map, decam_layout

FAN = (250, 120, 330, 170)  # x0, y0, x1, y1 of the fan's box
UNSTRETCHED = StrokeSettings(density=0.05, min_area=0.002, extend=0)   # steps 1-3 only


def _picture(*, fan=False, stars=0, trail=False, seed=0):
    """Sky on the DECam CCDs, black gaps; its noise skewed to the bright side as in the real
    pictures (faint sources: 0.1-1.5 % of their pixels are 2 sigma dark, 13 % bright). ``fan``: streaks along 20 degrees, bright
    and dark by turns 3 px apart, in the box ``FAN``; ``stars``: small round stars;
    ``trail``: one bright satellite line across the picture."""
    rng = np.random.default_rng(seed)
    size = 400
    on = ccd_index_map((size, size), decam_layout((size, size))) >= 0
    img = 50.0 + rng.gamma(2.0, 4.0, (size, size))
    yy, xx = np.mgrid[:size, :size].astype(float)
    if fan:
        x0, y0, x1, y1 = FAN
        inside = (xx >= x0) & (xx < x1) & (yy >= y0) & (yy < y1)
        across = -xx * np.sin(np.radians(20)) + yy * np.cos(np.radians(20))
        img += inside * 30.0 * np.sign(np.sin(np.pi * across / 3.0))
    for _ in range(stars):
        sx, sy = rng.uniform(40, 360, 2)
        img += 200.0 * np.exp(-0.5 * ((xx - sx) ** 2 + (yy - sy) ** 2) / 1.2 ** 2)
    if trail:
        img += 40.0 * np.exp(-0.5 * ((yy - 0.4 * xx - 100) / 0.8) ** 2)
    return np.where(on, img, 2.0)[None].repeat(3, 0).astype(np.float32)


def _box():
    x0, y0, x1, y1 = FAN
    box = np.zeros((400, 400), dtype=bool)
    box[y0:y1, x0:x1] = True
    return box


def _iou(a, b):
    return (a & b).sum() / (a | b).sum()


def test_a_fan_of_streaks_is_found_and_stars_and_a_trail_are_not():
    found = stroke_regions(_picture(fan=True, stars=30, trail=True), UNSTRETCHED)
    box = _box()
    assert _iou(found, box) > 0.6
    assert not (found & ~ndimage.binary_dilation(box, iterations=10)).any()   # half a window beyond it at most
    specks = stroke_regions(_picture(fan=True, stars=30, trail=True), StrokeSettings(min_area=0, extend=0))
    assert (specks & ~found).any() and (specks & ~found).sum() < 0.002 * specks.size * 4   # a few specks
    assert not stroke_regions(_picture(stars=30, trail=True), UNSTRETCHED).any()
    assert not stroke_regions(_picture(stars=30, trail=True)).any()
    dens = stroke_density(_picture(fan=True))
    assert dens.shape == (400, 400) and dens[box].mean() > 0.2 and np.median(dens[~box]) < 0.01


def test_marks_are_stretched_along_their_streaks_within_the_camera():
    picture = _picture(fan=True)
    base = stroke_regions(picture, UNSTRETCHED)
    long = stroke_regions(picture, dataclasses.replace(UNSTRETCHED, extend=16))
    assert (long & base).sum() == base.sum()
    (by, bx), (ly, lx) = np.nonzero(base), np.nonzero(long)
    # the streaks run at 20 degrees: 16 px along them is 15 px in x and 5.5 px in y
    assert 14 <= lx.max() - bx.max() <= 16 and 14 <= bx.min() - lx.min() <= 16
    assert 4 <= ly.max() - by.max() <= 6 and 4 <= by.min() - ly.min() <= 6
    # a mark lying mostly inside a pupil ghost's disc is the ghost's own structure: not stretched
    disc = ndimage.binary_dilation(base, iterations=2)
    assert np.array_equal(stroke_regions(picture, dataclasses.replace(UNSTRETCHED, extend=16), disc=disc), base)
    corner = np.zeros_like(disc)
    corner[:, :bx.min() + 20] = True   # a quarter of the mark
    assert np.array_equal(stroke_regions(picture, dataclasses.replace(UNSTRETCHED, extend=16), disc=corner), long)
    # a fan at the camera's edge is not stretched off it
    edge = np.roll(picture, 80, axis=2)   # the fan now ends at x = 410, past the picture's right edge
    from spacejunk.predict.pupil_ghost import camera_outline
    assert not (stroke_regions(edge, dataclasses.replace(UNSTRETCHED, extend=30)) & ~camera_outline()).any()


def test_regions_scale_with_the_picture():
    picture = _picture(fan=True)
    big = stroke_regions(picture.repeat(2, axis=1).repeat(2, axis=2))   # the same scene in 800 x 800
    assert big.shape == (800, 800)
    assert _iou(big, stroke_regions(picture).repeat(2, axis=0).repeat(2, axis=1)) > 0.95


def test_calibration_keeps_the_best_threshold_least_mark_and_stretch():
    pictures = [_picture(fan=True, stars=20, seed=s) for s in (1, 2)]
    refs = [_box(), _box()]
    candidates = (0.01, 0.05, 0.3, 0.6)
    best = calibrate_stroke_settings(pictures, refs, densities=candidates, min_areas=(0.002,), extends=(0,))
    ious = {c: np.mean([_iou(stroke_regions(p, dataclasses.replace(UNSTRETCHED, density=c)), r)
                        for p, r in zip(pictures, refs)]) for c in candidates}
    assert best.density == max(ious, key=ious.get) and ious[best.density] > 0.6
    assert (best.min_area, best.extend) == (0.002, 0)
    assert ious[0.6] < 0.1   # too high: nothing or specks
    # references drawn 10 px on along the streaks: that stretch is taken, and a least mark
    # larger than the fan would drop it
    wide = [stroke_regions(p, dataclasses.replace(best, extend=10)) for p in pictures]
    both = calibrate_stroke_settings(pictures, wide, densities=(best.density,), min_areas=(0.002, 0.05),
                                     extends=(0, 10, 40))
    assert (both.min_area, both.extend) == (0.002, 10)
    # what ``also`` holds is joined with the marks: with the whole picture every candidate scores the same
    everything = np.ones((400, 400), dtype=bool)
    assert calibrate_stroke_settings(pictures, refs, also=[everything, everything], densities=(0.6, 0.05)).density == 0.6
    assert calibrate_stroke_settings([], [], settings=StrokeSettings(density=0.2)).density == 0.2
    with pytest.raises(ValueError):
        StrokeSettings(density=2.0)
    with pytest.raises(ValueError):
        StrokeSettings(extend=-1)


class _Everywhere(torch.nn.Module):
    """A stand-in network: P(artifact) = 0.018 everywhere, all of it in category ``k``."""

    def __init__(self, k: int):
        super().__init__()
        self.k = k

    def forward(self, x):
        cats = torch.zeros_like(x[:, :1]).repeat(1, 3, 1, 1)
        cats[:, self.k] = 8.0
        return torch.cat([torch.full_like(x[:, :1], -4.0), cats], 1)


def test_segment_marks_the_fan_as_rays_or_bright_ghost_and_the_checkpoint_keeps_the_settings(tmp_path):
    from spacejunk.focal_plane import FocalPlaneModel, load_focal_plane_model, segment_focal_plane
    from spacejunk.models.registry import build_model
    from spacejunk.train.focal_plane import save_focal_plane_model

    picture = _picture(fan=True)
    settings = StrokeSettings(probability=0.8)
    model = FocalPlaneModel(network=_Everywhere(1), input_size=32, radial_channel=False, strokes=settings)
    prob, mask = segment_focal_plane(picture, model=model)
    found = stroke_regions(picture, settings)
    assert np.array_equal(mask > 0, found) and (mask[found] == 3).all()   # a faint ghost has no strokes: rays
    assert np.allclose(prob.sum(0)[found], 0.8, atol=1e-5) and prob[2][found].min() > 0.78
    # where the network calls the pixels a bright ghost, the strokes are one
    prob, mask = segment_focal_plane(picture, model=dataclasses.replace(model, network=_Everywhere(0)))
    assert (mask[found] == 1).all() and prob[0][found].min() > 0.79
    assert not segment_focal_plane(picture, model=dataclasses.replace(model, strokes=None))[1].any()
    arch = {"in_channels": 1, "out_channels": 4, "base_channels": 4, "depth": 1}
    saved = dataclasses.replace(model, network=build_model("unet", **arch), meta={"arch_config": arch})
    loaded = load_focal_plane_model(save_focal_plane_model(tmp_path / "m.pt", saved))
    assert loaded.strokes == settings and loaded.pupil is None


def test_settings_from_a_checkpoint_before_the_stretch_keep_marks_unstretched():
    from spacejunk.predict.strokes import settings_from_meta

    old = settings_from_meta({"strokes": {"density": 0.05, "min_area": 0.002}})
    assert (old.density, old.min_area, old.extend) == (0.05, 0.002, 0)
    assert settings_from_meta({"strokes": dataclasses.asdict(StrokeSettings(extend=8))}).extend == 8
    assert settings_from_meta({}) is None

"""The pupil-ghost finder of focal-plane pictures: the spider's cross, its threshold, its disc."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from spacejunk.io.focal_plane import Region
from spacejunk.predict.pupil_ghost import (PupilGhostSettings, calibrate_threshold, find_pupil_ghost,
                                          has_pupil_ghost, pupil_disc, pupil_statistics, radius_from_regions)
from spacejunk.simulate.focal_plane import ccd_index_map, decam_layout


def _picture(*, cross=None, line=None, size=400, seed=0):
    """Sky and noise on the DECam CCDs, black gaps; ``cross = (cx, cy, R)`` draws the four
    dark diagonal arms from 0.4 R to R; ``line = (x0, y0, x1, y1)`` one dark line."""
    rng = np.random.default_rng(seed)
    on = ccd_index_map((size, size), decam_layout((size, size))) >= 0
    img = np.where(on, 60.0 + rng.normal(0, 6.0, (size, size)), 2.0)
    yy, xx = np.mgrid[:size, :size].astype(float)
    dark = np.zeros((size, size))
    if cross is not None:
        cx, cy, r = cross
        for a in (np.pi / 4, 3 * np.pi / 4):
            d = np.abs(-(xx - cx) * np.sin(a) + (yy - cy) * np.cos(a))
            rho = np.hypot(xx - cx, yy - cy)
            dark += 20.0 * np.exp(-0.5 * (d / 0.8) ** 2) * (rho > 0.4 * r) * (rho < r)
    if line is not None:
        x0, y0, x1, y1 = line
        n = np.hypot(x1 - x0, y1 - y0)
        d = np.abs((xx - x0) * (y1 - y0) - (yy - y0) * (x1 - x0)) / n
        dark += 20.0 * np.exp(-0.5 * (d / 0.8) ** 2)
    return np.where(on, img - dark, img)[None].repeat(3, 0).astype(np.float32)


def test_cross_of_dark_arms_is_found_at_its_centre():
    ghost = find_pupil_ghost(_picture(cross=(190, 215, 125)))
    assert ghost is not None
    assert abs(ghost.x - 190) <= 3 and abs(ghost.y - 215) <= 3
    assert ghost.radius == pytest.approx(124.0)
    assert ghost.score > 10.0 and sum(a > 10.0 for a in ghost.arms) >= 3


def test_no_ghost_without_the_cross_or_with_one_dark_line():
    assert find_pupil_ghost(_picture()) is None
    # a dark trail along a diagonal through the centre lines up with two arms, not three
    stats = pupil_statistics(_picture(line=(0, 0, 399, 399)))
    assert not stats.found and stats.score < PupilGhostSettings().threshold
    assert sorted(stats.arms)[-2] > 10.0 and sorted(stats.arms)[-3] < 5.0  # two arms on the line are dark


def test_disc_scales_with_the_picture():
    big = _picture(cross=(190, 215, 125))
    small = big[:, ::2, ::2]
    ghost = find_pupil_ghost(small)
    assert ghost is not None
    assert ghost.radius == pytest.approx(62.0)
    assert abs(ghost.x - 95) <= 2.5 and abs(ghost.y - 107.5) <= 2.5
    disc = pupil_disc(ghost, (200, 200))
    assert disc.sum() == pytest.approx(np.pi * 62.0 ** 2, rel=0.02)
    assert disc[int(ghost.y), int(ghost.x)] and not disc[0, 0]


def test_calibrate_threshold_hand_made():
    # separable: the cut is half-way across the gap between 1.2 and 2.0
    assert calibrate_threshold([1.0, 1.2, 2.0, 3.0], [False, False, True, True]) == pytest.approx(1.6)
    # one overlap: one error whatever the cut; the widest margin among the one-error cuts
    cut = calibrate_threshold([1.0, 2.5, 2.0, 3.0, 4.0], [False, False, True, True, True])
    assert cut == pytest.approx(1.5)
    # one kind only: the default
    assert calibrate_threshold([1.0, 2.0], [False, False], default=1.7) == 1.7


def test_has_pupil_ghost_and_radius_from_regions():
    mask = np.zeros((100, 100), dtype=bool)
    mask[:30, :30] = True  # 0.09 of the picture
    assert not has_pupil_ghost(mask)
    mask[40:, 40:] = True  # 0.36
    assert has_pupil_ghost(mask)
    sets = [[Region("circle", {"cx": 200, "cy": 200, "r": 120}, "ghost-faint"),
             Region("circle", {"cx": 50, "cy": 50, "r": 20}, "ghost-bright")],
            [Region("circle", {"cx": 190, "cy": 210, "r": 130}, "ghost-faint")],
            [Region("ellipse", {"cx": 1, "cy": 1, "rx": 300, "ry": 200, "theta": 0}, "rays")]]
    assert radius_from_regions(sets) == pytest.approx(125.0)
    with pytest.raises(ValueError, match="no circle"):
        radius_from_regions([sets[0][1:]])


def test_settings_are_checked():
    with pytest.raises(ValueError):
        PupilGhostSettings(arm_span=(0.9, 0.5))
    with pytest.raises(ValueError):
        PupilGhostSettings(probability=1.5)
    assert dataclasses.replace(PupilGhostSettings(), threshold=2.0).threshold == 2.0


class _Nothing(torch.nn.Module):
    """A stand-in network that marks nothing: P(artifact) = 0.018 everywhere."""

    def forward(self, x):
        return torch.cat([torch.full_like(x[:, :1], -4.0), torch.zeros_like(x[:, :1]).repeat(1, 3, 1, 1)], 1)


def test_segment_marks_the_disc_as_faint_ghost_and_the_checkpoint_keeps_the_settings(tmp_path):
    from spacejunk.focal_plane import FocalPlaneModel, load_focal_plane_model, segment_focal_plane
    from spacejunk.models.registry import build_model
    from spacejunk.train.focal_plane import save_focal_plane_model

    picture = _picture(cross=(190, 215, 125))
    settings = PupilGhostSettings(threshold=8.0, probability=0.8)
    model = FocalPlaneModel(network=_Nothing(), input_size=32, radial_channel=False, pupil=settings)
    prob, mask = segment_focal_plane(picture, model=model)
    ghost = find_pupil_ghost(picture, settings)
    disc = pupil_disc(ghost, (400, 400))
    assert np.array_equal(mask == 2, disc) and not (mask[~disc]).any()   # ghost-faint, the disc only
    assert np.allclose(prob.sum(0)[disc], 0.8) and prob[1][disc].min() > 0.78
    # without the finder the network alone marks nothing
    assert not segment_focal_plane(picture, model=dataclasses.replace(model, pupil=None))[1].any()
    # the settings go into the checkpoint and come back
    arch = {"in_channels": 1, "out_channels": 4, "base_channels": 4, "depth": 1}
    saved = dataclasses.replace(model, network=build_model("unet", **arch), meta={"arch_config": arch})
    loaded = load_focal_plane_model(save_focal_plane_model(tmp_path / "m.pt", saved))
    assert loaded.pupil == settings


class _RaysInACorner(torch.nn.Module):
    """A stand-in network: rays in the top-left 12 x 12 of its 32 x 32 input (150 x 150 px of the picture)."""

    def forward(self, x):
        any_logit = torch.full_like(x[:, :1], -8.0)
        any_logit[..., :12, :12] = 8.0
        cats = torch.cat([torch.zeros_like(any_logit), torch.zeros_like(any_logit), torch.full_like(any_logit, 6.0)], 1)
        return torch.cat([any_logit, cats], 1)


def test_disc_stays_a_region_of_its_own_beside_the_networks_region():
    from spacejunk.focal_plane import FocalPlaneModel, mask_to_artifacts, segment_focal_plane

    picture = _picture(cross=(190, 215, 125))
    model = FocalPlaneModel(network=_RaysInACorner(), input_size=32, radial_channel=False,
                            pupil=PupilGhostSettings(threshold=8.0))
    prob, mask = segment_focal_plane(picture, model=model)
    disc = pupil_disc(find_pupil_ghost(picture, model.pupil), (400, 400))
    corner = np.zeros((400, 400), dtype=bool)
    corner[:140, :140] = True                       # well inside the network's 150 x 150 px
    assert (disc & corner).any()                    # the two overlap ...
    assert np.array_equal(mask == 2, disc)          # ... the disc is ghost-faint, all of it
    assert (mask[corner & ~disc] == 3).all()        # the rest of the corner keeps the network's rays
    found = mask_to_artifacts(mask, prob, image="pic")
    assert sorted(a.category for a in found) == ["ghost-faint", "rays"]
    faint = next(a for a in found if a.category == "ghost-faint")
    assert faint.radius == pytest.approx(124.0, rel=0.01)

"""Training the focal-plane segmenter: the loss falls, checkpoints reload to the same predictions."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from spacejunk.focal_plane import load_focal_plane_model, segment_focal_plane
from spacejunk.io.focal_plane import AnnotatedImage, Region, regions_to_mask
from spacejunk.simulate.focal_plane import simulate_focal_plane
from spacejunk.train.focal_plane import (FocalPlaneTrainConfig, ensemble_of, member_configs, save_focal_plane_model,
                                         targets_from_annotators, targets_from_truth, train_focal_plane)

TINY = dict(input_size=32, base_channels=4, depth=2, batch_size=4, n_sim=4, lr=1e-2, members=1)


@pytest.fixture(scope="module")
def real_set():
    """Two 'real' pictures (simulated at 64 x 64) each marked by 3 annotators."""
    out = []
    for i in range(2):
        regs = [Region("circle", {"cx": 20.0 + 20 * i, "cy": 30.0, "r": 10.0}, "ghost-bright")]
        sim = simulate_focal_plane(seed=i, shape=(64, 64), regions=regs)
        m = regions_to_mask(regs, (64, 64))
        out.append(AnnotatedImage(f"r{i}.jpg", sim.image, np.stack([m, m, np.zeros_like(m)])))
    return out


def test_targets():
    m = np.zeros((4, 3, 4, 4), dtype=bool)
    m[:3, 0, :2, :2] = True        # 3 of 4 say bright
    m[3, 2, :2, :2] = True         # 1 says rays
    m[:1, 1, 3, 3] = True          # 1 says faint
    t = targets_from_annotators(m, size=4)
    assert t.shape == (5, 4, 4)
    assert torch.allclose(t[0, :2, :2], torch.ones(2, 2)) and t[0, 3, 3] == 0.25
    assert t[1, :2, :2].all() and t[1, 3, 3] == 0                     # consensus
    assert t[2, :2, :2].all() and t[4].sum() == 0 and t[3, 3, 3] == 1  # category with most votes
    truth = np.zeros((3, 4, 4), dtype=bool)
    truth[1, :2] = True
    truth[2, 1:3] = True
    tt = targets_from_truth(truth, size=2)                               # area-resampled 4 -> 2
    assert tt.shape == (5, 2, 2)
    assert torch.allclose(tt[0], torch.tensor([[1.0, 1.0], [0.5, 0.5]]))
    assert torch.allclose(tt[4], torch.tensor([[0.5, 0.5], [0.5, 0.5]]))  # rays win the overlap


def test_config_is_checked():
    with pytest.raises(ValueError, match="unknown augment preset 'wild'"):
        FocalPlaneTrainConfig(augment="wild")
    with pytest.raises(ValueError, match="real_fraction"):
        FocalPlaneTrainConfig(real_fraction=2)
    with pytest.raises(ValueError, match="min_area"):
        FocalPlaneTrainConfig(min_area=-0.1)
    with pytest.raises(ValueError, match="views"):
        FocalPlaneTrainConfig(views=4)
    with pytest.raises(ValueError, match="nothing to train on"):
        train_focal_plane([], config=FocalPlaneTrainConfig(n_sim=0))


def test_loss_falls_and_checkpoint_reloads_identically(real_set, tmp_path):
    torch.set_num_threads(2)
    config = FocalPlaneTrainConfig(steps=40, augment="none", seed=1, **TINY)
    result = train_focal_plane(real_set, config=config, quiet=True)
    assert len(result.losses) == 40
    assert np.mean(result.losses[-5:]) < 0.8 * np.mean(result.losses[:5])
    image = real_set[0].image
    prob, mask = segment_focal_plane(image, model=result.model)
    assert prob.shape == (3, 64, 64) and mask.shape == (64, 64) and mask.dtype == np.uint8
    assert np.all(prob.sum(0) <= 1 + 1e-6)

    path = save_focal_plane_model(tmp_path / "m.pt", result.model, half=False)
    loaded = load_focal_plane_model(path)
    prob2, mask2 = segment_focal_plane(image, model=loaded)
    assert np.allclose(prob, prob2, atol=1e-6) and np.array_equal(mask, mask2)
    assert loaded.input_size == 32 and loaded.threshold == 0.5 and loaded.views == result.model.views == 8
    assert loaded.meta["recipe"]["steps"] == 40 and loaded.meta["real_images"] == ["r0.jpg", "r1.jpg"]
    assert loaded.meta["codes"] == {"ghost-bright": 1, "ghost-faint": 2, "rays": 3}

    tidy = dataclasses.replace(result.model, min_area=0.5)     # drops every region under half the picture
    assert load_focal_plane_model(save_focal_plane_model(tmp_path / "tidy.pt", tidy)).min_area == 0.5
    assert 0 < (mask > 0).mean() < 0.5 and not segment_focal_plane(image, model=tidy)[1].any()

    small = save_focal_plane_model(tmp_path / "half.pt", result.model, half=True, extra_meta={"cv": {"x": 1}})
    assert small.stat().st_size < path.stat().st_size
    prob3, _ = segment_focal_plane(image, model=load_focal_plane_model(small))
    assert np.abs(prob3 - prob).max() < 0.02
    assert load_focal_plane_model(small).meta["cv"] == {"x": 1}

    one_view = load_focal_plane_model(save_focal_plane_model(tmp_path / "one.pt", dataclasses.replace(loaded, views=1)))
    assert one_view.views == 1
    prob1, _ = segment_focal_plane(image, model=one_view)      # the network as it is: not the mean of 8 views
    assert prob1.shape == prob.shape and not np.allclose(prob1, prob, atol=1e-3)


def test_same_seed_same_model(real_set):
    torch.set_num_threads(2)
    config = FocalPlaneTrainConfig(steps=3, augment="strong", seed=5, **TINY)
    a = train_focal_plane(real_set, config=config, quiet=True)
    b = train_focal_plane(real_set, config=config, quiet=True)
    assert a.losses == b.losses


def test_members_are_the_runs_of_their_seeds(real_set, tmp_path):
    """An ensemble of 2 averages the networks that runs of seed and seed + 1000 (simulated pictures of
    seed and seed + 1) train, and its checkpoint reloads to the same predictions."""
    torch.set_num_threads(2)
    config = FocalPlaneTrainConfig(steps=4, augment="strong", seed=3, **{**TINY, "members": 2})
    assert [(m.seed, m.sim_seed, m.members) for m in member_configs(config)] == [(3, 3, 1), (1003, 4, 1)]
    both = train_focal_plane(real_set, config=config, quiet=True)
    runs = [train_focal_plane(real_set, config=m, quiet=True) for m in member_configs(config)]
    assert len(both.losses) == 4
    assert np.allclose(both.losses, np.mean([r.losses for r in runs], axis=0))
    x = torch.randn(1, 2, 32, 32)
    joined = ensemble_of([r.model for r in runs])
    assert torch.allclose(both.model.network(x), joined.network(x), atol=1e-6)
    assert torch.allclose(joined.network(x), (runs[0].model.network(x) + runs[1].model.network(x)) / 2, atol=1e-6)
    image = real_set[1].image
    loaded = load_focal_plane_model(save_focal_plane_model(tmp_path / "two.pt", both.model, half=False))
    assert len(loaded.network.members) == 2
    assert np.allclose(segment_focal_plane(image, model=loaded)[0], segment_focal_plane(image, model=both.model)[0],
                       atol=1e-6)
    with pytest.raises(ValueError, match="members must be >= 1"):
        FocalPlaneTrainConfig(members=0)

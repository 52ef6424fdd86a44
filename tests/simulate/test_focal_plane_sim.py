"""The focal-plane simulator: DECam layout, artifacts drawn from label sets, truth."""

from __future__ import annotations

import numpy as np
import pytest

from spacejunk.io.focal_plane import Region, regions_to_mask
from spacejunk.simulate.focal_plane import decam_layout, random_regions, simulate_focal_plane


def test_layout_has_62_ccds_in_the_measured_rows():
    boxes = decam_layout()
    assert boxes.shape == (62, 4)
    widths, heights = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    assert np.allclose(widths, 57.5) and np.allclose(heights, 29.0)   # 4096 x 2048 px binned ~70x
    tops = np.unique(np.round(boxes[:, 1], 3))
    assert len(tops) == 12
    counts = [int(np.sum(np.isclose(boxes[:, 1], t))) for t in tops]
    assert counts == [3, 4, 5, 6, 6, 7, 7, 6, 6, 5, 4, 3]
    # the widest rows run off the picture's left and right edges, the others do not
    assert boxes[:, 0].min() < 0 and boxes[:, 2].max() > 400
    assert boxes[:3, 0].min() == pytest.approx(110.25, abs=1) and boxes[:3, 2].max() == pytest.approx(288.75, abs=1)
    half = decam_layout((200, 200))
    assert np.allclose(half, boxes / 2, atol=1e-6)


def test_simulation_is_seeded_and_truth_matches_regions():
    regs = [Region("circle", {"cx": 50.0, "cy": 60.0, "r": 12.0}, "ghost-bright"),
            Region("polygon", {"all_points_x": (100.0, 150.0, 150.0), "all_points_y": (100.0, 100.0, 150.0)}, "rays")]
    a = simulate_focal_plane(seed=3, shape=(200, 200), regions=regs)
    b = simulate_focal_plane(seed=3, shape=(200, 200), regions=regs)
    c = simulate_focal_plane(seed=4, shape=(200, 200), regions=regs)
    assert a.image.shape == (3, 200, 200) and a.image.dtype == np.float32
    assert np.array_equal(a.image, b.image) and not np.array_equal(a.image, c.image)
    assert 0 <= a.image.min() and a.image.max() <= 255
    assert np.array_equal(a.truth, regions_to_mask(regs, (200, 200)))
    assert a.truth[0].sum() == regions_to_mask(regs[:1], (200, 200))[0].sum() > 400
    assert not a.truth[1].any()
    # a bright ghost is brighter than the sky around it; gaps are darker than the CCDs
    grey = a.image.mean(0)
    ring = a.truth[0] & a.ccd_mask
    assert grey[ring].mean() > np.median(grey[a.ccd_mask]) + 10
    assert np.median(grey[~a.ccd_mask]) < np.median(grey[a.ccd_mask]) - 10


def test_clean_picture_has_empty_truth():
    sim = simulate_focal_plane(seed=0, shape=(100, 100), regions=[], jpeg=False)
    assert not sim.truth.any() and sim.regions == []


def test_regions_drawn_from_real_label_sets_are_scaled_and_flipped():
    real = [[Region("circle", {"cx": 100.0, "cy": 40.0, "r": 20.0}, "ghost-faint")]]
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(20):
        (reg,) = random_regions(rng, (200, 200), region_sets=real)
        assert reg.category == "ghost-faint" and reg.params["r"] == pytest.approx(10.0)
        seen.add((round(reg.params["cx"], 1), round(reg.params["cy"], 1)))
    assert seen <= {(50.0, 20.0), (149.0, 20.0), (50.0, 179.0), (149.0, 179.0)} and len(seen) > 1


def test_parametric_regions_follow_the_real_counts():
    rng = np.random.default_rng(1)
    counts = [len(random_regions(rng, (400, 400))) for _ in range(200)]
    assert min(counts) >= 1 and max(counts) <= 7
    cats = {r.category for _ in range(50) for r in random_regions(rng)}
    assert cats == {"ghost-bright", "ghost-faint", "rays"}

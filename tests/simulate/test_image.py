"""simulate_image: determinism, layers, headers, noise, saturation and the truth of each category."""

from __future__ import annotations

import numpy as np
import pytest

from spacejunk.categories import CATEGORIES, CATEGORY_BITS, DESDM_BITS
from spacejunk.simulate import simulate_image
from spacejunk.simulate.artifacts import ARTIFACT_RATES, CLEAN_FRACTION, GENERATORS, draw_artifact_mix

SAT, TRAIL = DESDM_BITS["SATURATE"], DESDM_BITS["TRAIL"]


def test_same_seed_same_image(small_shape):
    a = simulate_image(seed=5, shape=small_shape, artifacts=["satellite", "ghost"])
    b = simulate_image(seed=5, shape=small_shape, artifacts=["satellite", "ghost"])
    c = simulate_image(seed=6, shape=small_shape, artifacts=["satellite", "ghost"])
    np.testing.assert_array_equal(a.exposure.sci, b.exposure.sci)
    np.testing.assert_array_equal(a.exposure.msk, b.exposure.msk)
    np.testing.assert_array_equal(a.truth_mask, b.truth_mask)
    assert a.artifacts == b.artifacts
    assert not np.array_equal(a.exposure.sci, c.exposure.sci)


def test_layers_shapes_dtypes_and_headers(clean_image, small_shape):
    e = clean_image.exposure
    assert e.bands == ("g", "r", "i")
    assert e.sci.shape == e.msk.shape == e.wgt.shape == (3, *small_shape)
    assert e.sci.dtype == np.float32 and e.wgt.dtype == np.float32 and e.msk.dtype == np.int32
    assert np.isfinite(e.sci).all() and (e.wgt >= 0).all()
    assert clean_image.truth_mask.dtype == np.int32 and clean_image.truth_mask.shape == small_shape
    skies = []
    for band, h in zip(e.bands, e.headers):
        assert h["BAND"] == band and h["EXPTIME"] == 90.0
        assert 3.6 < h["GAINA"] < 4.5 and 3.6 < h["GAINB"] < 4.5 and h["GAINA"] != h["GAINB"]
        assert 30000 < h["SATURATE"] < 55000
        assert 2.5 < h["FWHM"] < 7.0
        assert isinstance(h["SKYSUB"], bool)
        assert h["SKYSIGMA"] > 0
        skies.append(h["SKYBRITE"])
    assert skies[0] < skies[1] < skies[2], "g sky must be darker than r, r darker than i"
    assert e.wgt[e.msk != 0].max() == 0.0, "flagged pixels carry no weight"


def test_bands_and_exposure_times():
    im = simulate_image(seed=1, shape=(64, 32), bands=("z", "Y"), artifacts=None)
    assert im.exposure.bands == ("z", "Y")
    assert [h["EXPTIME"] for h in im.exposure.headers] == [90.0, 45.0]


def test_clean_image_has_empty_truth(clean_image):
    assert clean_image.artifacts == ()
    assert not clean_image.truth_mask.any()


def test_noise_matches_weight_and_header(quiet_clean_image):
    e = quiet_clean_image.exposure
    for b in range(len(e.bands)):
        good = e.msk[b] == 0
        pix = e.sci[b][good]
        mad_sigma = 1.4826 * np.median(np.abs(pix - np.median(pix)))
        expected = np.median(1.0 / np.sqrt(e.wgt[b][good]))
        assert mad_sigma == pytest.approx(expected, rel=0.10)
        assert e.headers[b]["SKYSIGMA"] == pytest.approx(expected, rel=0.05)


def test_sky_is_kept_or_subtracted():
    seen = set()
    for seed in range(12):
        im = simulate_image(seed=seed, shape=(64, 32), bands=("i",), artifacts=None)
        h = im.exposure.headers[0]
        level = np.median(im.exposure.sci[0][im.exposure.msk[0] == 0])
        if h["SKYSUB"]:
            assert abs(level) < 0.5 * h["SKYSIGMA"] + 3.0
        else:
            assert level == pytest.approx(h["SKYBRITE"], rel=0.05)
        seen.add(h["SKYSUB"])
    assert seen == {True, False}


def test_saturated_star_flagged_with_bleed_trail(small_shape):
    im = simulate_image(seed=3, shape=small_shape, artifacts=["edge-bleed"])
    e = im.exposure
    for b, h in enumerate(e.headers):
        sat = (e.msk[b] & SAT) != 0
        assert sat.sum() > 20
        assert ((e.msk[b] & TRAIL) != 0).sum() > 0
        assert (e.wgt[b][sat] == 0).all()
        level = np.where(np.arange(small_shape[1]) < small_shape[1] // 2, h["SATURATA"], h["SATURATB"])
        expected = np.broadcast_to(level, small_shape)[sat]
        if not h["SKYSUB"]:
            np.testing.assert_allclose(e.sci[b][sat], expected, rtol=1e-5)
        else:  # minus the sky model (level and part of the gradient)
            np.testing.assert_allclose(e.sci[b][sat], expected - h["SKYBRITE"], atol=0.1 * h["SKYBRITE"] + 5)
        # Bleed trails run along columns: the saturated area is taller than wide.
        rows, cols = np.nonzero(sat)
        assert np.ptp(rows) > np.ptp(cols)


@pytest.mark.parametrize("category", CATEGORIES)
def test_each_category_appears_in_truth(category, small_shape):
    ny, nx = small_shape
    for seed in range(3):  # an artifact may (rarely) fall outside a small image
        im = simulate_image(seed=100 + seed, shape=small_shape, artifacts=[category])
        if im.artifacts:
            break
    assert len(im.artifacts) == 1
    art = im.artifacts[0]
    assert art.category == category and art.image == "sim" and art.score == 1.0
    assert 0 <= art.xmin < art.xmax <= nx and 0 <= art.ymin < art.ymax <= ny
    assert art.xmin <= art.x <= art.xmax and art.ymin <= art.y <= art.ymax
    assert art.radius >= 0.5 * max(art.xmax - art.xmin, art.ymax - art.ymin)
    bit = CATEGORY_BITS[category]
    on = (im.truth_mask & bit) != 0
    assert on.any() and set(np.unique(im.truth_mask).tolist()) <= {0, bit}
    rows, cols = np.nonzero(on)
    assert (rows.min(), rows.max() + 1, cols.min(), cols.max() + 1) == (art.ymin, art.ymax, art.xmin, art.xmax)


def test_artifact_signal_is_where_the_truth_is(small_shape):
    """A bright 'other' blob changes the image inside its truth box, and nothing else."""
    clean = simulate_image(seed=8, shape=small_shape, artifacts=None)
    blob = simulate_image(seed=8, shape=small_shape, artifacts=["other"], artifact_scale=5.0)
    sigma = np.array([h["SKYSIGMA"] for h in clean.exposure.headers])[:, None, None]
    diff = (np.abs(blob.exposure.sci - clean.exposure.sci) / sigma).max(axis=0)
    (art,) = blob.artifacts
    inside = np.zeros(small_shape, bool)
    inside[int(art.ymin):int(art.ymax), int(art.xmin):int(art.xmax)] = True
    assert diff[inside].max() > 5
    assert diff[~inside].max() < 1.0


def test_satellite_in_one_band_only(small_shape):
    for seed in range(4):
        clean = simulate_image(seed=seed, shape=small_shape, artifacts=None)
        sat = simulate_image(seed=seed, shape=small_shape, artifacts="satellite")
        changed = [bool(np.any(sat.exposure.sci[b] != clean.exposure.sci[b])) for b in range(3)]
        assert sum(changed) == 1
        assert sat.artifacts[0].category == "satellite"


def test_artifacts_leave_background_unchanged(small_shape):
    clean = simulate_image(seed=2, shape=small_shape, artifacts=None)
    bump = simulate_image(seed=2, shape=small_shape, artifacts="tape-bump")
    np.testing.assert_array_equal(clean.exposure.msk, bump.exposure.msk)
    assert [h["SKYBRITE"] for h in clean.exposure.headers] == [h["SKYBRITE"] for h in bump.exposure.headers]
    outside = bump.truth_mask == 0
    diff = np.abs(bump.exposure.sci - clean.exposure.sci)[:, outside]
    assert np.median(diff) == 0.0


def test_real_size_ghost_is_large_and_cut_by_edges():
    """Ghost radii follow the real labels (median ~1,900 px): on a CCD most are cut by the edges."""
    from spacejunk.simulate._render import sample_quantiles
    from spacejunk.simulate.artifacts_optics import (GHOST_BRIGHT_RADIUS_PX, GHOST_FAINT_RADIUS_PX,
                                                      RADIUS_PERCENTS)

    rng = np.random.default_rng(0)
    radii = np.concatenate([sample_quantiles(rng, RADIUS_PERCENTS, GHOST_BRIGHT_RADIUS_PX, 4000),
                            sample_quantiles(rng, RADIUS_PERCENTS, GHOST_FAINT_RADIUS_PX, 4000)])
    assert 1500 < np.median(radii) < 2600
    assert 800 < np.percentile(radii, 5) < 1000 and 8000 < np.percentile(radii, 95) < 9500


def test_random_mix():
    rng = np.random.default_rng(0)
    mixes = [draw_artifact_mix(rng) for _ in range(2000)]
    clean = np.mean([len(m) == 0 for m in mixes])
    assert clean == pytest.approx(CLEAN_FRACTION, abs=0.03)
    seen = {c for m in mixes for c in m}
    assert seen == set(CATEGORIES) == set(GENERATORS) == set(ARTIFACT_RATES)
    assert max(len(m) for m in mixes) <= 6


def test_random_artifacts_are_valid(small_shape):
    n_with = 0
    for seed in range(6):
        im = simulate_image(seed=seed, shape=small_shape)
        n_with += bool(im.artifacts)
        for art in im.artifacts:
            assert art.category in CATEGORIES
            assert (im.truth_mask & CATEGORY_BITS[art.category]).any()
    assert n_with >= 3


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(artifacts=["ghosts"]), ValueError, "unknown category 'ghosts'"),
    (dict(artifacts=[3]), TypeError, "artifacts: expected category names"),
    (dict(bands=("g", "q")), ValueError, "bands: unknown band 'q'"),
    (dict(bands=("g", "g")), ValueError, "bands: repeated band"),
    (dict(shape=(8, 128)), ValueError, "shape: each side must be at least 16"),
    (dict(shape=(64.0, 32)), TypeError, "shape: expected two integers"),
    (dict(artifact_scale=-1.0), ValueError, "artifact_scale"),
    (dict(seed=-1), TypeError, "seed"),
])
def test_bad_arguments_are_named(kwargs, error, match):
    args = dict(seed=0, shape=(64, 32))
    args.update(kwargs)
    with pytest.raises(error, match=match):
        simulate_image(**args)

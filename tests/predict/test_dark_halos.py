"""The dark-halo finder and the finders' registry, on small simulated images with known truth."""

import numpy as np
import pytest

from spacejunk.evaluate.coco import box_iou
from spacejunk.io import Artifact
from spacejunk.predict.dark_halos import DarkHaloSettings, fill_with_sky, find_dark_halos, sky_residual
from spacejunk.predict.finders import (FINDERS, box_tile_scores, default_finder_settings, finder_keys,
                                       run_finders)
from spacejunk.simulate import simulate_image

SHAPE = (1024, 512)


def _boxes(items):
    return np.array([[a.xmin, a.ymin, a.xmax, a.ymax] for a in items], float).reshape(-1, 4)


@pytest.fixture(scope="module")
def halo_image():
    return simulate_image(seed=3, shape=SHAPE, artifacts=["dark-halo"])


def test_dark_halo_found_and_boxed(halo_image):
    truth = [a for a in halo_image.artifacts if a.category == "dark-halo"]
    found = find_dark_halos(halo_image.exposure)
    assert len(truth) == 1 and len(found) == 1
    assert found[0].category == "dark-halo" and 0.5 < found[0].score < 1
    assert box_iou(_boxes(found), _boxes(truth))[0, 0] > 0.8


def test_no_dark_halo_without_one(halo_image):
    # the same sky, stars and saturated stars, without the halo
    clean = simulate_image(seed=3, shape=SHAPE, artifacts=[])
    assert find_dark_halos(clean.exposure) == []
    # and the residual sky of the halo's image is deepest inside the truth box
    z = sky_residual(halo_image.exposure)
    b = DarkHaloSettings().bin
    y, x = np.unravel_index(np.argmin(z), z.shape)
    t = [a for a in halo_image.artifacts if a.category == "dark-halo"][0]
    assert t.xmin <= (x + 0.5) * b <= t.xmax and t.ymin <= (y + 0.5) * b <= t.ymax
    assert z.min() < -10 and np.median(z) == pytest.approx(0, abs=0.5)


def test_a_dark_patch_without_a_star_is_not_a_halo(halo_image):
    # a star of at least 1e9 sky sigma exists nowhere: the same dark region is left alone
    assert find_dark_halos(halo_image.exposure, DarkHaloSettings(min_star_sigma=1e9)) == []


def test_box_tile_scores_cover_by_fraction_or_by_half_the_box():
    grid = np.array([[0, 0, 200, 200], [200, 0, 400, 200], [400, 0, 600, 200]])
    big = Artifact("x", 250, 100, 70, 190, 50, 310, 150, 0.9, "dark-halo")    # 10x100 px on tile 0, 100x100 on tile 1
    small = Artifact("x", 402, 10, 3, 398, 8, 406, 12, 0.6, "cosmic-ray")     # 8x4 px, half on tile 1, half on tile 2
    scores = box_tile_scores([big, small], grid, min_fraction=0.05)
    # tile 0: 1000 px = 2.5 % of it, under min_fraction, and not half the box
    assert scores.tolist() == pytest.approx([0.0, 0.9, 0.6])
    assert box_tile_scores([], grid, min_fraction=0.05).tolist() == [0, 0, 0]


def test_run_finders_runs_what_meta_asks_and_reuses_what_is_found(halo_image):
    meta = {"dark_halos": default_finder_settings(["dark_halos"])["dark_halos"], "cross_talk": None}
    assert finder_keys(meta) == ["dark_halos"]
    found = run_finders(halo_image.exposure, meta)
    assert list(found) == ["dark_halos"] and len(found["dark_halos"]) == 1
    marker = [Artifact("x", 1, 1, 1, 0, 0, 2, 2, 0.7, "dark-halo")]
    assert run_finders(halo_image.exposure, meta, {"dark_halos": marker})["dark_halos"] is marker
    assert set(default_finder_settings()) == set(FINDERS)


def test_classifier_tiles_under_a_found_halo_score_at_least_its_score(halo_image):
    from spacejunk.predict.classifier import classify_exposure, load_default_classifier

    model, meta = load_default_classifier()
    # the halos not filled in the network's input, whose scores stay those of the plain image
    meta = {**meta, **default_finder_settings(["dark_halos"]), "fill_dark_halos": False}
    exposure = halo_image.exposure
    plain = classify_exposure(exposure, trails=False, found={"dark_halos": []}, model=model, meta=meta)
    halo = Artifact(exposure.name, 250, 300, 100, 200, 200, 400, 400, 0.97, "dark-halo")
    boosted = classify_exposure(exposure, trails=False, found={"dark_halos": [halo]}, model=model, meta=meta)
    covered = box_tile_scores([halo], plain.grid, min_fraction=0.01) > 0
    assert 1 <= covered.sum() < len(covered)
    assert np.all(boosted.scores[covered] >= 0.97 - 1e-6)
    assert np.allclose(boosted.scores[~covered], plain.scores[~covered])


def test_fill_with_sky_replaces_the_ellipse_in_each_box_with_noise():
    rng = np.random.default_rng(1)
    image = rng.normal(0.0, [[[1.0]], [[2.0]]], (2, 300, 400)).astype(np.float32)
    image[:, 100:200, 100:300] -= 5.0  # a dark patch
    box = (100.0, 100.0, 300.0, 200.0)
    filled = fill_with_sky(image, [box])
    yy, xx = np.mgrid[:300, :400]
    inside = ((xx + 0.5 - 200) / 100) ** 2 + ((yy + 0.5 - 150) / 50) ** 2 <= 1
    assert inside.sum() == pytest.approx(np.pi * 100 * 50, rel=0.01)
    assert np.array_equal(filled[:, ~inside], image[:, ~inside])  # the rest untouched
    for b, sd in enumerate((1.0, 2.0)):
        assert filled[b][inside].mean() == pytest.approx(0.0, abs=0.05 * sd)  # the sky's level, not -5
        assert filled[b][inside].std() == pytest.approx(sd, rel=0.1)  # each band's own scatter
    assert np.array_equal(fill_with_sky(image, [box]), filled)  # the same fill every time
    assert fill_with_sky(image, []) is image


def test_a_found_dark_halo_is_hidden_from_the_network():
    # the network's tiles beside a halo score as on the same sky without it, once it is filled
    from spacejunk.predict.classifier import halos_to_fill, load_default_classifier, model_inputs, network_scores
    from spacejunk.preprocess import tile_grid

    model, meta = load_default_classifier()
    meta = {**meta, **default_finder_settings(["dark_halos"]), "fill_dark_halos": True}
    exposure = simulate_image(seed=5, shape=SHAPE, artifacts=["dark-halo"]).exposure
    clean = simulate_image(seed=5, shape=SHAPE, artifacts=[]).exposure
    halos, found = halos_to_fill(exposure, meta)
    assert len(halos) == 1 and [a.box for a in found["dark_halos"]] == halos
    assert halos_to_fill(exposure, {**meta, "fill_dark_halos": False}) == ([], None)
    assert halos_to_fill(exposure, meta, {"dark_halos": []}) == ([], {"dark_halos": []})  # found already
    grid = tile_grid(SHAPE, tile=200)

    def scores(exp, boxes):
        image, present, context, _ = model_inputs(exp, meta)
        return network_scores(model, meta, image, present, grid, context=context, halos=boxes)

    plain, filled, sky = scores(exposure, []), scores(exposure, halos), scores(clean, [])
    assert np.abs(plain - sky).max() > 0.1
    assert np.abs(filled - sky).max() < 0.03


def test_the_pipeline_runs_each_finder_once_for_both_models(monkeypatch):
    """What the pipeline found is handed to both models, trails or not (a trail once made
    the detector run the other finders again)."""
    from spacejunk.pipeline import detect_exposure

    exposure = simulate_image(seed=11, shape=SHAPE, artifacts=["satellite"], artifact_scale=3.0).exposure
    calls = []
    for key, (category, finder, config) in list(FINDERS.items()):
        def counted(exp, settings, _key=key, _finder=finder):
            calls.append(_key)
            return _finder(exp, settings)
        monkeypatch.setitem(FINDERS, key, (category, counted, config))
    result = detect_exposure(exposure)
    assert result.trails  # the case that ran them twice
    assert sorted(calls) == sorted(set(calls)) and "dark_halos" in calls

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch

from spacejunk import InputError, SpacejunkWarning
from spacejunk.io import Exposure
from spacejunk.models import build_model
from spacejunk.models.classifier import ARCH
from spacejunk.predict import TileScores, classify_exposure
from spacejunk.predict.classifier import arrange_bands, model_inputs, score_tiles
from spacejunk.preprocess import tile_grid
from spacejunk.simulate import simulate_image


@pytest.fixture(scope="module")
def exposure():
    return simulate_image(seed=7, name="p7", shape=(450, 420), bands=("g", "r", "i")).exposure


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    model = build_model(ARCH, bands=("g", "r", "i"), widths=(8, 8, 8, 8), blocks=(0, 0, 0), hidden=8).eval()
    meta = {"task": "classifier", "bands": ["g", "r", "i"], "tile": 200, "threshold": 0.4, "context": True,
            "context_bin": 16, "normalisation": {"stretch": "asinh", "softening": 5.0, "mask_bits": 0}}
    return model, meta


def test_scores_every_tile_of_the_grid(exposure, tiny):
    model, meta = tiny
    result = classify_exposure(exposure, model=model, meta=meta)
    assert isinstance(result, TileScores)
    np.testing.assert_array_equal(result.grid, tile_grid((450, 420), tile=200))
    assert result.grid[0].tolist() == [0, 0, 200, 200] and len(result) == 9
    assert result.scores.dtype == np.float32 and ((result.scores >= 0) & (result.scores <= 1)).all()
    assert result.threshold == 0.4 and result.bands == ("g", "r", "i")
    np.testing.assert_array_equal(result.positive, result.scores >= 0.4)
    assert classify_exposure(exposure, model=model, meta=meta, threshold=0.9).threshold == 0.9


def test_overlap_adds_tiles_and_keeps_shared_scores(exposure, tiny):
    model, meta = tiny
    plain = classify_exposure(exposure, model=model, meta=meta)
    dense = classify_exposure(exposure, model=model, meta=meta, overlap=100)
    assert len(dense) > len(plain)
    # a tile at the same place gets the same score whatever its neighbours
    same = {tuple(g): s for g, s in zip(dense.grid, dense.scores)}
    np.testing.assert_allclose(plain.scores[0], same[(0, 0, 200, 200)], atol=1e-6)


def test_subset_of_bands_and_unknown_bands(exposure, tiny):
    model, meta = tiny
    two = classify_exposure(exposure.select(("g", "i")), model=model, meta=meta)
    assert two.bands == ("g", "i") and np.isfinite(two.scores).all()
    image, present, context, used = model_inputs(exposure.select(("i",)), meta)
    assert present.tolist() == [0.0, 0.0, 1.0] and (image[:2] == 0).all() and context.shape == (3, 29, 27)
    odd = Exposure("odd", ("g", "z"), exposure.sci[:2], exposure.msk[:2], exposure.wgt[:2])
    with pytest.warns(SpacejunkWarning, match="band\\(s\\) z unknown"):
        assert classify_exposure(odd, model=model, meta=meta).bands == ("g",)
    none = Exposure("none", ("z",), exposure.sci[:1], exposure.msk[:1], exposure.wgt[:1])
    with pytest.raises(InputError, match="knows only g, r, i"):
        classify_exposure(none, model=model, meta=meta)


def test_arguments_are_checked(exposure, tiny):
    model, meta = tiny
    with pytest.raises(ValueError, match="threshold must be in"):
        classify_exposure(exposure, model=model, meta=meta, threshold=2.0)
    with pytest.raises(ValueError, match="pass both model and meta"):
        classify_exposure(exposure, model=model)
    with pytest.raises(TypeError, match="Exposure"):
        classify_exposure(exposure.sci, model=model, meta=meta)
    with pytest.raises(ValueError, match="not a tile classifier"):
        classify_exposure(exposure, model=model, meta={**meta, "task": "detector"})


def test_score_tiles_on_arrays(tiny):
    model, meta = tiny
    norm = np.random.default_rng(0).standard_normal((3, 256, 256)).astype(np.float32)
    image, present, context, used = arrange_bands(norm, ("g", "r", "i"), meta)
    grid = np.array([[0, 0, 200, 200], [56, 56, 256, 256]])
    s = score_tiles(model, image, present, grid, context=context)
    assert s.shape == (2,) and score_tiles(model, image, present, np.zeros((0, 4)), context=context).shape == (0,)


def test_threads_share_one_model(exposure, tiny):
    model, meta = tiny
    expected = classify_exposure(exposure, model=model, meta=meta).scores
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: classify_exposure(exposure, model=model, meta=meta).scores, range(4)))
    for r in results:
        np.testing.assert_allclose(r, expected, atol=1e-6)

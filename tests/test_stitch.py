import numpy as np
import pytest

from spacejunk.preprocess import tile_grid
from spacejunk.stitch import tiles_to_score_map


def test_max_over_overlapping_tiles():
    grid = [[0, 0, 4, 4], [2, 2, 6, 6], [4, 0, 6, 2]]
    m = tiles_to_score_map(grid, [0.1, 0.8, 0.3], (6, 7))
    assert m.dtype == np.float32 and m.shape == (6, 7)
    assert m[0, 0] == pytest.approx(0.1) and m[3, 3] == pytest.approx(0.8)  # shared pixel: the max
    assert m[1, 5] == pytest.approx(0.3) and m[5, 5] == pytest.approx(0.8)
    assert m[0, 6] == 0.0 and m[5, 0] == 0.0  # no tile: fill


def test_mean_min_and_fill():
    grid = [[0, 0, 2, 2], [1, 0, 3, 2]]
    mean = tiles_to_score_map(grid, [0.2, 0.6], (2, 4), reduce="mean", fill=-1.0)
    np.testing.assert_allclose(mean, [[0.2, 0.4, 0.6, -1], [0.2, 0.4, 0.6, -1]], rtol=1e-6)
    low = tiles_to_score_map(grid, [0.2, 0.6], (2, 4), reduce="min")
    np.testing.assert_allclose(low[:, :3], [[0.2, 0.2, 0.6]] * 2, rtol=1e-6)


def test_ccd_grid_covers_every_pixel_and_boundary_artifact_keeps_its_score():
    grid = tile_grid((4096, 2048), tile=200)
    scores = np.zeros(len(grid))
    # the tile holding pixel (x=1900, y=3950) in the moved-inward last row/column is positive
    hit = np.flatnonzero((grid[:, 0] <= 1900) & (grid[:, 2] > 1900) & (grid[:, 1] <= 3950) & (grid[:, 3] > 3950))
    scores[hit] = 0.9
    m = tiles_to_score_map(grid, scores, (4096, 2048))
    assert m[3950, 1900] == pytest.approx(0.9)
    covered = tiles_to_score_map(grid, np.ones(len(grid)), (4096, 2048), fill=-1)
    assert (covered == 1).all()


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="reduce must be one of max, mean, min"):
        tiles_to_score_map([[0, 0, 1, 1]], [1.0], (2, 2), reduce="median")
    with pytest.raises(ValueError, match="one value per tile"):
        tiles_to_score_map([[0, 0, 1, 1]], [1.0, 2.0], (2, 2))
    with pytest.raises(ValueError, match="outside the image"):
        tiles_to_score_map([[0, 0, 3, 1]], [1.0], (2, 2))
    assert (tiles_to_score_map(np.zeros((0, 4)), [], (2, 3)) == 0).all()

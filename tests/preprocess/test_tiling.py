import numpy as np
import pytest

from spacejunk.preprocess import cut_tiles, tile_fractions, tile_grid, tile_labels


def test_tile_grid_on_a_decam_ccd_starts_at_origin_and_ends_at_the_border():
    grid = tile_grid((4096, 2048))
    assert grid.shape == (21 * 11, 4) and np.issubdtype(grid.dtype, np.integer)
    np.testing.assert_array_equal(grid[0], [0, 0, 200, 200])
    np.testing.assert_array_equal(grid[1], [200, 0, 400, 200])  # row-major: x inner
    np.testing.assert_array_equal(grid[-1], [1848, 3896, 2048, 4096])
    assert sorted(set(grid[:, 1])) == list(range(0, 3801, 200)) + [3896]
    # Same grid from a (n_bands, ny, nx) shape.
    np.testing.assert_array_equal(tile_grid((3, 4096, 2048)), grid)


@pytest.mark.parametrize(
    "shape, tile, overlap",
    [((256, 128), 64, 0), ((256, 128), 64, 16), ((300, 170), 50, 7), ((97, 203), (40, 60), 5), ((200, 200), 200, 0)],
)
def test_tile_grid_covers_every_pixel_with_full_tiles_inside(shape, tile, overlap):
    th, tw = (tile, tile) if np.ndim(tile) == 0 else tile
    grid = tile_grid(shape, tile=tile, overlap=overlap)
    x0, y0, x1, y1 = grid.T
    assert np.all((x0 >= 0) & (y0 >= 0) & (x1 <= shape[1]) & (y1 <= shape[0]))
    assert np.all(x1 - x0 == tw) and np.all(y1 - y0 == th)
    cover = np.zeros(shape, int)
    for a, b, c, d in grid:
        cover[b:d, a:c] += 1
    assert cover.min() >= 1
    for starts, t in ((np.unique(x0), tw), (np.unique(y0), th)):
        assert starts[0] == 0
        steps = np.diff(starts)
        assert np.all(steps[:-1] == t - overlap)  # the last tile may be shifted inward
        assert len(steps) == 0 or 0 < steps[-1] <= t - overlap


def test_tile_grid_on_an_image_smaller_than_a_tile():
    np.testing.assert_array_equal(tile_grid((50, 30), tile=200), [[0, 0, 30, 50]])
    grid = tile_grid((50, 450), tile=200)
    np.testing.assert_array_equal(grid, [[0, 0, 200, 50], [200, 0, 400, 50], [250, 0, 450, 50]])


def test_tile_grid_rejects_bad_arguments():
    with pytest.raises(ValueError, match="overlap must be >= 0 and smaller than the tile"):
        tile_grid((100, 100), tile=20, overlap=20)
    with pytest.raises(ValueError, match="tile must be >= 1"):
        tile_grid((100, 100), tile=0)
    with pytest.raises(TypeError, match="tile must be an int"):
        tile_grid((100, 100), tile=2.5)
    with pytest.raises(ValueError, match="shape must end with"):
        tile_grid((100,))


def test_tile_fractions_match_brute_force_on_random_masks():
    rng = np.random.default_rng(3)
    mask = rng.random((150, 113)) < 0.2
    mask[60:90, 30:70] = True
    grid = tile_grid(mask.shape, tile=37, overlap=11)
    expected = [mask[y0:y1, x0:x1].mean() for x0, y0, x1, y1 in grid]
    np.testing.assert_allclose(tile_fractions(mask, grid), expected, rtol=0, atol=1e-12)
    # Arbitrary boxes of different sizes, and an integer mask (non-zero = covered).
    boxes = np.array([[0, 0, 113, 150], [5, 7, 6, 8], [100, 140, 113, 150], [20, 10, 90, 11]])
    ints = mask.astype(np.int32) * 1024
    np.testing.assert_allclose(tile_fractions(ints, boxes), [mask[b:d, a:c].mean() for a, b, c, d in boxes])


def test_tile_fractions_rejects_tiles_outside_the_mask():
    with pytest.raises(ValueError, match="outside the image"):
        tile_fractions(np.zeros((10, 10), bool), [[0, 0, 11, 10]])
    with pytest.raises(ValueError, match="grid must have shape"):
        tile_fractions(np.zeros((10, 10), bool), [[0, 0, 10]])


def test_tile_labels_are_positive_from_one_percent():
    grid = tile_grid((100, 300), tile=100)
    mask = np.zeros((100, 300), bool)
    mask[:10, 0:10] = True  # tile 0: 100 px = 1 %
    mask[:9, 100:110] = True  # tile 1: 90 px = 0.9 %
    np.testing.assert_array_equal(tile_labels(mask, grid), [True, False, False])
    np.testing.assert_array_equal(tile_labels(mask, grid, min_fraction=0.005), [True, True, False])
    np.testing.assert_array_equal(tile_labels(mask, grid, min_fraction=0), [True, True, False])
    with pytest.raises(ValueError, match="min_fraction must be in"):
        tile_labels(mask, grid, min_fraction=1.5)


def test_cut_tiles_returns_the_pixels_of_each_tile():
    array = np.arange(2 * 30 * 20, dtype=np.float32).reshape(2, 30, 20)
    grid = tile_grid(array.shape, tile=8, overlap=2)
    tiles = cut_tiles(array, grid)
    assert tiles.shape == (len(grid), 2, 8, 8) and tiles.dtype == np.float32
    for k, (x0, y0, x1, y1) in enumerate(grid):
        np.testing.assert_array_equal(tiles[k], array[:, y0:y1, x0:x1])
    flat = cut_tiles(array[0], grid)
    assert flat.shape == (len(grid), 8, 8)
    np.testing.assert_array_equal(flat[-1], array[0, 22:30, 12:20])
    with pytest.raises(ValueError, match="one size"):
        cut_tiles(array, [[0, 0, 8, 8], [0, 0, 4, 8]])

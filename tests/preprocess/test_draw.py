import numpy as np
import pytest
from PIL import Image

from spacejunk.categories import CATEGORIES, FOCAL_PLANE_CATEGORIES
from spacejunk.io import Artifact
from spacejunk.preprocess import CATEGORY_COLORS, draw_artifacts, draw_tiles, save_png
from spacejunk.preprocess.draw import DEFAULT_COLOR, TILE_COLOR


def test_every_category_has_its_own_colour_and_none_is_magenta():
    assert set(CATEGORY_COLORS) == set(CATEGORIES + FOCAL_PLANE_CATEGORIES)
    assert len({CATEGORY_COLORS[c] for c in CATEGORIES}) == len(CATEGORIES)
    assert (255, 0, 255) not in CATEGORY_COLORS.values()


def _near(rgb, y, x, color, radius=2):
    patch = rgb[y - radius:y + radius + 1, x - radius:x + radius + 1].reshape(-1, 3)
    return np.any(np.all(patch == color, axis=1))


def test_draw_artifacts_draws_the_circle_in_the_category_colour():
    rgb = np.zeros((200, 300, 3), np.uint8)
    art = Artifact.from_circle("im", 150, 120, 30, category="satellite")
    out = draw_artifacts(rgb, [art], legend=False)
    color = CATEGORY_COLORS["satellite"]
    for y, x in [(120, 180), (120, 120), (150, 150), (90, 150)]:  # on the circle
        assert _near(out, y, x, color)
    assert np.all(out[110:131, 140:161] == 0)  # centre untouched
    assert np.all(rgb == 0)  # input not modified
    plain = draw_artifacts(rgb, [art], color_by_category=False, legend=False)
    assert _near(plain, 120, 180, DEFAULT_COLOR)


def test_draw_artifacts_at_a_smaller_scale_and_boxes():
    rgb = np.zeros((100, 50, 3), np.uint8)  # a 400 x 200 image at scale 0.25
    art = Artifact("im", 101.5, 201.5, 80.0, 21.5, 121.5, 181.5, 281.5, 0.9, "ghost")
    out = draw_artifacts(rgb, [art], scale=0.25, legend=False, show_score=False)
    color = CATEGORY_COLORS["ghost"]
    assert _near(out, 50, 45, color) and _near(out, 30, 25, color)  # (x +- r, y), (x, y - r) / 4
    assert _near(out, 36, 39, color)  # 45 degrees
    boxes = draw_artifacts(rgb, [art], scale=0.25, mark="box", legend=False, show_score=False)
    assert _near(boxes, 50, 5, color, radius=1) and _near(boxes, 40, 45, color, radius=1)
    assert not _near(boxes, 36, 39, color)


def test_draw_artifacts_legend_and_nothing_to_draw():
    rgb = np.zeros((300, 300, 3), np.uint8)
    arts = [Artifact.from_circle("im", 200, 200, 25, category="cosmic-ray"),
            Artifact.from_circle("im", 250, 100, 25, category="ghost")]
    out = draw_artifacts(rgb, arts)
    corner = out[:40, :40].reshape(-1, 3)
    for name in ("cosmic-ray", "ghost"):
        assert np.any(np.all(corner == CATEGORY_COLORS[name], axis=1))
    np.testing.assert_array_equal(draw_artifacts(rgb, []), rgb)
    with pytest.raises(ValueError, match="rgb must be a uint8"):
        draw_artifacts(np.zeros((10, 10)), arts)
    with pytest.raises(TypeError, match="Artifact records"):
        draw_artifacts(rgb, [(1, 2, 3)])


def test_draw_tiles_outlines_only_tiles_above_threshold():
    rgb = np.zeros((100, 200, 3), np.uint8)
    grid = np.array([[0, 0, 100, 100], [100, 0, 200, 100]])
    out = draw_tiles(rgb, grid, np.array([0.2, 0.9]), threshold=0.5)
    assert np.all(out[50, 199] == TILE_COLOR) and np.all(out[0, 150] == TILE_COLOR)
    assert np.all(out[:, :99] == 0)
    with pytest.raises(ValueError, match="scores must have shape"):
        draw_tiles(rgb, grid, np.array([0.2]))


def test_save_png_round_trip(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    path = tmp_path / "sub" / "x.png"
    save_png(path, rgb)
    np.testing.assert_array_equal(np.asarray(Image.open(path)), rgb)
    assert [p.name for p in path.parent.iterdir()] == ["x.png"]
    with pytest.raises(ValueError, match="uint8"):
        save_png(tmp_path / "y.png", rgb.astype(float))
    assert not (tmp_path / "y.png").exists()

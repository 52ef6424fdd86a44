import numpy as np
import pytest
from PIL import Image

from spacejunk.cli import main
from spacejunk.io import Artifact, Exposure, write_artifacts, write_exposure, write_labels
from spacejunk.preprocess import CATEGORY_COLORS


def _write_image(folder, name="sim", shape=(256, 128)):
    rng = np.random.default_rng(5)
    sci = (100.0 + 5.0 * rng.standard_normal((3,) + shape)).astype(np.float32)
    exp = Exposure(name, ("g", "r", "i"), sci, np.zeros(sci.shape, np.int32), np.ones_like(sci))
    return write_exposure(exp, folder)


def _has(rgb, color):
    return np.any(np.all(rgb.reshape(-1, 3) == color, axis=1))


def test_preview_draws_labels_and_detections_of_the_image(tmp_path):
    files = _write_image(tmp_path / "img")
    labels = tmp_path / "labels.csv"
    write_labels(labels, [Artifact.from_circle("sim", 60, 100, 25, category="satellite"),
                          Artifact.from_circle("other-image", 60, 100, 25, category="ghost")])
    detections = tmp_path / "artifacts.csv"
    write_artifacts(detections, [Artifact.from_circle("sim", 60, 200, 30, score=0.8, category="cosmic-ray")])
    out = tmp_path / "out" / "sim.png"
    status = main(["preview", *map(str, files), "--out", str(out), "--labels", str(labels),
                   "--detections", str(detections), "--scale", "0.5", "--quiet"])
    assert status == 0
    rgb = np.asarray(Image.open(out))
    assert rgb.shape == (128, 64, 3) and rgb.dtype == np.uint8
    assert _has(rgb, CATEGORY_COLORS["satellite"]) and _has(rgb, CATEGORY_COLORS["cosmic-ray"])
    assert not _has(rgb, CATEGORY_COLORS["ghost"])  # another image's label
    # The label circle passes through (x + r, y) = (85, 100) -> (42, 50) at scale 0.5.
    patch = rgb[48:53, 40:45].reshape(-1, 3)
    assert np.any(np.all(patch == CATEGORY_COLORS["satellite"], axis=1))
    # The detection's box: left edge x = 30 -> 15, rows 170..230 -> 85..115.
    edge = rgb[95:106, 13:18].reshape(-1, 3)
    assert np.any(np.all(edge == CATEGORY_COLORS["cosmic-ray"], axis=1))


def test_preview_without_marks_and_from_a_folder(tmp_path):
    _write_image(tmp_path / "img")
    out = tmp_path / "plain.png"
    assert main(["preview", str(tmp_path / "img"), "--out", str(out), "--quiet"]) == 0
    assert np.asarray(Image.open(out)).shape == (64, 32, 3)


def test_preview_wants_exactly_one_image(tmp_path, capsys):
    _write_image(tmp_path / "img", name="a")
    _write_image(tmp_path / "img", name="b")
    out = tmp_path / "x.png"
    assert main(["preview", str(tmp_path / "img"), "--out", str(out), "--quiet"]) == 1
    assert "exactly one image, got 2: a, b" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize("scale", ["0", "2"])
def test_preview_rejects_bad_scale(tmp_path, capsys, scale):
    files = _write_image(tmp_path / "img")
    assert main(["preview", str(files[0]), "--out", str(tmp_path / "x.png"), "--scale", scale, "--quiet"]) == 1
    assert "--scale must be in (0, 1]" in capsys.readouterr().err

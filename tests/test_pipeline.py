"""spacejunk.detect on batches: outputs, bad images, resume, Dask."""

import csv
import json
import shutil

import numpy as np
import pytest
import torch
from astropy.io import fits

from spacejunk import InputError
from spacejunk.cli import main
from spacejunk.io import read_artifacts, read_exposure
from spacejunk.io.outputs import read_mask_fits
from spacejunk.models import build_model, save_checkpoint
from spacejunk.models.classifier import ARCH
from spacejunk.pipeline import DetectSettings, detect, detect_exposure
from spacejunk.simulate import simulate_dataset

SHAPE = (420, 300)
NORM = {"stretch": "asinh", "softening": 5.0, "mask_bits": 0}


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """A tiny untrained classifier and detector, saved as checkpoints."""
    root = tmp_path_factory.mktemp("models")
    torch.manual_seed(0)
    config = {"bands": ("g", "r", "i"), "widths": (8, 8, 8, 8), "blocks": (0, 0, 0), "hidden": 8}
    classifier = save_checkpoint(root / "classifier.pt", build_model(ARCH, **config), arch=ARCH, config=config,
                                 meta={"task": "classifier", "bands": ["g", "r", "i"], "tile": 200, "threshold": 0.5,
                                       "context": True, "context_bin": 16, "normalisation": NORM})
    config = {"n_bands": 3, "base_channels": 4, "depth": 2, "stem_stride": 2}
    detector = build_model("unet_boxes", **config)
    with torch.no_grad():  # a bias that makes the untrained net find something
        for p in detector.parameters():
            p.mul_(0.5)
    detector = save_checkpoint(root / "detector.pt", detector, arch="unet_boxes", config=config,
                               meta={"task": "detector", "bands": ["g", "r", "i"], "threshold": 0.05,
                                     "views": [{"bin": 1, "tile": 256, "overlap": 64}], "normalisation": NORM})
    return [str(classifier), str(detector)]


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    root = tmp_path_factory.mktemp("sims")
    names = simulate_dataset(root, n=3, seed=11, shape=SHAPE, quiet=True)
    return root, names


def _rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_detect_writes_every_output(images, models, tmp_path):
    root, names = images
    out = tmp_path / "out"
    run = detect([root], out=out, model=models, quiet=True)
    assert run.summary["images"] == 3 and run.summary["done"] == 3 and run.summary["failed"] == 0
    for name in names:
        for suffix in ("_mask.fits", "_scores.fits", ".reg", ".png"):
            assert (out / f"{name}{suffix}").is_file(), suffix
        mask = read_mask_fits(out / f"{name}_mask.fits")
        assert mask.shape == SHAPE and mask.dtype == np.int32
        with fits.open(out / f"{name}_scores.fits") as hdul:
            scores = hdul["SCORE"].data
        assert scores.shape == SHAPE and 0 <= scores.min() <= scores.max() <= 1
    tiles = _rows(out / "tiles.csv")
    assert list(tiles[0]) == ["image", "x0", "y0", "x1", "y1", "score"]
    assert len(tiles) == 3 * 6  # 420 x 300 -> 3 rows x 2 columns of 200-px tiles
    assert {r["image"] for r in tiles} == set(names)
    first = [r for r in tiles if r["image"] == names[0]]
    assert [(int(r["x0"]), int(r["y0"])) for r in first][:2] == [(0, 0), (100, 0)]
    arts = read_artifacts(out / "artifacts.csv")
    assert len(arts) == run.summary["artifacts"]
    for a in arts:
        assert 0 <= a.xmin < a.xmax <= SHAPE[1] and 0 <= a.ymin < a.ymax <= SHAPE[0] and 0 <= a.score <= 1
    summary = json.loads((out / "summary.json").read_text())
    assert summary["done"] == 3 and set(summary["seconds_per_image"]) >= {"read", "classify", "detect", "write"}


def test_the_same_from_python_on_one_exposure(images, models):
    root, names = images
    exposure = read_exposure(sorted(root.glob(f"{names[0]}_*.fits")))
    result = detect_exposure(exposure, settings=DetectSettings(classifier=models[0], detector=models[1]))
    assert result.name == names[0] and result.shape == SHAPE and len(result.tile_scores) == 6
    only_r = detect_exposure(exposure.select(["r"]), settings=DetectSettings(classifier=models[0], detector=models[1]))
    assert len(only_r.tile_scores) == 6


def test_bad_images_are_reported_and_the_batch_goes_on(images, models, tmp_path):
    root, names = images
    data = tmp_path / "data"
    shutil.copytree(root, data, ignore=shutil.ignore_patterns("truth", "*.csv"))
    # truncated: cut the g file of the first image in half
    g = data / f"{names[0]}_g.fits"
    g.write_bytes(g.read_bytes()[: g.stat().st_size // 2])
    # no SCI layer
    bad = data / "nosci_r.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(np.zeros((50, 40), np.int16), name="MSK")]).writeto(bad)
    # bands of different shapes
    for band, shape in (("g", (60, 40)), ("r", (64, 40))):
        fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(np.zeros(shape, np.float32), name="SCI")]).writeto(
            data / f"shapes_{band}.fits")
    out = tmp_path / "out"
    code = main(["detect", str(data), "--out", str(out), "--quiet", "--model", models[0], "--model", models[1],
                 "--no-png"])
    assert code == 1
    summary = json.loads((out / "summary.json").read_text())
    assert summary["done"] == 2 and summary["failed"] == 3
    reasons = {e["path"].split("/")[-1]: e["reason"] for e in summary["errors"]}
    assert "truncated" in reasons[f"{names[0]}_g.fits"]
    assert "no SCI" in reasons["nosci_r.fits"]
    assert any("different shapes" in r for r in reasons.values())
    assert {r["image"] for r in _rows(out / "tiles.csv")} == set(names[1:])
    leftovers = [p for p in out.rglob("*") if p.name.endswith(".part")]
    assert leftovers == []


def test_a_rerun_resumes_and_ends_with_the_same_outputs(images, models, tmp_path):
    root, names = images
    whole = tmp_path / "whole"
    detect([root], out=whole, model=models, quiet=True, write_png=False)
    # an interrupted run: only the first image finished, the second left a temporary file
    part = tmp_path / "part"
    detect([str(root / f"{names[0]}_*.fits")], out=part, model=models, quiet=True, write_png=False)
    (part / f".{names[1]}_mask.fits.123.part").write_bytes(b"half")
    mtime = (part / f"{names[0]}_mask.fits").stat().st_mtime_ns
    run = detect([root], out=part, model=models, quiet=True, write_png=False)
    assert run.summary["skipped"] == 1 and run.summary["done"] == 2
    assert (part / f"{names[0]}_mask.fits").stat().st_mtime_ns == mtime
    for name in ("artifacts.csv", "tiles.csv"):
        assert (part / name).read_text() == (whole / name).read_text()
    again = detect([root], out=part, model=models, quiet=True, write_png=False, overwrite=True)
    assert again.summary["done"] == 3 and again.summary["skipped"] == 0


def test_dask_local_cluster_gives_the_same_catalogs(images, models, tmp_path):
    from distributed import LocalCluster

    root, _ = images
    local = tmp_path / "local"
    detect([root], out=local, model=models, quiet=True, write_png=False)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        run = detect([root], out=tmp_path / "dask", model=models, quiet=True, write_png=False,
                     scheduler=cluster.scheduler_address)
    assert run.summary["done"] == 3
    for name in ("artifacts.csv", "tiles.csv"):
        assert (tmp_path / "dask" / name).read_text() == (local / name).read_text()


def test_missing_path_is_one_failure_and_bad_options_are_refused(images, models, tmp_path):
    root, _ = images
    run = detect([root, tmp_path / "nope.fits"], out=tmp_path / "o", model=models, quiet=True, write_png=False)
    assert run.summary["done"] == 3 and run.summary["failed"] == 1
    assert "nope.fits" in run.summary["errors"][0]["path"]
    with pytest.raises(ValueError, match="threshold must be in"):
        detect([root], out=tmp_path / "o", threshold=2.0)
    with pytest.raises(ValueError, match="workers must be"):
        detect([root], out=tmp_path / "o", workers=0)
    with pytest.raises(InputError, match="checkpoint not found"):
        detect([root], out=tmp_path / "o", model=tmp_path / "none.pt")

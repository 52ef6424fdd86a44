"""simulate_dataset and the ``spacejunk simulate`` command: the files written read back."""

from __future__ import annotations

import numpy as np
import pytest

from spacejunk.cli import main
from spacejunk.io import find_images, read_artifacts, read_exposure, read_labels, read_mask_fits
from spacejunk.simulate import image_name, image_seed, simulate_dataset, simulate_image

SHAPE = (128, 64)


def test_dataset_files_read_back(tmp_path):
    names = simulate_dataset(tmp_path, n=3, seed=4, shape=SHAPE, bands=("g", "r"), quiet=True)
    assert names == ["sim_s4_0000", "sim_s4_0001", "sim_s4_0002"]
    truth = read_artifacts(tmp_path / "truth.csv")
    labels = read_labels(tmp_path / "labels.csv")
    assert sum(len(v) for v in labels.values()) == len(truth)
    images = find_images([tmp_path])
    assert sorted(images) == names
    for k, name in enumerate(names):
        assert sorted(p.name for p in images[name]) == [f"{name}_g.fits", f"{name}_r.fits"]
        exposure = read_exposure(images[name])
        again = simulate_image(seed=image_seed(4, k), name=name, shape=SHAPE, bands=("g", "r"))
        np.testing.assert_array_equal(exposure.sci, again.exposure.sci)
        np.testing.assert_array_equal(exposure.msk, again.exposure.msk)
        np.testing.assert_array_equal(exposure.wgt, again.exposure.wgt)
        assert exposure.headers[1]["SKYSIGMA"] == again.exposure.headers[1]["SKYSIGMA"]
        mask = read_mask_fits(tmp_path / "truth" / f"{name}_truth.fits")
        np.testing.assert_array_equal(mask, again.truth_mask)
        rows = [a for a in truth if a.image == name]
        assert [(a.category, a.box) for a in rows] == [(a.category, a.box) for a in again.artifacts]
        assert all(a.score == 1.0 for a in rows)
        marks = labels.get(name, [])
        assert [(m.category, round(m.x, 2), round(m.y, 2)) for m in marks] == \
            [(a.category, round(a.x, 2), round(a.y, 2)) for a in again.artifacts]


def test_image_k_does_not_depend_on_n(tmp_path):
    simulate_dataset(tmp_path / "one", n=1, seed=9, shape=SHAPE, bands=("i",), quiet=True)
    simulate_dataset(tmp_path / "two", n=2, seed=9, shape=SHAPE, bands=("i",), quiet=True)
    a = read_exposure(tmp_path / "one" / "sim_s9_0000_i.fits")
    b = read_exposure(tmp_path / "two" / "sim_s9_0000_i.fits")
    np.testing.assert_array_equal(a.sci, b.sci)
    assert image_seed(9, 0) != image_seed(9, 1) != image_seed(10, 0)
    assert image_name(9, 12) == "sim_s9_0012"


def test_compressed_dataset(tmp_path):
    simulate_dataset(tmp_path, n=1, seed=1, shape=SHAPE, bands=("r",), compress=True, quiet=True)
    path = tmp_path / "sim_s1_0000_r.fits.fz"
    assert path.exists()
    exposure = read_exposure(path)
    again = simulate_image(seed=image_seed(1, 0), name="sim_s1_0000", shape=SHAPE, bands=("r",))
    np.testing.assert_array_equal(exposure.msk, again.exposure.msk)
    sigma = again.exposure.headers[0]["SKYSIGMA"]
    error = np.abs(exposure.sci - again.exposure.sci)  # RICE quantised in steps of ~noise / 16
    assert error.max() < 0.2 * sigma and error.mean() < 0.05 * sigma


@pytest.mark.parametrize("kwargs, match", [
    (dict(n=0), "n: expected a positive integer"),
    (dict(seed=-2), "seed: expected a non-negative integer"),
    (dict(bands=("g", "x")), "bands: unknown band 'x'"),
])
def test_dataset_bad_arguments(tmp_path, kwargs, match):
    args = dict(n=1, seed=0, shape=SHAPE, quiet=True)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        simulate_dataset(tmp_path, **args)


def test_cli_simulate(tmp_path, capsys):
    out = tmp_path / "sims"
    status = main(["simulate", "--n", "2", "--seed", "3", "--out", str(out), "--shape", "64,32",
                   "--bands", "g,i", "--quiet"])
    assert status == 0
    assert (out / "sim_s3_0001_i.fits").exists() and (out / "labels.csv").exists()
    assert (out / "truth.csv").exists() and (out / "truth" / "sim_s3_0000_truth.fits").exists()
    assert read_exposure([out / "sim_s3_0000_g.fits", out / "sim_s3_0000_i.fits"]).bands == ("g", "i")


@pytest.mark.parametrize("argv, match", [
    (["--bands", "g,q"], "unknown band 'q'"),
    (["--shape", "64x32"], "--shape must be two integers"),
    (["--n", "0"], "--n must be at least 1"),
])
def test_cli_simulate_errors(tmp_path, capsys, argv, match):
    status = main(["simulate", "--out", str(tmp_path), "--shape", "64,32", "--quiet", *argv])
    assert status == 1
    err = capsys.readouterr().err
    assert "spacejunk simulate: error:" in err and match in err

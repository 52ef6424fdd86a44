from pathlib import Path

import pytest

from spacejunk import InputError
from spacejunk.io import find_images

DESDM = "D00362921_r_c57_r2331p02_immasked.fits.fz"


@pytest.fixture
def folder(tmp_path) -> Path:
    """A data folder as the simulator and DESDM leave it, plus things to be skipped."""
    names = [
        "sim0_g.fits", "sim0_r.fits", "sim0_Y.fits",
        "sim1_i.fits.fz", "sim1_z.fits.fz",
        DESDM, "D00362921_g_c57_r2331p02_immasked.fits.fz",
        "field.fits", "other.fz",
        "sim0_mask.fits", "sim0_truth.fits", "labels.csv", "notes.txt", ".sim0_g.fits.abc.part",
        "truth/sim0_truth.fits", "truth/sim9_g.fits", "sub/deep_g.fits",
    ]
    for name in names:
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).touch()
    return tmp_path


def test_folder_is_grouped_into_images(folder):
    images = find_images(folder)
    assert list(images) == sorted(images)
    assert {k: [p.name for p in v] for k, v in images.items()} == {
        "D00362921_g_c57_r2331p02_immasked": ["D00362921_g_c57_r2331p02_immasked.fits.fz"],
        "D00362921_r_c57_r2331p02_immasked": [DESDM],
        "field": ["field.fits"],
        "other": ["other.fz"],
        "sim0": ["sim0_Y.fits", "sim0_g.fits", "sim0_r.fits"],
        "sim1": ["sim1_i.fits.fz", "sim1_z.fits.fz"],
    }
    assert all(p.parent == folder for files in images.values() for p in files)


def test_glob_pattern(folder):
    images = find_images([str(folder / "sim*_[gi]*")])
    assert {k: [p.name for p in v] for k, v in images.items()} == {"sim0": ["sim0_g.fits"], "sim1": ["sim1_i.fits.fz"]}


def test_glob_over_folders_skips_truth(folder):
    images = find_images(str(folder / "*"))  # matches truth/ and sub/ as folders
    assert "deep" in images and "sim9" not in images


def test_explicit_files_are_taken_as_given(folder):
    images = find_images([folder / "sim0_r.fits", folder / "truth" / "sim9_g.fits", str(folder / "sim0_r.fits")])
    assert {k: [p.name for p in v] for k, v in images.items()} == {"sim0": ["sim0_r.fits"], "sim9": ["sim9_g.fits"]}


def test_missing_path(tmp_path):
    with pytest.raises(InputError, match="nothing_g.fits: no such file or folder"):
        find_images([tmp_path / "nothing_g.fits"])


def test_glob_without_match(folder):
    with pytest.raises(InputError, match=r"nomatch\*.fits: no FITS files .* match this pattern"):
        find_images([str(folder / "nomatch*.fits")])


def test_folder_without_fits_files(tmp_path):
    (tmp_path / "labels.csv").touch()
    with pytest.raises(InputError, match="no FITS files .* in this folder"):
        find_images(tmp_path)


def test_same_image_name_in_two_folders(tmp_path):
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / "sim0_g.fits").touch()
    with pytest.raises(InputError, match="two images named 'sim0'"):
        find_images([tmp_path / "a", tmp_path / "b"])

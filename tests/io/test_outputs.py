import re

import numpy as np
import pytest
from astropy.io import fits

from spacejunk import InputError
from spacejunk.categories import CATEGORY_BITS
from spacejunk.io import (
    ARTIFACT_COLUMNS,
    Artifact,
    read_artifacts,
    read_mask_fits,
    read_tiles,
    write_artifacts,
    write_mask_fits,
    write_regions,
    write_tiles,
)


@pytest.fixture
def artifacts():
    return [
        Artifact("sim0", 10.123456, 20.0, 25.0, 0.0, 0.0, 35.1, 45.0, 0.934567, "ghost"),
        Artifact("sim0", 0.0, 0.0, 3.5, 0.0, 0.0, 3.5, 3.5, 0.5, "cosmic-ray"),
        Artifact("sim1", 100.0, 7.25, 60.0, 40.0, 0.0, 160.0, 67.25, 1.0, "satellite"),
    ]


# --------------------------------------------------------------------------- artifacts.csv
def test_artifacts_round_trip(tmp_path, artifacts):
    path = write_artifacts(tmp_path / "out" / "artifacts.csv", artifacts)
    lines = path.read_text().splitlines()
    assert lines[0] == ",".join(ARTIFACT_COLUMNS)
    assert lines[1] == "sim0,10.12,20,25,0,0,35.1,45,0.9346,ghost"
    back = read_artifacts(path)
    assert len(back) == 3
    assert back[2] == artifacts[2]
    assert back[0].x == pytest.approx(10.12) and back[0].score == pytest.approx(0.9346)
    assert [a.category for a in back] == ["ghost", "cosmic-ray", "satellite"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["artifacts.csv"]  # no temp file left


def test_no_artifacts_is_a_header_only_file(tmp_path):
    path = write_artifacts(tmp_path / "artifacts.csv", [])
    assert path.read_text() == ",".join(ARTIFACT_COLUMNS) + "\n"
    assert read_artifacts(path) == []


def test_truth_csv_in_another_column_order(tmp_path):
    path = tmp_path / "truth.csv"
    path.write_text("category,score,image,x,y,radius,xmin,ymin,xmax,ymax,seed\n"
                    "edge-bleed,1,sim3,5,6,7,0,0,12,13,99\n")
    (a,) = read_artifacts(path)
    assert a == Artifact("sim3", 5.0, 6.0, 7.0, 0.0, 0.0, 12.0, 13.0, 1.0, "edge-bleed")


@pytest.mark.parametrize("row,message", [
    ("sim0,1,2,3,0,0,4,5,1.5,ghost", "line 3: score must be <= 1, got 1.5"),
    ("sim0,1,2,3,0,0,4,5,0.5,unicorn", "line 3: unknown category 'unicorn'"),
    ("sim0,1,2,x,0,0,4,5,0.5,ghost", "line 3: radius is not a number: 'x'"),
    ("sim0,1,2,3,9,0,4,5,0.5,ghost", "line 3: the box has xmax < xmin"),
])
def test_bad_artifact_rows(tmp_path, row, message):
    path = tmp_path / "artifacts.csv"
    path.write_text(",".join(ARTIFACT_COLUMNS) + "\nsim0,1,2,3,0,0,4,5,0.5,ghost\n" + row + "\n")
    with pytest.raises(InputError, match=f"artifacts.csv: {re.escape(message)}"):
        read_artifacts(path)


def test_artifacts_missing_columns(tmp_path):
    path = tmp_path / "artifacts.csv"
    path.write_text("image,x,y,radius\nsim0,1,2,3\n")
    with pytest.raises(InputError, match="missing column\\(s\\) xmin, ymin, xmax, ymax, score, category"):
        read_artifacts(path)


# --------------------------------------------------------------------------- tiles.csv
def test_tiles_round_trip(tmp_path):
    grid = np.array([[0, 0, 200, 200], [150, 0, 350, 200]])
    path = write_tiles(tmp_path / "tiles.csv", "sim0", grid, np.array([0.123456, 1.0]))
    assert path.read_text().splitlines() == ["image,x0,y0,x1,y1,score", "sim0,0,0,200,200,0.1235",
                                             "sim0,150,0,350,200,1"]
    both = write_tiles(tmp_path / "both.csv", ["a", "b"], grid, [0.25, 0.75])
    tiles = read_tiles(both)
    assert list(tiles) == ["a", "b"]
    np.testing.assert_array_equal(tiles["b"][0], grid[1:])
    np.testing.assert_array_equal(tiles["a"][1], [0.25])


def test_tiles_shapes_are_checked(tmp_path):
    with pytest.raises(ValueError, match="grid: expected shape \\(n, 4\\)"):
        write_tiles(tmp_path / "t.csv", "sim0", np.zeros((3, 2), int), np.zeros(3))
    with pytest.raises(ValueError, match="scores: expected shape \\(2,\\)"):
        write_tiles(tmp_path / "t.csv", "sim0", np.zeros((2, 4), int), np.zeros(3))
    assert not (tmp_path / "t.csv").exists()


# --------------------------------------------------------------------------- mask FITS
def test_mask_fits_documents_bits(tmp_path):
    mask = np.zeros((64, 32), dtype=np.int64)
    mask[5:10, 3:6] = CATEGORY_BITS["ghost"] | CATEGORY_BITS["satellite"]
    header = fits.Header([("OBJECT", "sim0"), ("NAXIS", 3), ("BZERO", 5)])
    path = write_mask_fits(tmp_path / "sim0_mask.fits", mask, header=header)
    with fits.open(path) as hdul:
        hdr = hdul[0].header
        assert hdul[0].data.dtype.name == "int32" and hdr["BITPIX"] == 32
        assert hdr["BIT16"] == "ghost"
        assert hdr["BIT10"] == "satellite"
        assert hdr["BIT4"] == "cosmic-ray"
        assert {hdr[f"BIT{int(b).bit_length() - 1}"] for b in CATEGORY_BITS.values()} == set(CATEGORY_BITS)
        assert hdr["OBJECT"] == "sim0" and hdr["NAXIS"] == 2 and "BZERO" not in hdr
    back = read_mask_fits(path)
    assert back.dtype == np.int32
    np.testing.assert_array_equal(back, mask)


def test_mask_fits_rejects_float_masks(tmp_path):
    with pytest.raises(TypeError, match="mask: expected an integer array"):
        write_mask_fits(tmp_path / "m.fits", np.zeros((4, 4)))
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- DS9 regions
def test_regions_are_one_based_with_category_and_score(tmp_path, artifacts):
    path = write_regions(tmp_path / "sim0.reg", artifacts[:2])
    lines = path.read_text().splitlines()
    assert lines[0].startswith("# Region file format: DS9")
    assert "image" in lines
    circles = [line for line in lines if line.startswith("circle(")]
    assert circles == [
        "circle(11.12,21,25) # color=#00ffff text={ghost 0.93}",
        "circle(1,1,3.5) # color=#ff3c3c text={cosmic-ray 0.50}",
    ]
    assert lines.index("image") < lines.index(circles[0])

import math

import numpy as np
import pytest

from spacejunk import InputError
from spacejunk.categories import CATEGORY_BITS
from spacejunk.io import Artifact, labels_to_category_mask, labels_to_mask, read_labels, write_labels


def test_read_labels_any_column_order_defaults_and_extras(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text(
        "category,Image,x,y,size,radius,volunteer\n"
        "ghost,sim0,10,20,small,,ann\n"
        ",sim0,1.5,2.5,medium,,bob\n"
        "\n"
        "Cosmic Ray,sim1,30,40,small,7.5,cat\n"
    )
    labels = read_labels(path)
    assert list(labels) == ["sim0", "sim1"]
    a, b = labels["sim0"]
    assert (a.x, a.y, a.radius, a.category, a.score) == (10.0, 20.0, 25.0, "ghost", 1.0)
    assert a.box == (-15.0, -5.0, 35.0, 45.0)
    assert (b.radius, b.category) == (75.0, "other")
    (c,) = labels["sim1"]
    assert (c.radius, c.category) == (7.5, "cosmic-ray")


def test_minimal_header(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text("image,x,y,size\nsim0,5,6,medium\n")
    (a,) = read_labels(path)["sim0"]
    assert (a.x, a.y, a.radius, a.category) == (5.0, 6.0, 75.0, "other")


def test_write_read_round_trip(tmp_path):
    marks = [Artifact.from_circle("sim0", 10.25, 20.5, 25.0, category="satellite"),
             Artifact.from_circle("sim0", 3.0, 4.0, 60.0, category="ghost"),
             Artifact.from_circle("sim1", 0.0, 0.0, 75.0)]
    path = write_labels(tmp_path / "sub" / "labels.csv", marks)
    lines = path.read_text().splitlines()
    assert lines[0] == "image,x,y,size,radius,category"
    assert lines[1:] == ["sim0,10.25,20.5,small,25,satellite", "sim0,3,4,medium,60,ghost", "sim1,0,0,medium,75,other"]
    back = read_labels(path)
    assert back["sim0"] + back["sim1"] == marks


@pytest.mark.parametrize("row,message", [
    ("sim0,abc,20,small", "line 3: x is not a number: 'abc'"),
    ("sim0,10,nan,small", "line 3: y is not a finite number: 'nan'"),
    ("sim0,10,20,huge", "line 3: unknown size 'huge'; expected one of small, medium"),
    ("sim0,10,20,small,-4", "line 3: expected 4 fields"),
    (",10,20,small", "line 3: image is empty"),
])
def test_malformed_row_names_file_and_line(tmp_path, row, message):
    path = tmp_path / "labels.csv"
    path.write_text(f"image,x,y,size\nsim0,1,2,small\n{row}\n")
    with pytest.raises(InputError, match=f"labels.csv: {message}"):
        read_labels(path)


def test_negative_radius(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text("image,x,y,size,radius\nsim0,1,2,small,-3\n")
    with pytest.raises(InputError, match="labels.csv: line 2: radius must be >= 0, got -3"):
        read_labels(path)


def test_unknown_category(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text("image,x,y,size,category\nsim0,1,2,small,ghost\nsim0,1,2,small,ufo\n")
    with pytest.raises(InputError, match="labels.csv: line 3: unknown category 'ufo'"):
        read_labels(path)


def test_missing_columns_are_listed(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text("image,xpos,ypos,category\nsim0,1,2,ghost\n")
    with pytest.raises(InputError, match="labels.csv: missing column\\(s\\) x, y, size or radius"):
        read_labels(path)


def test_missing_and_empty_file(tmp_path):
    with pytest.raises(InputError, match="labels.csv: no such file"):
        read_labels(tmp_path / "labels.csv")
    (tmp_path / "labels.csv").write_text("\n")
    with pytest.raises(InputError, match="labels.csv: empty file"):
        read_labels(tmp_path / "labels.csv")


# --------------------------------------------------------------------------- masks
def test_circle_mask_area_and_values():
    mask = labels_to_mask([Artifact.from_circle("sim0", 40.0, 30.0, 20.0)], (64, 96))
    assert mask.dtype == bool and mask.shape == (64, 96)
    assert abs(mask.sum() - math.pi * 20**2) / (math.pi * 20**2) < 0.05
    assert mask[30, 40] and mask[30, 60] and mask[10, 40]  # centre and the points at distance r
    assert not mask[30, 61] and not mask[9, 40] and not mask[15, 25]  # just outside; a corner of the box
    ys, xs = np.nonzero(mask)
    assert (xs.min(), xs.max(), ys.min(), ys.max()) == (20, 60, 10, 50)


def test_circles_are_clipped_at_the_edges():
    mask = labels_to_mask([Artifact.from_circle("sim0", 0.0, 0.0, 10.0),
                           Artifact.from_circle("sim0", 500.0, 500.0, 10.0)], (64, 32))
    assert abs(mask.sum() - math.pi * 100 / 4) < 15  # a quarter disc (plus its two edge lines)
    assert mask[0, 0] and mask[0, 10] and not mask[0, 11]
    assert not labels_to_mask([], (8, 8)).any()


def test_category_mask_ors_bits():
    marks = [Artifact.from_circle("sim0", 10.0, 10.0, 5.0, category="ghost"),
             Artifact.from_circle("sim0", 14.0, 10.0, 5.0, category="satellite"),
             Artifact.from_circle("sim0", 25.0, 25.0, 3.0, category="rays")]  # focal-plane: no bit
    mask = labels_to_category_mask(marks, (32, 32))
    assert mask.dtype == np.int32
    ghost, satellite = CATEGORY_BITS["ghost"], CATEGORY_BITS["satellite"]
    assert mask[10, 6] == ghost
    assert mask[10, 12] == ghost | satellite
    assert mask[10, 18] == satellite
    assert mask[25, 25] == 0 and mask[0, 0] == 0
    assert set(np.unique(mask)) == {0, ghost, satellite, ghost | satellite}


def test_bad_shape():
    with pytest.raises(ValueError, match="shape"):
        labels_to_mask([], (0, 5))

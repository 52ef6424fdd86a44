"""Focal-plane pictures, VIA labels, region masks and annotator consensus."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from astropy.io import fits
from PIL import Image

from spacejunk import InputError
from spacejunk.io.focal_plane import (AnnotatedImage, Region, consensus_mask, read_annotated_images,
                                      read_focal_plane_image, read_via, regions_to_mask)

BRIGHT, FAINT, RAYS = 0, 1, 2


def _region(shape: dict, kind: str) -> dict:
    return {"shape_attributes": shape, "region_attributes": {"Type": kind}}


def _write_via(path, entries: dict) -> None:
    meta = {f"{name}123": {"filename": name, "size": 123, "regions": regs, "file_attributes": {}}
            for name, regs in entries.items()}
    path.write_text(json.dumps({"_via_img_metadata": meta}))


@pytest.fixture
def every_shape(tmp_path):
    """A VIA file with one region of every shape kind on a 20 x 30 picture."""
    regs = [
        _region({"name": "circle", "cx": 5, "cy": 5, "r": 2}, "Bright"),
        _region({"name": "ellipse", "cx": 15, "cy": 5, "rx": 3, "ry": 1, "theta": 0}, "Faint"),
        _region({"name": "ellipse", "cx": 25, "cy": 10, "rx": 3, "ry": 1, "theta": math.pi / 2}, "Faint"),
        _region({"name": "polygon", "all_points_x": [9.5, 13.5, 13.5, 9.5],
                 "all_points_y": [9.5, 9.5, 13.5, 13.5]}, "Faint"),
        _region({"name": "rect", "x": 2, "y": 12, "width": 4, "height": 3}, "Rays"),
        # an open polyline: closed automatically, filled like a polygon (an L shape)
        _region({"name": "polyline", "all_points_x": [19.5, 23.5, 23.5, 21.5, 21.5, 19.5],
                 "all_points_y": [12.5, 12.5, 14.5, 14.5, 18.5, 18.5]}, "Rays"),
    ]
    path = tmp_path / "annotator.json"
    _write_via(path, {"a.jpg": regs, "empty.jpg": []})
    return path


def test_read_via_maps_types_and_shapes(every_shape):
    via = read_via(every_shape)
    assert sorted(via) == ["a.jpg", "empty.jpg"]
    assert via["empty.jpg"] == []
    kinds = [(r.kind, r.category) for r in via["a.jpg"]]
    assert kinds == [("circle", "ghost-bright"), ("ellipse", "ghost-faint"), ("ellipse", "ghost-faint"),
                     ("polygon", "ghost-faint"), ("rect", "rays"), ("polyline", "rays")]
    assert via["a.jpg"][2].params["theta"] == pytest.approx(math.pi / 2)


def test_every_shape_kind_gives_the_hand_counted_mask(every_shape):
    mask = regions_to_mask(read_via(every_shape)["a.jpg"], (20, 30))
    assert mask.shape == (3, 20, 30) and mask.dtype == bool
    # circle r=2 about (5, 5): 13 pixel centres within distance 2
    assert mask[BRIGHT].sum() == 13
    assert mask[BRIGHT, 5, 7] and mask[BRIGHT, 3, 5] and not mask[BRIGHT, 6, 7]
    # ellipses 9 + 9 pixels, square 16 pixels
    assert mask[FAINT].sum() == 9 + 9 + 16
    assert mask[FAINT, 5, 12] and mask[FAINT, 5, 18] and not mask[FAINT, 6, 16]      # horizontal one
    assert mask[FAINT, 7, 25] and mask[FAINT, 13, 25] and not mask[FAINT, 10, 27]    # theta = pi/2: vertical
    assert mask[FAINT, 10:14, 10:14].all() and not mask[FAINT, 9, 10] and not mask[FAINT, 10, 14]
    # rect: columns 2-5, rows 12-14 (area = width x height); L polyline: 8 + 8 pixels
    assert mask[RAYS, 12:15, 2:6].all() and mask[RAYS, :, :10].sum() == 12
    assert mask[RAYS, :, 15:].sum() == 16
    assert mask[RAYS, 13:15, 20:24].all() and mask[RAYS, 15:19, 20:22].all() and not mask[RAYS, 16, 22]


def test_shapes_are_clipped_at_the_border():
    mask = regions_to_mask([Region("circle", {"cx": 0.0, "cy": 0.0, "r": 1.0}, "rays"),
                            Region("rect", {"x": 8.0, "y": 8.0, "width": 5.0, "height": 5.0}, "rays")], (10, 10))
    assert mask[RAYS].sum() == 3 + 4
    assert not regions_to_mask([Region("circle", {"cx": -50.0, "cy": 5.0, "r": 3.0}, "rays")], (10, 10)).any()


@pytest.mark.parametrize("region, problem", [
    (_region({"name": "point", "cx": 1, "cy": 1}, "Bright"), "unknown shape 'point'"),
    (_region({"name": "circle", "cx": 1, "cy": 1, "r": 2}, "Ghost"), "unknown Type 'Ghost'"),
    (_region({"name": "circle", "cx": 1, "cy": 1}, "Faint"), "circle lacks 'r'"),
    (_region({"name": "circle", "cx": "a", "cy": 1, "r": 2}, "Faint"), "'cx' must be a number"),
    (_region({"name": "polygon", "all_points_x": [1, 2, 3], "all_points_y": [1, 2]}, "Rays"), "3 x values but 2 y"),
    (_region({"name": "polyline", "all_points_x": [1, 2], "all_points_y": [1, 2]}, "Rays"), "at least 3 points"),
])
def test_malformed_regions_name_file_image_and_region(tmp_path, region, problem):
    path = tmp_path / "bad.json"
    ok = _region({"name": "circle", "cx": 1, "cy": 1, "r": 2}, "Bright")
    _write_via(path, {"x.jpg": [ok, region]})
    with pytest.raises(InputError, match=rf"bad\.json: image 'x\.jpg', region 1: .*{problem}"):
        read_via(path)


def test_bad_via_files(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        read_via(tmp_path / "missing.json")
    bad = tmp_path / "broken.json"
    bad.write_text("{not json")
    with pytest.raises(InputError, match="broken.json: not valid JSON"):
        read_via(bad)
    bad.write_text(json.dumps({"_via_img_metadata": {"k": {"regions": []}}}))
    with pytest.raises(InputError, match="no 'filename'"):
        read_via(bad)


def test_consensus_per_category_and_any():
    # 4 annotators, a 1 x 5 picture. Pixel 0: 2 bright; pixel 1: 3 bright; pixel 2: 2 bright + 2 faint
    # (no category reaches half, but 4/4 say "artifact"); pixel 3: 1 rays; pixel 4: nobody.
    m = np.zeros((4, 3, 1, 5), dtype=bool)
    m[[0, 1], BRIGHT, 0, 0] = True
    m[[0, 1, 2], BRIGHT, 0, 1] = True
    m[[0, 1], BRIGHT, 0, 2] = True
    m[[2, 3], FAINT, 0, 2] = True
    m[3, RAYS, 0, 3] = True
    c = consensus_mask(m)
    assert c.shape == (4, 1, 5)
    assert c[BRIGHT, 0].tolist() == [True, True, True, False, False]     # 2 of 4 is "at least half"
    assert c[FAINT, 0].tolist() == [False, False, True, False, False]
    assert c[RAYS, 0].tolist() == [False] * 5
    assert c[-1, 0].tolist() == [True, True, True, False, False]
    strict = consensus_mask(m, min_fraction=0.75)
    assert strict[BRIGHT, 0].tolist() == [False, True, False, False, False]
    assert strict[-1, 0].tolist() == [False, True, True, False, False]   # 4/4 marked pixel 2 with something
    with pytest.raises(ValueError, match="min_fraction"):
        consensus_mask(m, min_fraction=0)


def test_read_images_of_every_kind(tmp_path):
    rgb = np.zeros((12, 16, 3), dtype=np.uint8)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 10, 20, 30
    Image.fromarray(rgb).save(tmp_path / "c.png")
    Image.fromarray(np.full((12, 16), 77, dtype=np.uint8)).save(tmp_path / "g.png")
    Image.fromarray(rgb).save(tmp_path / "c.jpg", quality=95)
    data = np.arange(12 * 16, dtype=np.float32).reshape(12, 16)
    data[0, 0] = np.nan
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(data)]).writeto(tmp_path / "f.fits")
    c = read_focal_plane_image(tmp_path / "c.png")
    assert c.shape == (3, 12, 16) and c.dtype == np.float32 and c[:, 5, 5].tolist() == [10, 20, 30]
    g = read_focal_plane_image(tmp_path / "g.png")
    assert g.shape == (1, 12, 16) and np.all(g == 77)
    j = read_focal_plane_image(tmp_path / "c.jpg")
    assert j.shape == (3, 12, 16) and abs(float(j[2].mean()) - 30) < 3
    f = read_focal_plane_image(tmp_path / "f.fits")
    assert f.shape == (1, 12, 16) and f[0, 0, 0] == 0 and f[0, 11, 15] == 12 * 16 - 1


def test_bad_images_raise_input_error(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        read_focal_plane_image(tmp_path / "nope.jpg")
    (tmp_path / "text.jpg").write_text("this is not a picture")
    with pytest.raises(InputError, match="text.jpg: not an image"):
        read_focal_plane_image(tmp_path / "text.jpg")
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(
        tmp_path / "full.jpg", quality=90)
    raw = (tmp_path / "full.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(InputError, match="cut.jpg: unreadable or truncated"):
        read_focal_plane_image(tmp_path / "cut.jpg")
    fits.PrimaryHDU(np.zeros((2, 5, 5), dtype=np.float32)).writeto(tmp_path / "cube.fits")
    with pytest.raises(InputError, match="expected 2-D image data, found 3-D"):
        read_focal_plane_image(tmp_path / "cube.fits")


def test_read_annotated_images(tmp_path, every_shape):
    Image.fromarray(np.zeros((20, 30), dtype=np.uint8)).save(tmp_path / "a.jpg")
    Image.fromarray(np.zeros((20, 30), dtype=np.uint8)).save(tmp_path / "empty.jpg")
    second = tmp_path / "second.json"
    _write_via(second, {"a.jpg": [_region({"name": "rect", "x": 0, "y": 0, "width": 2, "height": 1}, "Rays")]})
    data = read_annotated_images(tmp_path, [every_shape, second])
    assert [d.name for d in data] == ["a.jpg", "empty.jpg"]
    assert isinstance(data[0], AnnotatedImage) and data[0].masks.shape == (2, 3, 20, 30)
    assert data[0].masks[1].sum() == 2 and not data[1].masks.any()     # nobody marked "empty.jpg"
    assert data[0].consensus()[-1].sum() == 13 + 34 + 28 + 2            # 1 of 2 annotators is half

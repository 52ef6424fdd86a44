"""The odd-blob finder (spacejunk.predict.blobs) on hand-made and small simulated images."""

import math

import numpy as np
import pytest

from spacejunk.evaluate.coco import box_iou
from spacejunk.io import Exposure
from spacejunk.predict.blobs import BlobSettings, find_blobs
from spacejunk.simulate import simulate_image

SHAPE = (1024, 512)
NOISE = 10.0


def _boxes(items):
    return np.array([[a.xmin, a.ymin, a.xmax, a.ymax] for a in items], float).reshape(-1, 4)


def _gaussian(shape, cx, cy, sx, sy):
    yy, xx = np.mgrid[:shape[0], :shape[1]]
    return np.exp(-0.5 * (((xx - cx) / sx) ** 2 + ((yy - cy) / sy) ** 2))


def _truth_box(cx, cy, sx, sy, amplitude):
    """Where the blob is at least min(0.7 sigma, 0.3 of its peak), as the simulator boxes it."""
    f = math.sqrt(2 * math.log(max(abs(amplitude) / 0.7, 1 / 0.3)))
    return [cx - f * sx, cy - f * sy, cx + f * sx, cy + f * sy]


def _image(blobs, *, seed=0, stars=True, extra=0.0):
    """Three bands of sky noise (sigma NOISE), stars of star-like colours in every band when
    ``stars``, plus ``blobs``: (cx, cy, sx, sy, amplitude in noise units per band) and ``extra``."""
    rng = np.random.default_rng(seed)
    sci = rng.normal(1000.0, NOISE, (3,) + SHAPE).astype(np.float32)
    if stars:
        for _ in range(40):
            cx, cy = rng.uniform(20, SHAPE[1] - 20), rng.uniform(20, SHAPE[0] - 20)
            flux = rng.uniform(10, 300)
            colour = rng.uniform(0.4, 1.0, 3)
            colour /= colour.max()
            sci += (flux * NOISE * colour[:, None, None] * _gaussian(SHAPE, cx, cy, 1.8, 1.8)).astype(np.float32)
    for cx, cy, sx, sy, amps in blobs:
        sci += (NOISE * np.asarray(amps, np.float32)[:, None, None] * _gaussian(SHAPE, cx, cy, sx, sy)).astype(
            np.float32)
    sci += np.asarray(extra, np.float32)
    return Exposure("e", ("g", "r", "i"), sci, np.zeros(sci.shape, np.int32), np.ones(sci.shape, np.float32))


def test_a_blob_in_one_band_and_a_dark_blob_are_found_and_boxed():
    one_band = (150, 300, 6.0, 4.0, (0.0, 5.0, 0.0))
    dark = (350, 750, 10.0, 10.0, (-1.5, -1.5, -1.5))
    found = find_blobs(_image([one_band, dark]))
    assert all(a.category == "other" for a in found)
    truth = np.array([_truth_box(*one_band[:4], 5.0), _truth_box(*dark[:4], 1.5)])
    iou = box_iou(_boxes(found), truth)
    assert len(found) == 2, _boxes(found)
    assert iou.max(axis=0).min() > 0.6
    assert all(a.score > 0.5 for a in found)


def test_stars_of_any_colour_and_a_one_band_trail_are_not_blobs():
    yy, xx = np.mgrid[:SHAPE[0], :SHAPE[1]]
    extra = np.zeros((3,) + SHAPE, np.float32)
    # a satellite trail in one band: bright, but a line, not a blob
    extra[2] += 8.0 * NOISE * np.exp(-0.5 * ((xx - 0.3 * yy - 100) / 2.0) ** 2)
    # a bright source in every band, ten times fainter in g than in i: a red star
    extra += NOISE * np.array([3.0, 15.0, 30.0])[:, None, None] * _gaussian(SHAPE, 400, 200, 2.0, 2.0)
    assert find_blobs(_image([], extra=extra)) == []


def test_gap_in_something_bright_is_not_a_dark_blob():
    # a broad bright patch in every band with a hole in it: darker than around it, not than the sky
    patch = (256, 512, 120.0, 120.0, (2.0, 2.0, 2.0))
    hole = (256, 512, 8.0, 8.0, (-1.5, -1.5, -1.5))
    assert find_blobs(_image([patch, hole], stars=False)) == []


def test_settings_change_what_is_found():
    image = _image([(150, 300, 6.0, 4.0, (0.0, 5.0, 0.0))])
    assert len(find_blobs(image)) == 1
    assert find_blobs(image, BlobSettings(min_sigma=1e4)) == []
    # one band alone has nothing to compare with: only dark blobs could be found
    single = Exposure("e", ("r",), image.sci[1:2], image.msk[1:2], image.wgt[1:2])
    assert find_blobs(single) == []


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_nothing_sure_in_clean_simulated_images(seed):
    found = find_blobs(simulate_image(seed=seed, shape=SHAPE, artifacts=None).exposure)
    assert all(a.score < 0.5 for a in found), [(a.box, a.score) for a in found]


def test_the_detector_reports_blobs_but_not_those_on_another_finders_artifact(detect_with_finders):
    one_band = (150, 300, 6.0, 4.0, (0.0, 5.0, 0.0))
    extra = np.zeros((3,) + SHAPE, np.float32)
    # an unflagged cosmic ray in g: a sharp spike, also a blob in one band at the smallest scale
    extra[0, 700, 300:303] = 60 * NOISE
    image = _image([one_band], extra=extra)
    found = detect_with_finders(image, ["cosmic_rays", "blobs"])
    assert sorted(a.category for a in found) == ["cosmic-ray", "other"]
    other = [a for a in found if a.category == "other"]
    assert box_iou(_boxes(other), np.array([_truth_box(*one_band[:4], 5.0)]))[0, 0] > 0.6
    # the blob finder alone sees the cosmic ray too
    assert len(find_blobs(image)) == 2


def test_blobs_beside_a_trail_are_its_lights_and_blobs_on_a_ghost_are_the_ghosts():
    from spacejunk.io import Artifact
    from spacejunk.predict.detector import _apart_from, _off_trails
    from spacejunk.predict.trails import Trail

    trail = Trail("g", 0.0, 0.0, 1000.0, 1000.0, 8.0, 30.0)
    # 25 px from the line (a wing light), 100 px from it, and past its end
    lights = [Artifact.from_box("e", x - 5, y - 5, x + 5, y + 5, score=0.9, category="other")
              for x, y in ((518, 482), (571, 429), (1100, 1100))]
    assert [a.box for a in _off_trails(lights, [trail])] == [lights[1].box, lights[2].box]
    assert _off_trails(lights, []) == lights
    ghost = Artifact.from_box("e", 550, 400, 620, 450, score=0.7, category="ghost")
    ray = Artifact.from_box("e", 0, 0, 3, 1, score=0.9, category="cosmic-ray")
    spot = Artifact.from_box("e", -2, -2, 6, 4, score=0.9, category="other")  # wider than the ray it lies on
    assert _apart_from(lights + [spot], [ghost, ray]) == [lights[0], lights[2]]


def _light(x, y, score=0.8, half=4.0):
    from spacejunk.io import Artifact

    return Artifact.from_box("e", x - half, y - half, x + half, y + half, score=score, category="other")


def test_blobs_lined_up_across_the_ccd_are_an_airplanes_lights():
    from spacejunk.predict.blobs import LightRowSettings, lights_in_a_row

    # ten lights along the line from (0, 100) to (512, 900) of a 1024 x 512 CCD, 8 px
    # either side of it (wing-tip lights), spread over 0.8 of its length; two odd blobs elsewhere
    xs = np.linspace(51, 461, 10)
    row = [_light(x + (8 if k % 2 else -8) * 0.84, 100 + x * 800 / 512 - (8 if k % 2 else -8) * 0.54,
                  score=0.3 + 0.1 * k) for k, x in enumerate(xs)]
    strays = [_light(400, 200), _light(100, 800)]
    planes, others = lights_in_a_row(row + strays, SHAPE)
    assert others == strays
    assert len(planes) == 1 and planes[0].category == "airplane"
    assert planes[0].box == (min(a.xmin for a in row), min(a.ymin for a in row),
                             max(a.xmax for a in row), max(a.ymax for a in row))
    assert planes[0].score == pytest.approx(0.75)  # the median of 0.3 ... 1.2
    # too few lights, too short a stretch of the line, or too far from one line: no airplane
    assert lights_in_a_row(row[:3] + strays, SHAPE)[0] == []
    assert lights_in_a_row(row, SHAPE, LightRowSettings(min_span=0.9))[0] == []
    # on a curve (100 px off the line at its ends) no four lie on one line long enough
    bend = [400 * (t - 0.5) ** 2 for t in np.linspace(0, 1, len(row))]
    curve = [_light(a.x + 0.84 * b, a.y - 0.54 * b) for a, b in zip(row, bend)]
    assert lights_in_a_row(curve, SHAPE)[0] == []
    assert lights_in_a_row([], SHAPE) == ([], [])


def test_blobs_strewn_at_random_make_no_row_and_a_row_among_them_is_found():
    from spacejunk.predict.blobs import LightRowSettings, lights_in_a_row

    shape = (4096, 2048)
    rng = np.random.default_rng(1)
    strewn = [_light(x, y) for x, y in zip(rng.uniform(0, 2048, 100), rng.uniform(0, 4096, 100))]
    # without the test of chance, 100 random blobs line up in rows of four
    assert lights_in_a_row(strewn, shape, LightRowSettings(false_rows=1e9))[0] != []
    assert lights_in_a_row(strewn, shape) == ([], strewn)
    # 20 lights in a row among them: a row as full is not expected by chance
    row = [_light(100 + 1800 * t, 4000 - 3900 * t) for t in np.linspace(0, 1, 20)]
    planes, others = lights_in_a_row(strewn + row, shape)
    assert len(planes) == 1 and len(others) >= 95  # the row, and any random blob on its line
    assert not any(a in others for a in row)
    assert planes[0].box[0] <= 96 and planes[0].box[2] >= 1904
    assert lights_in_a_row(strewn + row, shape, LightRowSettings(max_blobs=100)) == ([], strewn + row)


def test_the_detector_reports_lights_in_a_row_as_an_airplane(detect_with_finders):
    # eight lights in g only (an airplane is seen in one exposure), 2.5 px, 12 sigma, across
    # the CCD from (40, 60) to (470, 960): no trail finder here, so only the row tells
    lights = [(40 + t * 430, 60 + t * 900, 2.5, 2.5, (12.0, 0.0, 0.0)) for t in np.linspace(0, 1, 8)]
    found = detect_with_finders(_image(lights + [(150, 500, 6.0, 4.0, (0.0, 5.0, 0.0))]), ["blobs"])
    assert sorted(a.category for a in found) == ["airplane", "other", "satellite"]  # and its second name
    plane = [a for a in found if a.category == "airplane"][0]
    assert box_iou(_boxes([plane]), np.array([[40, 60, 470, 960]]))[0, 0] > 0.8

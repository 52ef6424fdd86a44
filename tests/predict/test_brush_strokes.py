"""The brush-stroke finder (spacejunk.predict.brush_strokes) on hand-made and small simulated images."""

import math

import numpy as np
import pytest

from spacejunk.categories import DESDM_BITS
from spacejunk.evaluate.coco import box_iou
from spacejunk.io import Exposure
from spacejunk.predict.brush_strokes import BrushStrokeSettings, find_brush_strokes, streakiness
from spacejunk.simulate import simulate_image

SHAPE = (1024, 512)
NOISE = 10.0


def _boxes(items):
    return np.array([[a.xmin, a.ymin, a.xmax, a.ymax] for a in items], float).reshape(-1, 4)


def _brush(cx, cy, angle_deg, *, n=6, spread=120.0, length=600.0, width=3.0, peak=1.5):
    """A bundle of ``n`` parallel tapered strokes (unit peak of their sum times ``peak``, in
    noise units) and its truth box: where the sum is at least 0.2 of its peak."""
    yy, xx = np.mgrid[:SHAPE[0], :SHAPE[1]].astype(np.float64)
    a = math.radians(angle_deg)
    along = (xx - cx) * math.cos(a) + (yy - cy) * math.sin(a)
    across = -(xx - cx) * math.sin(a) + (yy - cy) * math.cos(a)
    canvas = np.zeros(SHAPE)
    for offset in np.linspace(-spread / 2, spread / 2, n):
        taper = np.sqrt(np.clip(np.cos(np.pi * along / length), 0, None)) * (np.abs(along) < length / 2)
        canvas += np.exp(-0.5 * ((across - offset) / width) ** 2) * taper
    canvas /= canvas.max()
    ys, xs = np.nonzero(canvas >= 0.2)
    return peak * canvas, [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]


def _image(extra=0.0, *, seed=0, stars=True, galaxies=0):
    """Three bands of sky noise (sigma NOISE) with stars and ``galaxies`` bright elongated
    galaxies in every band, plus ``extra`` (noise units)."""
    rng = np.random.default_rng(seed)
    sci = rng.normal(1000.0, NOISE, (3,) + SHAPE).astype(np.float32)
    yy, xx = np.mgrid[:SHAPE[0], :SHAPE[1]]
    for _ in range(60 if stars else 0):
        cx, cy = rng.uniform(20, SHAPE[1] - 20), rng.uniform(20, SHAPE[0] - 20)
        sci += (rng.uniform(10, 500) * NOISE * np.exp(-0.5 * ((xx - cx) ** 2 + (yy - cy) ** 2) / 1.8 ** 2)
                ).astype(np.float32)
    for _ in range(galaxies):
        cx, cy, a = rng.uniform(80, SHAPE[1] - 80), rng.uniform(80, SHAPE[0] - 80), rng.uniform(0, np.pi)
        u = (xx - cx) * np.cos(a) + (yy - cy) * np.sin(a)
        v = -(xx - cx) * np.sin(a) + (yy - cy) * np.cos(a)
        sci += (20 * NOISE * np.exp(-0.5 * ((u / 30.0) ** 2 + (v / 8.0) ** 2))).astype(np.float32)
    sci += NOISE * np.asarray(extra, np.float32)
    return Exposure("e", ("g", "r", "i"), sci, np.zeros(sci.shape, np.int32), np.ones(sci.shape, np.float32))


def test_a_faint_brush_is_found_and_boxed():
    brush, truth = _brush(260, 500, 35.0)
    found = find_brush_strokes(_image(brush))
    assert [a.category for a in found] == ["brush-strokes"]
    assert box_iou(_boxes(found), np.array([truth]))[0, 0] > 0.6
    assert found[0].score > 0.5


def test_a_fainter_brush_is_boxed_down_to_its_tapered_ends():
    # at 0.7 sigma the strokes' tapered ends fall under min_sigma; the box grows along the
    # pixels of its direction from extent_sigma, as far as the truth's 0.2 of the peak
    brush, truth = _brush(260, 500, 35.0, peak=0.7)
    image = _image(brush)
    (grown,) = find_brush_strokes(image)
    (core,) = find_brush_strokes(image, BrushStrokeSettings(extent_sigma=None))
    assert box_iou(_boxes([core]), np.array([truth]))[0, 0] < 0.75
    assert box_iou(_boxes([grown]), np.array([truth]))[0, 0] > 0.85
    assert grown.score == core.score and grown.marks.sum() == core.marks.sum()  # only the box grows


def test_a_brush_scores_the_tiles_its_streaks_cross_not_its_box_corners():
    from spacejunk.predict.finders import box_tile_scores

    brush, _ = _brush(260, 500, 35.0, n=3, spread=60.0)
    found = find_brush_strokes(_image(brush))
    assert len(found) == 1
    grid = np.array([[x, y, x + 64, y + 64] for y in range(0, SHAPE[0], 64) for x in range(0, SHAPE[1], 64)], float)
    covered = np.array([(brush[int(y0):int(y1), int(x0):int(x1)] >= 0.2 * brush.max()).mean() >= 0.01
                        for x0, y0, x1, y1 in grid])
    box = found[0]
    in_box = (grid[:, 2] > box.xmin) & (grid[:, 0] < box.xmax) & (grid[:, 3] > box.ymin) & (grid[:, 1] < box.ymax)
    scores = box_tile_scores(found, grid, min_fraction=0.01)
    assert in_box.sum() >= 1.5 * covered.sum()  # a diagonal bundle's box is mostly sky
    assert ((scores > 0) == covered).mean() >= 0.95
    assert (scores[covered] == np.float32(box.score)).mean() >= 0.9
    assert find_brush_strokes(_image(brush))[0].as_row() == found[0].as_row()


def test_a_brush_running_off_the_ccd_is_found():
    brush, truth = _brush(60, 300, 120.0, length=700.0)
    found = find_brush_strokes(_image(brush, seed=1))
    assert len(found) == 1
    assert box_iou(_boxes(found), np.array([truth]))[0, 0] > 0.5


def test_stars_galaxies_and_columns_are_not_brushes():
    yy, xx = np.mgrid[:SHAPE[0], :SHAPE[1]]
    column = 1.5 * np.exp(-0.5 * ((xx - 300) / 1.5) ** 2)  # along the columns: a bad column's business
    assert find_brush_strokes(_image(column, galaxies=12)) == []


def test_streakiness_is_highest_along_the_strokes():
    brush, truth = _brush(260, 500, 35.0)
    streak, angle = streakiness(_image(brush, stars=False))  # on the 4 x 4 binned grid
    y, x = np.unravel_index(streak.argmax(), streak.shape)
    assert abs(math.degrees(angle[y, x]) - 35.0) <= 7.5
    x0, y0, x1, y1 = (int(v) // 4 for v in truth)
    outside = np.ones(streak.shape, bool)
    outside[max(y0 - 8, 0):y1 + 8, max(x0 - 8, 0):x1 + 8] = False
    assert streak.max() > 10 and streak[outside].max() < BrushStrokeSettings().min_sigma


def test_a_diffraction_spike_of_a_saturated_star_is_not_a_brush():
    yy, xx = np.mgrid[:SHAPE[0], :SHAPE[1]]
    spike = 2.0 * np.exp(-0.5 * ((yy - 600) / 2.0) ** 2) * (np.abs(xx - 250) < 200) / (1 + np.abs(xx - 250) / 100)
    image = _image(spike, stars=False)
    assert len(find_brush_strokes(image)) == 1  # a streak along the rows, alone
    image.msk[:, 596:605, 246:255] = DESDM_BITS["SATURATE"]  # from a saturated star: its spike
    assert find_brush_strokes(image) == []


def test_settings_change_what_is_found():
    brush, _ = _brush(260, 500, 35.0)
    image = _image(brush)
    assert len(find_brush_strokes(image)) == 1
    assert find_brush_strokes(image, BrushStrokeSettings(min_length=2000.0)) == []
    assert find_brush_strokes(image, BrushStrokeSettings(min_sigma=1e4)) == []


def test_simulated_brush_strokes_are_found():
    sim = simulate_image(seed=302, shape=SHAPE, artifacts=["brush-strokes"])
    truth = [a.box for a in sim.artifacts]
    found = [a for a in find_brush_strokes(sim.exposure) if a.score >= 0.5]
    assert len(found) == 1
    assert box_iou(_boxes(found), np.array(truth))[0, 0] > 0.5


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_nothing_sure_in_clean_simulated_images(seed):
    found = find_brush_strokes(simulate_image(seed=seed, shape=SHAPE, artifacts=None).exposure)
    assert all(a.score < 0.5 for a in found), [(a.box, a.score) for a in found]


def test_the_detector_drops_streaks_along_a_trail():
    from spacejunk.predict.detector import _off_trails
    from spacejunk.predict.trails import Trail

    yy, xx = np.mgrid[:SHAPE[0], :SHAPE[1]]
    line = 2.0 * np.exp(-0.5 * ((xx - 0.4 * yy - 50) / 2.0) ** 2)  # one straight line across: a satellite
    found = find_brush_strokes(_image(line, stars=False))
    assert len(found) == 1
    assert _off_trails(found, [Trail("g", 50.0, 0.0, 50.0 + 0.4 * 1023, 1023.0, 4.0, 30.0)]) == []


def test_the_detector_reports_brush_strokes_in_place_of_the_networks(detect_with_finders):
    brush, truth = _brush(260, 500, 35.0)
    found = detect_with_finders(_image(brush), ["brush_strokes"])
    assert [a.category for a in found] == ["brush-strokes", "bright-spray"]  # and its second name
    assert box_iou(_boxes(found[:1]), np.array([truth]))[0, 0] > 0.6
    assert found[1].box == found[0].box and found[1].score == pytest.approx(0.45 * found[0].score)

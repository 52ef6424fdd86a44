"""The straight-trail and cosmic-ray finders on small simulated images with known truth."""

import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from spacejunk import NoArtifactsWarning
from spacejunk.categories import CATEGORIES
from spacejunk.evaluate.coco import box_iou
from spacejunk.models.detector import SegmentationDetector
from spacejunk.predict.detector import detect_exposure
from spacejunk.io import Exposure
from spacejunk.predict.finders import FINDERS, default_finder_settings
from spacejunk.predict.cosmic_rays import find_cosmic_rays
from spacejunk.predict.cross_talk import find_cross_talk
from spacejunk.predict.trails import (RAY, Trail, _noise_units, _refine, TrailSettings, dash_modulation, fans_to_artifacts, find_trails,
                                      radon_significance, split_fans, trail_mask, trail_tile_scores, trails_for_meta,
                                      trails_to_artifacts)
from spacejunk.preprocess import tile_fractions, tile_grid
from spacejunk.simulate import simulate_image

SHAPE = (1024, 512)


def _boxes(items):
    return np.array([[a.xmin, a.ymin, a.xmax, a.ymax] for a in items], float).reshape(-1, 4)


def test_radon_peaks_on_the_line_angle():
    rng = np.random.default_rng(0)
    img = rng.normal(0, 1, (64, 64)).astype(np.float32)
    yy, xx = np.mgrid[:64, :64]
    img[np.abs((yy - 32) - np.tan(np.radians(30)) * (xx - 32)) < 0.6] += 1.5  # a faint line at 30 degrees
    angles = np.radians(np.arange(0, 180, 1.0))
    sig, cnt = radon_significance(img, angles, 1.0)
    a, r = np.unravel_index(np.argmax(sig), sig.shape)
    assert abs(np.degrees(angles[a]) - 30) <= 2
    assert abs(r - (sig.shape[1] - 1) / 2) <= 1  # through the centre
    assert sig.max() > 8 and cnt.max() >= 64


def test_radon_samples_only_where_lines_reach_the_image():
    # the transform samples, at each chunk of angles, only the offsets and positions that
    # reach the image: the sums are those over the whole diagonal
    from spacejunk.predict.trails import _line_grid

    rng = np.random.default_rng(1)
    img = rng.normal(0, 1, (2, 40, 90)).astype(np.float32)
    angles = np.radians(np.arange(0, 180, 7.0))
    sig, cnt = radon_significance(img, angles, [1.0, 2.0], chunk=5)
    grid = _line_grid((40, 90), angles)  # every line over the whole diagonal
    k, n_rho, n_t = grid.shape[:3]
    planes = torch.from_numpy(np.concatenate([img, np.ones((1, 40, 90), np.float32)]))[None]
    full = torch.nn.functional.grid_sample(planes, grid.reshape(1, k * n_rho, n_t, 2), align_corners=False)
    full = full.reshape(3, k, n_rho, n_t).sum(-1).numpy()
    np.testing.assert_allclose(cnt, full[2], atol=1e-3)
    expected = full[:2] / (np.array([1.0, 2.0])[:, None, None] * np.sqrt(np.maximum(full[2], 1.0)))
    np.testing.assert_allclose(sig[:, full[2] >= 1], expected[:, full[2] >= 1], atol=1e-4)


@pytest.fixture(scope="module")
def satellite_image():
    # scale 3: a trail bright enough to be found on this small image (the finder's limit is
    # set for full CCDs, whose trails are four times longer)
    return simulate_image(seed=11, shape=SHAPE, artifacts=["satellite"], artifact_scale=3.0)


def test_finds_a_satellite_trail_and_boxes_it(satellite_image):
    exposure = satellite_image.exposure
    settings = TrailSettings(min_length_px=200)
    trails = find_trails(exposure, settings)
    truth = [a for a in satellite_image.artifacts if a.category == "satellite"]
    assert len(truth) == 1 and len(trails) >= 1
    arts = trails_to_artifacts(trails, name=exposure.name, shape=exposure.shape, min_sigma=settings.min_sigma)
    assert arts[0].category == "satellite" and 0.5 < arts[0].score < 1
    assert trails[0].dark_fraction < 0.2  # lit along its length
    assert box_iou(_boxes(arts[:1]), _boxes(truth))[0, 0] > 0.7
    # the trail's pixels: most of the truth footprint, little else
    found = trail_mask(trails[:1], exposure.shape)
    true = satellite_image.truth_mask != 0
    assert (found & true).sum() / true.sum() > 0.5
    assert found.sum() < 4 * true.sum()
    # tiles the trail crosses score its score, the others 0
    grid = np.array([[0, 0, 200, 200], [0, 824, 200, 1024], [312, 0, 512, 200], [312, 824, 512, 1024]])
    scores = trail_tile_scores(trails[:1], grid, exposure.shape, min_fraction=0.01, min_sigma=settings.min_sigma)
    crossed = np.array([(found[y0:y1, x0:x1].mean() >= 0.01) for x0, y0, x1, y1 in grid])
    assert np.all(scores[crossed] == pytest.approx(arts[0].score, abs=1e-6))
    assert np.all(scores[~crossed] == 0)


def test_trails_as_a_checkpoint_asks(satellite_image):
    exposure = satellite_image.exposure
    settings = TrailSettings(min_length_px=200, min_sigma=12.0)
    asks = {"trails": {"min_length_px": 200, "min_sigma": 12.0}}
    found, min_sigma = trails_for_meta(exposure, asks)
    assert min_sigma == 12.0 and len(found) == len(find_trails(exposure, settings)) >= 1
    # trails already found are used as given, False means none, a model without trails finds none
    assert trails_for_meta(exposure, asks, found[:1]) == (found[:1], 12.0)
    assert trails_for_meta(exposure, asks, False) == ([], 12.0)
    assert trails_for_meta(exposure, {"trails": None}) == ([], TrailSettings().min_sigma)


def test_a_dashed_trail_is_an_airplane():
    # blinking wing-tip lights: the trail is dark over most of its length
    image = simulate_image(seed=8, shape=SHAPE, artifacts=["airplane"], artifact_scale=3.0)
    truth = [a for a in image.artifacts if a.category == "airplane"]
    settings = TrailSettings(min_length_px=200)
    trails = find_trails(image.exposure, settings)
    assert len(truth) == 1 and trails
    assert all(t.category == "airplane" and t.dark_fraction >= settings.dashed_fraction for t in trails)
    arts = trails_to_artifacts(trails, name="x", shape=SHAPE, min_sigma=settings.min_sigma)
    assert {a.category for a in arts} == {"airplane"}
    assert box_iou(_boxes(arts[:1]), _boxes(truth))[0, 0] > 0.5
    # a broad dashed line is the patchy edge of something else, and is dropped
    assert find_trails(image.exposure, TrailSettings(min_length_px=200, max_dashed_width_px=5)) == []


def _with_line(angle_deg: float, *, amp: float, width: float, duty: float = 1.0, period: float = 120.0,
               shape: tuple[int, int] = SHAPE):
    """A clean small CCD with a straight line through its centre in band 0, ``amp`` sky sigma
    and ``width`` px, lit a ``duty`` share of every ``period`` px (blinking lights)."""
    clean = simulate_image(seed=1, shape=shape, artifacts=[]).exposure
    _, noise = clean.sky_noise(0)
    yy, xx = np.mgrid[:shape[0], :shape[1]].astype(np.float32)
    ux, uy = math.cos(math.radians(angle_deg)), math.sin(math.radians(angle_deg))
    cx, cy = (shape[1] - 1) / 2, (shape[0] - 1) / 2
    across = (xx - cx) * -uy + (yy - cy) * ux
    along = (xx - cx) * ux + (yy - cy) * uy
    lit = (np.abs(across) <= width / 2) & ((along % period) < duty * period)
    sci = clean.sci.copy()
    sci[0] += (amp * noise * lit).astype(np.float32)
    return Exposure(clean.name, clean.bands, sci, clean.msk, clean.wgt)


def _angle(trail):
    return math.degrees(math.atan2(trail.y1 - trail.y0, trail.x1 - trail.x0)) % 180.0


def test_a_trail_between_the_radon_angles_is_refined_to_its_own_angle_and_width():
    # a 5-px trail at 61 degrees, the Radon transform in 2-degree steps: at 60 or 62 degrees
    # the strip drifts 10 px across it from end to end, and the trail looks 15 px wide
    exposure = _with_line(61.0, amp=4.0, width=5.0)
    coarse = TrailSettings(min_length_px=200, angle_step_deg=2.0, refine_deg=0.0)
    (askew,) = find_trails(exposure, coarse)
    (refined,) = find_trails(exposure, TrailSettings(min_length_px=200, angle_step_deg=2.0, refine_deg=1.0))
    assert abs(_angle(askew) - 61.0) == pytest.approx(1.0, abs=0.01) and askew.width >= 12
    assert _angle(refined) == pytest.approx(61.0, abs=0.01) and refined.width <= 7


def test_a_trail_a_degree_off_the_columns_is_found_and_one_along_them_is_not():
    # satellites cross at any angle; only lines along the columns (bad columns, bleed
    # trails, cross-talk) are left to their own finders
    (trail,) = find_trails(_with_line(89.0, amp=4.0, width=5.0), TrailSettings(min_length_px=200))
    assert _angle(trail) == pytest.approx(89.0, abs=0.3) and trail.width <= 8
    assert find_trails(_with_line(90.0, amp=4.0, width=5.0), TrailSettings(min_length_px=200)) == []


def test_a_dashed_trail_seen_by_its_mean_across_not_its_median():
    # lights on 30 % of the time: the median along the line falls towards the sky's (on a
    # CCD a quarter of a full one: on a 1024 x 512 one, the clipped binned bands sum the
    # line to 9 sigma, and its stretch is too short to show two of the longest blinking
    # periods the unclipped bands' lines are kept for)
    exposure = _with_line(60.0, amp=3.0, width=10.0, duty=0.3, shape=(2048, 1024))
    band = _noise_units(exposure, 0, TrailSettings().clip)
    peaks = {cs: _refine(band, math.radians(60.0), 0.0, TrailSettings(cross_section=cs))[-1] for cs in ("mean", "median")}
    assert peaks["mean"] == pytest.approx(0.3 * 3.0, rel=0.3)  # the lights' mean (stars add a little)
    assert peaks["median"] < 0.6 * peaks["mean"]  # pulled towards the sky's, by the dark stretches
    (trail,) = find_trails(exposure, TrailSettings(min_length_px=200))
    assert trail.category == "airplane" and _angle(trail) == pytest.approx(60.0, abs=0.3)
    assert 8 <= trail.width <= 14


def test_rays_pointing_back_to_one_place_are_a_spray_not_satellites():
    # three rays of a fan from a star above the CCD (apex at x=1000, y=-3000), an X of two
    # satellites crossing mid-CCD, and a dashed airplane that would point at the apex too
    apex = (1000.0, -3000.0)

    def ray(x_end, category="satellite"):
        # from where it enters the CCD (y=0) to the bottom edge (y=4095)
        t0, t1 = 3000.0 / 7095.0, 1.0
        x0, x1 = apex[0] + t0 * (x_end - apex[0]), apex[0] + t1 * (x_end - apex[0])
        return Trail("r", x0, 0.0, x1, 4095.0, 8.0, 20.0, 0.7 if category == "airplane" else 0.0, category)

    rays = [ray(300.0), ray(900.0), ray(1500.0)]
    x_cross = [Trail("g", 0.0, 500.0, 2047.0, 3500.0, 6.0, 30.0), Trail("g", 0.0, 3500.0, 2047.0, 800.0, 6.0, 15.0)]
    plane = ray(1900.0, "airplane")
    single, fans = split_fans(rays + x_cross + [plane])
    assert len(fans) == 1 and sorted(id(t) for t in fans[0]) == sorted(id(t) for t in rays)
    assert sorted(id(t) for t in single) == sorted(id(t) for t in x_cross + [plane])
    # a ray pointing back at a star on the CCD's edge (the apex at a segment's end) too
    assert len(split_fans([Trail("g", 1000.0, 0.0, 300.0, 4095.0, 8.0, 20.0),
                           Trail("g", 1000.0, 2.0, 1600.0, 4095.0, 8.0, 20.0)])[1]) == 1
    # rays further apart than fan_max_deg are not one fan
    assert split_fans(rays, TrailSettings(fan_max_deg=3.0))[1] == []  # they are 3.2-9.6 degrees apart
    (spray,) = fans_to_artifacts(fans, name="x", shape=(4096, 2048), min_sigma=10.0)
    assert spray.category == "bright-spray" and spray.score == pytest.approx(20.0 / 30.0)
    lines = trails_to_artifacts(rays, name="x", shape=(4096, 2048), min_sigma=10.0)
    assert spray.box == pytest.approx((min(a.xmin for a in lines), 0.0, max(a.xmax for a in lines), 4096.0))


def _with_rays(ends, *, apex=(500.0, -1500.0), amp=2.0, width=8.0, shape=(2048, 1024)):
    """A clean CCD with rays from ``apex`` (above it) to each ``(x, y)`` of ``ends`` in band 0:
    each enters at the top edge and stops part of the way down; ``amp`` sky sigma (one value,
    or one a ray)."""
    clean = simulate_image(seed=1, shape=shape, artifacts=[]).exposure
    _, noise = clean.sky_noise(0)
    yy, xx = np.mgrid[:shape[0], :shape[1]].astype(np.float32)
    sci = clean.sci.copy()
    for (x1, y1), a in zip(ends, np.broadcast_to(amp, (len(ends),))):
        dx, dy = x1 - apex[0], y1 - apex[1]
        length = math.hypot(dx, dy)
        along = ((xx - apex[0]) * dx + (yy - apex[1]) * dy) / length
        across = ((xx - apex[0]) * -dy + (yy - apex[1]) * dx) / length
        sci[0] += (a * noise * ((np.abs(across) <= width / 2) & (along <= length))).astype(np.float32)
    return Exposure(clean.name, clean.bands, sci, clean.msk, clean.wgt)


def test_rays_stopping_part_of_the_way_across_are_a_fan_and_one_alone_is_nothing():
    # two rays from a star 1,500 px above the CCD, lit from the top edge down to 1,100-1,200
    # px: under the lit-fraction a satellite needs, so only as rays of one fan
    exposure = _with_rays([(150.0, 1200.0), (900.0, 1100.0)])
    trails = find_trails(exposure)
    assert sorted(t.category for t in trails) == ["ray", "ray"]
    single, fans = split_fans(trails)
    assert single == [] and len(fans) == 1
    for t, end in zip(sorted(trails, key=lambda t: min(t.x0, t.x1)), ([150.0, 1200.0], [900.0, 1100.0])):
        bottom = (t.x0, t.y0) if t.y0 > t.y1 else (t.x1, t.y1)
        top = min(t.y0, t.y1)
        assert top < 130 and abs(bottom[1] - end[1]) < 160 and abs(bottom[0] - end[0]) < 100
    (spray,) = fans_to_artifacts(fans, name="x", shape=exposure.shape, min_sigma=10.0)
    assert spray.category == "bright-spray"
    # without rays, the brighter one was taken for a satellite, 70 % of the way across
    (satellite,) = find_trails(exposure, TrailSettings(rays=False))
    assert satellite.category == "satellite" and max(satellite.y0, satellite.y1) > 1400
    # one ray alone (the edge of something) is nothing
    assert find_trails(_with_rays([(900.0, 1100.0)])) == []


def test_a_fainter_ray_of_a_fan_joins_it():
    # a third ray, 0.6 sky sigma, under the 10 sigma a trail needs: found beside the two
    # bright ones from 4 sigma, as it points back to their star (with the binned bands
    # clipped at 4 times their scatter, a ray of 1 sky sigma and 8 px is already over 10)
    exposure = _with_rays([(150.0, 1200.0), (900.0, 1100.0), (640.0, 1150.0)], amp=[2.0, 2.0, 0.6])
    trails = find_trails(exposure)
    assert [t.category for t in trails] == ["ray"] * 3
    faint = min(trails, key=lambda t: t.significance)
    assert 5.0 <= faint.significance < 10.0
    assert abs(max((faint.x0, faint.y0), (faint.x1, faint.y1), key=lambda e: e[1])[0] - 640.0) < 60
    assert len(split_fans(trails)[1]) == 1
    # the tiles only the faint ray crosses score the fan's best ray, not its own score
    best = max(trails, key=lambda t: t.significance)
    grid = tile_grid(exposure.shape, tile=200)
    scores = trail_tile_scores(trails, grid, exposure.shape, min_fraction=0.01, min_sigma=10.0)
    alone = [(tile_fractions(trail_mask([faint], exposure.shape), grid) >= 0.01)
             & ~(tile_fractions(trail_mask([t], exposure.shape), grid) >= 0.01) for t in trails if t is not faint]
    only_faint = alone[0] & alone[1]
    assert only_faint.sum() >= 2
    assert np.all(scores[only_faint] == pytest.approx(best.score(10.0))) and best.score(10.0) > faint.score(10.0)
    assert np.all(scores[tile_fractions(trail_mask(trails, exposure.shape), grid) < 0.01] == 0)
    assert len(find_trails(exposure, TrailSettings(weak_ray_sigma=10.0))) == 2
    # a fainter ray 4 degrees from a bright one, 50-190 px from it: not its side lobe
    close = _with_rays([(150.0, 1200.0), (900.0, 1100.0), (330.0, 1150.0)], amp=[2.0, 2.0, 0.6])
    assert [t.category for t in find_trails(close)] == ["ray"] * 3
    assert len(find_trails(close, TrailSettings(fan_min_deg=90.0))) == 2


def test_broad_rays_crossing_the_ccd_are_a_fan_of_the_broad_pass():
    # three rays 100 px wide from a star 6,000 px above the CCD, crossing it at 0.7 sky
    # sigma: the fine pass's high-pass takes them for background, the broad pass (bands
    # binned 4 x 4) finds them as rays of one fan
    exposure = _with_rays([(150.0, 2300.0), (500.0, 2300.0), (850.0, 2300.0)], apex=(500.0, -6000.0), amp=0.7,
                          width=100.0)
    assert find_trails(exposure, TrailSettings(broad_bin=0)) == []
    trails = find_trails(exposure)
    assert len(trails) >= 2 and {t.category for t in trails} == {RAY}
    assert all(60.0 <= t.width <= 160.0 and abs(t.y1 - t.y0) > 1500.0 for t in trails)
    single, fans = split_fans(trails)
    assert single == [] and len(fans) == 1
    # one broad ray alone (the edge of a ghost, an arc) adds nothing to the fine pass's trails
    alone = _with_rays([(500.0, 2300.0)], apex=(500.0, -6000.0), amp=0.7, width=100.0)
    assert find_trails(alone) == find_trails(alone, TrailSettings(broad_bin=0))


def test_a_simulated_spray_found_as_a_fan():
    image = simulate_image(seed=0, artifacts=["bright-spray"])
    trails = find_trails(image.exposure)
    single, fans = split_fans(trails)
    assert single == [] and len(fans) == 1 and len(fans[0]) >= 2
    sprays = fans_to_artifacts(fans, name="x", shape=image.exposure.shape, min_sigma=10.0)
    truth = [a for a in image.artifacts if a.category == "bright-spray"]
    assert box_iou(_boxes(sprays), _boxes(truth))[0, 0] > 0.8


def test_blinking_lights_are_told_by_their_period():
    t = np.arange(0.0, 3000.0, 2.0)  # samples 2 px apart along a trail
    rng = np.random.default_rng(0)
    lights = ((t % 120.0) < 30.0).astype(float)  # on a quarter of every 120 px
    assert dash_modulation(lights, step_px=2.0, periods_px=(40.0, 400.0)) == pytest.approx(
        2 * np.sin(np.pi * 0.25) / (np.pi * 0.25), rel=0.05)  # the fundamental of a 25 % square wave
    # a satellite: steady, with a slow 8 % wiggle and noise
    steady = 1 + 0.08 * np.sin(2 * np.pi * t / 1500.0) + rng.normal(0, 0.3, t.size)
    assert dash_modulation(steady, step_px=2.0, periods_px=(40.0, 400.0)) < 0.1
    assert dash_modulation(lights[:300], step_px=2.0, periods_px=(40.0, 400.0)) == 0.0  # under two periods
    assert dash_modulation(-lights, step_px=2.0, periods_px=(40.0, 400.0)) == 0.0


def test_no_trail_in_a_clean_ccd():
    # a whole CCD (the size the limits are set for): stars, galaxies, saturated stars with
    # their bleed trails, bad columns and flagged cosmic rays, but no trail
    clean = simulate_image(seed=1, artifacts=[])
    assert find_trails(clean.exposure) == []


def test_cosmic_rays_found_and_stars_left_alone():
    image = simulate_image(seed=5, shape=SHAPE, artifacts=["cosmic-ray", "cosmic-ray"])
    truth = [a for a in image.artifacts if a.category == "cosmic-ray"]
    found = find_cosmic_rays(image.exposure)
    assert len(truth) == 2
    iou = box_iou(_boxes(found), _boxes(truth))
    assert (iou.max(axis=0) >= 0.5).all()  # each cosmic ray boxed
    assert len(found) == len(truth)  # and nothing else: stars, flagged cosmic rays, saturated cores
    assert all(a.category == "cosmic-ray" and 0.5 <= a.score <= 1 for a in found)
    # without it, nothing is found (the same sky, stars and flagged cosmic rays)
    assert find_cosmic_rays(simulate_image(seed=5, shape=SHAPE, artifacts=[]).exposure) == []


def test_a_cosmic_ray_longer_than_the_growing_reach_is_one():
    from spacejunk.io import Exposure

    rng = np.random.default_rng(3)
    ny, nx = 256, 1024
    sci = rng.normal(100.0, 10.0, (3, ny, nx)).astype(np.float32)
    sci[0, 120:122, 100:600] += 400.0  # a 500-px track in one band: two and a half reaches of _grow
    found = find_cosmic_rays(Exposure("e", ("g", "r", "i"), sci, np.zeros(sci.shape, np.int32), np.ones_like(sci)))
    assert len(found) == 1
    assert (found[0].xmin, found[0].xmax) == (100.0, 600.0)
    assert 115 <= found[0].ymin <= 120 and 122 <= found[0].ymax <= 127  # the noise next to it may join


def test_a_satellite_crossing_a_spray_is_not_one_of_its_rays():
    # the trails found on a simulated CCD (seed 14, image 5): five rays of a spray whose
    # star is near (1300, 2800), and a faint satellite across the CCD below them; its line
    # meets the lowest ray's beyond both their ends, 18 degrees apart, as two rays would
    rays = [Trail("g", x0, y0, x1, y1, 30.0, 20.0, 0.0, "ray") for x0, y0, x1, y1 in
            [(28, 1440, 1319, 2486), (21, 1933, 1251, 2615), (10, 2518, 1249, 2833), (21, 1637, 1374, 2602),
             (14, 2173, 1073, 2622)]]
    satellite = Trail("i", 2043.0, 611.0, 2.0, 727.0, 8.0, 12.0)
    single, fans = split_fans(rays + [satellite])
    assert single == [satellite]
    assert len(fans) == 1 and sorted(id(t) for t in fans[0]) == sorted(id(t) for t in rays)
    # it is the test that leaves it out: without it the satellite is a ray of the fan
    single, fans = split_fans(rays + [satellite], TrailSettings(fan_max_stray_deg=90.0))
    assert single == [] and len(fans[0]) == 6
    # a ray that stops part of the way is never left out so (a satellite is a line across the CCD)
    single, fans = split_fans(rays + [replace(satellite, category="ray")])
    assert single == [] and len(fans[0]) == 6


def test_a_long_curled_cosmic_ray_is_found_and_a_noise_pixel_beside_a_cluster_is_not_its():
    from spacejunk.io import Exposure

    rng = np.random.default_rng(4)
    ny, nx = 400, 400
    sci = rng.normal(100.0, 10.0, (3, ny, nx)).astype(np.float32)
    # a worm: a quarter circle of radius 150 px, 2 px wide, 300 e- (30 sigma) a pixel; its box
    # holds 22,500 pixels, the track under 500 (a star's wing would fill its box)
    t = np.linspace(0.0, np.pi / 2, 2000)
    xs, ys = (200 + 150 * np.cos(t)).astype(int), (50 + 150 * np.sin(t)).astype(int)
    track = np.zeros((ny, nx), bool)
    track[ys, xs] = track[ys + 1, xs] = True
    sci[0][track] += 300.0
    # a cluster of 3 x 3 pixels, and 2 px above it a lone pixel at 4 sigma
    sci[1, 300:303, 60:63] += 1000.0
    sci[1, 305, 61] = 140.0
    found = find_cosmic_rays(Exposure("e", ("g", "r", "i"), sci, np.zeros(sci.shape, np.int32), np.ones_like(sci)))
    boxes = sorted((a.xmin, a.ymin, a.xmax, a.ymax) for a in found)
    assert len(boxes) == 2
    cluster, worm = boxes
    assert cluster == (60.0, 300.0, 63.0, 303.0)
    rows, cols = np.nonzero(track)
    assert np.allclose(worm, (cols.min(), rows.min(), cols.max() + 1, rows.max() + 1), atol=2)


def test_classifier_tiles_on_a_trail_score_at_least_the_trail(satellite_image):
    from spacejunk.predict.classifier import classify_exposure
    from spacejunk.predict.trails import Trail

    exposure = satellite_image.exposure
    trail = Trail("g", 0.0, 100.0, 511.0, 900.0, 8.0, 40.0)  # significance 40: score 0.8
    plain = classify_exposure(exposure, trails=False)
    boosted = classify_exposure(exposure, trails=[trail])
    crossed = trail_tile_scores([trail], plain.grid, exposure.shape, min_fraction=0.01, min_sigma=10.0) > 0
    assert crossed.sum() >= 4 and (~crossed).sum() >= 4
    assert np.all(boosted.scores[crossed] >= 0.8 - 1e-6)
    assert np.allclose(boosted.scores[~crossed], plain.scores[~crossed])


def test_cross_talk_copy_found_where_the_simulator_put_it():
    image = simulate_image(seed=3, shape=SHAPE, artifacts=["cross-talk"])
    truth = [a for a in image.artifacts if a.category == "cross-talk"]
    found = find_cross_talk(image.exposure)
    assert len(truth) == 1 and found
    assert found[0].category == "cross-talk" and found[0].score > 0.5
    assert box_iou(_boxes(found[:1]), _boxes(truth))[0, 0] > 0.7
    # mirrored across the amplifier boundary from a saturated star
    nx = image.exposure.shape[1]
    sat = (image.exposure.msk & 2).any(axis=0)
    cols = np.flatnonzero(sat[int(truth[0].ymin):int(truth[0].ymax)].any(axis=0))
    assert np.any(np.abs((nx - 1 - cols) - (truth[0].xmin + truth[0].xmax) / 2) < 20)


class _Blind(SegmentationDetector):
    """A network that finds nothing: what is reported comes from the finders."""

    def logits(self, x):
        return torch.full((x.shape[0], self.num_classes - 1, *x.shape[-2:]), -30.0)


def test_detector_checkpoint_finders_report_their_categories():
    """A checkpoint asking for the finders reports their cosmic rays and cross-talk (and no dark
    halo where there is none)."""
    image = simulate_image(seed=5, shape=SHAPE, artifacts=["cosmic-ray", "cross-talk"])
    meta = {"bands": list(image.exposure.bands), "classes": list(CATEGORIES), "threshold": 0.5,
            "views": [{"bin": 8, "tile": None, "overlap": 0}], **default_finder_settings()}
    model = _Blind(n_bands=3, base_channels=2, depth=1).eval()
    found = detect_exposure(image.exposure, model=model, meta=meta, trails=False)
    assert sorted(a.category for a in found) == sorted(a.category for a in image.artifacts)
    iou = box_iou(_boxes(found), _boxes(image.artifacts))
    assert (iou.max(axis=0) >= 0.5).all()
    # without the finders in its checkpoint, the same network reports nothing
    plain = {k: v for k, v in meta.items() if k not in FINDERS}
    with pytest.warns(NoArtifactsWarning):
        assert detect_exposure(image.exposure, model=model, meta=plain, trails=False) == []


def test_pipeline_mask_holds_a_trail_pixels_not_its_box():
    from spacejunk.categories import CATEGORY_BITS
    from spacejunk.io import Artifact
    from spacejunk.pipeline import ImageResult
    from spacejunk.predict.trails import Trail

    shape = (400, 200)
    trail = Trail("g", 0.0, 0.0, 199.0, 399.0, 6.0, 30.0)
    sat = trails_to_artifacts([trail], name="x", shape=shape, min_sigma=10.0)[0]
    ghost = Artifact("x", 20, 350, 14.1, 10, 340, 30, 360, 0.9, "ghost")
    result = ImageResult("x", shape, [sat, ghost], np.zeros((0, 4)), np.zeros(0), trails=[trail])
    mask = result.mask()
    on_trail = (mask & CATEGORY_BITS["satellite"]) != 0
    assert 0.02 < on_trail.mean() < 0.05  # a 6-px line across the image, not its box (all of it)
    assert on_trail[200, 99] and not on_trail[0, 199]
    assert ((mask & CATEGORY_BITS["ghost"]) != 0).sum() == 20 * 20  # other artifacts keep their box
    # the trail reported under its second name too (an airplane, at a lower score) is the
    # same line: its pixels, not its box, under that name's bit
    from spacejunk.predict.detector import _second_names

    both = _second_names([sat, ghost], threshold=0.05)
    assert sorted(a.category for a in both) == ["airplane", "ghost", "satellite"]
    mask = ImageResult("x", shape, both, np.zeros((0, 4)), np.zeros(0), trails=[trail]).mask()
    as_plane = (mask & CATEGORY_BITS["airplane"]) != 0
    assert np.array_equal(as_plane, on_trail)


def test_a_glow_under_half_of_a_saturated_source_is_no_cross_talk():
    from spacejunk.predict.cross_talk import _leaks_throughout

    rng = np.random.default_rng(3)
    src = np.zeros((200, 20), np.float32)
    src[:, 8:12] = 1000.0  # a bleed trail down to the readout edge (the last rows)
    bright = src > 50
    leak = 2e-3
    real = leak * src + rng.normal(0, 1, src.shape).astype(np.float32)
    assert _leaks_throughout(real, src, bright, leak, 6.0)
    glow = rng.normal(0, 1, src.shape).astype(np.float32)
    glow[100:] += 4.0  # the glow along the edge lies under the trail's lower half only
    part = float(np.median(glow[bright] / src[bright]))
    assert part > 0 and not _leaks_throughout(glow, src, bright, part, 6.0)
    assert _leaks_throughout(glow, src, bright, part, 0.0)  # the check off


def test_the_finders_run_side_by_side_and_give_what_they_give_one_after_the_other():
    import time

    from spacejunk.predict.finders import in_threads, run_finders

    # results come back in the order asked for, whatever order the threads finish in
    assert in_threads([lambda i=i: (time.sleep(0.02 * (3 - i)), i)[1] for i in range(4)], workers=4) == [0, 1, 2, 3]
    exposure = simulate_image(seed=11, shape=SHAPE, name="s11", artifacts=["cross-talk", "satellite"]).exposure
    meta = default_finder_settings()
    alone = run_finders(exposure, meta, workers=1)
    together = run_finders(exposure, meta, workers=2)
    assert list(together) == list(FINDERS)
    assert {k: [a.as_row() for a in v] for k, v in together.items()} == \
        {k: [a.as_row() for a in v] for k, v in alone.items()}
    assert len(exposure._sky_noise) == len(exposure.bands)  # measured once, before the threads


def test_runtime_warnings_are_quiet_inside_threads_and_the_filters_come_back():
    import time
    import warnings

    from spacejunk._errors import quiet_runtime_warnings
    from spacejunk.predict.finders import in_threads

    def task(i):
        with quiet_runtime_warnings():
            time.sleep(0.002 * (i % 4))
            return float(np.nanmedian(np.full(3, np.nan)))  # an all-NaN slice: a RuntimeWarning

    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # a warning let through fails its thread
        before = list(warnings.filters)
        results = in_threads([lambda i=i: task(i) for i in range(24)], workers=6)
        assert all(np.isnan(v) for v in results)
        assert warnings.filters == before  # catch_warnings from threads could leave them changed
        with pytest.raises(RuntimeWarning, match="All-NaN"):
            np.nanmedian(np.full(3, np.nan))


def test_the_finders_threads_follow_omp_num_threads(monkeypatch):
    from spacejunk.predict.finders import _cores

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert _cores() == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "")
    assert _cores() >= 1

"""The ghost-disc finder (spacejunk.predict.ghost_discs) on hand-made images."""

import numpy as np
import pytest

from spacejunk.categories import DESDM_BITS
from spacejunk.evaluate.coco import box_iou
from spacejunk.io import Exposure
from spacejunk.predict.finders import box_tile_scores
from spacejunk.predict.ghost_discs import DiscArtifact, find_ghost_disc, find_ghost_discs

SHAPE = (2048, 1024)
NOISE = 10.0


def _image(extra=0.0, *, seed=0, saturated=()):
    """Three bands of sky noise (sigma NOISE) with a gentle quadratic gradient (0.1 sigma),
    plus ``extra`` (noise units); ``saturated`` (x, y) get a flagged saturated core."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:SHAPE[0], :SHAPE[1]]
    u, v = xx / SHAPE[1] - 0.5, yy / SHAPE[0] - 0.5
    sky = 1000.0 + NOISE * (0.1 * u + 0.1 * v * v)
    sci = (rng.normal(0.0, NOISE, (3,) + SHAPE) + sky).astype(np.float32)
    sci += NOISE * np.asarray(extra, np.float32)
    msk = np.zeros(sci.shape, np.int32)
    for x, y in saturated:
        core = (xx - x) ** 2 + (yy - y) ** 2 < 6 ** 2
        sci[:, core] = 60000.0
        msk[:, core] |= DESDM_BITS["SATURATE"]
    return Exposure("e", ("g", "r", "i"), sci, msk, np.ones(sci.shape, np.float32))


def _disc(cx, cy, radius, *, level=0.3, hole=0.0, soft=30.0):
    """A soft disc (``level`` noise units) with a hole of ``hole`` times its radius, and the
    truth: where its shape is at least 0.5."""
    yy, xx = np.mgrid[:SHAPE[0], :SHAPE[1]]
    r = np.hypot(xx - cx, yy - cy)
    shape = np.clip((radius - r) / soft + 0.5, 0, 1)
    if hole:
        shape *= np.clip((r - hole * radius) / soft + 0.5, 0, 1)
    return level * shape, shape >= 0.5


def _box(mask):
    ys, xs = np.nonzero(mask)
    return [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]


@pytest.mark.parametrize("cx, cy, radius, hole", [
    (-600.0, -300.0, 2600.0, 0.0),   # covers all but the far corner: no edge but a darker corner
    (1400.0, 1000.0, 900.0, 0.0),    # centre off the CCD's side, the edge across its middle
    (-200.0, 1000.0, 3000.0, 0.35),  # the disc covers the CCD, its central hole is on it
])
def test_a_faint_disc_larger_than_the_ccd_is_found_by_its_edge(cx, cy, radius, hole):
    extra, truth = _disc(cx, cy, radius, hole=hole)
    found = find_ghost_discs(_image(extra))
    assert [a.category for a in found] == ["ghost"]
    assert box_iou([found[0].box], [_box(truth)])[0, 0] >= 0.9
    assert found[0].score >= 0.5
    # its region, not only its box: the pixels it calls inside are the truth's
    disc = found[0].disc
    ys, xs = np.mgrid[8:SHAPE[0]:16, 8:SHAPE[1]:16]
    agree = (disc.region(xs, ys) == truth[ys, xs]).mean()
    assert agree >= 0.97


def test_a_faint_disc_is_found_beside_a_bright_ghost_that_outshines_its_edge():
    # a bright ghost (3 sigma) in the corner of a faint disc (0.3 sigma) covering the CCD's
    # top three quarters: the bright one's edge is the most significant, the faint one's is found
    # with the bright one's blocks left out
    faint, faint_truth = _disc(500.0, -2700.0, 4200.0)
    bright, bright_truth = _disc(150.0, 200.0, 550.0, level=3.0, soft=10.0)
    image = _image(faint + bright)
    found = find_ghost_discs(image)
    assert len(found) == 2
    assert box_iou([found[0].box], [_box(bright_truth)])[0, 0] >= 0.9
    assert box_iou([found[1].box], [_box(faint_truth)])[0, 0] >= 0.9
    assert found[0].score > found[1].score >= 0.5
    ys, xs = np.mgrid[8:SHAPE[0]:16, 8:SHAPE[1]:16]
    assert (found[1].disc.region(xs, ys) == faint_truth[ys, xs]).mean() >= 0.97
    # one disc when asked for one: the bright ghost's
    from dataclasses import replace

    from spacejunk.predict.ghost_discs import GhostDiscSettings

    one = find_ghost_discs(image, replace(GhostDiscSettings(), max_discs=1))
    assert len(one) == 1 and one[0].box == found[0].box
    assert find_ghost_disc(image) == found[0].disc


def test_the_sky_alone_and_a_dark_halo_at_the_edge_are_not_ghosts():
    assert find_ghost_discs(_image()) == []
    assert find_ghost_discs(_image(seed=3)) == []
    # sky over-subtracted round a bright star near the CCD's corner: a dark cap, which a
    # circle covering the rest would fit as well
    halo, _ = _disc(900.0, 100.0, 450.0, level=-1.0, soft=60.0)
    assert find_ghost_discs(_image(halo, saturated=[(900.0, 100.0)])) == []


def test_a_bright_arc_is_not_a_disc():
    yy, xx = np.mgrid[:SHAPE[0], :SHAPE[1]]
    r = np.hypot(xx + 800.0, yy - 1000.0)
    arc = 3.0 * np.exp(-0.5 * ((r - 1500.0) / 25.0) ** 2) * (np.abs(yy - 1000.0) < 900)
    assert find_ghost_disc(_image(arc)) is None


def test_a_disc_scores_the_tiles_it_covers_not_its_box_corners():
    extra, truth = _disc(-600.0, -300.0, 2600.0)
    found = find_ghost_discs(_image(extra))
    assert isinstance(found[0], DiscArtifact)
    grid = np.array([[x, y, x + 128, y + 128] for y in range(0, SHAPE[0], 128) for x in range(0, SHAPE[1], 128)],
                    float)
    scores = box_tile_scores(found, grid, min_fraction=0.01)
    covered = np.array([truth[int(y0):int(y1), int(x0):int(x1)].mean() >= 0.01 for x0, y0, x1, y1 in grid])
    assert not covered.all() and covered.sum() > 0.5 * len(grid)   # the far corner is outside
    assert ((scores > 0) == covered).mean() >= 0.95
    # <image>_mask.fits paints the region, not the box
    from spacejunk.categories import CATEGORY_BITS
    from spacejunk.pipeline import ImageResult

    mask = ImageResult("e", SHAPE, found, grid, scores).mask()
    painted = (mask & CATEGORY_BITS["ghost"]) != 0
    assert (painted == truth).mean() >= 0.97 and not painted.all()
    assert set(found[0].as_row()) == {"image", "x", "y", "radius", "xmin", "ymin", "xmax", "ymax", "score",
                                      "category"}


def test_the_detector_reports_a_disc_beside_the_networks_ghosts(detect_with_finders):
    extra, truth = _disc(1400.0, 1000.0, 900.0)
    found = detect_with_finders(_image(extra), ["ghost_discs"])
    assert [a.category for a in found] == ["ghost"]
    assert box_iou([found[0].box], [_box(truth)])[0, 0] >= 0.9



def test_dark_blocks_outside_a_bright_ghost_do_not_veto_it_as_a_dark_halo():
    # sim_s10_0028: a bright ghost covering 80 % of the CCD, a saturated star in the dark
    # corner outside it. With its rim and its uneven plateau the ghost's clipped fit keeps
    # a tenth of its significance, and a few dark blocks round the star, below the
    # quadratic sky that cannot follow the step, "fit as well" as the circle. Fitted beside
    # the circle, they leave it its significance: no halo. A real halo takes it away.
    import math
    from dataclasses import replace

    from spacejunk.predict.ghost_discs import GhostDiscSettings, _dark_halo_instead, _Fit

    rng = np.random.default_rng(0)
    size, ny, nx = 32, 128, 64
    yy, xx = np.mgrid[:ny, :nx]
    px, py = (xx + 0.5) * size, (yy + 0.5) * size
    cx, cy, radius = 4500.0, -3700.0, 7800.0
    fit = _Fit(0.02 * rng.standard_normal((ny, nx)) + (np.hypot(px - cx, py - cy) < radius), size)
    s = GhostDiscSettings()
    z = 0.1 * fit.clipped(fit.circle(cx, cy, radius), s.clip_blocks)
    star = np.array([[1900.0, 3900.0]])
    assert _dark_halo_instead(fit, star, cx, cy, radius, 1, z, replace(s, halo_keep=math.inf))  # the old rule
    assert not _dark_halo_instead(fit, star, cx, cy, radius, 1, z, s)
    # a dark halo round a star near the bottom edge, and a hole's circle fitting its cap
    halo = _Fit(0.02 * rng.standard_normal((ny, nx)) - (np.hypot(px - 1000.0, py - 60.0) < 450.0), size)
    hole = halo.clipped(halo.circle(1000.0, -3000.0, 3480.0), s.clip_blocks)
    assert _dark_halo_instead(halo, np.array([[1000.0, 60.0]]), 1000.0, -3000.0, 3480.0, -1, hole, s)

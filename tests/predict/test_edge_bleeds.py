"""Edge bleeds: the network's region on the readout edge relabelled and cut to the glow, and
the glow found from DESDM's flags alone."""

from dataclasses import replace

import numpy as np
import pytest

from spacejunk.categories import CATEGORY_BITS, DESDM_BITS
from spacejunk.evaluate.coco import box_iou
from spacejunk.io import Artifact
from spacejunk.predict.edge_bleeds import EdgeBleedFinderSettings, EdgeBleedSettings, find_edge_bleeds, relabel_edge_bleeds
from spacejunk.predict.finders import box_tile_scores
from spacejunk.preprocess import tile_fractions, tile_grid
from spacejunk.simulate import simulate_image

SHAPE = (1024, 512)


def _box(a):
    return np.array([[a.xmin, a.ymin, a.xmax, a.ymax]], float)


@pytest.fixture(scope="module")
def bleed_image():
    image = simulate_image(seed=2, shape=SHAPE, artifacts=["edge-bleed"])
    truth = [a for a in image.artifacts if a.category == "edge-bleed"]
    assert len(truth) == 1 and truth[0].ymax == SHAPE[0]  # the glow along the top edge
    return image, truth[0]


def test_a_ghost_on_the_edge_where_a_bleed_trail_ends_becomes_the_edge_bleed(bleed_image):
    image, truth = bleed_image
    # what the network reports: the glow with the star's halo, too deep, too narrow, as a ghost
    network = Artifact(image.exposure.name, 0, 0, 0, truth.xmin + 60, SHAPE[0] - 300, truth.xmax - 60, SHAPE[0],
                       0.8, "ghost")
    (out,) = relabel_edge_bleeds([network], image.exposure)
    assert out.category == "edge-bleed" and out.score == 0.8
    assert box_iou(_box(out), _box(truth))[0, 0] > 0.9
    assert out.ymax == SHAPE[0] and out.ymax - out.ymin < 150


def test_a_tall_region_the_namer_calls_an_edge_bleed_is_cut_to_the_glow(bleed_image):
    image, truth = bleed_image
    # the network's region holds the glow and 800 rows above it (a ghost, the star's halo)
    tall = Artifact(image.exposure.name, 0, 0, 0, truth.xmin, SHAPE[0] - 800, truth.xmax, SHAPE[0], 0.9,
                    "edge-bleed")
    assert tall.ymax - tall.ymin > EdgeBleedSettings().max_height_px
    (out,) = relabel_edge_bleeds([tall], image.exposure)
    assert out.category == "edge-bleed" and out.score == 0.9
    assert box_iou(_box(out), _box(truth))[0, 0] > 0.9
    # as tall and called a ghost, it is a ghost reaching the edge, left as it is
    ghost = replace(tall, category="ghost")
    assert relabel_edge_bleeds([ghost], image.exposure) == [ghost]


def test_regions_off_the_edge_or_without_a_bleed_trail_are_left_alone(bleed_image):
    image, truth = bleed_image
    name = image.exposure.name
    away = Artifact(name, 0, 0, 0, truth.xmin, 400, truth.xmax, 700, 0.8, "ghost")          # not on the edge
    other_edge = Artifact(name, 0, 0, 0, truth.xmin, 0, truth.xmax, 200, 0.8, "ghost")      # no bleed reaches it
    tall = Artifact(name, 0, 0, 0, truth.xmin, 100, truth.xmax, SHAPE[0], 0.8, "ghost")     # a ghost down the CCD
    trail = Artifact(name, 0, 0, 0, truth.xmin, SHAPE[0] - 300, truth.xmax, SHAPE[0], 0.8, "satellite")
    items = [away, other_edge, tall, trail]
    assert relabel_edge_bleeds(items, image.exposure) == items
    # a clean CCD (the same sky and stars) has no bleed on its edge
    clean = simulate_image(seed=2, shape=SHAPE, artifacts=[]).exposure
    on_edge = Artifact(name, 0, 0, 0, truth.xmin, SHAPE[0] - 300, truth.xmax, SHAPE[0], 0.8, "ghost")
    assert relabel_edge_bleeds([on_edge], clean) == [on_edge]


def test_the_networks_edge_bleed_replaces_the_namers_names_for_its_region(bleed_image):
    from spacejunk.predict.detector import _edge_bleeds_of_network

    image, truth = bleed_image
    name = image.exposure.name
    region = (truth.xmin + 60, SHAPE[0] - 300, truth.xmax - 60, SHAPE[0])
    network = Artifact(name, 0, 0, 0, *region, 0.8, "ghost")
    elsewhere = Artifact(name, 0, 0, 0, truth.xmin, 400, truth.xmax, 700, 0.7, "ghost")
    # the namer called the glow a faint bright-spray, and an uncut edge bleed of its own
    namer_spray = Artifact(name, 0, 0, 0, *region, 0.2, "bright-spray")
    namer_bleed = Artifact(name, 0, 0, 0, 0, 900, 100, SHAPE[0], 0.3, "edge-bleed")
    namer_ghost = Artifact(name, 0, 0, 0, truth.xmin, 400, truth.xmax, 700, 0.6, "ghost")
    out = _edge_bleeds_of_network([namer_ghost, namer_bleed, namer_spray], [network, elsewhere], image.exposure,
                                  threshold=0.05)
    assert [a.category for a in out] == ["edge-bleed", "ghost"]
    assert out[0].score == 0.8 and box_iou(_box(out[0]), _box(truth))[0, 0] > 0.9
    assert out[1] is namer_ghost
    # under the threshold, or no edge bleed among the network's regions: the namer's names stay
    named = [namer_ghost, namer_spray]
    assert _edge_bleeds_of_network(named, [network], image.exposure, threshold=0.9) == named
    assert _edge_bleeds_of_network(named, [elsewhere], image.exposure, threshold=0.05) == named


def test_the_finder_boxes_the_glow_and_scores_the_tiles_it_covers(bleed_image):
    image, truth = bleed_image
    (found,) = find_edge_bleeds(image.exposure)
    assert found.category == "edge-bleed" and found.score > 0.9
    assert box_iou(_box(found), _box(truth))[0, 0] > 0.9
    # the classifier's tiles: those the glow covers
    grid = tile_grid(SHAPE, tile=32)
    covered = tile_fractions((image.truth_mask & CATEGORY_BITS["edge-bleed"]) != 0, grid) >= 0.01
    scores = box_tile_scores([found], grid, min_fraction=0.01)
    assert covered.sum() >= 30 and (scores[covered] == np.float32(found.score)).mean() > 0.95
    assert ((scores > 0) & ~covered).sum() <= 1
    # a glow narrower than min_width_px is not one
    assert find_edge_bleeds(image.exposure, EdgeBleedFinderSettings(min_width_px=400)) == []


def _edge_trail(exposure, x0: int, x1: int, rows: int):
    """``exposure`` with a bleed trail flagged over columns ``[x0, x1)`` down from the top edge."""
    msk = exposure.msk.copy()
    msk[:, -rows:, x0:x1] |= DESDM_BITS["SATURATE"]
    return replace(exposure, msk=msk)


def test_a_bleed_trail_on_the_edge_without_a_glow_or_with_a_halo_only_is_not_an_edge_bleed():
    clean = simulate_image(seed=2, shape=SHAPE, artifacts=[]).exposure
    assert find_edge_bleeds(clean) == []
    trail = _edge_trail(clean, 250, 256, 150)
    assert find_edge_bleeds(trail) == []  # no charge spreads along the edge
    # a star's halo 120 px from the edge, brightest at the star: not a glow fading from the edge
    yy, xx = np.mgrid[:SHAPE[0], :SHAPE[1]]
    noise = np.array([trail.sky_noise(b)[1] for b in range(len(trail.bands))], np.float32)
    halo = np.exp(-((xx - 253) ** 2 + (yy - (SHAPE[0] - 120)) ** 2) / (2 * 80.0 ** 2)).astype(np.float32)
    star = replace(trail, sci=trail.sci + 50 * noise[:, None, None] * halo[None])
    assert find_edge_bleeds(star) == []
    # light spread along the edge from the trail is found, deepest at the trail's columns
    glow = 200 * np.exp(-np.abs(xx - 253) / 60.0 - (SHAPE[0] - 1 - yy) / 20.0).astype(np.float32)
    bleed = replace(trail, sci=trail.sci + noise[:, None, None] * glow[None])
    (found,) = find_edge_bleeds(bleed)
    assert found.ymax == SHAPE[0] and 90 < found.ymax - found.ymin < 130 and found.xmax - found.xmin > 450
    grid = tile_grid(SHAPE, tile=32)
    covered = tile_fractions(glow >= 0.7, grid) >= 0.01  # the simulator's visible level
    scores = box_tile_scores([found], grid, min_fraction=0.01)
    in_box = box_tile_scores([Artifact(*found.as_row().values())], grid, min_fraction=0.01)
    assert (scores[covered] > 0).mean() > 0.95
    assert ((scores > 0) & ~covered).sum() <= 0.3 * ((in_box > 0) & ~covered).sum()  # not the box's corners


def test_the_shipped_classifier_asks_for_the_finder_and_flags_the_glows_tiles(bleed_image):
    from spacejunk.predict.classifier import classify_exposure, load_default_classifier
    from spacejunk.predict.finders import DETECTOR_FINDERS, finder_keys

    image, _ = bleed_image
    model, meta = load_default_classifier()
    assert "edge_bleeds" in finder_keys(meta) and "edge_bleeds" not in DETECTOR_FINDERS
    tiles = classify_exposure(image.exposure, model=model, meta=meta)
    covered = tile_fractions((image.truth_mask & CATEGORY_BITS["edge-bleed"]) != 0, tiles.grid) >= 0.01
    assert covered.sum() >= 2 and tiles.positive[covered].all()
    # the glow's tiles score at least the finder's score, whatever the network says
    (found,) = find_edge_bleeds(image.exposure)
    assert np.all(tiles.scores[covered] >= np.float32(found.score) - 1e-6)

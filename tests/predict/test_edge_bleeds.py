"""Edge bleeds: the network's region on the readout edge relabelled and cut to the glow."""

import numpy as np
import pytest

from spacejunk.evaluate.coco import box_iou
from spacejunk.io import Artifact
from spacejunk.predict.edge_bleeds import relabel_edge_bleeds
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

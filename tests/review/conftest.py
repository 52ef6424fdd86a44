"""Fixtures of the review tests: small simulated folders, a proposer built from the truth, a live server."""

from __future__ import annotations

import contextlib
import shutil
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from spacejunk.io import Artifact, write_exposure
from spacejunk.preprocess import tile_fractions, tile_grid
from spacejunk.review.proposals import Proposal
from spacejunk.simulate import simulate_image

SHAPE = (256, 128)
BANDS = ("g", "r", "i")
#: name -> (seed, artifacts injected)
IMAGES = {"alpha": (1, ["satellite", "cosmic-ray"]), "beta": (2, ["ghost"]), "gamma": (3, None)}
#: A proposal that is no artifact at all, on every image.
FALSE_POSITIVE = dict(x=100.0, y=40.0, radius=20.0, category="other", score=0.3)
PROPOSAL_SCORES = (0.9, 0.55)


@pytest.fixture(scope="session")
def simulated(tmp_path_factory):
    """(folder of FITS files, {name: SimulatedImage}) for the three images of :data:`IMAGES`."""
    out = tmp_path_factory.mktemp("review-src")
    sims = {}
    for name, (seed, artifacts) in IMAGES.items():
        sim = simulate_image(seed=seed, name=name, shape=SHAPE, bands=BANDS, artifacts=artifacts)
        write_exposure(sim.exposure, out)
        sims[name] = sim
    assert [len(s.artifacts) for s in sims.values()] == [2, 1, 0]
    return out, sims


@pytest.fixture
def review_dir(simulated, tmp_path) -> Path:
    """A fresh copy of the simulated folder (each test gets its own review.sqlite)."""
    src, _ = simulated
    dst = tmp_path / "images"
    shutil.copytree(src, dst)
    return dst


class TruthProposer:
    """A fast fake model: proposes the simulator's truth (scores 0.9, 0.55, ...) plus one false mark.

    Tile scores are 0.05 on clean 64-px tiles, 0.5 on tiles the truth touches a little and
    0.95 on tiles it covers, so the queue has something to sort by.
    """

    shape = SHAPE
    scores = PROPOSAL_SCORES
    false_positive = FALSE_POSITIVE

    def __init__(self, sims):
        self.sims = sims
        self.calls: list[str] = []

    def proposals(self, name: str) -> list[Artifact]:
        truth = self.sims[name].artifacts
        marks = [Artifact.from_circle(name, a.x, a.y, a.radius, shape=SHAPE, category=a.category,
                                      score=PROPOSAL_SCORES[i % len(PROPOSAL_SCORES)]) for i, a in enumerate(truth)]
        fp = FALSE_POSITIVE
        marks.append(Artifact.from_circle(name, fp["x"], fp["y"], fp["radius"], shape=SHAPE, score=fp["score"],
                                          category=fp["category"]))
        return marks

    def __call__(self, exposure) -> Proposal:
        self.calls.append(exposure.name)
        grid = tile_grid(SHAPE, tile=64)
        frac = tile_fractions(self.sims[exposure.name].truth_mask != 0, grid)
        scores = np.where(frac > 0.2, 0.95, np.where(frac > 0, 0.5, 0.05))
        return Proposal(self.proposals(exposure.name), grid, scores, 0.5)


@pytest.fixture
def proposer(simulated) -> TruthProposer:
    return TruthProposer(simulated[1])


@pytest.fixture(scope="session")
def prepared_template(simulated, tmp_path_factory) -> Path:
    """A folder whose review.sqlite holds the TruthProposer's proposals (made once, copied per test)."""
    from spacejunk.review import open_review

    src, sims = simulated
    folder = tmp_path_factory.mktemp("review-prepared") / "images"
    shutil.copytree(src, folder)
    open_review(folder, proposer=TruthProposer(sims), quiet=True)
    return folder


@pytest.fixture
def prepared(prepared_template, tmp_path):
    """(folder, store, images): a fresh copy of the simulated folder with the proposals stored."""
    from spacejunk.io import find_images
    from spacejunk.review import ReviewStore

    folder = tmp_path / "prepared"
    shutil.copytree(prepared_template, folder)
    return folder, ReviewStore(folder / "review.sqlite"), find_images(folder)


@pytest.fixture
def serve_app():
    """``with serve_app(app) as url:`` runs ``app`` on a free localhost port in a thread."""
    return live_server


@pytest.fixture
def port_finder():
    """``port_finder()``: a TCP port free on 127.0.0.1 now."""
    return free_port


@contextlib.contextmanager
def live_server(app):
    """Serve ``app`` with uvicorn in a thread on a free localhost port; yield its base URL; stop it."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off", timeout_keep_alive=1))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        sock.close()


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (for a server in another process)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

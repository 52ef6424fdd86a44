"""Screenshots of the review page for the docs: ``docs/review.png`` and ``docs/review-zoom.png``.

Simulates full-size DECam CCDs (4096 x 2048, bands g, r, i), stores proposals for them,
serves the review page on a free localhost port and drives headless Chromium through a
short review (accept a proposal, add a mark), then zooms to single pixels.

The proposals come from the shipped detection model with ``--proposer model``; the
default, ``truth``, is a stand-in built from the simulator's truth (each artifact
proposed with a seeded score between 0.3 and 0.95, tile scores from the covered
fraction with noise, one false mark per image), so the pictures can be made before a
model is trained.

Run ``python benchmarks/screenshot_review.py --help`` for the options.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import shutil
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from spacejunk.io import Artifact, write_exposure
from spacejunk.preprocess import tile_fractions, tile_grid
from spacejunk.review import create_app, open_review
from spacejunk.review.proposals import Proposal
from spacejunk.simulate import simulate_image

log = logging.getLogger("spacejunk.bench")
ROOT = Path(__file__).resolve().parents[1]
SCENES = {"sim-ccd-a": (7, ["satellite", "cosmic-ray", "ghost", "column-mask"]),
          "sim-ccd-b": (11, ["bright-spray", "cosmic-ray"]),
          "sim-ccd-c": (13, None)}


class TruthStandIn:
    """Proposals from the simulator's truth, with seeded scores (see the module docstring)."""

    def __init__(self, sims: dict, *, seed: int = 0):
        self.sims = sims
        self.rng = np.random.default_rng(seed)

    def __call__(self, exposure) -> Proposal:
        sim = self.sims[exposure.name]
        ny, nx = exposure.shape
        marks = [Artifact.from_circle(exposure.name, a.x, a.y, min(a.radius, 400.0), shape=(ny, nx),
                                      category=a.category, score=float(self.rng.uniform(0.3, 0.95)))
                 for a in sim.artifacts]
        marks.append(Artifact.from_circle(exposure.name, nx * 0.7, ny * 0.6, 40.0, shape=(ny, nx), category="other",
                                          score=0.35))
        grid = tile_grid((ny, nx), tile=200)
        frac = tile_fractions(sim.truth_mask != 0, grid)
        scores = np.clip(0.05 + 0.9 * np.sqrt(frac) + self.rng.normal(0, 0.05, len(frac)), 0, 1)
        return Proposal(marks, grid, scores, 0.5)


@contextlib.contextmanager
def serving(app):
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


def chromium(profile: Path, size: tuple[int, int]):
    from selenium import webdriver

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", f"--user-data-dir={profile}", f"--window-size={size[0]},{size[1]}"):
        options.add_argument(arg)
    service = webdriver.ChromeService(executable_path=shutil.which("chromedriver") or "/usr/bin/chromedriver")
    return webdriver.Chrome(options=options, service=service)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--proposer", choices=("truth", "model"), default="truth",
                   help="truth: stand-in from the simulator's truth (default); model: the shipped detector")
    p.add_argument("--shape", default="4096,2048", help="rows,columns of the simulated CCDs (default 4096,2048)")
    p.add_argument("--out", default="docs/review.png", help="screenshot, relative to the repository")
    p.add_argument("--zoom-out", default="docs/review-zoom.png", help="zoomed-in screenshot")
    p.add_argument("--size", default="1600,1000", help="browser window width,height (default 1600,1000)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    shape = tuple(int(v) for v in args.shape.split(","))
    size = tuple(int(v) for v in args.size.split(","))
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.support.ui import Select, WebDriverWait

    with tempfile.TemporaryDirectory(prefix="spacejunk-review-") as tmp:
        folder = Path(tmp) / "images"
        sims = {}
        for name, (seed, artifacts) in SCENES.items():
            log.info("simulating %s", name)
            sims[name] = simulate_image(seed=seed, name=name, shape=shape, bands=("g", "r", "i"), artifacts=artifacts)
            write_exposure(sims[name].exposure, folder)
        proposer = TruthStandIn(sims) if args.proposer == "truth" else None
        store, images = open_review(folder, proposer=proposer)
        app = create_app(folder, store=store, images=images, reviewer="ana")
        with serving(app) as url:
            driver = chromium(Path(tmp) / "profile", size)
            try:
                wait = WebDriverWait(driver, 120, poll_frequency=0.2)
                js = driver.execute_script
                driver.get(url + "/")
                wait.until(lambda d: js("return !!(window.spacejunkReview && window.spacejunkReview.ready())"))
                name = js("return window.spacejunkReview.state.image.name")
                # accept the first pending proposal, reject the next one
                ActionChains(driver).send_keys("a").perform()
                time.sleep(0.8)
                ActionChains(driver).send_keys("x").perform()
                time.sleep(0.8)
                # add a missed cosmic ray (small) at a star-free spot of the CCD
                Select(driver.find_element("id", "category")).select_by_value("cosmic-ray")
                js("document.activeElement.blur()")
                ActionChains(driver).send_keys("h").perform()
                time.sleep(1.0)
                viewer = driver.find_element("id", "viewer")
                ny, nx = shape
                px, py = js("return window.spacejunkReview.imageToElement(arguments[0], arguments[1])",
                            nx * 0.25, ny * 0.8)
                w, h = viewer.size["width"], viewer.size["height"]
                ActionChains(driver).move_to_element_with_offset(viewer, round(px - w / 2), round(py - h / 2)) \
                    .click().perform()
                time.sleep(1.0)
                ActionChains(driver).send_keys("h").perform()
                time.sleep(1.0)
                wait.until(lambda d: js("return window.spacejunkReview.ready()"))
                time.sleep(1.5)
                out = ROOT / args.out
                driver.save_screenshot(str(out))
                log.info("wrote %s (image %s)", out, name)
                # zoom to single pixels around a cosmic ray
                cr = next((m for m in store.marks(name) if m.category == "cosmic-ray" and m.source == "model"), None)
                x, y = (cr.x, cr.y) if cr else (nx / 2, ny / 2)
                js("const v = window.spacejunkReview.viewer, W = arguments[2];"
                   "v.viewport.fitBounds(new OpenSeadragon.Rect((arguments[0] - 30) / W, (arguments[1] - 18) / W,"
                   " 60 / W, 36 / W), true);", x, y, nx)
                time.sleep(1.0)
                wait.until(lambda d: js("return window.spacejunkReview.ready()"))
                time.sleep(1.5)
                out = ROOT / args.zoom_out
                driver.save_screenshot(str(out))
                log.info("wrote %s", out)
            finally:
                driver.quit()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Airplanes and satellites found by the trail finder, on development CCDs.

One command (about 8 minutes on two cores; the images are made in memory)::

    python benchmarks/airplanes_dev.py

Simulates 40 CCDs with one airplane each (seeds 200-239) and 30 with one satellite each
(seeds 300-329), finds their trails with the settings of three stages (without the period
test, ``TrailSettings.dash_modulation``; with it, as at stop 30: the median cross-section
and the Radon transform's own angle; now: the mean cross-section and the angle refined,
``TrailSettings.cross_section`` and ``refine_deg``), and counts the trails matching the
truth at box IoU >= 0.5 by the category they are given, and the others.
docs/detector.md quotes it.
"""

from __future__ import annotations

import argparse
from collections import Counter
from dataclasses import replace

from spacejunk.evaluate.coco import box_iou
from spacejunk.predict.trails import TrailSettings, find_trails
from spacejunk.simulate import simulate_image


def tally(kind: str, seeds, settings: TrailSettings) -> Counter:
    """``(right|wrong-name|false, category)`` counts of the trails found on CCDs holding one ``kind``."""
    out: Counter = Counter()
    for seed in seeds:
        sim = simulate_image(seed=seed, artifacts=[kind])
        truth = [a.box for a in sim.artifacts if a.category == kind]
        for t in find_trails(sim.exposure, settings):
            on_truth = bool(truth) and box_iou([t.box(sim.exposure.shape)], truth).max() >= 0.5
            out[("on the truth" if on_truth else "false", t.category)] += 1
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.parse_args(argv)
    stop30 = TrailSettings(cross_section="median", refine_deg=0.0)
    for name, settings in (("without the period test", replace(stop30, dash_modulation=float("inf"))),
                           ("with it (stop 30)", stop30),
                           ("mean cross-section, angle refined (now)", TrailSettings())):
        for kind, seeds in (("airplane", range(200, 240)), ("satellite", range(300, 330))):
            counts = tally(kind, seeds, settings)
            print(f"{name}, {len(seeds)} CCDs with one {kind}: " +
                  ", ".join(f"{where} as {cat} {n}" for (where, cat), n in sorted(counts.items())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

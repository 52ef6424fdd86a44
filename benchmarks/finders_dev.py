"""How the finders (trails, cosmic rays, cross-talk, dark halos) do on development images, never the test ones.

One command (about 5 minutes on two cores, most of it simulation)::

    python benchmarks/finders_dev.py --work work/finders-dev

Simulates (once; kept in ``--work``) 20 images of the random mix (seed 1) and 24 with
several artifacts each (seed 5: a satellite and a cosmic ray, or a satellite, an
airplane, a bad column and cross-talk), runs each finder on every image and counts its
boxes matching a truth box of its categories at IoU >= 0.5 (true), the others (false)
and the truth boxes none matches (missed). Writes ``<work>/finders.json`` and prints a
table; ``docs/detector.md`` quotes it.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_detector_weights import _simulate  # noqa: E402

from spacejunk.evaluate.coco import box_iou  # noqa: E402
from spacejunk.io import read_artifacts, read_exposure  # noqa: E402
from spacejunk.io.exposure import find_images  # noqa: E402
from spacejunk.predict.finders import FINDERS as REGION_FINDERS  # noqa: E402
from spacejunk.predict.trails import TrailSettings, find_trails, trails_to_artifacts  # noqa: E402
from spacejunk.simulate import image_name, image_seed  # noqa: E402


def _trail_artifacts(exposure):
    s = TrailSettings()
    return trails_to_artifacts(find_trails(exposure, s), name=exposure.name, shape=exposure.shape,
                               min_sigma=s.min_sigma)


#: finder name -> (function of an Exposure returning artifacts, truth categories it looks for)
FINDERS = {
    "trails": (_trail_artifacts, ("satellite", "airplane")),
    **{key: (finder, (category,)) for key, (category, finder, _) in REGION_FINDERS.items()},
}


def _boxes(items) -> np.ndarray:
    return np.array([[a.xmin, a.ymin, a.xmax, a.ymax] for a in items], float).reshape(-1, 4)


def count(found, truth) -> dict:
    """Greedy matching by score at IoU >= 0.5: true, false, missed, and the truth categories found."""
    iou = box_iou(_boxes(found), _boxes(truth)) if found and truth else np.zeros((len(found), len(truth)))
    used: set[int] = set()
    out = {"true": 0, "false": 0, "missed": 0, "found_by_category": {}, "truth_by_category": {}}
    for i in np.argsort([-a.score for a in found]):
        j = int(np.argmax(iou[i])) if len(truth) else -1
        if j >= 0 and iou[i, j] >= 0.5 and j not in used:
            used.add(j)
            out["true"] += 1
            cat = truth[j].category
            out["found_by_category"][cat] = out["found_by_category"].get(cat, 0) + 1
        else:
            out["false"] += 1
    for t in truth:
        out["truth_by_category"][t.category] = out["truth_by_category"].get(t.category, 0) + 1
    out["missed"] = len(truth) - len(used)
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--work", default="work/finders-dev", help="folder of the simulated images (default %(default)s)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    work = Path(args.work)
    rng_cats = [["satellite", "cosmic-ray"], ["satellite", "airplane", "column-mask", "cross-talk"]]
    _simulate(work / "random", [(image_name(1, k), {"seed": image_seed(1, k)}) for k in range(20)])
    _simulate(work / "dense", [(f"dev_s5_{k:04d}", {"seed": image_seed(5, k), "artifacts": rng_cats[k % 2]})
                               for k in range(24)])
    totals = {name: {"true": 0, "false": 0, "missed": 0, "found_by_category": {}, "truth_by_category": {}}
              for name in FINDERS}
    n_images = 0
    for part in ("random", "dense"):
        truth = read_artifacts(work / part / "truth.csv")
        for name, paths in sorted(find_images(work / part).items()):
            exposure = read_exposure(paths)
            n_images += 1
            for finder, (run, cats) in FINDERS.items():
                c = count(run(exposure), [a for a in truth if a.image == name and a.category in cats])
                for key in ("true", "false", "missed"):
                    totals[finder][key] += c[key]
                for key in ("found_by_category", "truth_by_category"):
                    for cat, v in c[key].items():
                        totals[finder][key][cat] = totals[finder][key].get(cat, 0) + v
    summary = {"n_images": n_images, "finders": totals}
    (work / "finders.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"{n_images} images")
    for finder, t in totals.items():
        per_cat = ", ".join(f"{cat} {t['found_by_category'].get(cat, 0)}/{n}" for cat, n in
                            sorted(t["truth_by_category"].items()))
        print(f"{finder}: {t['true']} true, {t['false']} false, {t['missed']} missed ({per_cat})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

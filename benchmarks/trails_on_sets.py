"""The trail finder against the truth of simulated data folders: trails found, missed and false.

    python benchmarks/trails_on_sets.py work/new10 work/val3 work/test999 work/val2
    python benchmarks/trails_on_sets.py work/new10 --settings '{"cross_section": "median", "refine_deg": 0}'

For every image, the trails of :func:`spacejunk.predict.trails.find_trails` (with the
settings given as JSON over the defaults) that are not rays of a fan are boxed; a true
airplane or satellite is found when a box matches it at IoU >= 0.5 (whatever the name
given), and a box matching none is false: "on other artifacts" when it overlaps some
truth at IoU > 0.1 (a spray's ray, an arc's edge: true tiles for the classifier), "on the
sky" when it overlaps none. Fans of rays (reported as sprays) are counted apart: "on a
spray" when their box overlaps a true spray's at IoU > 0.1. docs/classifier.md quotes it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from collections import Counter
from pathlib import Path

import numpy as np

from spacejunk.evaluate.coco import box_iou
from spacejunk.io import find_images, read_artifacts, read_exposure
from spacejunk.predict.trails import TrailSettings, fans_to_artifacts, find_trails, split_fans, trails_to_artifacts

KINDS = ("airplane", "satellite")


def _boxes(items) -> np.ndarray:
    return np.array([[a.xmin, a.ymin, a.xmax, a.ymax] for a in items], float).reshape(-1, 4)


def tally(folder: Path, settings: TrailSettings, *, verbose: bool = False) -> Counter:
    """Counts of ``(kind, "found"|"missed")`` and ``("false", "on other artifacts"|"on the sky")``."""
    truth: dict[str, list] = {}
    for a in read_artifacts(folder / "truth.csv"):
        truth.setdefault(a.image, []).append(a)
    out: Counter = Counter()
    for name, paths in sorted(find_images([folder]).items()):
        exposure = read_exposure(paths)
        single, fans = split_fans(find_trails(exposure, settings), settings)
        sprays = _boxes([a for a in truth.get(name, []) if a.category == "bright-spray"])
        for box in _boxes(fans_to_artifacts(fans, name=name, shape=exposure.shape, min_sigma=settings.min_sigma)):
            on = len(sprays) and box_iou(box[None], sprays).max() > 0.1
            out[("fans", "on a spray" if on else "elsewhere")] += 1
            if verbose:
                print(f"fan {name} {box.round().astype(int).tolist()} {'on a spray' if on else 'elsewhere'}")
        found = _boxes(trails_to_artifacts(single, name=name, shape=exposure.shape, min_sigma=settings.min_sigma))
        trails = [a for a in truth.get(name, []) if a.category in KINDS]
        iou = box_iou(_boxes(trails), found) if len(trails) and len(found) else np.zeros((len(trails), len(found)))
        for a, row in zip(trails, iou):
            hit = row.size > 0 and row.max() >= 0.5
            out[(a.category, "found" if hit else "missed")] += 1
            if verbose and not hit:
                print(f"missed {name} {a.category} {a.xmin:.0f} {a.ymin:.0f} {a.xmax:.0f} {a.ymax:.0f}")
        for j, box in enumerate(found):
            if iou.size and iou[:, j].max() >= 0.5:
                continue
            near = name in truth and box_iou(box[None], _boxes(truth[name])).max() > 0.1
            out[("false", "on other artifacts" if near else "on the sky")] += 1
            if verbose:
                print(f"false {name} {box.round().astype(int).tolist()} {'near others' if near else 'on the sky'}")
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("folders", nargs="+", type=Path)
    p.add_argument("--settings", default="{}", help="TrailSettings fields as JSON, over the defaults")
    p.add_argument("--verbose", "-v", action="store_true", help="print each miss and false trail")
    args = p.parse_args(argv)
    settings = dataclasses.replace(TrailSettings(), **json.loads(args.settings))
    total: Counter = Counter()
    for folder in args.folders:
        total += tally(folder, settings, verbose=args.verbose)
    for kind in KINDS:
        print(f"{kind}s found {total[(kind, 'found')]} of {total[(kind, 'found')] + total[(kind, 'missed')]}")
    print(f"false trails {total[('false', 'on other artifacts')] + total[('false', 'on the sky')]}: "
          f"{total[('false', 'on the sky')]} on the sky, {total[('false', 'on other artifacts')]} on other artifacts")
    print(f"fans (reported as sprays) {total[('fans', 'on a spray')] + total[('fans', 'elsewhere')]}: "
          f"{total[('fans', 'on a spray')]} on a spray, {total[('fans', 'elsewhere')]} elsewhere")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

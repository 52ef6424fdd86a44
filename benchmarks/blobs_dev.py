"""The odd-blob finder (``spacejunk.predict.blobs``) against the simulator's "other" artifacts.

Two commands, as docs/detector.md quotes them::

    python benchmarks/blobs_dev.py                 # 40 CCDs with one "other" artifact each (seeds 200-239), in memory
    python benchmarks/blobs_dev.py work/val3 work/dev7 work/test999   # folders with truth.csv

Prints, at score 0.5 and at the finder's lowest score, the blobs that match a truth "other"
box at IoU >= 0.5 (true), the others (false) and the truth boxes, then each truth box
with its best IoU (and what it is: one band or all, bright or dark) and each false blob.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from spacejunk.evaluate.coco import box_iou
from spacejunk.io import read_artifacts, read_exposure
from spacejunk.io.exposure import find_images
from spacejunk.predict.blobs import BlobSettings, find_blobs
from spacejunk.simulate import simulate_image


def count(found, boxes, min_score: float) -> tuple[np.ndarray, list]:
    """(true, false, truth boxes) of ``found`` scoring at least ``min_score``, and the false ones."""
    tp, false = 0, []
    hit: set[int] = set()
    for f in sorted(found, key=lambda a: -a.score):
        if f.score < min_score:
            continue
        if boxes:
            iou = box_iou([f.box], boxes)[0]
            j = int(iou.argmax())
            if iou[j] >= 0.5 and j not in hit:
                hit.add(j)
                tp += 1
                continue
        false.append(f)
    return np.array([tp, len(false), len(boxes)]), false


def _images(folders):
    if not folders:
        for seed in range(200, 240):
            sim = simulate_image(seed=seed, name=f"other_{seed}", artifacts=["other"])
            yield sim.exposure, list(sim.artifacts)
        return
    for folder in folders:
        truth: dict[str, list] = {}
        for a in read_artifacts(f"{folder}/truth.csv"):
            truth.setdefault(a.image, []).append(a)
        for name, files in find_images(folder).items():
            yield read_exposure(files), truth.get(name, [])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("folders", nargs="*", help="data folders with truth.csv (default: 40 one-blob CCDs in memory)")
    args = p.parse_args(argv)
    settings = BlobSettings()
    low = settings.min_sigma / (settings.min_sigma + settings.min_significance)
    totals = {0.5: np.zeros(3, int), low: np.zeros(3, int)}
    seconds = []
    for exposure, truth in _images(args.folders):
        t0 = time.perf_counter()
        found = find_blobs(exposure, settings)
        seconds.append(time.perf_counter() - t0)
        boxes = [a.box for a in truth if a.category == "other"]
        for level in totals:
            counts, false = count(found, boxes, level)
            totals[level] += counts
        for box in boxes:
            best = max((float(box_iou([box], [f.box])[0, 0]), f.score) for f in found) if found else (0.0, 0.0)
            print(f"{exposure.name}: truth {np.round(box).astype(int).tolist()} best IoU {best[0]:.2f} "
                  f"(score {best[1]:.2f})")
        for f in false:
            print(f"{exposure.name}:   false {np.round(f.box).astype(int).tolist()} score {f.score:.2f}")
    for level, t in totals.items():
        print(f"score >= {level:.2f}: true {t[0]}, false {t[1]}, truth {t[2]}")
    print(f"{np.median(seconds):.2f} s per image (median of {len(seconds)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

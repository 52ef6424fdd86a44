"""The odd-blob finder (``spacejunk.predict.blobs``) against the simulator's "other" artifacts.

Two commands, as docs/detector.md quotes them::

    python benchmarks/blobs_dev.py                 # 40 CCDs with one "other" artifact each (seeds 200-239), in memory
    python benchmarks/blobs_dev.py work/val3 work/dev7 work/test999   # folders with truth.csv

Prints, at score 0.5 and at the finder's lowest score, the blobs that match a truth "other"
box at IoU >= 0.5 (true), the others (false) and the truth boxes, then each truth box
with its best IoU (and that blob's score) and each false blob.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _dev_images import dev_images, match  # noqa: E402

from spacejunk.evaluate.coco import box_iou  # noqa: E402
from spacejunk.predict.blobs import BlobSettings, find_blobs  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("folders", nargs="*", help="data folders with truth.csv (default: 40 one-blob CCDs in memory)")
    args = p.parse_args(argv)
    settings = BlobSettings()
    low = settings.min_sigma / (settings.min_sigma + settings.min_significance)
    totals = {0.5: np.zeros(3, int), low: np.zeros(3, int)}
    seconds = []
    for exposure, truth in dev_images(args.folders, category="other", seeds=range(200, 240)):
        t0 = time.perf_counter()
        found = find_blobs(exposure, settings)
        seconds.append(time.perf_counter() - t0)
        boxes = [a.box for a in truth if a.category == "other"]
        for level in totals:
            tp, false = match(found, boxes, level)
            totals[level] += [tp, len(false), len(boxes)]
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

"""Images with their truth for the finders' development scripts (``*_dev.py``), and matching.

Either CCDs simulated in memory with one category of artifact each, or the images of data
folders holding a ``truth.csv`` (``spacejunk simulate`` writes one).
"""

from __future__ import annotations

from spacejunk.evaluate.coco import box_iou
from spacejunk.io import read_artifacts, read_exposure
from spacejunk.io.exposure import find_images
from spacejunk.simulate import simulate_image


def dev_images(folders, *, category: str, seeds):
    """``(exposure, truth artifacts)`` of every image of ``folders``, or, without folders, of
    CCDs simulated in memory with one ``category`` artifact each (one per seed)."""
    if not folders:
        for seed in seeds:
            sim = simulate_image(seed=seed, name=f"{category}_{seed}", artifacts=[category])
            yield sim.exposure, list(sim.artifacts)
        return
    for folder in folders:
        truth: dict[str, list] = {}
        for a in read_artifacts(f"{folder}/truth.csv"):
            truth.setdefault(a.image, []).append(a)
        for name, files in find_images(folder).items():
            yield read_exposure(files), truth.get(name, [])


def match(found, boxes, min_score: float) -> tuple[int, list]:
    """(number true, the false ones) of ``found`` scoring at least ``min_score``: true when
    it matches a ``boxes`` box not matched yet at IoU >= 0.5, best scores first."""
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
    return tp, false


def report(find, *, category: str, folders, seeds, low: float) -> dict[float, list[int]]:
    """Run ``find(exposure)`` on :func:`dev_images` and print, per image, each truth
    ``category`` box with its best IoU (and that artifact's score) and each false artifact
    at ``low``; then, at score 0.5 and at ``low``, the artifacts found true, false and the
    truth boxes, and the median time per image. Returns ``{level: [true, false, truth]}``."""
    import time

    import numpy as np

    totals = {0.5: np.zeros(3, int), low: np.zeros(3, int)}
    seconds = []
    for exposure, truth in dev_images(folders, category=category, seeds=seeds):
        t0 = time.perf_counter()
        found = find(exposure)
        seconds.append(time.perf_counter() - t0)
        boxes = [a.box for a in truth if a.category == category]
        false = []
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
    return {k: v.tolist() for k, v in totals.items()}


def dev_main(doc: str, find, *, category: str, seeds, low: float, argv=None) -> int:
    """A finder's development script: its folders from the command line (none: ``seeds``
    simulated in memory), then :func:`report`."""
    import argparse

    p = argparse.ArgumentParser(description=doc.splitlines()[0])
    p.add_argument("folders", nargs="*", help=f"data folders with truth.csv (default: {len(seeds)} CCDs in memory)")
    args = p.parse_args(argv)
    report(find, category=category, folders=args.folders, seeds=seeds, low=low)
    return 0

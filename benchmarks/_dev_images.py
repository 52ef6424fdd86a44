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

"""The false boxes `spacejunk detect` would report, by category, from `spacejunk evaluate detector` outputs.

One command per group of held-out sets (each pair: the data folder with its ``truth.csv``,
and the ``--out`` folder of ``spacejunk evaluate detector`` on it)::

    python benchmarks/false_boxes.py work/test999:work/ev-test999 work/val3:work/ev-val3 work/dev7:work/ev-dev7

A box is right when it lies on a truth box of its own category at IoU >= 0.5 (each truth
box taken once, best scores first); boxes scoring under ``--threshold`` (default 0.5,
`spacejunk detect`'s) are not counted. Prints the number of false boxes and their
categories, as docs/detector.md quotes them.
"""

from __future__ import annotations

import argparse
from collections import Counter

from spacejunk.evaluate.coco import box_iou
from spacejunk.io import read_artifacts


def false_boxes(truth_csv: str, found_csv: str, threshold: float = 0.5) -> Counter:
    """Categories of the boxes of ``found_csv`` scoring at least ``threshold`` that match no truth box."""
    truth: dict[str, list] = {}
    for a in read_artifacts(truth_csv):
        truth.setdefault(a.image, []).append(a)
    found: dict[str, list] = {}
    for a in read_artifacts(found_csv):
        if a.score >= threshold:
            found.setdefault(a.image, []).append(a)
    out: Counter = Counter()
    for image, boxes in found.items():
        used: set[int] = set()
        for d in sorted(boxes, key=lambda a: -a.score):
            match = next((j for j, t in enumerate(truth.get(image, [])) if j not in used and t.category == d.category
                          and box_iou([d.box], [t.box])[0, 0] >= 0.5), None)
            if match is None:
                out[d.category] += 1
            else:
                used.add(match)
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("pairs", nargs="+", help="DATA:EVAL folder pairs")
    p.add_argument("--threshold", type=float, default=0.5, help="least score counted (default 0.5)")
    args = p.parse_args(argv)
    total: Counter = Counter()
    for pair in args.pairs:
        data, _, evaluated = pair.partition(":")
        total += false_boxes(f"{data}/truth.csv", f"{evaluated}/artifacts.csv", args.threshold)
    print(sum(total.values()), "false boxes:", ", ".join(f"{c} {n}" for c, n in total.most_common()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

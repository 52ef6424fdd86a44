"""The cross-talk finder with and without its halves' test (``CrossTalkSettings.split_sigma``).

Two commands, as docs/detector.md quotes them::

    python benchmarks/cross_talk_dev.py            # 40 CCDs with one copy each (seeds 100-139), made in memory
    python benchmarks/cross_talk_dev.py work/val3 work/dev7 work/test999   # folders with truth.csv

Prints, for each image where they differ and in all, the copies scoring at least 0.5
that match a truth copy at IoU >= 0.5 (true), the others (false) and the truth copies.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _dev_images import dev_images, match  # noqa: E402

from spacejunk.predict.cross_talk import CrossTalkSettings, find_cross_talk  # noqa: E402


def count(found, truth) -> np.ndarray:
    """(true, false, truth copies) of ``found`` at score 0.5 and IoU 0.5."""
    boxes = [a.box for a in truth if a.category == "cross-talk"]
    tp, false = match(found, boxes, 0.5)
    return np.array([tp, len(false), len(boxes)])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("folders", nargs="*", help="data folders with truth.csv (default: 40 one-copy CCDs in memory)")
    args = p.parse_args(argv)
    without, with_ = np.zeros(3, int), np.zeros(3, int)
    for exposure, truth in dev_images(args.folders, category="cross-talk", seeds=range(100, 140)):
        a = count(find_cross_talk(exposure, CrossTalkSettings(split_sigma=0.0)), truth)
        b = count(find_cross_talk(exposure), truth)
        without += a
        with_ += b
        if (a != b).any():
            print(f"{exposure.name}: without the test {a.tolist()}, with it {b.tolist()}")
    print(f"true, false, truth copies: without the halves' test {without.tolist()}, with it {with_.tolist()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The odd-blob finder (``spacejunk.predict.blobs``) against the simulator's "other" artifacts.

Two commands, as docs/detector.md quotes them::

    python benchmarks/blobs_dev.py                 # 40 CCDs with one "other" artifact each (seeds 200-239), in memory
    python benchmarks/blobs_dev.py work/val3 work/dev7 work/test999   # folders with truth.csv

Prints each truth box with its best IoU (and that blob's score) and each false blob, then,
at score 0.5 and at the finder's lowest score, the blobs that match a truth "other" box at
IoU >= 0.5 (true), the others (false) and the truth boxes.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _dev_images import dev_main  # noqa: E402

from spacejunk.predict.blobs import BlobSettings, find_blobs  # noqa: E402


def main(argv=None) -> int:
    s = BlobSettings()
    return dev_main(__doc__, lambda e: find_blobs(e, s), category="other", seeds=range(200, 240),
                    low=s.min_sigma / (s.min_sigma + s.min_significance), argv=argv)


if __name__ == "__main__":
    raise SystemExit(main())

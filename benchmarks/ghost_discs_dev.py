"""The ghost-disc finder (``spacejunk.predict.ghost_discs``) against the simulator's ghosts.

Two commands, as docs/detector.md quotes them::

    python benchmarks/ghost_discs_dev.py                 # 40 CCDs with a ghost each (seeds 400-439), in memory
    python benchmarks/ghost_discs_dev.py work/val3 work/dev7 work/test999   # folders with truth.csv

Prints each truth box with its best IoU (and that ghost's score) and each false ghost,
then, at score 0.5 and at the finder's lowest score, the ghosts that match a truth box
at IoU >= 0.5 (true), the others (false) and the truth boxes.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _dev_images import dev_main  # noqa: E402

from spacejunk.predict.ghost_discs import GhostDiscSettings, find_ghost_discs  # noqa: E402


def main(argv=None) -> int:
    s = GhostDiscSettings()
    return dev_main(__doc__, lambda e: find_ghost_discs(e, s), category="ghost", seeds=range(400, 440),
                    low=1.0 / 3.0, argv=argv)


if __name__ == "__main__":
    raise SystemExit(main())

"""The brush-stroke finder (``spacejunk.predict.brush_strokes``) against the simulator's brush strokes.

Two commands, as docs/detector.md quotes them::

    python benchmarks/brush_strokes_dev.py                 # 40 CCDs with brush strokes each (seeds 300-339), in memory
    python benchmarks/brush_strokes_dev.py work/val3 work/dev7 work/test999   # folders with truth.csv

Prints each truth box with its best IoU (and that brush's score) and each false brush,
then, at score 0.5 and at the finder's lowest score, the brushes that match a truth box
at IoU >= 0.5 (true), the others (false) and the truth boxes.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _dev_images import dev_main  # noqa: E402

from spacejunk.predict.brush_strokes import BrushStrokeSettings, find_brush_strokes  # noqa: E402


def main(argv=None) -> int:
    s = BrushStrokeSettings()
    return dev_main(__doc__, lambda e: find_brush_strokes(e, s), category="brush-strokes", seeds=range(300, 340),
                    low=0.0, argv=argv)


if __name__ == "__main__":
    raise SystemExit(main())

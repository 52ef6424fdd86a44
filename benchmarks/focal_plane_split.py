"""Where the focal-plane model's cross-validated IoU falls short: large ghosts and small regions apart.

Splits the 20 DeepGhostBusters pictures by the share of the picture their consensus covers
(a large pupil ghost covers a quarter or more of the focal plane; ray fans and small
ghosts a few per cent) and prints, for each group, the median IoU of the model (from the
cross-validation record written by ``focal_plane_cv.py``) and of the annotators (each
against the others), and what the median over all pictures needs.

    python benchmarks/focal_plane_split.py                         # docs/focal-plane-cv.json
    python benchmarks/focal_plane_split.py --cv work/fp/cv.json --large 0.25
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from spacejunk.io.focal_plane import read_des_ghosts

ROOT = Path(__file__).resolve().parents[1]

#: Least share of the picture a consensus covers for the picture to count as a large ghost.
LARGE_SHARE = 0.25


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "des-ghosts"))
    p.add_argument("--cv", default=str(ROOT / "docs" / "focal-plane-cv.json"),
                   help="cross-validation record of benchmarks/focal_plane_cv.py")
    p.add_argument("--large", type=float, default=LARGE_SHARE,
                   help=f"least share of the picture a consensus covers to count as a large ghost "
                        f"(default {LARGE_SHARE})")
    args = p.parse_args(argv)

    record = json.loads(Path(args.cv).read_text())
    model = {r["image"]: r["iou"] for r in record["rows"]}
    people = defaultdict(list)
    for r in record["annotator_rows"]:
        people[r["image"]].append(r["iou"])
    annotated, _ = read_des_ghosts(args.data, with_region_sets=False)

    groups: dict[str, list[tuple[str, float, float, float]]] = {"large": [], "small": []}
    for a in annotated:
        share = float(a.consensus()[-1].mean())
        key = "large" if share >= args.large else "small"
        groups[key].append((a.name, share, model[a.name], float(np.nanmedian(people[a.name]))))

    print("| pictures | consensus share of the picture | n | model median IoU | annotators' median IoU |")
    print("|---|---|---|---|---|")
    for key, rows in groups.items():
        shares = [r[1] for r in rows]
        print(f"| {key} | {min(shares):.3f}-{max(shares):.3f} | {len(rows)} | "
              f"{np.median([r[2] for r in rows]):.3f} | {np.median([r[3] for r in rows]):.3f} |")
    n = sum(len(rows) for rows in groups.values())
    need = (n + 1) // 2
    print(f"\nA median IoU of 0.75 over {n} pictures needs at least {need} of them at 0.75 or more; "
          f"{len(groups['large'])} hold a large ghost.")
    for key, rows in groups.items():
        print(f"{key}: " + ", ".join(f"{name.split('_')[-1].split('.')[0]} {m:.2f} (people {h:.2f})"
                                     for name, _, m, h in sorted(rows, key=lambda r: -r[2])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

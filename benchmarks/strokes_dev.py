"""The stroke finder with the pupil-ghost finder, no network, on the 20 DeepGhostBusters pictures, fold by fold.

For each picture: the stroke finder's density threshold, least mark and stretch and the
pupil-ghost settings calibrated on the *other* folds' pictures (the folds of
``benchmarks/focal_plane_cv.py``), the IoU of the stroke marks alone, of the pupil
ghost's disc alone and of the two joined, against the consensus. The network is not used: this is the development check of
``spacejunk.predict.strokes`` (``docs/focal-plane.md``). ``--simulated N`` also runs the
finder on N simulated pictures (seed 123, the default settings) and reports how much of
their rays and bright ghosts it marks and how much it marks off them.

    .venv/bin/python benchmarks/strokes_dev.py [--data ../shared/data/des-ghosts] [--json out.json] [--simulated 40]
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np

from spacejunk.evaluate.focal_plane import fold_assignment
from spacejunk.evaluate.segmentation import pixel_iou as _iou
from spacejunk.io.focal_plane import read_des_ghosts
from spacejunk.predict.pupil_ghost import find_pupil_ghost, pupil_disc
from spacejunk.predict.strokes import StrokeSettings, stroke_regions
from spacejunk.train.focal_plane import calibrate_pupil, calibrate_strokes

from pupil_ghost_dev import dev_parser  # noqa: E402  (benchmarks/ is the script's folder)


def main(argv: list[str] | None = None) -> int:
    p = dev_parser(__doc__, "also run on this many simulated pictures (seed 123)")
    args = p.parse_args(argv)
    data, region_sets = read_des_ghosts(args.data)
    assign = fold_assignment([d.name for d in data], folds=args.folds, seed=args.seed)
    rows, seconds = [], []
    print("| image | fold | density threshold, least mark, stretch (other folds) | IoU strokes | IoU disc | IoU joined |")
    print("|---|---|---|---|---|---|")
    for fold in range(1, args.folds + 1):
        train = [d for d in data if assign[d.name] != fold]
        pupil = calibrate_pupil(train, region_sets=region_sets)
        strokes = calibrate_strokes(train, pupil=pupil)
        for d in (d for d in data if assign[d.name] == fold):
            ref = d.consensus()[-1]
            ghost = find_pupil_ghost(d.image, pupil)
            disc = pupil_disc(ghost, ref.shape) if ghost is not None else np.zeros_like(ref)
            t0 = time.perf_counter()
            marks = stroke_regions(d.image, strokes, disc=disc)   # marks inside the disc are not stretched
            seconds.append(time.perf_counter() - t0)
            row = {"image": d.name, "fold": fold, "density": strokes.density, "min_area": strokes.min_area,
                   "extend": strokes.extend, "iou_strokes": _iou(marks, ref),
                   "iou_disc": _iou(disc, ref), "iou": _iou(marks | disc, ref)}
            rows.append(row)
            print(f"| {d.name} | {fold} | {strokes.density:.2f}, {strokes.min_area:.3f}, {strokes.extend} px | "
                  f"{row['iou_strokes']:.3f} | {row['iou_disc']:.3f} | "
                  f"{row['iou']:.3f} |")
    ious = np.array([r["iou"] for r in sorted(rows, key=lambda r: r["image"])])
    print(f"\nthe two finders joined, no network: median IoU {np.median(ious):.3f}, mean {ious.mean():.3f}; "
          f"{sum(ious >= 0.75)} pictures at 0.75 or more; the stroke finder takes {np.median(seconds):.2f} s "
          "per picture")
    if args.simulated:
        from spacejunk.categories import FOCAL_PLANE_CATEGORIES
        from spacejunk.simulate.focal_plane import simulate_focal_plane

        rng = np.random.default_rng(123)
        cats = list(FOCAL_PLANE_CATEGORIES)
        hit, total, off, clean = 0, 0, 0, 0
        for _ in range(args.simulated):
            sim = simulate_focal_plane(seed=rng, region_sets=region_sets)
            marks = stroke_regions(sim.image, StrokeSettings())
            target = sim.truth[cats.index("rays")] | sim.truth[cats.index("ghost-bright")]
            anything = sim.truth.any(0)
            hit, total = hit + int((marks & target).sum()), total + int(target.sum())
            off, clean = off + int((marks & ~anything).sum()), clean + int((~anything).sum())
        print(f"simulated ({args.simulated} pictures, default settings): {hit / max(total, 1):.2f} of the rays' and "
              f"bright ghosts' pixels marked, {off / max(clean, 1):.4f} of the clean pixels")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"rows": rows, "seconds_per_picture": float(np.median(seconds))}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())

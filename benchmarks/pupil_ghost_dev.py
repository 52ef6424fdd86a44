"""The pupil-ghost finder alone on the 20 DeepGhostBusters pictures, fold by fold.

For each picture: its score (third-largest arm contrast), whether its consensus holds a
disc of pupil-ghost size, the threshold calibrated on the *other* folds' pictures (the same
folds as ``benchmarks/focal_plane_cv.py``), whether the finder reports a ghost at that
threshold, and the IoU of the finder's disc alone against the consensus. The network is
not used: this is the development check of ``spacejunk.predict.pupil_ghost``
(``docs/focal-plane.md``).

    .venv/bin/python benchmarks/pupil_ghost_dev.py [--data ../shared/data/des-ghosts] [--json out.json] [--simulated 80]
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from spacejunk.categories import FOCAL_PLANE_CATEGORIES
from spacejunk.evaluate.focal_plane import fold_assignment
from spacejunk.io.focal_plane import read_des_ghosts
from spacejunk.predict.pupil_ghost import calibrate_threshold, has_pupil_ghost, pupil_disc, pupil_statistics
from spacejunk.train.focal_plane import calibrate_pupil, default_data_dir


def dev_parser(doc: str, simulated_help: str) -> argparse.ArgumentParser:
    """The options of the focal-plane finders' development checks (this script, ``strokes_dev.py``)."""
    p = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    p.add_argument("--data", default=str(default_data_dir()))
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--seed", type=int, default=0, help="seed of the fold split (default 0)")
    p.add_argument("--json", help="write the rows here")
    p.add_argument("--simulated", type=int, default=0, help=simulated_help)
    return p


def main(argv: list[str] | None = None) -> int:
    p = dev_parser(__doc__, "also score this many simulated pictures (seed 123): the share with and without a "
                            "large faint ghost at or above the default threshold")
    args = p.parse_args(argv)
    data, region_sets = read_des_ghosts(args.data)
    settings = calibrate_pupil(region_sets=region_sets)  # the disc's radius from the single-annotator circles
    assign = fold_assignment([d.name for d in data], folds=args.folds, seed=args.seed)
    t0 = time.perf_counter()
    stats = {d.name: pupil_statistics(d.image, settings) for d in data}
    seconds = (time.perf_counter() - t0) / len(data)
    has = {d.name: has_pupil_ghost(d.consensus()[-1]) for d in data}
    rows = []
    print(f"disc radius {settings.radius:.2f} px (median of the large circles of the single-annotator set); "
          f"{seconds:.2f} s per picture")
    print("| image | fold | consensus holds a disc | score | threshold (other folds) | found | IoU of the disc alone |")
    print("|---|---|---|---|---|---|---|")
    for d in data:
        fold = assign[d.name]
        others = [e.name for e in data if assign[e.name] != fold]
        thr = calibrate_threshold([stats[n].score for n in others], [has[n] for n in others])
        g = stats[d.name]
        found = g.score >= thr
        ref = d.consensus()[-1]
        disc = pupil_disc(g, ref.shape) if found else np.zeros_like(ref)
        union = (disc | ref).sum()
        iou = float((disc & ref).sum() / union) if union else 1.0
        rows.append({"image": d.name, "fold": fold, "has_ghost": has[d.name], "score": g.score, "threshold": thr,
                     "found": bool(found), "iou_disc": iou, "x": g.x, "y": g.y})
        print(f"| {d.name} | {fold} | {'yes' if has[d.name] else 'no'} | {g.score:.2f} | {thr:.2f} | "
              f"{'yes' if found else 'no'} | {iou:.3f} |")
    right = sum(r["found"] == r["has_ghost"] for r in rows)
    ghosts = [r["iou_disc"] for r in rows if r["has_ghost"]]
    print(f"\n{right} of {len(rows)} pictures told right; on the {len(ghosts)} with a disc the disc alone has "
          f"median IoU {np.median(ghosts):.3f}")
    if args.simulated:
        from spacejunk.simulate.focal_plane import simulate_focal_plane

        rng = np.random.default_rng(123)
        with_ghost, without = [], []
        for _ in range(args.simulated):
            sim = simulate_focal_plane(seed=rng, region_sets=region_sets)
            score = pupil_statistics(sim.image, settings).score
            (with_ghost if has_pupil_ghost(sim.truth[list(FOCAL_PLANE_CATEGORIES).index("ghost-faint")]) else
             without).append(score)
        thr = settings.threshold
        print(f"simulated: {sum(s >= thr for s in without)} of {len(without)} pictures without a large faint ghost "
              f"and {sum(s >= thr for s in with_ghost)} of {len(with_ghost)} with one score {thr:g} or more "
              f"(without: median {np.median(without):.2f}, max {max(without):.2f})")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"radius": settings.radius, "seconds_per_picture": seconds, "rows": rows}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())

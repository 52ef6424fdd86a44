"""Score saved cross-validation fold models again, per threshold and per kind of picture.

``benchmarks/focal_plane_cv.py --save-models DIR`` keeps each fold's model as
``DIR/fold<N>.pt``; this script scores every fold's pictures with its own model (never
trained on them) at several thresholds and prints the median and mean pixel IoU of "any
artifact" against the consensus, over all 20 pictures and over the large-ghost and
small-region pictures apart (as ``benchmarks/focal_plane_split.py``), for every pair of
threshold and least region size (``--min-areas``, fractions of the picture), then the
median IoU per category at the models' own threshold (over the pictures where the
prediction or the consensus has that category, as ``spacejunk evaluate focal-plane``).
Five copies of one simulation-only model (which has seen no real picture) score it on
all 20.

Example::

    .venv/bin/python benchmarks/focal_plane_rescore.py work/fp/models --min-areas 0,0.001,0.002,0.004
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from focal_plane_split import LARGE_SHARE  # noqa: E402  (benchmarks/, the script's own folder)
from spacejunk.categories import FOCAL_PLANE_CATEGORIES
from spacejunk.evaluate.focal_plane import evaluate_model, fold_assignment, summarise
from spacejunk.focal_plane import FocalPlaneModel, load_focal_plane_model
from spacejunk.io.focal_plane import read_des_ghosts
from spacejunk.train.focal_plane import default_data_dir


def fold_models_parser(description: str) -> argparse.ArgumentParser:
    """A parser with the options naming saved fold models and their split (shared by the scripts that read them)."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("models", help="folder of fold<N>.pt files")
    p.add_argument("--data", default=str(default_data_dir()))
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--seed", type=int, default=0, help="seed of the fold split (as the cross-validation's)")
    return p


def load_fold_models(args: argparse.Namespace) -> tuple[list, dict[str, int], dict[int, FocalPlaneModel]]:
    """The annotated pictures, each picture's fold and each fold's model."""
    data, _ = read_des_ghosts(args.data)
    assign = fold_assignment([d.name for d in data], folds=args.folds, seed=args.seed)
    models = {f: load_focal_plane_model(Path(args.models) / f"fold{f}.pt") for f in range(1, args.folds + 1)}
    return data, assign, models


def main(argv: list[str] | None = None) -> int:
    p = fold_models_parser(__doc__.split("\n\n")[0])
    p.add_argument("--thresholds", default="0.3,0.4,0.5,0.6,0.7")
    p.add_argument("--min-areas", default="0",
                   help="least region kept, as fractions of the picture (comma-separated; default 0: every region)")
    p.add_argument("--json", help="write every picture's IoU per setting here")
    args = p.parse_args(argv)

    data, assign, models = load_fold_models(args)
    share = {d.name: float(d.consensus()[-1].mean()) for d in data}
    thresholds = [float(t) for t in args.thresholds.split(",")]
    areas = [float(a) for a in args.min_areas.split(",")]
    own = {model.threshold for model in models.values()}
    if len(own) != 1:
        p.error(f"the fold models have different thresholds: {sorted(own)}")
    own_thr = own.pop()
    rows_at: dict[tuple[float, float], list[dict]] = {}
    for thr in sorted({*thresholds, own_thr}):
        for area in areas:
            rows_at[thr, area] = [row for fold, model in models.items()
                                  for row in evaluate_model(model, [d for d in data if assign[d.name] == fold],
                                                            threshold=thr, min_area=area)]
    results = {f"{thr:g}/{area:g}": {r["image"]: r["iou"] for r in rows_at[thr, area]}
               for thr in thresholds for area in areas}
    print("| threshold | least region | median IoU | mean IoU | large ghosts: median | small regions: median |")
    print("|---|---|---|---|---|---|")
    for key, ious in results.items():
        large = [v for k, v in ious.items() if share[k] >= LARGE_SHARE]
        small = [v for k, v in ious.items() if share[k] < LARGE_SHARE]
        print(f"| {key.replace('/', ' | ')} | {np.median(list(ious.values())):.3f} | {np.mean(list(ious.values())):.3f} | "
              f"{np.median(large):.3f} (n={len(large)}) | {np.median(small):.3f} (n={len(small)}) |")
    print()
    print(f"At the models' threshold ({own_thr:g}), median IoU per category (pictures where either marks it):")
    print("| least region | " + " | ".join(FOCAL_PLANE_CATEGORIES) + " |")
    print("|---|" + "---|" * len(FOCAL_PLANE_CATEGORIES))
    for area in areas:
        rows = rows_at[own_thr, area]
        medians = summarise(rows)
        cells = [f"{medians[f'iou_{cat}']:.3f} (n={sum(1 for r in rows if np.isfinite(r[f'iou_{cat}']))})"
                 for cat in FOCAL_PLANE_CATEGORIES]
        print(f"| {area:g} | " + " | ".join(cells) + " |")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Count the focal-plane model's regions (catalog rows) per least region size, from saved fold models.

Each of the 20 DeepGhostBusters pictures is segmented by the fold model that never saw
it (``benchmarks/focal_plane_cv.py --save-models DIR``); for each ``--min-areas`` value
this prints how many regions the model finds, how many of them lie mostly (half of their
pixels or more) on the consensus of the annotators, and how many consensus regions are
found (a quarter of their pixels or more marked), then per picture the regions found at
each value and the consensus regions lost. Regions are 8-connected, as in the catalog.

Example::

    .venv/bin/python benchmarks/focal_plane_regions.py work/fp/models --min-areas 0,0.001,0.002,0.005
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from focal_plane_rescore import fold_models_parser, load_fold_models  # noqa: E402  (benchmarks/, this folder)
from spacejunk.focal_plane import probabilities_to_mask, segment_focal_plane

EIGHT = np.ones((3, 3), dtype=bool)


def region_counts(mask: np.ndarray, consensus: np.ndarray) -> tuple[int, int, int, int]:
    """(regions, regions mostly on the consensus, consensus regions, consensus regions found)."""
    labels, n = ndimage.label(mask, EIGHT)
    on = sum(1 for i in range(1, n + 1) if consensus[labels == i].mean() >= 0.5)
    clabels, nc = ndimage.label(consensus, EIGHT)
    found = sum(1 for i in range(1, nc + 1) if mask[clabels == i].mean() >= 0.25)
    return n, on, nc, found


def main(argv: list[str] | None = None) -> int:
    p = fold_models_parser(__doc__.split("\n\n")[0])
    p.add_argument("--min-areas", default="0,0.0005,0.001,0.002,0.003,0.005")
    args = p.parse_args(argv)

    data, assign, models = load_fold_models(args)
    areas = [float(a) for a in args.min_areas.split(",")]
    counts: dict[float, dict[str, tuple[int, int, int, int]]] = {a: {} for a in areas}
    for item in data:
        model = models[assign[item.name]]
        prob, _ = segment_focal_plane(item.image, model=model)
        consensus = item.consensus()[-1]
        for a in areas:
            mask = probabilities_to_mask(prob, threshold=model.threshold, categories=model.categories,
                                         fill_holes=model.fill_holes, min_area=a) > 0
            counts[a][item.name] = region_counts(mask, consensus)
    print("| least region | regions found | mostly on the consensus | consensus regions found |")
    print("|---|---|---|---|")
    for a in areas:
        n, on, nc, found = (sum(v[k] for v in counts[a].values()) for k in range(4))
        print(f"| {a:g} | {n} | {on} | {found} of {nc} |")
    print()
    print("| picture | consensus regions | " + " | ".join(f"found at {a:g}" for a in areas) + " |")
    print("|---|---|" + "---|" * len(areas))
    for item in data:
        row = [counts[a][item.name] for a in areas]
        cells = [f"{n} ({found} of consensus)" for n, _, _, found in row]
        print(f"| {item.name} | {row[0][2]} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Where a tile classifier's false tiles lie, and which artifacts it misses at a given precision.

Scores every tile of a simulated data folder (images with ``truth/``) with a classifier,
then prints (1) the false-positive rate at the model's threshold of the clean tiles that
hold pixels with each DESDM flag (and of those with none), (2) the images with the most
false tiles, with the step between their amplifiers in each band
(:func:`spacejunk.preprocess.amplifier_step`, in noise units), and (3) the recall per
category at the lowest threshold where precision reaches ``--precision``. The figures of
docs/classifier.md ("Where the false tiles lie", "Levelling the amplifiers")::

    spacejunk simulate --n 40 --seed 3 --out work/val3
    python benchmarks/classifier_false_tiles.py --data work/val3
"""

from __future__ import annotations

import argparse
import logging

import numpy as np

from spacejunk.categories import DESDM_BITS
from spacejunk.evaluate.classifier import evaluate_classifier, precision_recall_curve, tile_metrics
from spacejunk.io.exposure import find_images, read_exposure
from spacejunk.models.registry import load_checkpoint
from spacejunk.preprocess import amplifier_step, normalise

#: DESDM flags reported, by name.
FLAGS = ("BPM", "SATURATE", "CRAY", "TRAIL", "EDGE")


def tile_flags(folder, images: list[str], grid: np.ndarray) -> np.ndarray:
    """DESDM bits set anywhere in each tile, in any band (int64, one per tile)."""
    files = find_images(folder)
    out = np.zeros(len(grid), np.int64)
    names = np.asarray(images)
    for name in dict.fromkeys(images):
        msk = np.bitwise_or.reduce(read_exposure(files[name]).msk.astype(np.int64), axis=0)
        for i in np.flatnonzero(names == name):
            x0, y0, x1, y1 = grid[i]
            out[i] = np.bitwise_or.reduce(msk[y0:y1, x0:x1], axis=None)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, help="simulated data folder (images + truth/)")
    p.add_argument("--model", help="classifier checkpoint (default: the shipped one)")
    p.add_argument("--precision", type=float, default=0.79, help="precision for the per-category recall")
    p.add_argument("--top", type=int, default=5, help="images with the most false tiles listed (default 5)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    model, meta = load_checkpoint(args.model) if args.model else (None, None)
    ev = evaluate_classifier(args.data, model=model, meta=meta, quiet=True)
    y, s, thr = ev.labels, ev.scores, ev.threshold
    flags = tile_flags(args.data, ev.images, ev.grid)
    false, clean = ~y & (s >= thr), ~y
    print(f"threshold {thr:.4f}: {int(false.sum())} false tiles of {int(clean.sum())} clean ones")
    print("| DESDM flag in the tile | clean tiles | false | false-positive rate |\n|---|---|---|---|")
    groups = [(f, (flags & DESDM_BITS[f]) != 0) for f in FLAGS] + [("none", flags == 0)]
    for name, has in groups:
        n, k = int((clean & has).sum()), int((false & has).sum())
        print(f"| {name} | {n} | {k} | {k / n if n else float('nan'):.2f} |")

    names = np.asarray(ev.images)
    files = find_images(args.data)
    counts = {n: int((false & (names == n)).sum()) for n in dict.fromkeys(ev.images)}
    print("\n| image | false tiles | positive tiles | amplifier step per band (noise units) |\n|---|---|---|---|")
    for name in sorted(counts, key=counts.get, reverse=True)[:args.top]:
        exposure = read_exposure(files[name])
        z = normalise(exposure, stretch=None, mask_bits=0)
        steps = ", ".join(f"{b} {amplifier_step(z[i], exposure.msk[i]):+.2f}" for i, b in enumerate(exposure.bands))
        print(f"| {name} | {counts[name]} | {int((y & (names == name)).sum())} | {steps} |")

    # the lowest threshold reaching the precision asked for
    precision, _, thresholds = precision_recall_curve(y, s)
    reached = np.flatnonzero(precision >= args.precision)
    if not len(reached):
        print(f"\nno threshold reaches precision {args.precision}")
        return 1
    t = float(thresholds[reached[-1]])
    m = tile_metrics(y, s, t)
    print(f"\nthreshold {t:.3f}: precision {m['precision']:.3f}, recall {m['recall']:.3f}")
    print("| category | positive tiles | recall | missed |\n|---|---|---|---|")
    for cat, fr in ev.category_fractions.items():
        pos = (fr >= ev.min_fraction) & (fr > 0)
        if pos.any():
            print(f"| {cat} | {int(pos.sum())} | {np.mean(s[pos] >= t):.2f} | {int((pos & (s < t)).sum())} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""How a tile classifier's threshold carries from the images it is chosen on to unseen ones.

The threshold a checkpoint stores is the highest that reaches the target tile recall
(0.95) on its validation images. This scores each model once on every folder given
(simulated images with truth), chooses the threshold for the target recall on each
``--calibrate`` folder (and keeps the model's own), and prints, for every pair, the
recall and precision that threshold gives on each ``--test`` folder, with the test
folder's AP and the precision its own recall-0.95 threshold would give (the best the
ranking allows). Scores are cached per model and folder (``--cache``), so another
pairing costs nothing.

Example (the figures of docs/classifier.md)::

    spacejunk simulate --n 48 --seed 4 --out work/cal4
    python benchmarks/classifier_calibration.py --models shipped=src/spacejunk/weights/classifier.pt \\
        --calibrate work/classifier-default/val work/cal4 --test work/test999 work/val3 --cache work/calib
"""

from __future__ import annotations

import argparse
import hashlib
import logging
from pathlib import Path

import numpy as np

from spacejunk.evaluate.classifier import average_precision, evaluate_classifier, threshold_for_recall, tile_metrics
from spacejunk.models.registry import load_checkpoint


def scored(model_path: Path, folder: Path, cache: Path | None) -> tuple[np.ndarray, np.ndarray]:
    """(positive, score) of every tile of ``folder`` for the model (cached)."""
    key = hashlib.sha1(f"{model_path.resolve()}:{model_path.stat().st_mtime_ns}:{folder.resolve()}".encode()).hexdigest()
    hit = cache / f"{key[:16]}.npz" if cache else None
    if hit is not None and hit.exists():
        z = np.load(hit)
        return z["positive"], z["score"]
    model, meta = load_checkpoint(model_path)
    ev = evaluate_classifier(folder, model=model, meta=meta, quiet=True)
    positive = ev.labels
    if hit is not None:
        hit.parent.mkdir(parents=True, exist_ok=True)
        np.savez(hit, positive=positive, score=ev.scores)
    return positive, ev.scores


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", nargs="+", required=True, help="NAME=checkpoint.pt ...")
    p.add_argument("--calibrate", nargs="+", type=Path, default=[], help="folders to choose the threshold on")
    p.add_argument("--test", nargs="+", type=Path, required=True, help="folders to measure on")
    p.add_argument("--target-recall", type=float, default=0.95)
    p.add_argument("--cache", type=Path, help="folder for the cached scores")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    models = dict(m.split("=", 1) for m in args.models)
    heads = " | ".join(f"{t.name}: recall / precision" for t in args.test)
    print(f"| model | threshold chosen on | threshold | {heads} |")
    print("|---|---|---|" + "---|" * len(args.test))
    best = {}
    for name, path in models.items():
        path = Path(path)
        _, meta = load_checkpoint(path)
        tests = {t: scored(path, t, args.cache) for t in args.test}
        choices = [("its own validation", float(meta["threshold"]))]
        for folder in args.calibrate:
            y, s = scored(path, folder, args.cache)
            choices.append((folder.name, threshold_for_recall(y, s, args.target_recall)))
        if len(args.calibrate) > 1:  # all calibration folders together
            ys, ss = zip(*(scored(path, f, args.cache) for f in args.calibrate))
            choices.append(("+".join(f.name for f in args.calibrate),
                            threshold_for_recall(np.concatenate(ys), np.concatenate(ss), args.target_recall)))
        for label, thr in choices:
            cells = []
            for y, s in tests.values():
                m = tile_metrics(y, s, thr)
                cells.append(f"{m['recall']:.3f} / {m['precision']:.3f}")
            print(f"| {name} | {label} | {thr:.4f} | " + " | ".join(cells) + " |")
        for t, (y, s) in tests.items():
            thr = threshold_for_recall(y, s, args.target_recall)
            best[name, t.name] = (average_precision(y, s), tile_metrics(y, s, thr)["precision"], int(y.sum()), y.size)
    print()
    print(f"| model | test folder | tiles (positive) | AP | precision at recall {args.target_recall:g} (its own threshold) |")
    print("|---|---|---|---|---|")
    for (name, t), (ap, prec, npos, n) in best.items():
        print(f"| {name} | {t} | {n:,} ({npos:,}) | {ap:.3f} | {prec:.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

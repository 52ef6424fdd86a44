"""Record the current finders' settings in a checkpoint, without retraining its network.

A checkpoint asks for the finders by its metadata (``meta["trails"]``, ``meta["dark_halos"]``,
...; :mod:`spacejunk.predict.finders`). When a finder is added or its defaults change, this
brings a trained checkpoint up to date:

- a detector gets every finder it asks for (``DETECTOR_FINDERS``: all but the edge bleeds;
  :func:`make_detector_weights._add_finders`);
- a classifier gets the trails and the finders ``spacejunk train classifier`` records by
  default (``CLASSIFIER_FINDERS``), and, with ``--val``, its threshold chosen again on those
  validation images for its target recall, the finders included (as training does), and
  the dark halos found filled with sky in its network's input (``--no-fill-dark-halos``: not);
  ``--background`` sets how its input's sky is levelled (``Normalisation.background``:
  ``amplifiers`` brings each band's two amplifiers to one level) and ``--mask-flagged`` sets
  the pixels DESDM flags as bad, saturated or bleed trail to the sky in its input
  (``Normalisation.mask_bits``), before the threshold is chosen;
- ``--second-fraction F`` sets a detector's region namer's ``second_fraction``: its second
  choice adds a box when at least ``F`` times as probable as its first.

    python benchmarks/refresh_finders.py src/spacejunk/weights/detector.pt
    python benchmarks/refresh_finders.py src/spacejunk/weights/detector.pt --second-fraction 0.1
    python benchmarks/refresh_finders.py src/spacejunk/weights/classifier.pt --val work/classifier-default/val
    python benchmarks/refresh_finders.py work/cls_cm.pt --val work/val2 --finders cross_talk,dark_halos,column_masks
    python benchmarks/refresh_finders.py work/cls_amp.pt --val work/classifier-default/val --background amplifiers
    python benchmarks/refresh_finders.py src/spacejunk/weights/classifier.pt --val work/classifier-default/val \
        --background amplifiers --mask-flagged
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_detector_weights import _add_finders  # noqa: E402

from spacejunk.categories import FLAGGED_BITS  # noqa: E402
from spacejunk.predict.finders import FINDERS, finder_meta  # noqa: E402
from spacejunk.preprocess import BACKGROUNDS  # noqa: E402
from spacejunk.train.classifier import CLASSIFIER_FINDERS  # noqa: E402


def _normalisation(meta: dict, **changes) -> None:
    """Record ``changes`` (e.g. ``background``) in a checkpoint's metadata (its ``Normalisation``)."""
    meta["normalisation"] = {**(meta.get("normalisation") or {}), **changes}


def _edit_detector(path: Path, changes: dict, second_fraction: float | None) -> None:
    """Record normalisation ``changes`` and the namer's ``second_fraction`` (when given) in a
    detector checkpoint, in one load and save."""
    if not changes and second_fraction is None:
        return
    state = torch.load(path, map_location="cpu", weights_only=False)
    if changes:
        _normalisation(state["meta"], **changes)
    if second_fraction is not None:
        state["meta"]["namer"]["second_fraction"] = float(second_fraction)
    torch.save(state, path)


def refresh_classifier(path: Path, val: Path | None, finders: tuple[str, ...] = CLASSIFIER_FINDERS, *,
                       fill_dark_halos: bool = True, **normalisation) -> dict:
    """Set the classifier's finders, whether its network's input has the dark halos filled
    (with the dark-halo finder), the ``normalisation`` settings given (and threshold, with ``val``).

    Returns the new metadata.
    """
    from spacejunk.evaluate.classifier import evaluate_classifier
    from spacejunk.models.registry import load_checkpoint

    state = torch.load(path, map_location="cpu", weights_only=False)
    meta = state["meta"]
    meta.update(finder_meta(keys=list(finders)))
    meta["fill_dark_halos"] = fill_dark_halos and "dark_halos" in finders
    _normalisation(meta, **normalisation)
    if val is not None:
        model, _ = load_checkpoint(path)
        ev = evaluate_classifier(val, model=model, meta=meta, target_recall=float(meta.get("target_recall", 0.95)))
        meta["threshold"] = float(ev.metrics["threshold_for_target_recall"])
        meta.setdefault("metrics", {})["val_finders"] = {
            k: ev.metrics[k] for k in ("average_precision", "roc_auc", "precision_at_target_recall",
                                       "threshold_for_target_recall", "n_tiles", "n_positive")}
    torch.save(state, path)
    return meta


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("checkpoint", type=Path)
    p.add_argument("--val", type=Path, help="validation images to choose a classifier's threshold on again")
    p.add_argument("--finders", default=",".join(CLASSIFIER_FINDERS),
                   help="a classifier's finders, comma-separated (default: those training records, %(default)s)")
    p.add_argument("--no-fill-dark-halos", action="store_true",
                   help="a classifier: do not fill the dark halos found with sky in its network's input")
    p.add_argument("--background", choices=BACKGROUNDS,
                   help="the model's sky levelling in its input (default: keep the checkpoint's)")
    p.add_argument("--mask-flagged", action="store_true",
                   help="set the pixels DESDM flags as bad, saturated or bleed trail to the sky in the model's input")
    p.add_argument("--second-fraction", type=float,
                   help="a detector's namer: the least probability, relative to its first choice, of a second "
                        "choice that adds a box (default: keep the checkpoint's)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    meta = torch.load(args.checkpoint, map_location="cpu", weights_only=False)["meta"]
    task = meta.get("task")
    changes = {k: v for k, v in (("background", args.background),
                                 ("mask_bits", FLAGGED_BITS if args.mask_flagged else None)) if v is not None}
    if task == "detector":
        if args.second_fraction is not None:  # checked before anything is written
            if not 0.0 < args.second_fraction <= 1.0:
                p.error(f"--second-fraction must be in (0, 1], got {args.second_fraction}")
            if not meta.get("namer"):
                p.error(f"{args.checkpoint} has no region namer")
        _add_finders(args.checkpoint)
        _edit_detector(args.checkpoint, changes, args.second_fraction)
        print(f"{args.checkpoint}: detector finders recorded")
    elif task == "classifier":
        finders = tuple(k for k in args.finders.split(",") if k)
        unknown = sorted(set(finders) - set(FINDERS))
        if unknown:
            p.error(f"--finders: unknown {', '.join(unknown)} (known: {', '.join(FINDERS)})")
        meta = refresh_classifier(args.checkpoint, args.val, finders, fill_dark_halos=not args.no_fill_dark_halos,
                                  **changes)
        print(f"{args.checkpoint}: classifier finders recorded, threshold {meta['threshold']:.4f}")
    else:
        p.error(f"{args.checkpoint} is a {task!r} checkpoint")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Cross-validate the focal-plane segmenter on the 20 DeepGhostBusters pictures; optionally ship a model.

Trains one model per fold (simulated pictures + the other folds' real pictures, starting
from one model pre-trained on simulated pictures only), scores each fold's pictures
against the consensus of the 8 annotators, scores every annotator against the consensus
of the other seven, and writes the tables into ``docs/focal-plane.md`` (between the
``cv-table`` markers) and the figures into ``docs/focal-plane-cv.json``. With
``--final PATH`` it also trains the shipped model on all 20 pictures and saves it with
the cross-validation figures in its metadata.

Folds can run in separate processes (``--only-folds``, each with its own ``--json``)
sharing one pre-trained model (``--pretrained``); ``--merge`` then joins their JSON
files into the tables and adds the figures to the ``--final`` model (which takes the runs'
least region size, ``--min-area``, with them, and their pupil-ghost finder calibrated on all the
pictures). ``--fold-models DIR`` scores the fold
models an earlier run saved (``--save-models DIR``) instead of training them, e.g. at
another ``--min-area``; with several folders each fold's networks are averaged, as a
model of that many ``--members`` would (on the split of ``--seed S``, runs of
``--train-seed`` S, S + 1, ... are its members).

Data: Tanoglidis et al. 2021, "DeepGhostBusters", Astronomy & Computing 39, 100580 (MIT).

Example (one process)::

    nice -n 5 .venv/bin/python benchmarks/focal_plane_cv.py --final src/spacejunk/weights/focal_plane.pt
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch

from spacejunk.evaluate.focal_plane import annotator_scores, cross_validate_focal_plane, markdown_report, summarise
from spacejunk.focal_plane import VIEWS, load_focal_plane_model
from spacejunk.io.focal_plane import read_des_ghosts
from spacejunk.train.focal_plane import (PRETRAIN_STEPS, FocalPlaneTrainConfig, calibrate_pupil, calibrate_strokes,
                                         default_data_dir, ensemble_of, pretrain_focal_plane, save_focal_plane_model,
                                         train_focal_plane)

START, END = "<!-- cv-table:start -->", "<!-- cv-table:end -->"
log = logging.getLogger("spacejunk")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    d = FocalPlaneTrainConfig()
    p.add_argument("--data", default=str(default_data_dir()), help="des-ghosts data folder (default %(default)s)")
    p.add_argument("--folds", type=int, default=5, help="number of folds (default 5)")
    p.add_argument("--only-folds", help="comma-separated folds to run (default all)")
    p.add_argument("--no-cv", action="store_true", help="skip the cross-validation (with --final)")
    p.add_argument("--steps", type=int, default=d.steps, help=f"training steps per model (default {d.steps})")
    p.add_argument("--pretrain-steps", type=int, default=PRETRAIN_STEPS,
                   help="first train on simulated pictures only for this many steps, shared by all folds and "
                        f"the final model (default {PRETRAIN_STEPS}; 0: no pre-training)")
    p.add_argument("--pretrained", help="file of the pre-trained model: loaded if it exists, else made and saved")
    p.add_argument("--n-sim", type=int, default=d.n_sim, help=f"simulated pictures (default {d.n_sim})")
    p.add_argument("--input-size", type=int, default=d.input_size, help=f"network input side (default {d.input_size})")
    p.add_argument("--base-channels", type=int, default=d.base_channels, help="U-Net base channels")
    p.add_argument("--real-fraction", type=float, default=d.real_fraction, help="real share of each batch")
    p.add_argument("--augment", default=d.augment, help=f"augmentation preset (default {d.augment})")
    p.add_argument("--min-area", type=float, default=d.min_area,
                   help=f"least region, as a fraction of the picture (default {d.min_area:g})")
    p.add_argument("--no-pupil-ghosts", dest="pupil_ghosts", action="store_false",
                   help="the network alone, without the pupil-ghost finder (on by default)")
    p.add_argument("--no-strokes", dest="strokes", action="store_false",
                   help="without the stroke finder (ray fans and bright ghosts at full resolution; on by default)")
    p.add_argument("--views", type=int, choices=VIEWS, default=d.views,
                   help=f"the models average the network over this many flips and quarter-turns (default {d.views})")
    p.add_argument("--members", type=int, default=d.members,
                   help=f"networks per model, their logits averaged (default {d.members})")
    p.add_argument("--seed", type=int, default=0, help="seed of the folds and the training (default 0)")
    p.add_argument("--train-seed", type=int,
                   help="seed of the training alone (default: --seed): other fold models on the same split")
    p.add_argument("--threads", type=int, default=1,
                   help="torch CPU threads (default 1: on a shared, busy machine more threads spin-wait)")
    p.add_argument("--doc", default="docs/focal-plane.md", help="markdown file to put the tables in")
    p.add_argument("--json", default="docs/focal-plane-cv.json", help="figures (JSON)")
    p.add_argument("--merge", nargs="+", help="no training: join these JSON files of partial runs")
    p.add_argument("--final", help="train on all pictures and save the model here (with --merge: add the "
                                   "cross-validation figures to the model already there)")
    p.add_argument("--save-probs", help="save each picture's out-of-fold probability map here (.npz)")
    p.add_argument("--save-models", help="save each fold's model in this folder (fold<N>.pt)")
    p.add_argument("--fold-models", nargs="+",
                   help="no training: score the fold<N>.pt models of this folder (from --save-models, same --folds "
                        "and --seed) at this run's --min-area; several folders: each fold's networks averaged")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    return p


def _write_doc(path: Path, table: str) -> None:
    block = f"{START}\n{table}\n{END}"
    text = path.read_text(encoding="utf-8") if path.exists() else f"# Focal-plane mode\n\n{START}\n{END}\n"
    if START in text and END in text:
        head, rest = text.split(START, 1)
        text = head + block + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _cv_meta(rows, folds, people, n_folds: int) -> dict:
    s = summarise(rows)
    return {"folds": n_folds, "median_iou": s["iou"], "mean_iou": s["mean_iou"], "median_precision": s["precision"],
            "median_recall": s["recall"], "per_fold_median_iou": {str(k): v["median_iou"] for k, v in folds.items()
                                                                 if int(k)},
            "annotators_median_iou": summarise(people)["iou"]}


def _report(rows, folds, people, *, command: str, seconds: float, pre_seconds: float, threads: int, doc: str,
            out_json: str, config: dict) -> str:
    table = markdown_report(rows, people, folds=folds, title="model (CV)", command=command)
    table += f"\nCross-validation: {len([k for k in folds if int(k)])} folds, {(seconds + pre_seconds) / 60:.1f} min " \
             f"of training and scoring ({pre_seconds / 60:.1f} min of it pre-training) on {threads} CPU thread(s) " \
             "per process.\n"
    _write_doc(Path(doc), table)
    Path(out_json).parent.mkdir(parents=True, exist_ok=True)
    Path(out_json).write_text(json.dumps({"config": config, "rows": rows, "folds": folds, "summary": summarise(rows),
                                          "annotators": summarise(people), "annotator_rows": people,
                                          "seconds": seconds, "pre_seconds": pre_seconds}, indent=1, default=float),
                              encoding="utf-8")
    return table


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(args.threads)
    command = "nice -n 5 .venv/bin/python " + " ".join(shlex.quote(a) for a in [sys.argv[0], *(argv or sys.argv[1:])])
    if args.merge:
        parts = [json.loads(Path(p).read_text(encoding="utf-8")) for p in args.merge]
        rows = sorted((r for part in parts for r in part["rows"]), key=lambda r: (r["fold"], r["image"]))
        for r in rows:  # JSON keeps the thresholds as strings
            r["iou_at"] = {float(k): v for k, v in r.get("iou_at", {}).items()}
        folds = {int(k): v for part in parts for k, v in part["folds"].items()}
        seconds = sum(part["seconds"] for part in parts)
        pre_seconds = max(part.get("pre_seconds", 0.0) for part in parts)
        people = parts[0]["annotator_rows"]
        table = _report(rows, folds, people, command=command, seconds=seconds, pre_seconds=pre_seconds,
                        threads=args.threads, doc=args.doc, out_json=args.json, config=parts[0]["config"])
        print(table)
        if args.final:  # the figures were measured at the runs' least region size: the model takes it too
            model = load_focal_plane_model(args.final)
            model = dataclasses.replace(model, min_area=float(parts[0]["config"].get("min_area", model.min_area)))
            data, region_sets = read_des_ghosts(args.data)
            ran = parts[0]["config"]  # the runs' finders, calibrated on every picture
            pupil = calibrate_pupil(data, region_sets=region_sets) if ran.get("pupil_ghosts", False) else None
            strokes = calibrate_strokes(data, pupil=pupil) if ran.get("strokes", False) else None
            model = dataclasses.replace(model, pupil=pupil, strokes=strokes, views=int(ran.get("views", 1)))
            meta = {"cv": _cv_meta(rows, folds, people, args.folds),
                    "cv_command": command}
            save_focal_plane_model(args.final, model, extra_meta=meta)
            print(f"added the cross-validation figures to {args.final} (least region {model.min_area:g})")
        return 0

    config = FocalPlaneTrainConfig(steps=args.steps, n_sim=args.n_sim, input_size=args.input_size,
                                   base_channels=args.base_channels, real_fraction=args.real_fraction,
                                   augment=args.augment, min_area=args.min_area,
                                   seed=args.seed if args.train_seed is None else args.train_seed,
                                   pupil_ghosts=args.pupil_ghosts, strokes=args.strokes, views=args.views,
                                   members=args.members)
    data, region_sets = read_des_ghosts(args.data)
    only = [int(v) for v in args.only_folds.split(",")] if args.only_folds else None
    init, pre_seconds, fold_models = None, 0.0, None
    if args.fold_models:
        if args.final:
            raise SystemExit("--fold-models scores saved models: use --merge with --final to update a model")
        fold_models = {f: ensemble_of([load_focal_plane_model(Path(d) / f"fold{f}.pt") for d in args.fold_models])
                       for f in (only or range(1, args.folds + 1))}
        pre = fold_models[min(fold_models)].meta.get("init") or {}
        if args.pretrained and Path(args.pretrained).exists():  # the model the folds started from
            pre = load_focal_plane_model(args.pretrained).meta
        pre_seconds = float(pre.get("train_seconds") or 0.0)
    elif args.pretrain_steps > 0:
        if args.pretrained and Path(args.pretrained).exists():
            init = load_focal_plane_model(args.pretrained)
            pre_seconds = float(init.meta.get("train_seconds", 0.0))
            log.info("pre-trained model from %s", args.pretrained)
        else:
            log.info("pre-training on simulated pictures only: %d steps", args.pretrain_steps)
            pre = pretrain_focal_plane(config, args.pretrain_steps, region_sets=region_sets, quiet=args.quiet)
            init, pre_seconds = pre.model, pre.seconds
            if args.pretrained:
                save_focal_plane_model(args.pretrained, init, half=False)
    people = annotator_scores(data)
    t1 = time.perf_counter()
    cv = None
    if not args.no_cv:
        cv = cross_validate_focal_plane(data, folds=args.folds, config=config, region_sets=region_sets,
                                        seed=args.seed, only_folds=only, init=init, fold_models=fold_models,
                                        quiet=args.quiet)
        if init is not None or fold_models:
            cv.folds[0] = {"images": [], "train_seconds": round(pre_seconds, 1), "median_iou": float("nan"),
                           "final_loss": float("nan")}
        seconds = time.perf_counter() - t1
        if fold_models:  # the folds' training happened in an earlier run: count it
            seconds += sum(v["train_seconds"] for k, v in cv.folds.items() if int(k))
        table = _report(cv.rows, cv.folds, people, command=command, seconds=seconds,
                        pre_seconds=pre_seconds, threads=args.threads, doc=args.doc, out_json=args.json,
                        config=cv.config)
        if args.save_models:
            Path(args.save_models).mkdir(parents=True, exist_ok=True)
            for fold, model in cv.models.items():
                save_focal_plane_model(Path(args.save_models) / f"fold{fold}.pt", model)
        if args.save_probs:
            np.savez_compressed(args.save_probs, **{k.replace(".", "_"): v for k, v in cv.probabilities.items()})
        print(table)
        print(f"median IoU (CV) = {summarise(cv.rows)['iou']:.3f}; annotators {summarise(people)['iou']:.3f}")
    if args.final:
        trained = train_focal_plane(data, config=config, region_sets=region_sets, init=init, quiet=args.quiet)
        extra = {"train_command": command, "train_seconds_total": round(trained.seconds + pre_seconds, 1)}
        if cv is not None and not args.only_folds:
            extra["cv"] = _cv_meta(cv.rows, cv.folds, people, args.folds)
        path = save_focal_plane_model(args.final, trained.model, extra_meta=extra)
        print(f"saved {path} ({path.stat().st_size / 1e6:.2f} MB) after {trained.seconds + pre_seconds:.0f} s of "
              f"training ({pre_seconds:.0f} s pre-training on simulated pictures, {trained.seconds:.0f} s with the "
              "real ones)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

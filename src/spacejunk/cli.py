"""The ``spacejunk`` command: parses arguments and calls the library, nothing more.

Each sub-command is declared once with :func:`command`, which decorates the function
that adds its options; :func:`runs` registers the function that calls the library and
returns the exit status. Nested commands are written with a space
(``"train classifier"``). Keep the library calls here thin: everything the command
does must be reachable from Python too.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Callable, Sequence

from . import __version__
from ._errors import InputError

__all__ = ["build_parser", "main", "command", "runs"]

log = logging.getLogger("spacejunk")

_ADDERS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None]]] = {}
_RUNNERS: dict[str, Callable[[argparse.Namespace], int | None]] = {}


def command(name: str, help: str):
    """Declare sub-command ``name`` (e.g. ``"simulate"`` or ``"train classifier"``)."""

    def register(add: Callable[[argparse.ArgumentParser], None]):
        _ADDERS[name] = (help, add)
        return add

    return register


def runs(name: str):
    """Register the function that runs sub-command ``name``."""

    def register(run: Callable[[argparse.Namespace], int | None]):
        _RUNNERS[name] = run
        return run

    return register


# --------------------------------------------------------------------------- helpers
def parse_pair(text: str, name: str) -> tuple[int, int]:
    """``"A,B"`` -> (A, B); InputError naming the option otherwise."""
    try:
        a, b = (int(v) for v in str(text).split(","))
    except ValueError:
        raise InputError(None, f"{name} must be two integers 'A,B', got {text!r}") from None
    return a, b


def parse_bands(text: str | None) -> tuple[str, ...] | None:
    """``"g,r,i"`` -> ("g", "r", "i"); None stays None."""
    if text is None:
        return None
    return tuple(b.strip() for b in text.split(",") if b.strip())


# --------------------------------------------------------------------------- simulate
@command("simulate", "simulate DECam-like images with injected artifacts and their truth")
def _add_simulate(p: argparse.ArgumentParser) -> None:
    p.add_argument("--n", type=int, default=1, help="number of images (default 1)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--bands", default="g,r,i", help="comma-separated bands among g,r,i,z,Y (default g,r,i)")
    p.add_argument("--shape", default="4096,2048", help="rows,columns (default 4096,2048, a DECam CCD)")
    p.add_argument("--compress", action="store_true", help="write RICE/PLIO-compressed .fits.fz files")


@runs("simulate")
def _run_simulate(args: argparse.Namespace) -> int:
    from .simulate import simulate_dataset

    shape = parse_pair(args.shape, "--shape")
    bands = parse_bands(args.bands)
    if args.n < 1:
        raise InputError(None, f"--n must be at least 1, got {args.n}")
    if args.seed < 0:
        raise InputError(None, f"--seed must be >= 0, got {args.seed}")
    try:
        names = simulate_dataset(args.out, n=args.n, seed=args.seed, bands=bands, shape=shape,
                                 compress=args.compress, quiet=args.quiet)
    except (ValueError, TypeError) as err:  # bad --bands or --shape, named by the library
        raise InputError(None, f"--{err}") from None
    return 0 if names else 1


# --------------------------------------------------------------------------- preview
@command("preview", "write the RGB picture of an image with its labels or detections drawn")
def _add_preview(p: argparse.ArgumentParser) -> None:
    p.add_argument("image", nargs="+", help="the image's band files, a folder or a glob")
    p.add_argument("--out", required=True, help="output PNG")
    p.add_argument("--labels", help="labels CSV (image,x,y,size[,radius][,category]) to draw")
    p.add_argument("--detections", help="artifacts.csv to draw")
    p.add_argument("--scale", type=float, default=0.25, help="output scale factor (default 0.25)")


@runs("preview")
def _run_preview(args: argparse.Namespace) -> int:
    from .io import find_images, read_artifacts, read_exposure, read_labels
    from .preprocess import draw_artifacts, make_rgb, save_png

    if not 0.0 < args.scale <= 1.0:
        raise InputError(None, f"--scale must be in (0, 1], got {args.scale}")
    images = find_images(args.image)
    if len(images) != 1:
        raise InputError(None, f"preview draws exactly one image, got {len(images)}: {', '.join(images)}")
    exposure = read_exposure(next(iter(images.values())))
    labels = read_labels(args.labels).get(exposure.name, []) if args.labels else []
    detections = [a for a in read_artifacts(args.detections) if a.image == exposure.name] if args.detections else []
    for path, found in ((args.labels, labels), (args.detections, detections)):
        if path and not found:
            log.info("%s: no marks for image %s", path, exposure.name)
    rgb = make_rgb(exposure, scale=args.scale)
    key = list(dict.fromkeys(a.category for a in labels + detections))
    # Labels are circles with their category; detections are boxes with category and score.
    rgb = draw_artifacts(rgb, labels, scale=args.scale, show_score=False, legend=False)
    rgb = draw_artifacts(rgb, detections, scale=args.scale, mark="box", legend=key)
    save_png(args.out, rgb)
    log.info("wrote %s (%d labels, %d detections)", args.out, len(labels), len(detections))
    return 0


# --------------------------------------------------------------------------- detect
@command("detect", "find artifacts in images and write catalogs, masks, regions and pictures")
def _add_detect(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="+", help="image files, folders or glob patterns")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--mode", choices=("ccd", "focal-plane"), default="ccd",
                   help="ccd: DES CCD FITS images (default); focal-plane: binned whole-exposure pictures")
    p.add_argument("--model", action="append",
                   help="a checkpoint of your own instead of the shipped one (give it twice for a classifier "
                        "and a detector; each checkpoint says which it is)")
    p.add_argument("--threshold", type=float, help="score threshold in [0, 1] (default: the model's own)")
    p.add_argument("--min-area", type=float,
                   help="focal-plane mode: drop regions smaller than this fraction of the picture (default: the model's own)")
    p.add_argument("--bands", help="comma-separated bands to use (default: all the model knows)")
    p.add_argument("--no-png", action="store_true", help="do not write the PNG pictures")
    p.add_argument("--overwrite", action="store_true", help="redo images whose outputs exist")
    p.add_argument("--workers", type=int, default=1, help="images processed in parallel (default 1)")
    p.add_argument("--scheduler", help="address of a Dask distributed scheduler to send the work to")


@runs("detect")
def _run_detect(args: argparse.Namespace) -> int:
    if args.threshold is not None and not 0.0 <= args.threshold <= 1.0:
        raise InputError(None, f"--threshold must be in [0, 1], got {args.threshold}")
    if args.min_area is not None and not 0.0 <= args.min_area < 1.0:
        raise InputError(None, f"--min-area must be in [0, 1), got {args.min_area}")
    if args.mode == "focal-plane":
        from .focal_plane import detect_focal_plane

        if args.model and len(args.model) > 1:
            raise InputError(None, "focal-plane mode takes one --model")
        summary = detect_focal_plane(args.paths, args.out, model=args.model[0] if args.model else None,
                                     threshold=args.threshold, min_area=args.min_area,
                                     write_png=not args.no_png, overwrite=args.overwrite, quiet=args.quiet)
    else:
        from .pipeline import detect

        if args.min_area is not None:
            raise InputError(None, "--min-area is a focal-plane mode option")
        summary = detect(args.paths, out=args.out, model=args.model, threshold=args.threshold,
                         bands=parse_bands(args.bands), write_png=not args.no_png, overwrite=args.overwrite,
                         workers=args.workers, scheduler=args.scheduler, quiet=args.quiet).summary
    return 1 if summary["failed"] else 0


# --------------------------------------------------------------------------- focal plane: train, evaluate
def _add_focal_plane_training_options(p: argparse.ArgumentParser) -> None:
    from .focal_plane import VIEWS
    from .train.focal_plane import AUGMENT_PRESETS, PRETRAIN_STEPS, FocalPlaneTrainConfig

    d = FocalPlaneTrainConfig()
    p.add_argument("--data", help="DeepGhostBusters folder (common_core/, single_annotator_regions.json); "
                                  "default $SPACEJUNK_DES_GHOSTS or ../shared/data/des-ghosts")
    p.add_argument("--steps", type=int, default=d.steps, help=f"training steps (default {d.steps})")
    p.add_argument("--pretrain-steps", type=int, default=PRETRAIN_STEPS,
                   help=f"first train on simulated pictures only for this many steps (default {PRETRAIN_STEPS}; 0: none)")
    p.add_argument("--n-sim", type=int, default=d.n_sim, help=f"simulated pictures (default {d.n_sim})")
    p.add_argument("--input-size", type=int, default=d.input_size, help=f"network input side (default {d.input_size})")
    p.add_argument("--base-channels", type=int, default=d.base_channels, help="U-Net base channels")
    p.add_argument("--real-fraction", type=float, default=d.real_fraction,
                   help=f"share of each batch drawn from the real pictures (default {d.real_fraction})")
    p.add_argument("--augment", choices=tuple(AUGMENT_PRESETS), default=d.augment, help="augmentation preset")
    p.add_argument("--min-area", type=float, default=d.min_area,
                   help=f"the model drops regions smaller than this fraction of the picture (default {d.min_area:g})")
    p.add_argument("--no-pupil-ghosts", dest="pupil_ghosts", action="store_false",
                   help="the network alone, without the pupil-ghost finder (spider shadows; on by default)")
    p.add_argument("--no-strokes", dest="strokes", action="store_false",
                   help="without the stroke finder (ray fans and bright ghosts at full resolution; on by default)")
    p.add_argument("--views", type=int, choices=VIEWS, default=d.views,
                   help="the model averages the network over this many flips and quarter-turns of a picture "
                        f"(default {d.views})")
    p.add_argument("--members", type=int, default=d.members,
                   help=f"networks trained, each from its own seed; the model averages them (default {d.members})")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--threads", type=int, default=1,
                   help="torch CPU threads (default 1: on a shared, busy machine more threads spin-wait)")


def _focal_plane_config(args: argparse.Namespace):
    from .train.focal_plane import FocalPlaneTrainConfig

    try:
        return FocalPlaneTrainConfig(steps=args.steps, n_sim=args.n_sim, input_size=args.input_size,
                                     base_channels=args.base_channels, real_fraction=args.real_fraction,
                                     augment=args.augment, min_area=args.min_area, seed=args.seed,
                                     pupil_ghosts=args.pupil_ghosts, strokes=args.strokes, views=args.views,
                                     members=args.members)
    except ValueError as err:
        raise InputError(None, str(err)) from None


def _focal_plane_data(args: argparse.Namespace, *, real: bool = True):
    from .io.focal_plane import read_des_ghosts
    from .train.focal_plane import default_data_dir

    data_dir = args.data or default_data_dir()
    return read_des_ghosts(data_dir) if real else ([], [])


@command("train focal-plane", "train the focal-plane ghost/rays segmenter (simulated + annotated real pictures)")
def _add_train_focal_plane(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, help="output checkpoint (.pt)")
    p.add_argument("--real-images", nargs="*",
                   help="train only on these real pictures (file names; default all 20); none: simulated only")
    p.add_argument("--folds", help="'F/N': leave out fold F of N of the real pictures, as cross-validation does (e.g. 1/5)")
    _add_focal_plane_training_options(p)


@runs("train focal-plane")
def _run_train_focal_plane(args: argparse.Namespace) -> int:
    from pathlib import Path

    import torch

    from .evaluate.focal_plane import fold_assignment
    from .train.focal_plane import pretrain_focal_plane, save_focal_plane_model, train_focal_plane

    torch.set_num_threads(max(1, args.threads))
    config = _focal_plane_config(args)
    data, region_sets = _focal_plane_data(args)
    if args.real_images is not None:
        wanted = {Path(n).name for n in args.real_images}
        unknown = wanted - {d.name for d in data}
        if unknown:
            raise InputError(None, f"--real-images: not among the annotated pictures: {', '.join(sorted(unknown))}")
        data = [d for d in data if d.name in wanted]
    if args.folds:
        fold, n = parse_pair(args.folds.replace("/", ","), "--folds")
        assign = fold_assignment([d.name for d in data], folds=n, seed=args.seed)
        data = [d for d in data if assign[d.name] != fold]
    init = None
    if args.pretrain_steps > 0:
        init = pretrain_focal_plane(config, args.pretrain_steps, region_sets=region_sets, quiet=args.quiet).model
    trained = train_focal_plane(data, config=config, region_sets=region_sets, init=init, quiet=args.quiet)
    path = save_focal_plane_model(args.out, trained.model)
    log.info("saved %s (%.2f MB), %d real pictures, %.0f s", path, path.stat().st_size / 1e6, len(data),
             trained.seconds)
    return 0


@command("evaluate focal-plane", "score focal-plane segmentation against the annotators' consensus")
def _add_evaluate_focal_plane(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, help="markdown file for the tables (a .json with the figures beside it)")
    p.add_argument("--model", help="score this checkpoint on all pictures (in-sample if trained on them); "
                                   "default: cross-validate, training one model per fold")
    p.add_argument("--folds", type=int, default=5, help="cross-validation folds (default 5)")
    _add_focal_plane_training_options(p)


@runs("evaluate focal-plane")
def _run_evaluate_focal_plane(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    import torch

    from .evaluate.focal_plane import annotator_scores, cross_validate_focal_plane, evaluate_model, markdown_report
    from .focal_plane import load_focal_plane_model
    from .io._atomic import atomic_path

    torch.set_num_threads(max(1, args.threads))
    data, region_sets = _focal_plane_data(args)
    people = annotator_scores(data)
    if args.model:
        rows, folds = evaluate_model(load_focal_plane_model(args.model), data), None
        title = "model"
    else:
        cv = cross_validate_focal_plane(data, folds=args.folds, config=_focal_plane_config(args),
                                        region_sets=region_sets, seed=args.seed, pretrain_steps=args.pretrain_steps,
                                        quiet=args.quiet)
        rows, folds, title = cv.rows, cv.folds, "model (CV)"
    command_line = "spacejunk " + " ".join(sys.argv[1:])
    out = Path(args.out)
    with atomic_path(out) as tmp:
        tmp.write_text(markdown_report(rows, people, folds=folds, title=title, command=command_line), encoding="utf-8")
    with atomic_path(out.with_suffix(".json")) as tmp:
        tmp.write_text(json.dumps({"rows": rows, "annotator_rows": people, "folds": folds}, indent=1, default=float),
                       encoding="utf-8")
    log.info("wrote %s", out)
    return 0


# --------------------------------------------------------------------------- review
@command("review", "serve a web page where people accept, reject and add marks; or export the reviewed labels")
def _add_review(p: argparse.ArgumentParser) -> None:
    p.add_argument("dir", help="folder of images (anything `spacejunk detect` reads); the store is DIR/review.sqlite")
    p.add_argument("--port", type=int, default=8765, help="TCP port (default 8765)")
    p.add_argument("--host", default="127.0.0.1",
                   help="interface to listen on (default 127.0.0.1: this machine only; any other needs --token)")
    p.add_argument("--token", help="access token asked of every request (open the page as /?token=T)")
    p.add_argument("--reviewer", help="default reviewer name (each person can set theirs on the page)")
    p.add_argument("--model", action="append",
                   help="a checkpoint of your own to propose the marks, as for `detect` (give it twice for a "
                        "classifier and a detector; default: the shipped models)")
    p.add_argument("--threshold", type=float, help="proposal score threshold in [0, 1] (default: the model's own)")
    p.add_argument("--export", metavar="LABELS_CSV",
                   help="write the reviewed labels (image,x,y,size,radius,category) and exit, serving nothing")


@runs("review")
def _run_review(args: argparse.Namespace) -> int:
    from pathlib import Path

    if args.export:
        from .review.store import STORE_NAME, ReviewStore

        path = Path(args.dir) / STORE_NAME
        if not path.is_file():
            raise InputError(path, "no review store here: run `spacejunk review DIR` and review some images first")
        store = ReviewStore(path)
        labels = store.labels()
        store.export_labels(args.export)
        listed = store.export_reviewed_images(f"{args.export}.images.txt")
        done, total = store.progress()
        log.info("review: wrote %d labels of %d reviewed images (of %d) to %s, their names to %s", len(labels), done,
                 total, args.export, listed)
        if done < total:
            log.warning("review: %d images of %s are not reviewed yet and have no rows; train with --images %s so "
                        "that they are not taken as clean", total - done, args.dir, listed)
        return 0
    if args.threshold is not None and not 0.0 <= args.threshold <= 1.0:
        raise InputError(None, f"--threshold must be in [0, 1], got {args.threshold}")
    from .review.server import serve

    serve(args.dir, host=args.host, port=args.port, token=args.token, reviewer=args.reviewer, model=args.model,
          threshold=args.threshold, quiet=args.quiet)
    return 0


# --------------------------------------------------------------------------- detector (issue 4)
@command("train detector", "train an artifact detector (boxes per category) on simulated or labelled images")
def _add_train_detector(p: argparse.ArgumentParser) -> None:
    from .train.detector import build_parser as add_detector_options

    add_detector_options(p)


@runs("train detector")
def _run_train_detector(args: argparse.Namespace) -> int:
    from .train.detector import settings_from_args, train_detector

    path = train_detector(settings_from_args(args))
    log.info("wrote %s", path)
    return 0


@command("train namer", "train the detector's region namer on fresh simulated images (written into the checkpoint)")
def _add_train_namer(p: argparse.ArgumentParser) -> None:
    from .train.namer import build_parser as add_namer_options

    add_namer_options(p)


@runs("train namer")
def _run_train_namer(args: argparse.Namespace) -> int:
    from .train.namer import NamerTrainSettings, train_namer

    try:
        settings = NamerTrainSettings(detector=args.detector or "", out=args.out, n_images=args.n, seed=args.seed,
                                      epochs=args.epochs, threads=args.threads, workers=args.workers,
                                      min_side_px=args.min_side, quiet=args.quiet,
                                      shape=parse_pair(args.shape, "--shape"))
    except ValueError as err:
        raise InputError(None, str(err)) from None
    train_namer(settings)
    log.info("wrote %s", args.out)
    return 0


@command("evaluate detector", "score a detector on images with truth: COCO AP, AP50, AR@100 and pictures")
def _add_evaluate_detector(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", help="detector checkpoint (default: the shipped one)")
    p.add_argument("--data", required=True, help="folder of images with truth.csv (or --labels)")
    p.add_argument("--out", required=True, help="output folder: metrics.json, artifacts.csv, pictures")
    p.add_argument("--labels", help="labels CSV to score against instead of truth.csv")
    p.add_argument("--threshold", type=float, default=0.05, help="least score kept (default 0.05)")
    p.add_argument("--pictures", type=int, default=4, help="images drawn with TP/FP/FN boxes (default 4)")


@runs("evaluate detector")
def _run_evaluate_detector(args: argparse.Namespace) -> int:
    from .evaluate.detector import evaluate_detector

    if not 0.0 <= args.threshold <= 1.0:
        raise InputError(None, f"--threshold must be in [0, 1], got {args.threshold}")
    result = evaluate_detector(args.data, model=args.model, out=args.out, labels=args.labels,
                               threshold=args.threshold, pictures=args.pictures, quiet=args.quiet)
    s = result.scores
    print(f"AP {s.ap:.3f}  AP50 {s.ap50:.3f}  AR@100 {s.ar100:.3f}  {result.seconds_per_image:.2f} s/image")
    return 0


# --------------------------------------------------------------------------- tile classifier (issue 3)
@command("train classifier", "train the multi-band tile classifier on simulated or labelled images")
def _add_train_classifier(p: argparse.ArgumentParser) -> None:
    from .train.classifier import build_parser as add_classifier_options

    add_classifier_options(p)


@runs("train classifier")
def _run_train_classifier(args: argparse.Namespace) -> int:
    from .train.classifier import settings_from_args, train_classifier

    result = train_classifier(settings_from_args(args))
    val = result.meta["metrics"]["val"]
    print(f"{result.path}: threshold {result.meta['threshold']:.4f}, validation precision "
          f"{val.get('precision', float('nan')):.3f} at recall {val.get('recall', float('nan')):.3f}, "
          f"AP {val['average_precision']:.4f}, {result.meta['train_seconds'] / 60:.1f} min")
    return 0


@command("evaluate classifier", "score the tile classifier on images with truth: recall, precision, ROC, PR")
def _add_evaluate_classifier(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", help="classifier checkpoint (default: the shipped one)")
    p.add_argument("--data", required=True, help="folder of images with truth/ (or labels.csv, or --labels)")
    p.add_argument("--out", required=True, help="output folder: metrics.json, roc.png, pr.png, tiles.csv")
    p.add_argument("--labels", help="labels CSV to score against instead of the truth")
    p.add_argument("--threshold", type=float, help="score threshold (default: the model's own)")
    p.add_argument("--target-recall", type=float, default=0.95,
                   help="also report the threshold reaching this tile recall and the precision there (default 0.95)")
    p.add_argument("--bands", help="comma-separated bands to use (default: all the model knows)")
    p.add_argument("--overlap", type=int, default=0, help="tile overlap of the grid, pixels (default 0)")


@runs("evaluate classifier")
def _run_evaluate_classifier(args: argparse.Namespace) -> int:
    from .evaluate.classifier import evaluate_classifier, write_classifier_report

    if args.threshold is not None and not 0.0 <= args.threshold <= 1.0:
        raise InputError(None, f"--threshold must be in [0, 1], got {args.threshold}")
    if not 0.0 < args.target_recall <= 1.0:
        raise InputError(None, f"--target-recall must be in (0, 1], got {args.target_recall}")
    model = meta = None
    if args.model:
        from .models.registry import load_checkpoint
        from .predict.classifier import _prepare

        model, meta = load_checkpoint(args.model)
        model = _prepare(model)
    ev = evaluate_classifier(args.data, model=model, meta=meta, threshold=args.threshold,
                             target_recall=args.target_recall, labels=args.labels, bands=parse_bands(args.bands),
                             overlap=args.overlap, quiet=args.quiet)
    write_classifier_report(ev, args.out)
    m = ev.metrics
    print(f"recall {m['recall']:.3f}  precision {m['precision']:.3f} at threshold {m['threshold']:.4f}  "
          f"AUC {m['roc_auc']:.4f}  AP {m['average_precision']:.4f}  precision {m['precision_at_target_recall']:.3f} "
          f"at recall {args.target_recall:.2f} (threshold {m['threshold_for_target_recall']:.4f})  "
          f"{m['n_positive']}/{m['n_tiles']} positive tiles")
    return 0


# --------------------------------------------------------------------------- demo
@command("demo", "run spacejunk detect on the bundled sample image")
def _add_demo(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="demo-out", help="output folder (default demo-out)")


@runs("demo")
def _run_demo(args: argparse.Namespace) -> int:
    from .data import sample_dir
    from .pipeline import detect

    run = detect([sample_dir()], out=args.out, overwrite=True, quiet=args.quiet)
    for record in run.records:
        print(f"{record['image']}: {record['artifacts']} artifacts in {record['seconds'].get('total', 0):.1f} s")
        print(f"  picture: {args.out}/{record['image']}.png")
    print(f"  catalog: {args.out}/artifacts.csv   (truth: {sample_dir() / 'truth.csv'})")
    return 1 if run.summary["failed"] else 0


# --------------------------------------------------------------------------- parser
def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The argument parser of the ``spacejunk`` command (reusable by wrappers).

    With ``argv``, only the sub-command named there gets its options (some options
    functions import torch for their defaults, which takes seconds); the others are
    listed with their help line. Without it, every sub-command is complete.
    """
    everything = argv is None
    chosen = None if everything else _chosen_command(argv)
    parser = argparse.ArgumentParser(prog="spacejunk", description="Find artifacts in Dark Energy Survey images.")
    parser.add_argument("--version", action="version", version=f"spacejunk {__version__}")
    groups: dict[str, argparse._SubParsersAction] = {}
    top = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (help_text, add) in _ADDERS.items():
        words = name.split()
        if len(words) == 1:
            p = top.add_parser(name, help=help_text, description=help_text)
        else:
            head, tail = words
            if head not in groups:
                hp = top.add_parser(head, help=f"{head} a model or data set")
                groups[head] = hp.add_subparsers(dest="target", metavar="TARGET", required=True)
            p = groups[head].add_parser(tail, help=help_text, description=help_text)
        p.set_defaults(_name=name)
        p.add_argument("--quiet", "-q", action="store_true", help="no progress bars or info messages")
        if everything or chosen == name:
            add(p)
    return parser


def _chosen_command(argv: Sequence[str]) -> str | None:
    """The registered command that ``argv`` names (``"train classifier"``), or None."""
    words = [a for a in argv if not a.startswith("-")][:2]
    for n in (2, 1):
        if " ".join(words[:n]) in _ADDERS:
            return " ".join(words[:n])
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``spacejunk`` command; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="%(message)s",
                        stream=sys.stderr)
    run = _RUNNERS.get(args._name)
    if run is None:
        parser.error(f"'{args._name}' is not implemented yet")
    try:
        return int(run(args) or 0)
    except InputError as err:
        print(f"spacejunk {args._name}: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"spacejunk {args._name}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

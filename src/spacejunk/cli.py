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
    p.add_argument("--model", help="a checkpoint of your own instead of the shipped model")
    p.add_argument("--threshold", type=float, help="score threshold in [0, 1] (default: the model's own)")
    p.add_argument("--bands", help="comma-separated bands to use (default: all the model knows)")
    p.add_argument("--no-png", action="store_true", help="do not write the PNG pictures")
    p.add_argument("--overwrite", action="store_true", help="redo images whose outputs exist")
    p.add_argument("--workers", type=int, default=1, help="images processed in parallel (default 1)")
    p.add_argument("--scheduler", help="address of a Dask distributed scheduler to send the work to")


@runs("detect")
def _run_detect(args: argparse.Namespace) -> int:
    if args.threshold is not None and not 0.0 <= args.threshold <= 1.0:
        raise InputError(None, f"--threshold must be in [0, 1], got {args.threshold}")
    if args.mode == "focal-plane":
        from .focal_plane import detect_focal_plane

        summary = detect_focal_plane(args.paths, args.out, model=args.model, threshold=args.threshold,
                                     write_png=not args.no_png, overwrite=args.overwrite, quiet=args.quiet)
    else:
        from .pipeline import detect

        summary = detect(args.paths, out=args.out, model=args.model, threshold=args.threshold,
                         bands=parse_bands(args.bands), write_png=not args.no_png, overwrite=args.overwrite,
                         workers=args.workers, scheduler=args.scheduler, quiet=args.quiet).summary
    return 1 if summary["failed"] else 0


# --------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``spacejunk`` command (reusable by wrappers)."""
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
        add(p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``spacejunk`` command; returns the exit status."""
    parser = build_parser()
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

"""Training the artifact detectors on simulated (or labelled) images: tiles, binned views, augmentation.

A training sample is either a full-resolution tile (``tile`` x ``tile`` pixels, placed at
random, half of the time on an artifact) or the whole image binned by ``global_bin``
(so that ghosts and scattered light larger than a tile are seen whole). Targets are the
boxes of the visible part of each truth artifact in the sample and, for the segmentation
detector, the per-category pixel masks. ``spacejunk train detector`` runs
:func:`train_detector` with settings built by :func:`build_parser`.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from tqdm import tqdm

from .._errors import InputError
from ..categories import CATEGORIES, CATEGORY_BITS
from ..models.registry import build_model, load_checkpoint, save_checkpoint
from ..predict.finders import DETECTOR_FINDERS, finder_meta
from ..preprocess.normalise import bin_image
from .datasets import ImageRecord, Normalisation, iter_image_folder, load_image_folder, parse_image_list

__all__ = [
    "AUGMENTATIONS",
    "DetectorTrainSettings",
    "build_parser",
    "settings_from_args",
    "make_sample",
    "augment_sample",
    "train_detector",
    "view_categories",
]

log = logging.getLogger("spacejunk")

#: Named augmentation presets: what each one does to a sample.
AUGMENTATIONS: dict[str, dict] = {
    "none": {"flip": False, "rot90": False, "noise": 0.0, "band_dropout": 0.0},
    "flips": {"flip": True, "rot90": True, "noise": 0.0, "band_dropout": 0.0},
    # flips and 90-degree turns, Gaussian noise of up to 0.5 sigma, one band zeroed 20% of the time
    "standard": {"flip": True, "rot90": True, "noise": 0.5, "band_dropout": 0.2},
}

#: How images become model input: no DESDM-flagged pixel is zeroed, since DESDM flags
#: some artifacts (CRAY, STREAK, EDGEBLEED) and the detector must see them.
NORMALISATION = Normalisation(mask_bits=0)


@dataclass(frozen=True)
class DetectorTrainSettings:
    """Everything a detector training run depends on (recorded in the checkpoint).

    Attributes
    ----------
    data : str
        Folder of simulated images (``<image>_<band>.fits``, ``truth.csv``,
        ``truth/<image>_truth.fits``) or of real images with ``labels``.
    out : str
        Checkpoint written (updated after every epoch).
    arch : str
        Registered detector architecture (:data:`spacejunk.models.detector.DETECTOR_ARCHS`).
    config : dict
        Keyword arguments of the architecture's builder (``n_bands`` and ``num_classes``
        are set from the data).
    labels : str or None
        Labels CSV of circles to train on instead of the simulator's truth.
    images : tuple of str or None
        Train on these images of ``data`` only (default all): with ``labels`` from a
        partly reviewed folder, the reviewed ones, so the others are not taken as clean.
    bands : tuple of str or None
        Bands used (default: all bands of the data).
    epochs, steps_per_epoch, batch_size : int
        Schedule: ``epochs * steps_per_epoch`` optimiser steps of ``batch_size`` samples.
    lr, weight_decay : float
        AdamW learning rate (cosine decay after a 5% warm-up) and weight decay.
    tile, overlap : int
        Full-resolution training tile size and the overlap of the inference grid (pixels).
    infer_tile : int or None
        Tile size at inference (default ``tile``); a fully convolutional detector runs
        faster on larger tiles (less overlap to compute twice).
    input_bin : int
        Every view is binned by this first (1 = full resolution; 2 halves the input).
    global_bin : int
        Binning of the whole-image view (0 = no whole-image view).
    global_fraction : float
        Fraction of batches that are whole-image views. At 1 the network learns the
        whole-image view alone: each image is binned as it is read and its full-resolution
        pixels are let go (a few MB per image, so hundreds of images fit), and the
        checkpoint lists that view only.
    augment : str
        Name of an :data:`AUGMENTATIONS` preset.
    threshold : float
        Score threshold recorded for inference.
    time_limit_min : float or None
        Stop after this many minutes (the fixed budget of the baselines); the cosine
        decay then follows the elapsed fraction of the limit when that runs ahead of the
        steps, so a run cut by the limit still ends at a small learning rate.
    seed : int
        Seed of sampling, augmentation and initialisation.
    threads : int
        Torch CPU threads.
    init : str or None
        Checkpoint to start from (fine-tuning).
    trails : bool
        Report straight trails found by the Radon transform (:mod:`spacejunk.predict.trails`)
        as satellites in place of the network's (recorded in the checkpoint).
    cosmic_rays : bool
        Report sharp one-band sources DESDM did not flag (:mod:`spacejunk.predict.cosmic_rays`)
        as cosmic rays in place of the network's (recorded in the checkpoint).
    cross_talk : bool
        Report mirrored copies of saturated stars (:mod:`spacejunk.predict.cross_talk`) as
        cross-talk in place of the network's (recorded in the checkpoint).
    dark_halos : bool
        Report dark regions centred on bright stars (:mod:`spacejunk.predict.dark_halos`) as
        dark halos in place of the network's (recorded in the checkpoint).
    column_masks : bool
        Report columns brighter or darker than their neighbours along a long run
        (:mod:`spacejunk.predict.column_masks`) as column masks in place of the network's
        (recorded in the checkpoint).
    tape_bumps : bool
        Report round bumps and dips of the sky near the CCD's edges
        (:mod:`spacejunk.predict.tape_bumps`) as tape bumps in place of the network's
        (recorded in the checkpoint).
    ghost_discs : bool
        Report faint discs larger than the CCD found by their circular edge
        (:mod:`spacejunk.predict.ghost_discs`) as ghosts beside the network's (recorded in
        the checkpoint).
    brush_strokes : bool
        Report bundles of faint parallel streaks (:mod:`spacejunk.predict.brush_strokes`)
        as brush strokes in place of the network's (recorded in the checkpoint).
    bright_arcs : bool
        Report bent bands of scattered light (:mod:`spacejunk.predict.bright_arcs`) as
        bright arcs beside the network's (recorded in the checkpoint).
    blobs : bool
        Report compact blobs seen in one band only or darker than the sky
        (:mod:`spacejunk.predict.blobs`) as "other" artifacts in place of the network's
        (recorded in the checkpoint).
    quiet : bool
        No progress bar.
    """

    data: str
    out: str
    arch: str = "unet_boxes"
    config: dict = field(default_factory=dict)
    labels: str | None = None
    images: tuple[str, ...] | None = None
    bands: tuple[str, ...] | None = None
    epochs: int = 10
    steps_per_epoch: int = 100
    batch_size: int = 4
    lr: float = 1e-3
    weight_decay: float = 1e-4
    tile: int = 600
    overlap: int = 100
    infer_tile: int | None = None
    input_bin: int = 1
    global_bin: int = 8
    global_fraction: float = 0.25
    augment: str = "standard"
    threshold: float = 0.5
    time_limit_min: float | None = None
    seed: int = 0
    threads: int = 2
    init: str | None = None
    trails: bool = True
    cosmic_rays: bool = True
    cross_talk: bool = True
    dark_halos: bool = True
    column_masks: bool = True
    tape_bumps: bool = True
    ghost_discs: bool = True
    brush_strokes: bool = True
    bright_arcs: bool = True
    blobs: bool = True
    quiet: bool = False

    def __post_init__(self) -> None:
        if self.augment not in AUGMENTATIONS:
            raise ValueError(f"unknown augmentation preset {self.augment!r}; known: {', '.join(AUGMENTATIONS)}")
        for name in ("epochs", "steps_per_epoch", "batch_size", "tile", "input_bin", "threads"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.global_bin < 0 or not 0 <= self.global_fraction <= 1:
            raise ValueError("global_bin must be >= 0 and global_fraction in [0, 1]")
        if not 0 <= self.overlap < min(self.tile, self.infer_tile or self.tile):
            raise ValueError(f"overlap must be in [0, tile), got {self.overlap}")
        if not 0 <= self.threshold <= 1:
            raise ValueError(f"threshold must be in [0, 1], got {self.threshold}")


def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    """Add the options of ``spacejunk train detector`` to ``parser`` (a new one if None)."""
    p = parser or argparse.ArgumentParser(prog="spacejunk train detector", description="train an artifact detector")
    d = DetectorTrainSettings(data="", out="")
    p.add_argument("--data", required=True, help="folder of simulated images with truth (or images with --labels)")
    p.add_argument("--out", required=True, help="checkpoint to write (.pt)")
    p.add_argument("--arch", default=d.arch, help=f"architecture (default {d.arch}); see docs/detector.md")
    p.add_argument("--config", default="{}", help="JSON of the architecture's options, e.g. '{\"base_channels\": 8}'")
    p.add_argument("--labels", help="labels CSV (image,x,y,size[,radius][,category]) instead of the truth")
    p.add_argument("--images", help="only these training images: a file with one name per line (such as the "
                                    "<labels>.images.txt of `spacejunk review --export`: the reviewed images) or "
                                    "names separated by commas")
    p.add_argument("--bands", help="comma-separated bands (default: all in the data)")
    p.add_argument("--epochs", type=int, default=d.epochs, help=f"epochs (default {d.epochs})")
    p.add_argument("--steps-per-epoch", type=int, default=d.steps_per_epoch,
                   help=f"optimiser steps per epoch (default {d.steps_per_epoch})")
    p.add_argument("--batch-size", type=int, default=d.batch_size, help=f"samples per step (default {d.batch_size})")
    p.add_argument("--lr", type=float, default=d.lr, help=f"AdamW learning rate (default {d.lr})")
    p.add_argument("--tile", type=int, default=d.tile, help=f"tile size, pixels (default {d.tile})")
    p.add_argument("--overlap", type=int, default=d.overlap, help=f"tile overlap at inference (default {d.overlap})")
    p.add_argument("--infer-tile", type=int, help="tile size at inference (default: --tile)")
    p.add_argument("--input-bin", type=int, default=d.input_bin, help="bin every input by this (default 1)")
    p.add_argument("--global-bin", type=int, default=d.global_bin,
                   help=f"binning of the whole-image view, 0 for none (default {d.global_bin})")
    p.add_argument("--global-fraction", type=float, default=d.global_fraction,
                   help=f"fraction of whole-image batches (default {d.global_fraction}; 1: the whole-image view "
                        "alone, each image binned as it is read)")
    p.add_argument("--augment", default=d.augment, help=f"augmentation preset: {', '.join(AUGMENTATIONS)}")
    p.add_argument("--threshold", type=float, default=d.threshold, help="score threshold recorded for inference")
    p.add_argument("--time-limit", type=float, help="stop after this many minutes")
    p.add_argument("--seed", type=int, default=d.seed, help="random seed (default 0)")
    p.add_argument("--threads", type=int, default=d.threads, help="torch CPU threads (default 2)")
    p.add_argument("--init", help="checkpoint to start from (fine-tuning)")
    p.add_argument("--no-trails", action="store_true",
                   help="report the network's satellites, not the straight-trail finder's (ablation)")
    p.add_argument("--no-cosmic-rays", action="store_true",
                   help="report the network's cosmic rays, not the sharp-source finder's (ablation)")
    p.add_argument("--no-cross-talk", action="store_true",
                   help="report the network's cross-talk, not the mirrored-copy finder's (ablation)")
    p.add_argument("--no-dark-halos", action="store_true",
                   help="report the network's dark halos, not the finder's (ablation)")
    p.add_argument("--no-column-masks", action="store_true",
                   help="report the network's column masks, not the bad-column finder's (ablation)")
    p.add_argument("--no-tape-bumps", action="store_true",
                   help="report the network's tape bumps, not the bump finder's (ablation)")
    p.add_argument("--no-ghost-discs", action="store_true",
                   help="report the network's ghosts only, without the disc-edge finder's (ablation)")
    p.add_argument("--no-brush-strokes", action="store_true",
                   help="report the network's brush strokes, not the parallel-streak finder's (ablation)")
    p.add_argument("--no-bright-arcs", action="store_true",
                   help="report the network's bright arcs only, without the bent-band finder's (ablation)")
    p.add_argument("--no-blobs", action="store_true",
                   help="report the network's 'other' artifacts, not the odd-blob finder's (ablation)")
    return p


def settings_from_args(args: argparse.Namespace) -> DetectorTrainSettings:
    """The frozen settings of parsed ``spacejunk train detector`` arguments."""
    try:
        config = json.loads(args.config) if isinstance(args.config, str) else dict(args.config or {})
    except json.JSONDecodeError as err:
        raise InputError(None, f"--config is not valid JSON: {err}") from None
    if not isinstance(config, dict):
        raise InputError(None, "--config must be a JSON object")
    bands = tuple(b.strip() for b in args.bands.split(",") if b.strip()) if args.bands else None
    try:
        return DetectorTrainSettings(
            data=args.data, out=args.out, arch=args.arch, config=config, labels=args.labels,
            images=parse_image_list(args.images), bands=bands,
            epochs=args.epochs, steps_per_epoch=args.steps_per_epoch, batch_size=args.batch_size, lr=args.lr,
            tile=args.tile, overlap=args.overlap, infer_tile=args.infer_tile, input_bin=args.input_bin,
            global_bin=args.global_bin,
            global_fraction=args.global_fraction, augment=args.augment, threshold=args.threshold,
            time_limit_min=args.time_limit, seed=args.seed, threads=args.threads, init=args.init,
            trails=not args.no_trails, cosmic_rays=not args.no_cosmic_rays,
            cross_talk=not args.no_cross_talk, dark_halos=not args.no_dark_halos,
            column_masks=not args.no_column_masks, tape_bumps=not args.no_tape_bumps,
            ghost_discs=not args.no_ghost_discs, brush_strokes=not args.no_brush_strokes,
            bright_arcs=not args.no_bright_arcs, blobs=not args.no_blobs,
            quiet=getattr(args, "quiet", False))
    except ValueError as err:
        raise InputError(None, str(err)) from None


# --------------------------------------------------------------------------- data
def _category_planes(mask: np.ndarray) -> np.ndarray:
    """(K, ny, nx) bool: one plane per category of :data:`CATEGORIES` from a bit mask."""
    return np.stack([(mask & CATEGORY_BITS[c]) != 0 for c in CATEGORIES])


def _visible_boxes(arts, planes: np.ndarray, window: tuple[int, int, int, int], scale: int,
                   min_side: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    """Boxes (in window pixels / scale) of the parts of ``arts`` visible in ``window``.

    ``planes`` are the window's category planes at the window's own scale. A box is the
    truth box clipped to the window, shrunk to the mask pixels of its category inside
    it; artifacts with no such pixel are dropped (they are not visible there).
    """
    x0, y0, x1, y1 = window
    boxes, labels = [], []
    h, w = planes.shape[1:]
    for a in arts:
        if a.category not in CATEGORIES:
            continue
        bx0, by0 = max(a.xmin, x0), max(a.ymin, y0)
        bx1, by1 = min(a.xmax, x1), min(a.ymax, y1)
        if bx1 <= bx0 or by1 <= by0:
            continue
        k = CATEGORIES.index(a.category)
        c0, r0 = int(math.floor((bx0 - x0) / scale)), int(math.floor((by0 - y0) / scale))
        c1, r1 = min(int(math.ceil((bx1 - x0) / scale)), w), min(int(math.ceil((by1 - y0) / scale)), h)
        sub = planes[k, r0:r1, c0:c1]
        rows, cols = np.flatnonzero(sub.any(axis=1)), np.flatnonzero(sub.any(axis=0))
        if rows.size == 0:
            continue
        box = [c0 + cols[0], r0 + rows[0], c0 + cols[-1] + 1, r0 + rows[-1] + 1]
        if box[2] - box[0] < min_side and box[3] - box[1] < min_side:
            continue
        boxes.append(box)
        labels.append(k + 1)
    if not boxes:
        return np.zeros((0, 4), np.float32), np.zeros(0, np.int64)
    return np.asarray(boxes, np.float32), np.asarray(labels, np.int64)


def make_sample(image: ImageRecord, window: tuple[int, int, int, int] | None, *, scale: int,
                band_order: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One sample: a window of the image binned by ``scale``, its category planes and boxes.

    Parameters
    ----------
    image : ImageRecord
        A training image (:func:`spacejunk.train.datasets.load_image_folder`).
    window : (x0, y0, x1, y1) or None
        Full-resolution pixels; None for the whole image.
    scale : int
        Binning factor of the sample (1 = full resolution).
    band_order : sequence of str
        The model's bands; bands the image lacks are zeros.

    Returns
    -------
    data : ndarray, shape (n_bands, h, w), float32
    planes : ndarray, shape (len(CATEGORIES), h, w), bool
    boxes : ndarray, shape (n, 4), float32
    labels : ndarray, shape (n,), int64
    """
    ny, nx = image.image.shape[1:]
    if window is None:
        window = (0, 0, nx, ny)
    x0, y0, x1, y1 = window
    arr = image.image[:, y0:y1, x0:x1].astype(np.float32)
    planes = _category_planes(image.mask[y0:y1, x0:x1])
    if scale > 1:
        arr = bin_image(arr, scale)
        planes = bin_image(planes, scale, func="max")
    data = np.zeros((len(band_order),) + arr.shape[1:], np.float32)
    for i, band in enumerate(band_order):
        if band in image.bands:
            data[i] = arr[image.bands.index(band)]
    boxes, labels = _visible_boxes(image.artifacts, planes, window, scale)
    return data, planes, boxes, labels


def augment_sample(data: np.ndarray, planes: np.ndarray, boxes: np.ndarray, *, preset: str,
                   rng: np.random.Generator, square: bool = True):
    """Apply a named augmentation preset to one sample (see :data:`AUGMENTATIONS`).

    Flips and turns move the boxes with the pixels; ``square=False`` allows only
    half-turns (so that the shapes of a batch of whole-image views stay equal).
    """
    if preset not in AUGMENTATIONS:
        raise ValueError(f"unknown augmentation preset {preset!r}; known: {', '.join(AUGMENTATIONS)}")
    p = AUGMENTATIONS[preset]
    boxes = boxes.copy()
    if p["flip"]:
        h, w = data.shape[1:]
        if rng.random() < 0.5:  # left-right
            data, planes = data[:, :, ::-1], planes[:, :, ::-1]
            boxes[:, [0, 2]] = w - boxes[:, [2, 0]]
        if rng.random() < 0.5:  # up-down
            data, planes = data[:, ::-1], planes[:, ::-1]
            boxes[:, [1, 3]] = h - boxes[:, [3, 1]]
    if p["rot90"] and square and data.shape[1] == data.shape[2] and rng.random() < 0.5:
        # transpose = rotation by 90 degrees combined with a flip
        data, planes = data.transpose(0, 2, 1), planes.transpose(0, 2, 1)
        boxes = boxes[:, [1, 0, 3, 2]]
    data = np.ascontiguousarray(data, dtype=np.float32)
    planes = np.ascontiguousarray(planes)
    if p["noise"] > 0:
        data = data + rng.normal(0, rng.uniform(0, p["noise"]), size=data.shape).astype(np.float32)
    if p["band_dropout"] > 0 and data.shape[0] > 1 and rng.random() < p["band_dropout"]:
        data[rng.integers(data.shape[0])] = 0.0
    return data, planes, boxes


def _tile_window(image: ImageRecord, tile: int, rng: np.random.Generator) -> tuple[int, int, int, int]:
    """A tile inside the image: half of the time around a random artifact, else uniform."""
    ny, nx = image.mask.shape
    th, tw = min(tile, ny), min(tile, nx)
    if image.artifacts and rng.random() < 0.5:
        a = image.artifacts[rng.integers(len(image.artifacts))]
        cx = rng.uniform(max(a.xmin, 0), max(min(a.xmax, nx), max(a.xmin, 0) + 1))
        cy = rng.uniform(max(a.ymin, 0), max(min(a.ymax, ny), max(a.ymin, 0) + 1))
        x0 = int(np.clip(cx - rng.uniform(0.1, 0.9) * tw, 0, nx - tw))
        y0 = int(np.clip(cy - rng.uniform(0.1, 0.9) * th, 0, ny - th))
    else:
        x0, y0 = int(rng.integers(0, nx - tw + 1)), int(rng.integers(0, ny - th + 1))
    return x0, y0, x0 + tw, y0 + th


def _batch(images: list[ImageRecord], settings: DetectorTrainSettings, band_order, rng, *, whole: bool,
           cache: dict, weights: dict | None = None):
    """A batch of (tensor images, targets); whole-image views are made once and kept in ``cache``.

    ``weights`` maps ``"tile"``/``"whole"`` to per-category loss weights (K,).
    """
    xs, targets = [], []
    for _ in range(settings.batch_size):
        i = int(rng.integers(len(images)))
        image = images[i]
        if whole:
            if i not in cache:
                cache[i] = make_sample(image, None, scale=settings.global_bin * settings.input_bin,
                                       band_order=band_order)
            data, planes, boxes, labels = cache[i]
        else:
            window = _tile_window(image, settings.tile, rng)
            data, planes, boxes, labels = make_sample(image, window, scale=settings.input_bin, band_order=band_order)
        data, planes, boxes = augment_sample(data, planes, boxes, preset=settings.augment, rng=rng, square=not whole)
        xs.append(torch.from_numpy(data))
        target = {"boxes": torch.from_numpy(boxes).float().reshape(-1, 4), "labels": torch.from_numpy(labels).long(),
                  "semantic": torch.from_numpy(planes.astype(np.float32))}
        if weights is not None:
            target["channel_weight"] = weights["whole" if whole else "tile"]
        targets.append(target)
    return xs, targets


# --------------------------------------------------------------------------- training
def view_categories(images: list[ImageRecord], *, tile: int) -> tuple[list[str], list[str]]:
    """Categories the tile view and the whole-image view report, from the truth's sizes.

    A category whose median box (longer side) fits in half a tile is reported by the
    tiles only; one longer than a tile by the whole-image view only; in between by both.
    Categories absent from the training truth are reported by both.

    Returns
    -------
    tile_categories, whole_categories : list of str
    """
    sizes: dict[str, list[float]] = {}
    for image in images:
        for a in image.artifacts:
            sizes.setdefault(a.category, []).append(max(a.xmax - a.xmin, a.ymax - a.ymin))
    tiles, whole = [], []
    for c in CATEGORIES:
        median = float(np.median(sizes[c])) if c in sizes else None
        if median is None or median <= tile:
            tiles.append(c)
        if median is None or median > tile / 2:
            whole.append(c)
    return tiles, whole


def _meta(settings: DetectorTrainSettings, band_order, history, seconds, steps, images) -> dict:
    views = [{"bin": settings.input_bin, "tile": settings.infer_tile or settings.tile, "overlap": settings.overlap}]
    if _whole_only(settings):
        views = [{"bin": settings.input_bin * settings.global_bin, "tile": None, "overlap": 0}]
    elif settings.global_bin > 0:
        views.append({"bin": settings.input_bin * settings.global_bin, "tile": None, "overlap": 0})
        views[0]["categories"], views[1]["categories"] = view_categories(images, tile=settings.tile)
    n_images = len(images)
    recipe = {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(settings).items() if k != "quiet"}
    return {"bands": list(band_order), "classes": list(CATEGORIES), "threshold": settings.threshold,
            "tile": settings.tile, "overlap": settings.overlap, "views": views,
            "normalisation": NORMALISATION.as_dict(), "task": "detector", "recipe": recipe,
            **finder_meta(trails=settings.trails, keys=[key for key in DETECTOR_FINDERS if getattr(settings, key)]),
            "history": history, "train_seconds": round(seconds, 1), "steps": steps, "n_train_images": n_images}


def _whole_only(settings: DetectorTrainSettings) -> bool:
    """True when the network learns the whole-image view alone."""
    return settings.global_bin > 0 and settings.global_fraction >= 1


def _whole_views(records, settings: DetectorTrainSettings, cache: dict, *,
                 band_order: Sequence[str] | None = None) -> list[ImageRecord]:
    """Bin each image as it comes (into ``cache``, keyed by its index) and keep its record without pixels.

    The model's bands are ``band_order``, else the settings' bands, else the first image's.
    """
    kept: list[ImageRecord] = []
    order = list(band_order or settings.bands or [])
    for record in records:
        order = order or list(record.bands)
        cache[len(kept)] = make_sample(record, None, scale=settings.global_bin * settings.input_bin, band_order=order)
        kept.append(replace(record, image=np.zeros((len(record.bands), 0, 0), np.float16),
                            mask=np.zeros((0, 0), np.int32), context=None))
    return kept


def train_detector(settings: DetectorTrainSettings, *, images: list[ImageRecord] | None = None) -> Path:
    """Train a detector and save its checkpoint to ``settings.out``.

    Parameters
    ----------
    settings : DetectorTrainSettings
    images : list of ImageRecord, optional
        Already-loaded training images (default: read ``settings.data``).

    Returns
    -------
    Path
        The checkpoint, saved after every epoch (and at the time limit) with meta
        ``bands``, ``classes``, ``threshold``, ``tile``, ``overlap``, ``views`` and the
        recipe and loss history.
    """
    torch.set_num_threads(settings.threads)
    torch.manual_seed(settings.seed)
    rng = np.random.default_rng(settings.seed)
    init_bands = None
    if settings.init:
        model, init_meta = load_checkpoint(settings.init)
        arch = init_meta["arch"]
        config = dict(torch.load(settings.init, map_location="cpu", weights_only=True)["config"])
        init_bands = init_meta.get("bands")
    cache: dict = {}
    if _whole_only(settings):
        records = images if images is not None else iter_image_folder(
            settings.data, bands=settings.bands, labels=settings.labels, images=settings.images,
            normalisation=NORMALISATION, context_bin=None, dtype=np.float16, quiet=settings.quiet)
        images = _whole_views(records, settings, cache, band_order=init_bands)
    elif images is None:
        images = load_image_folder(settings.data, bands=settings.bands, labels=settings.labels, images=settings.images,
                                   normalisation=NORMALISATION, context_bin=None, dtype=np.float16,
                                   quiet=settings.quiet)
    if not images:
        raise InputError(settings.data, "no training images")
    band_order = list(init_bands or settings.bands or images[0].bands)
    if not settings.init:
        arch = settings.arch
        config = dict(settings.config)
        config.update(n_bands=len(band_order), num_classes=len(CATEGORIES) + 1)
        model = build_model(arch, **config)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(params, lr=settings.lr, weight_decay=settings.weight_decay)
    total = settings.epochs * settings.steps_per_epoch
    warm = max(1, total // 20)

    start = time.monotonic()
    limit = None if settings.time_limit_min is None else settings.time_limit_min * 60

    def lr_at(step: int) -> float:
        # warm-up, then cosine decay over the steps, or over the time limit if that comes first
        if step < warm:
            return (step + 1) / warm
        progress = (step - warm) / max(1, total - warm)
        if limit is not None:
            progress = max(progress, (time.monotonic() - start) / limit)
        return 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimiser, lr_at)
    history: list[dict] = []
    step = 0
    stop = False
    use_global = settings.global_bin > 0 and settings.global_fraction > 0
    weights = None
    if use_global and not _whole_only(settings):  # each view learns only the categories it will report (see view_categories)
        tile_cats, whole_cats = view_categories(images, tile=settings.tile)
        weights = {"tile": torch.tensor([float(c in tile_cats) for c in CATEGORIES]),
                   "whole": torch.tensor([float(c in whole_cats) for c in CATEGORIES])}
    for epoch in range(settings.epochs):
        sums: dict[str, float] = {}
        n = 0
        bar = tqdm(range(settings.steps_per_epoch), desc=f"epoch {epoch + 1}/{settings.epochs}",
                   disable=settings.quiet, leave=False)
        for _ in bar:
            whole = use_global and rng.random() < settings.global_fraction
            xs, targets = _batch(images, settings, band_order, rng, whole=whole, cache=cache, weights=weights)
            losses = model(xs, targets)
            loss = sum(losses.values())
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 10.0)
            optimiser.step()
            scheduler.step()
            step += 1
            n += 1
            for k, v in losses.items():
                sums[k] = sums.get(k, 0.0) + float(v.detach())
            bar.set_postfix(loss=f"{float(loss.detach()):.3f}")
            if limit is not None and time.monotonic() - start > limit:
                stop = True
                break
        record = {"epoch": epoch + 1, "steps": step, **{k: round(v / max(n, 1), 5) for k, v in sums.items()}}
        history.append(record)
        log.info("epoch %d: %s (%.0f s)", epoch + 1,
                 ", ".join(f"{k} {v:.4f}" for k, v in record.items() if k.startswith("loss") or k in
                           ("classification", "bbox_regression")), time.monotonic() - start)
        model.eval()
        save_checkpoint(settings.out, model, arch=arch, config=config, half=True,
                        meta=_meta(settings, band_order, history, time.monotonic() - start, step, images))
        model.train()
        if stop:
            log.info("time limit of %.1f min reached after %d steps", settings.time_limit_min, step)
            break
    return Path(settings.out)

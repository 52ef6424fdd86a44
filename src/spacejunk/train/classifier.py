"""Training the multi-band tile classifier on simulated (or labelled) images.

A training sample is a window of a training image (768 x 768 by default, half of them
centred on an artifact) holding a grid of 200 x 200 tiles of random phase, kept away
from the window's inner edges so that each tile sees real pixels around it as in
inference (the full-resolution branch is fully convolutional), plus the binned whole
image for the context branch. A tile's target is whether the truth mask covers at least
``min_fraction`` of it, as in evaluation; the loss is balanced between positive and
negative tiles, and dense coverage targets of every stride-32 cell and context cell add
many cheap labels. Validation runs the model the way inference does: once over each whole
validation image, scoring the ``tiles.csv`` grid. ``spacejunk train classifier`` runs
:func:`train_classifier` with settings built by :func:`build_parser`.
"""

from __future__ import annotations

import argparse
import copy
import logging
import math
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from .._errors import InputError
from ..categories import CATEGORY_BITS, FLAGGED_BITS
from ..io.exposure import BAND_ORDER
from ..models.classifier import ARCH
from ..models.registry import build_model, load_checkpoint, save_checkpoint
from ..predict.finders import FINDERS, finder_meta
from ..preprocess import BACKGROUNDS, bin_image, tile_fractions
from .datasets import ImageRecord, Normalisation, load_image_folder, parse_image_list

__all__ = [
    "AUGMENTATIONS",
    "SCHEDULES",
    "POSITIVE_SAMPLING",
    "ClassifierTrainSettings",
    "TrainedClassifier",
    "build_parser",
    "settings_from_args",
    "train_classifier",
]

log = logging.getLogger("spacejunk")

#: Named augmentation presets. Every one respects the physics of the images: flips and
#: transposes (the sky has no preferred direction, DECam columns aside), a shallower
#: exposure (extra noise of up to ``noise`` sigma, the signal scaled down so the noise
#: stays at 1), a residual sky offset (``sky`` sigma), a noise estimate off by up to
#: ``gain`` (relative), and band dropout (the fraction of samples given a random proper
#: subset of their bands, so that the model works on any subset).
AUGMENTATIONS: dict[str, dict] = {
    "none": {"flip": False, "transpose": False, "noise": 0.0, "sky": 0.0, "gain": 0.0, "band_dropout": 0.0},
    "geometric": {"flip": True, "transpose": True, "noise": 0.0, "sky": 0.0, "gain": 0.0, "band_dropout": 0.5},
    "physics": {"flip": True, "transpose": True, "noise": 0.5, "sky": 0.05, "gain": 0.1, "band_dropout": 0.5},
}

#: Categories the simulator puts in one band only (each band is its own exposure): dropping
#: that band would leave a positive target with nothing to see, so windows holding one of
#: them keep all their bands.
ONE_BAND_CATEGORIES = ("satellite", "airplane", "cosmic-ray")
ONE_BAND_BITS = sum(CATEGORY_BITS[c] for c in ONE_BAND_CATEGORIES)

#: Finders whose artifacts raise the classifier's tile scores by default (the cosmic-ray
#: finder's add more false tiles than true ones on validation images, and so do the
#: tape-bump finder's; the bad-column finder costs about 0.8 s per image, the odd-blob finder
#: about 1 s; the brush strokes score the tiles their streaks cross, docs/classifier.md).
CLASSIFIER_FINDERS: tuple[str, ...] = ("cross_talk", "dark_halos", "column_masks", "ghost_discs", "brush_strokes",
                                       "edge_bleeds", "sky_excess", "blobs")

#: Learning-rate schedules: ``onecycle`` (10% warm-up from a tenth of the peak, cosine
#: annealing to a thousandth, as torch's OneCycleLR) or ``cosine`` (5% linear warm-up,
#: cosine decay to 0). With a time limit the schedule follows the clock when the limit
#: would end the run before its last step, so that a budgeted run still anneals.
SCHEDULES: tuple[str, ...] = ("onecycle", "cosine")

#: How the windows centred on an artifact choose it: ``tile`` draws a positive tile at
#: random (large ghosts, thousands of tiles, then fill most windows); ``category`` first
#: draws a category with probability proportional to the square root of its number of
#: positive tiles, then one of its tiles (small, rare kinds such as brush strokes and tape
#: bumps are seen more often, ghosts still most often).
POSITIVE_SAMPLING: tuple[str, ...] = ("tile", "category")


@dataclass(frozen=True)
class ClassifierTrainSettings:
    """Everything a classifier training run depends on (recorded in the checkpoint).

    Attributes
    ----------
    data : str
        Training data folder (``spacejunk simulate`` output, or images with ``labels``).
    out : str
        Checkpoint to write (the best epoch on validation).
    val_data : str or None
        Validation folder; default: ``val_fraction`` of the training images, held out.
    labels : str or None
        Labels CSV (circles) to train on instead of the simulator's truth.
    images : tuple of str or None
        Train on these images of ``data`` only (default all): with ``labels`` from a
        partly reviewed folder, the reviewed ones, so the others are not taken as clean.
    init : str or None
        Checkpoint to start from (fine-tuning: its bands, architecture and normalisation are kept).
    bands : tuple of str or None
        Band slots of the model; default every band of the training data, in wavelength order.
    epochs, steps_per_epoch, batch_size : int
        ``epochs * steps_per_epoch`` optimiser steps of ``batch_size`` windows.
    window : int
        Side of the training windows, pixels (a multiple of 32); each holds several tiles.
    lr, weight_decay : float
        AdamW peak learning rate and weight decay.
    schedule : str
        One of :data:`SCHEDULES`.
    patience : int
        Stop after this many epochs without a better validation average precision (0: never).
    balance : float
        Share of the tile loss carried by positive tiles (the prototype tried 0.5 and 0.2), and
        the fraction of windows centred on a positive tile.
    positives : str
        How windows centred on an artifact pick it, one of :data:`POSITIVE_SAMPLING`.
    ema : float
        Decay of an exponential moving average of the weights (0: none). With it, the
        average is what is validated and saved: it moves less from one epoch to the
        next than the raw weights, so the epoch and the threshold chosen on
        validation hang less on the last few steps.
    augment : str
        Name of an :data:`AUGMENTATIONS` preset.
    min_fraction : float
        Covered fraction from which a tile is positive (default 0.01).
    soft_labels : bool
        Target ``min(fraction / min_fraction, 1)`` instead of 0/1 (partly covered tiles count partly).
    aux_weight : float
        Weight of the dense coverage losses (every stride-32 cell of the crops and every cell of
        the context map); 0 trains on the tile labels alone.
    tile : int
        Tile size, pixels.
    crop_margin : int
        Least distance of a training tile from a window edge inside the image, pixels (the
        deepest features see ~90 px around them).
    lattice : int
        Step of the lattice of candidate tile positions (positions are jittered by up to
        half of it).
    widths, blocks, context, context_bin, hidden : model options
        See :class:`spacejunk.models.classifier.TileClassifier`.
    val_fraction : float
        Images held out for validation when ``val_data`` is not given.
    target_recall : float
        The model's threshold is the highest reaching this tile recall on the validation images.
    trails : bool
        Straight trails found by the Radon transform (:mod:`spacejunk.predict.trails`)
        raise the scores of the tiles they cross, at validation and (recorded in the
        checkpoint) at inference; the threshold is chosen with them.
    finders : tuple of str
        Other finders (keys of :data:`spacejunk.predict.finders.FINDERS`) whose artifacts
        raise the scores of the tiles they cover, likewise (default cross-talk, dark halos,
        bad columns and odd blobs; the cosmic-ray finder adds more false tiles than it finds
        on validation).
    fill_dark_halos : bool
        With the dark-halo finder among ``finders``, the halos it finds are filled with sky
        in the network's input at validation and (recorded in the checkpoint) at inference
        (:func:`spacejunk.predict.classifier.network_scores`): the network flags a ring
        of tiles beyond a large halo, whose own tiles are the finder's.
    mask_flagged : bool
        Pixels DESDM has flagged as bad, saturated or bleed trail
        (:data:`spacejunk.categories.FLAGGED_BITS`) are set to the sky in the network's
        input, at training and (recorded in the checkpoint's normalisation) at inference;
        fine-tuning (``init``) keeps the checkpoint's own normalisation instead.
    background : {"none", "amplifiers", "plane"}
        ``"amplifiers"`` brings the two amplifiers' halves of each band to one sky level
        in the network's input (:func:`spacejunk.preprocess.amplifier_step`); ``"plane"``
        subtracts a robust plane per amplifier (:func:`spacejunk.preprocess.sky_planes`),
        the sky's gradient with it. Recorded in the checkpoint like ``mask_flagged``.
    time_limit_min : float or None
        Stop training after this many minutes (counted from the start, data loading
        included); the learning-rate schedule then follows the clock.
    seed : int
    threads : int
        Torch CPU threads (at most 2 on the shared machines).
    quiet : bool
    """

    data: str
    out: str
    val_data: str | None = None
    labels: str | None = None
    images: tuple[str, ...] | None = None
    init: str | None = None
    bands: tuple[str, ...] | None = None
    epochs: int = 30
    steps_per_epoch: int = 100
    batch_size: int = 4
    window: int = 768
    lr: float = 3e-3
    weight_decay: float = 1e-4
    schedule: str = "onecycle"
    patience: int = 8
    balance: float = 0.5
    positives: str = "tile"
    ema: float = 0.0
    augment: str = "physics"
    min_fraction: float = 0.01
    soft_labels: bool = False
    aux_weight: float = 0.5
    tile: int = 200
    crop_margin: int = 64
    lattice: int = 20
    widths: tuple[int, ...] = (24, 48, 64, 96)
    blocks: tuple[int, ...] = (1, 1, 1)
    context: bool = True
    context_bin: int = 16
    hidden: int = 64
    val_fraction: float = 0.2
    target_recall: float = 0.95
    trails: bool = True
    finders: tuple[str, ...] = CLASSIFIER_FINDERS
    fill_dark_halos: bool = True
    mask_flagged: bool = False
    background: str = "none"
    time_limit_min: float | None = None
    seed: int = 0
    threads: int = 2
    quiet: bool = False

    def __post_init__(self) -> None:
        if self.augment not in AUGMENTATIONS:
            raise ValueError(f"unknown augmentation preset {self.augment!r}; known: {', '.join(AUGMENTATIONS)}")
        if self.positives not in POSITIVE_SAMPLING:
            raise ValueError(f"unknown positive sampling {self.positives!r}; known: {', '.join(POSITIVE_SAMPLING)}")
        if not 0.0 <= self.ema < 1.0:
            raise ValueError(f"ema must be in [0, 1), got {self.ema}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"unknown schedule {self.schedule!r}; known: {', '.join(SCHEDULES)}")
        if self.background not in BACKGROUNDS:
            raise ValueError(f"unknown background {self.background!r}; known: {', '.join(BACKGROUNDS)}")
        for name in ("epochs", "steps_per_epoch", "batch_size", "tile", "lattice", "threads", "context_bin",
                     "hidden", "window"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.window % 32:
            raise ValueError(f"window must be a multiple of 32, got {self.window}")
        if not 0.0 < self.balance < 1.0:
            raise ValueError(f"balance must be in (0, 1), got {self.balance}")
        if not 0.0 <= self.min_fraction <= 1.0:
            raise ValueError(f"min_fraction must be in [0, 1], got {self.min_fraction}")
        if not 0.0 < self.target_recall <= 1.0:
            raise ValueError(f"target_recall must be in (0, 1], got {self.target_recall}")
        if not 0.0 <= self.val_fraction < 1.0:
            raise ValueError(f"val_fraction must be in [0, 1), got {self.val_fraction}")
        if self.crop_margin < 0 or self.patience < 0 or self.lr <= 0 or self.aux_weight < 0:
            raise ValueError("crop_margin, patience and aux_weight must be >= 0 and lr > 0")
        unknown = [k for k in self.finders if k not in FINDERS]
        if unknown:
            raise ValueError(f"unknown finders {unknown}; known: {', '.join(FINDERS)}")
        if self.threads > 2:
            log.warning("threads=%d: the shared machines have 2 cores", self.threads)


@dataclass
class TrainedClassifier:
    """What :func:`train_classifier` returns.

    Attributes
    ----------
    path : Path
        The checkpoint written.
    model : TileClassifier
        The best model (eval mode).
    meta : dict
        Its metadata (as in the checkpoint).
    """

    path: Path
    model: torch.nn.Module
    meta: dict = field(default_factory=dict)


# --------------------------------------------------------------------------- command line
def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    """Add the options of ``spacejunk train classifier`` to ``parser`` (a new one if None)."""
    p = parser or argparse.ArgumentParser(prog="spacejunk train classifier",
                                          description="train the multi-band tile classifier")
    d = ClassifierTrainSettings(data="", out="")
    p.add_argument("--data", required=True, help="training folder (spacejunk simulate output, or images + --labels)")
    p.add_argument("--out", required=True, help="checkpoint to write (.pt)")
    p.add_argument("--val-data", help="validation folder (default: hold out --val-fraction of the training images)")
    p.add_argument("--labels", help="labels CSV (image,x,y,size[,radius][,category]) instead of the simulator's truth")
    p.add_argument("--images", help="only these training images: a file with one name per line (such as the "
                                    "<labels>.images.txt of `spacejunk review --export`: the reviewed images) or "
                                    "names separated by commas")
    p.add_argument("--init", help="checkpoint to fine-tune (keeps its bands, architecture and normalisation)")
    p.add_argument("--bands", help="comma-separated band slots (default: all bands of the data)")
    p.add_argument("--epochs", type=int, default=d.epochs, help=f"epochs (default {d.epochs})")
    p.add_argument("--steps-per-epoch", type=int, default=d.steps_per_epoch,
                   help=f"optimiser steps per epoch (default {d.steps_per_epoch})")
    p.add_argument("--batch-size", type=int, default=d.batch_size,
                   help=f"windows per step (default {d.batch_size})")
    p.add_argument("--window", type=int, default=d.window,
                   help=f"side of the training windows, a multiple of 32 (default {d.window})")
    p.add_argument("--lr", type=float, default=d.lr, help=f"AdamW peak learning rate (default {d.lr})")
    p.add_argument("--schedule", default=d.schedule, help=f"learning-rate schedule: {', '.join(SCHEDULES)} "
                                                          f"(default {d.schedule})")
    p.add_argument("--patience", type=int, default=d.patience,
                   help=f"early stopping: epochs without improvement (default {d.patience}, 0 = never)")
    p.add_argument("--balance", type=float, default=d.balance,
                   help=f"share of the tile loss carried by positive tiles (default {d.balance})")
    p.add_argument("--positives", default=d.positives, choices=POSITIVE_SAMPLING,
                   help=f"how windows centred on an artifact pick it: a random positive tile, or a category "
                        f"(square-root balanced) then one of its tiles (default {d.positives})")
    p.add_argument("--ema", type=float, default=d.ema,
                   help=f"decay of a moving average of the weights, validated and saved instead of them "
                        f"(0: none; default {d.ema})")
    p.add_argument("--augment", default=d.augment, help=f"augmentation preset: {', '.join(AUGMENTATIONS)} "
                                                        f"(default {d.augment})")
    p.add_argument("--min-fraction", type=float, default=d.min_fraction,
                   help=f"covered fraction of a positive tile (default {d.min_fraction})")
    p.add_argument("--soft-labels", action="store_true", help="target min(fraction / min-fraction, 1) instead of 0/1")
    p.add_argument("--aux-weight", type=float, default=d.aux_weight,
                   help=f"weight of the dense coverage losses, 0 for none (default {d.aux_weight})")
    p.add_argument("--crop-margin", type=int, default=d.crop_margin,
                   help=f"least pixels between a training tile and a window edge (default {d.crop_margin})")
    p.add_argument("--widths", default=",".join(map(str, d.widths)),
                   help="channels at strides 4,8,16,32 (default %(default)s)")
    p.add_argument("--blocks", default=",".join(map(str, d.blocks)),
                   help="extra blocks at strides 8,16,32 (default %(default)s)")
    p.add_argument("--no-context", action="store_true", help="no whole-image context branch (ablation)")
    p.add_argument("--no-trails", action="store_true",
                   help="do not add the straight-trail finder's tiles to the network's (ablation)")
    p.add_argument("--finders", default=",".join(d.finders),
                   help=f"other finders whose tiles are added to the network's, among {', '.join(FINDERS)}; "
                        "'' for none (default %(default)s)")
    p.add_argument("--no-fill-dark-halos", action="store_true",
                   help="do not fill the dark halos the finder finds with sky in the network's input (ablation)")
    p.add_argument("--mask-flagged", action="store_true",
                   help="set pixels DESDM flags as bad, saturated or bleed trail to the sky in the network's input")
    p.add_argument("--background", choices=BACKGROUNDS, default=d.background,
                   help="'amplifiers': bring each band's two amplifiers to one sky level in the network's input; "
                        "'plane': subtract a robust plane per amplifier (default %(default)s)")
    p.add_argument("--context-bin", type=int, default=d.context_bin,
                   help=f"binning of the whole-image context (default {d.context_bin})")
    p.add_argument("--val-fraction", type=float, default=d.val_fraction,
                   help=f"images held out without --val-data (default {d.val_fraction})")
    p.add_argument("--target-recall", type=float, default=d.target_recall,
                   help=f"the threshold is set for this tile recall on validation (default {d.target_recall})")
    p.add_argument("--time-limit", type=float, help="stop training after this many minutes")
    p.add_argument("--seed", type=int, default=d.seed, help=f"random seed (default {d.seed})")
    p.add_argument("--threads", type=int, default=d.threads, help=f"torch CPU threads (default {d.threads})")
    return p


def _ints(text: str, name: str, n: int) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in str(text).split(","))
    except ValueError:
        raise InputError(None, f"{name} must be {n} comma-separated integers, got {text!r}") from None
    if len(values) != n:
        raise InputError(None, f"{name} must be {n} comma-separated integers, got {text!r}")
    return values


def settings_from_args(args: argparse.Namespace) -> ClassifierTrainSettings:
    """The frozen settings of parsed ``spacejunk train classifier`` arguments."""
    bands = tuple(b.strip() for b in args.bands.split(",") if b.strip()) if args.bands else None
    try:
        return ClassifierTrainSettings(
            data=args.data, out=args.out, val_data=args.val_data, labels=args.labels,
            images=parse_image_list(args.images), init=args.init, bands=bands,
            epochs=args.epochs, steps_per_epoch=args.steps_per_epoch, batch_size=args.batch_size,
            window=args.window, lr=args.lr,
            schedule=args.schedule, patience=args.patience, balance=args.balance, augment=args.augment,
            positives=args.positives, ema=args.ema,
            min_fraction=args.min_fraction, soft_labels=args.soft_labels, aux_weight=args.aux_weight,
            crop_margin=args.crop_margin,
            widths=_ints(args.widths, "--widths", 4), blocks=_ints(args.blocks, "--blocks", 3),
            context=not args.no_context, context_bin=args.context_bin, val_fraction=args.val_fraction,
            target_recall=args.target_recall, trails=not args.no_trails,
            finders=tuple(k.strip() for k in args.finders.split(",") if k.strip()),
            fill_dark_halos=not args.no_fill_dark_halos,
            mask_flagged=args.mask_flagged, background=args.background, time_limit_min=args.time_limit,
            seed=args.seed, threads=args.threads,
            quiet=getattr(args, "quiet", False))
    except ValueError as err:
        raise InputError(None, str(err)) from None


# --------------------------------------------------------------------------- data
def _band_key(band: str) -> tuple[int, int, str]:
    return (0, BAND_ORDER.index(band), band) if band in BAND_ORDER else (1, 0, band)


@dataclass(eq=False)
class _Image:
    """A training image in the model's band slots, with what tile sampling needs."""

    name: str
    image: np.ndarray          # (n_slots, ny, nx) float16
    present: np.ndarray        # (n_slots,) float32
    covered: np.ndarray        # (ny, nx) bool
    mask: np.ndarray | None    # (ny, nx) int32 category bits (validation only)
    context: np.ndarray | None  # (n_slots, cy, cx) float32
    ctx_cover: np.ndarray | None  # (cy / 8, cx / 8) float32 covered fraction of each context-map cell
    origins: np.ndarray        # (m, 2) int: candidate (y0, x0)
    fractions: np.ndarray      # (m,) covered fraction of each candidate
    one_band: np.ndarray | None = None  # (ny / 32, nx / 32) bool: cells holding a one-band artifact
    finder_scores: np.ndarray | None = None  # (n_tiles,) finders' score of each validation tile (tile_grid order)
    halos: list = field(default_factory=list)  # dark-halo boxes filled with sky at validation
    categories: np.ndarray | None = None  # (m,) int: category bits covering each candidate >= min_fraction
    #                                        (made for ``positives="category"`` only)

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.image.shape[1:])  # type: ignore[return-value]


def _axis_starts(n: int, tile: int, step: int) -> np.ndarray:
    if n <= tile:
        return np.zeros(1, np.int64)
    return np.unique(np.r_[np.arange(0, n - tile + 1, step), n - tile])


def _to_slots(rec: ImageRecord, slots: tuple[str, ...], settings: ClassifierTrainSettings, *,
              keep_mask: bool) -> _Image:
    ny, nx = rec.shape
    if tuple(rec.bands) == tuple(slots) and rec.image.dtype == np.float16:
        image = rec.image                       # already in the slots' order: no copy
        present = np.ones(len(slots), np.float32)
    else:
        image = np.zeros((len(slots), ny, nx), np.float16)
        present = np.zeros(len(slots), np.float32)
        for i, b in enumerate(rec.bands):
            if b in slots:
                image[slots.index(b)] = rec.image[i]
                present[slots.index(b)] = 1.0
    covered = rec.mask != 0
    th, tw = min(settings.tile, ny), min(settings.tile, nx)
    ys = _axis_starts(ny, th, settings.lattice)
    xs = _axis_starts(nx, tw, settings.lattice)
    y0, x0 = np.meshgrid(ys, xs, indexing="ij")
    y0, x0 = y0.ravel(), x0.ravel()
    boxes = np.stack([x0, y0, x0 + tw, y0 + th], 1)
    fractions = tile_fractions(covered, boxes)
    context = ctx_cover = None
    if settings.context:
        context = bin_image(image.astype(np.float32), settings.context_bin)
        ctx_cover = bin_image(covered.astype(np.float32), 8 * settings.context_bin)
    one_band = bin_image((rec.mask & ONE_BAND_BITS) != 0, 32, func="max")
    categories = None
    if settings.positives == "category":  # only the category sampler reads them
        categories = np.zeros(len(fractions), np.int64)
        bits_here = int(np.bitwise_or.reduce(rec.mask, axis=None)) if rec.mask.size else 0
        for bit in CATEGORY_BITS.values():
            if bits_here & bit:
                f = tile_fractions((rec.mask & bit) != 0, boxes)
                categories[(f >= settings.min_fraction) & (f > 0)] |= bit
    return _Image(rec.name, image, present, covered, rec.mask if keep_mask else None, context, ctx_cover,
                  np.stack([y0, x0], 1), fractions, one_band, categories=categories)


def _split(records: list[ImageRecord], fraction: float, seed: int) -> tuple[list[int], list[int]]:
    n = len(records)
    if n < 2 or fraction <= 0:
        return list(range(n)), []
    n_val = min(n - 1, max(1, round(fraction * n)))
    order = np.random.default_rng(seed).permutation(n)
    return sorted(order[n_val:].tolist()), sorted(order[:n_val].tolist())


class _TileSampler:
    """Draws batches of windows of the training images, each holding several labelled tiles.

    A window is ``window`` x ``window`` pixels; with probability ``balance`` it is centred
    on a positive tile position (else anywhere). Its tiles lie on a grid of random phase
    (aligned with the image border where the window touches it), at least ``crop_margin``
    pixels from the window's inner edges, so that every tile sees real pixels around it as
    in inference. Each window also carries its binned whole image (context) and the
    coverage of its stride-32 cells and context cells (dense targets).
    """

    def __init__(self, images: list[_Image], settings: ClassifierTrainSettings, rng: np.random.Generator):
        self.images = images
        self.s = settings
        self.rng = rng
        idx_pos = []
        for k, im in enumerate(images):
            pos = (im.fractions >= settings.min_fraction) & (im.fractions > 0)
            idx_pos.append(np.stack([np.full(pos.sum(), k), np.flatnonzero(pos)], 1))
        self.pos = np.concatenate(idx_pos) if idx_pos else np.zeros((0, 2), int)
        if not len(self.pos):
            log.warning("no positive tile in the training images: the classifier learns only negatives")
        # positives of each category (a tile holding two categories is in both lists)
        self.by_category: list[np.ndarray] = []
        self.category_p = np.zeros(0)
        if settings.positives == "category" and len(self.pos):
            cats = np.array([images[k].categories[j] if images[k].categories is not None else 0
                             for k, j in self.pos], np.int64)
            for bit in CATEGORY_BITS.values():
                rows = np.flatnonzero(cats & bit)
                if len(rows):
                    self.by_category.append(rows)
            other = np.flatnonzero(cats == 0)  # positive without a category bit (labels without categories)
            if len(other):
                self.by_category.append(other)
            w = np.sqrt([len(r) for r in self.by_category])
            self.category_p = w / w.sum()
        shapes = {im.context.shape[1:] for im in images if im.context is not None}
        self.ctx_shape = tuple(max(s[i] for s in shapes) for i in (0, 1)) if shapes else None

    def _positive(self, rng: np.random.Generator) -> int:
        """Row of :attr:`pos` to centre a window on (see :data:`POSITIVE_SAMPLING`)."""
        if not self.by_category:
            return int(rng.integers(len(self.pos)))
        rows = self.by_category[int(rng.choice(len(self.by_category), p=self.category_p))]
        return int(rows[rng.integers(len(rows))])

    def _window_start(self, centre: float, n: int, size: int) -> int:
        if n <= size:
            return 0
        return int(np.clip(round(centre - size / 2), 0, n - size))

    def _tile_starts(self, w0: int, w: int, n: int, t: int) -> list[int]:
        """Tile starts inside the window [w0, w0 + w) of an axis of length n, margin on inner edges."""
        m = self.s.crop_margin
        lo = w0 if w0 == 0 else w0 + m
        hi = (w0 + w) if w0 + w >= n else (w0 + w - m)
        if hi - lo < t:
            return [int(np.clip((lo + hi - t) // 2, 0, max(n - t, 0)))] if n <= t or hi - lo >= t // 2 else []
        if w0 == 0:
            phase = 0
        elif w0 + w >= n:
            phase = (hi - lo) % t
        else:
            phase = int(self.rng.integers(0, (hi - lo) % t + 1))
        return list(range(lo + phase, hi - t + 1, t))

    def batch(self) -> dict:
        s, rng = self.s, self.rng
        B, W = s.batch_size, s.window
        n_slots = self.images[0].image.shape[0]
        W32 = -(-W // 32)
        crops = np.zeros((B, n_slots, W, W), np.float32)
        fine_cover = np.full((B, W32, W32), -1.0, np.float32)
        ctx = ctx_cover = None
        if self.ctx_shape is not None:
            ctx = np.zeros((B, n_slots, *self.ctx_shape), np.float32)
            ctx_cover = np.full((B, -(-self.ctx_shape[0] // 8), -(-self.ctx_shape[1] // 8)), -1.0, np.float32)
        boxes, gboxes, fractions = [], [], []
        shapes = np.zeros((B, 2), np.int64)
        present = np.zeros((B, n_slots), np.float32)
        keep_bands = np.zeros(B, bool)
        for b in range(B):
            if len(self.pos) and rng.random() < s.balance:
                k, j = self.pos[self._positive(rng)]
                im = self.images[k]
                ty, tx = im.origins[j] + s.tile / 2 + rng.uniform(-W / 4, W / 4, 2)
            else:
                im = self.images[int(rng.integers(len(self.images)))]
                ty, tx = rng.uniform(0, im.shape[0]), rng.uniform(0, im.shape[1])
            ny, nx = im.shape
            wy0, wx0 = self._window_start(ty, ny, W), self._window_start(tx, nx, W)
            piece = im.image[:, wy0:wy0 + W, wx0:wx0 + W]
            h, w = piece.shape[1:]
            crops[b, :, :h, :w] = piece
            cov = np.zeros((32 * W32, 32 * W32), np.float32)
            cov[:h, :w] = im.covered[wy0:wy0 + h, wx0:wx0 + w]
            cells = cov.reshape(W32, 32, W32, 32).mean(axis=(1, 3))
            hv, wv = -(-h // 32), -(-w // 32)
            fine_cover[b, :hv, :wv] = cells[:hv, :wv]
            th, tw = min(s.tile, ny), min(s.tile, nx)
            for y0 in self._tile_starts(wy0, h, ny, th):
                for x0 in self._tile_starts(wx0, w, nx, tw):
                    fractions.append(im.covered[y0:y0 + th, x0:x0 + tw].mean())
                    boxes.append((b, x0 - wx0, y0 - wy0, x0 - wx0 + tw, y0 - wy0 + th))
                    gboxes.append((b, x0, y0, x0 + tw, y0 + th))
            shapes[b] = (ny, nx)
            present[b] = im.present
            if im.one_band is not None:
                keep_bands[b] = im.one_band[wy0 // 32:-(-(wy0 + h) // 32), wx0 // 32:-(-(wx0 + w) // 32)].any()
            if ctx is not None:
                c = im.context
                ctx[b, :, :c.shape[1], :c.shape[2]] = c
                cc = im.ctx_cover
                ctx_cover[b, :cc.shape[0], :cc.shape[1]] = cc
        fractions = np.asarray(fractions, np.float32)
        if s.soft_labels and s.min_fraction > 0:
            target = np.minimum(fractions / s.min_fraction, 1.0)
        else:
            target = ((fractions >= s.min_fraction) & (fractions > 0)).astype(np.float32)
        return {"crops": crops, "context": ctx, "boxes": np.asarray(boxes, np.float32).reshape(-1, 5),
                "gboxes": np.asarray(gboxes, np.float32).reshape(-1, 5), "shapes": shapes, "present": present,
                "target": target.astype(np.float32), "fractions": fractions, "fine_cover": fine_cover,
                "ctx_cover": ctx_cover, "keep_bands": keep_bands}


def _augment(batch: dict, preset: str, rng: np.random.Generator, normalisation: Normalisation,
             context_bin: int) -> dict[str, torch.Tensor]:
    """The batch as tensors, augmented by the named preset (see :data:`AUGMENTATIONS`)."""
    if preset not in AUGMENTATIONS:
        raise ValueError(f"unknown augmentation preset {preset!r}; known: {', '.join(AUGMENTATIONS)}")
    a = AUGMENTATIONS[preset]
    crops = batch["crops"]
    ctx = batch["context"]
    fine = batch.get("fine_cover")
    ccov = batch.get("ctx_cover")
    boxes, gboxes = batch["boxes"].copy(), batch["gboxes"].copy()
    shapes = batch["shapes"]
    present = batch["present"].copy()
    B, C, S, _ = crops.shape
    if a["flip"]:
        owner = boxes[:, 0].astype(int)
        for b in range(B):
            ny, nx = shapes[b]
            rows = owner == b
            if rng.random() < 0.5:  # left-right
                crops[b] = crops[b, :, :, ::-1]
                boxes[np.ix_(rows, [1, 3])] = S - boxes[np.ix_(rows, [3, 1])]
                gboxes[np.ix_(rows, [1, 3])] = nx - gboxes[np.ix_(rows, [3, 1])]
                if fine is not None:
                    fine[b] = fine[b, :, ::-1]
                if ctx is not None:
                    w = -(-nx // context_bin)
                    ctx[b, :, :, :w] = ctx[b, :, :, :w][:, :, ::-1]
                if ccov is not None:
                    w = -(-nx // (8 * context_bin))
                    ccov[b, :, :w] = ccov[b, :, :w][:, ::-1]
            if rng.random() < 0.5:  # up-down
                crops[b] = crops[b, :, ::-1, :]
                boxes[np.ix_(rows, [2, 4])] = S - boxes[np.ix_(rows, [4, 2])]
                gboxes[np.ix_(rows, [2, 4])] = ny - gboxes[np.ix_(rows, [4, 2])]
                if fine is not None:
                    fine[b] = fine[b, ::-1, :]
                if ctx is not None:
                    h = -(-ny // context_bin)
                    ctx[b, :, :h, :] = ctx[b, :, :h, :][:, ::-1, :]
                if ccov is not None:
                    h = -(-ny // (8 * context_bin))
                    ccov[b, :h, :] = ccov[b, :h, :][::-1, :]
    x = torch.from_numpy(crops)
    c = None if ctx is None else torch.from_numpy(ctx)
    fc = None if fine is None else torch.from_numpy(np.ascontiguousarray(fine))
    cc = None if ccov is None else torch.from_numpy(np.ascontiguousarray(ccov))
    if a["transpose"] and rng.random() < 0.5:  # the whole batch: contexts keep one shape
        x = x.transpose(2, 3)
        c = None if c is None else c.transpose(2, 3)
        fc = None if fc is None else fc.transpose(1, 2)
        cc = None if cc is None else cc.transpose(1, 2)
        boxes = boxes[:, [0, 2, 1, 4, 3]]
        gboxes = gboxes[:, [0, 2, 1, 4, 3]]
    if a["noise"] > 0 or a["sky"] > 0 or a["gain"] > 0:
        x, c = _photometric(x, c, a, rng, normalisation, context_bin)
    if a["band_dropout"] > 0 and C > 1:
        keep_bands = batch.get("keep_bands", np.zeros(B, bool))
        for b in range(B):
            have = np.flatnonzero(present[b])
            if len(have) > 1 and not keep_bands[b] and rng.random() < a["band_dropout"]:
                keep = rng.choice(have, size=int(rng.integers(1, len(have))), replace=False)
                present[b] = 0.0
                present[b, keep] = 1.0
    return {"crops": x.contiguous(memory_format=torch.channels_last),
            "context": None if c is None else c.contiguous(),
            "boxes": torch.from_numpy(np.ascontiguousarray(boxes)),
            "gboxes": torch.from_numpy(np.ascontiguousarray(gboxes)),
            "present": torch.from_numpy(present), "target": torch.from_numpy(batch["target"]),
            "fine_cover": None if fc is None else fc.contiguous(), "ctx_cover": None if cc is None else cc.contiguous()}


def _photometric(x: torch.Tensor, c: torch.Tensor | None, a: dict, rng: np.random.Generator,
                 normalisation: Normalisation, context_bin: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Shallower exposure, sky offset and noise-scale error on half of the samples, in linear sigma units.

    The crops are converted back to linear units (``a sinh(v / a)`` for the asinh stretch),
    changed, and stretched again. The context (binned means, mostly within a few sigma of
    the sky where the stretch is linear) is changed linearly, its extra noise ignored
    (``noise / context_bin`` sigma).
    """
    B, C = x.shape[:2]
    idx = np.flatnonzero(rng.random(B) < 0.5)
    if not len(idx):
        return x, c
    n = len(idx)
    asinh = normalisation.stretch == "asinh"
    soft = float(normalisation.softening)
    sigma = torch.from_numpy(rng.uniform(0, a["noise"], (n, 1, 1, 1)).astype(np.float32))
    scale = 1.0 / torch.sqrt(1.0 + sigma**2)
    gain = torch.from_numpy(rng.uniform(1 - a["gain"], 1 + a["gain"], (n, C, 1, 1)).astype(np.float32))
    sky = torch.from_numpy(rng.normal(0, a["sky"], (n, C, 1, 1)).astype(np.float32))
    gen = torch.Generator().manual_seed(int(rng.integers(2**31)))
    ti = torch.from_numpy(idx)
    v = x[ti]
    z = soft * torch.sinh(v / soft) if asinh else v
    if a["noise"] > 0:
        z.add_(sigma * torch.randn(z.shape, generator=gen))
    z.mul_(scale * gain).add_(sky)
    x = x.clone()
    x[ti] = soft * torch.asinh(z / soft) if asinh else z
    if c is not None:
        c = c.clone()
        c[ti] = c[ti] * (scale * gain) + sky
    return x, c


# --------------------------------------------------------------------------- validation
def _add_finder_scores(images: list[_Image], records: Sequence[ImageRecord], bands: tuple[str, ...],
                       settings: ClassifierTrainSettings) -> None:
    """Run the finders on each validation image once (and find the dark halos to fill)."""
    from ..predict.classifier import record_finder_inputs
    from ..preprocess import tile_grid

    finders = {**finder_meta(trails=settings.trails, keys=settings.finders), "fill_dark_halos": settings.fill_dark_halos}
    for im, rec in zip(images, records):
        im.halos, im.finder_scores = record_finder_inputs(rec, bands, tile_grid(im.shape, tile=settings.tile), finders,
                                                          min_fraction=settings.min_fraction)


def _validate(model, images: list[_Image], meta: dict, settings: ClassifierTrainSettings) -> dict:
    from ..evaluate.classifier import average_precision, roc_auc, threshold_for_recall, tile_metrics
    from ..predict.classifier import network_scores
    from ..preprocess import tile_fractions, tile_grid

    labels, scores = [], []
    for im in images:
        grid = tile_grid(im.shape, tile=settings.tile)
        image = im.image.astype(np.float32)
        s = network_scores(model, meta, image, im.present, grid, context=im.context, halos=im.halos)
        if im.finder_scores is not None:
            s = np.maximum(s, im.finder_scores)
        f = tile_fractions(im.covered, grid)
        labels.append((f >= settings.min_fraction) & (f > 0))
        scores.append(s)
    y, s = np.concatenate(labels), np.concatenate(scores)
    out = {"n_tiles": int(len(y)), "n_positive": int(y.sum()), "roc_auc": roc_auc(y, s),
           "average_precision": average_precision(y, s)}
    if y.any():
        t = threshold_for_recall(y, s, settings.target_recall)
        m = tile_metrics(y, s, t)
        out.update(threshold=t, recall=m["recall"], precision=m["precision"], fp=m["fp"], fn=m["fn"])
    else:
        out.update(threshold=0.5, recall=math.nan, precision=math.nan)
    return out


def _criterion(v: dict) -> tuple[float, float]:
    """Validation score to maximise: average precision, then precision at the target recall.

    Average precision integrates over every threshold; the precision at the target recall
    hangs on the few hardest positive tiles and jumps from epoch to epoch.
    """
    p = v.get("precision", math.nan)
    ap = v.get("average_precision", math.nan)
    return (-1.0 if not math.isfinite(ap) else ap, -1.0 if not math.isfinite(p) else p)


# --------------------------------------------------------------------------- training
def _loss(model, batch: dict[str, torch.Tensor], settings: ClassifierTrainSettings) -> torch.Tensor:
    """Class-balanced tile BCE plus ``aux_weight`` x the dense coverage BCE of the stride-32 cells and context cells.

    The dense targets are ``min(coverage / 0.1, 1)`` (a cell a tenth covered counts fully).
    """
    present = batch["present"]
    feats = model.image_features(batch["crops"], present)
    ctx = model.context_features(batch["context"], present) if model.use_context else None
    target = batch["target"]
    logits = model.tile_logits(feats, batch["boxes"], present, ctx=ctx, ctx_boxes=batch["gboxes"])
    per_tile = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    pos = target >= 0.5
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    if n_pos and n_neg:  # class balance: positives weigh `balance` of the loss, negatives the rest
        weight = torch.where(pos, settings.balance / n_pos, (1 - settings.balance) / n_neg)
        loss = (per_tile * weight).sum()
    else:
        loss = per_tile.mean()
    if settings.aux_weight > 0 and batch.get("fine_cover") is not None:
        fine, coarse = model.dense_logits(feats, ctx)
        fc = batch["fine_cover"]
        valid = fc >= 0
        t = torch.clamp(fc / 0.1, min=0.0, max=1.0)
        per = F.binary_cross_entropy_with_logits(fine[:, 0, :t.shape[1], :t.shape[2]], t, reduction="none")
        aux = (per * valid).sum() / valid.sum().clamp(min=1)
        if coarse is not None and batch.get("ctx_cover") is not None:
            cc = batch["ctx_cover"]
            valid = cc >= 0
            tc = torch.clamp(cc / 0.1, min=0.0, max=1.0)
            per = F.binary_cross_entropy_with_logits(coarse[:, 0, :cc.shape[1], :cc.shape[2]], tc, reduction="none")
            aux = aux + (per * valid).sum() / valid.sum().clamp(min=1)
        loss = loss + settings.aux_weight * aux
    return loss


def _lr_factor(progress: float, schedule: str) -> float:
    """Learning rate / peak at ``progress`` in [0, 1] of the run.

    ``onecycle``: linear warm-up from 1/10 of the peak over the first 10 %, then cosine
    annealing to 1/1000 of the peak (as torch's OneCycleLR). ``cosine``: linear warm-up
    from 0 over the first 5 %, cosine decay to 0.
    """
    p = min(max(progress, 0.0), 1.0)
    if schedule == "onecycle":
        warm, start, end = 0.1, 0.1, 1e-3
    else:
        warm, start, end = 0.05, 0.0, 0.0
    if p < warm:
        return start + (1.0 - start) * p / warm
    return end + (1.0 - end) * 0.5 * (1.0 + math.cos(math.pi * (p - warm) / (1.0 - warm)))


def _model_config(settings: ClassifierTrainSettings, bands: tuple[str, ...]) -> dict:
    return {"bands": list(bands), "widths": list(settings.widths), "blocks": list(settings.blocks),
            "context": settings.context, "context_bin": settings.context_bin, "hidden": settings.hidden}


def train_classifier(settings: ClassifierTrainSettings, *, train_records: Sequence[ImageRecord] | None = None,
                     val_records: Sequence[ImageRecord] | None = None) -> TrainedClassifier:
    """Train the tile classifier and write its checkpoint.

    Parameters
    ----------
    settings : ClassifierTrainSettings
    train_records, val_records : sequence of ImageRecord, optional
        Images already loaded (normalised with the model's :class:`Normalisation`,
        ``context_bin=None`` is fine); default read from ``settings.data`` /
        ``settings.val_data``.

    Returns
    -------
    TrainedClassifier
        The checkpoint path, the best model and its metadata: ``task``, ``bands``,
        ``tile``, ``min_fraction``, ``threshold`` (highest reaching ``target_recall`` on
        validation), ``normalisation``, ``context_bin``, ``settings``, ``history``
        (loss and validation figures per epoch), ``metrics`` (best epoch's), ``train_seconds``.

    Raises
    ------
    InputError
        Unreadable data, no images, or a fine-tuning checkpoint that is not a classifier.
    """
    t_start = time.perf_counter()
    torch.set_num_threads(settings.threads)
    torch.manual_seed(settings.seed)
    rng = np.random.default_rng(settings.seed)

    init_meta: dict = {}
    model = None
    if settings.init:
        model, init_meta = load_checkpoint(settings.init)
        if init_meta.get("task") != "classifier":
            raise InputError(settings.init, f"not a classifier checkpoint (task {init_meta.get('task')!r})")
        settings = replace(settings, widths=tuple(init_meta["config"]["widths"]),
                           blocks=tuple(init_meta["config"]["blocks"]), context=init_meta["config"]["context"],
                           context_bin=init_meta["config"]["context_bin"], hidden=init_meta["config"]["hidden"])
    normalisation = (Normalisation.from_dict(init_meta.get("normalisation")) if init_meta
                     else Normalisation(mask_bits=FLAGGED_BITS if settings.mask_flagged else 0,
                                        background=settings.background))

    load = dict(labels=settings.labels, normalisation=normalisation, context_bin=None, dtype=np.float16,
                quiet=settings.quiet)
    if train_records is None:
        train_records = load_image_folder(settings.data, images=settings.images, **load)
    train_records = list(train_records)
    if not train_records:
        raise InputError(settings.data, "no training images")
    if val_records is None and settings.val_data:
        val_records = load_image_folder(settings.val_data, **load)
    if val_records is None:
        tr, va = _split(train_records, settings.val_fraction, settings.seed)
        val_records = [train_records[i] for i in va]
        train_records = [train_records[i] for i in tr]
        if not val_records:
            log.warning("a single training image: validating on the training image itself")
            val_records = train_records
    val_records = list(val_records)

    if init_meta:
        bands = tuple(init_meta["bands"])
    elif settings.bands:
        bands = tuple(settings.bands)
    else:
        bands = tuple(sorted({b for r in train_records for b in r.bands}, key=_band_key))
    settings = replace(settings, bands=bands)
    # one record at a time, each dropped once converted: a record's int32 mask is twice its
    # float16 image of three bands, so holding every record and every image at once would
    # double the memory of a large training set
    train_records.reverse()
    train_images = []
    while train_records:
        train_images.append(_to_slots(train_records.pop(), bands, settings, keep_mask=False))
    val_images = [_to_slots(r, bands, settings, keep_mask=False) for r in val_records]
    if settings.trails or settings.finders:
        _add_finder_scores(val_images, val_records, bands, settings)
    del train_records, val_records

    config = _model_config(settings, bands)
    if model is None:
        model = build_model(ARCH, **config)
    model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    total = settings.epochs * settings.steps_per_epoch
    sampler = _TileSampler(train_images, settings, rng)
    # the moving average of the weights (and of the batch-norm statistics) is what is judged and kept
    averaged = (torch.optim.swa_utils.AveragedModel(
        model, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(settings.ema), use_buffers=True)
        if settings.ema > 0 else None)
    n_pos_tiles = int(sum(((im.fractions >= settings.min_fraction) & (im.fractions > 0)).sum()
                          for im in train_images))
    log.info("training the classifier on %d images (%d val), bands %s, %d/%d positive candidate tiles",
             len(train_images), len(val_images), ",".join(bands), n_pos_tiles,
             sum(len(im.fractions) for im in train_images))

    meta = {"task": "classifier", "arch": ARCH, "config": config, "bands": list(bands), "tile": settings.tile,
            "min_fraction": settings.min_fraction, "normalisation": normalisation.as_dict(),
            "context": settings.context, "context_bin": settings.context_bin if settings.context else None,
            "threshold": 0.5, "target_recall": settings.target_recall,
            **finder_meta(trails=settings.trails, keys=settings.finders),
            "fill_dark_halos": settings.fill_dark_halos and "dark_halos" in settings.finders,
            "settings": {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(settings).items()},
            "data": {"train": [im.name for im in train_images], "val": [im.name for im in val_images]}}

    history = []
    best = None
    best_key = (-math.inf, -math.inf)
    bad_epochs = 0
    step = 0
    deadline = None if settings.time_limit_min is None else t_start + 60 * settings.time_limit_min
    stop_reason = "all epochs done"
    t_loop = time.perf_counter()
    for epoch in range(settings.epochs):
        model.train()
        losses = []
        t_epoch = time.perf_counter()
        bar = tqdm(range(settings.steps_per_epoch), desc=f"epoch {epoch + 1}/{settings.epochs}", unit="step",
                   disable=settings.quiet, leave=False)
        for _ in bar:
            # progress by steps, or by the clock when a time limit would end the run first
            progress = step / total
            if deadline is not None:
                progress = max(progress, (time.perf_counter() - t_loop) / max(deadline - t_loop, 1e-9))
            lr = settings.lr * _lr_factor(progress, settings.schedule)
            for group in opt.param_groups:
                group["lr"] = lr
            batch = _augment(sampler.batch(), settings.augment, rng, normalisation, settings.context_bin)
            loss = _loss(model, batch, settings)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if averaged is not None:
                averaged.update_parameters(model)
            step += 1
            losses.append(loss.item())
            bar.set_postfix(loss=f"{np.mean(losses[-20:]):.4f}")
            if deadline is not None and time.perf_counter() > deadline:
                break
        judged = model if averaged is None else averaged.module
        v = _validate(judged, val_images, meta, settings)
        record = {"epoch": epoch + 1, "steps": step, "loss": float(np.mean(losses)), "lr": lr,
                  "seconds": time.perf_counter() - t_epoch, **v}
        history.append(record)
        log.info("epoch %d: loss %.4f, val AP %.4f, precision %.3f at recall %.3f (threshold %.3f), %.0f s",
                 epoch + 1, record["loss"], v["average_precision"], v.get("precision", math.nan),
                 v.get("recall", math.nan), v.get("threshold", math.nan), record["seconds"])
        key = _criterion(v)
        if key > best_key:
            best_key, best, bad_epochs = key, (copy.deepcopy(judged.state_dict()), record), 0
            # keep the best so far on disk: a killed run leaves a usable checkpoint
            save_checkpoint(settings.out, judged, arch=ARCH, config=config, half=True,
                            meta={**meta, "threshold": float(v.get("threshold", 0.5)), "history": history,
                                  "metrics": {"val": v, "best_epoch": epoch + 1}, "stop_reason": "running",
                                  "train_seconds": time.perf_counter() - t_start, "steps": step})
        else:
            bad_epochs += 1
        if settings.patience and bad_epochs >= settings.patience:
            stop_reason = "early stopping"
            break
        if deadline is not None and time.perf_counter() > deadline:
            stop_reason = "time limit"
            break

    state, best_record = best
    # The checkpoint stores float16 weights: measure (and set the threshold) with exactly those.
    model.load_state_dict({k: v.half().float() if v.is_floating_point() else v for k, v in state.items()})
    model.eval()
    final = _validate(model, val_images, meta, settings)
    meta.update(threshold=float(final.get("threshold", 0.5)), history=history,
                metrics={"val": final, "best_epoch": best_record["epoch"]}, stop_reason=stop_reason,
                train_seconds=time.perf_counter() - t_start, steps=step)
    path = save_checkpoint(settings.out, model, arch=ARCH, config=config, meta=meta, half=True)
    log.info("wrote %s (best epoch %d, threshold %.4f, %s after %.0f s)", path, best_record["epoch"],
             meta["threshold"], stop_reason, meta["train_seconds"])
    return TrainedClassifier(path=Path(path), model=model, meta=meta)

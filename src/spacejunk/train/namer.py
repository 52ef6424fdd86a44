"""Training the detector's region namer (:mod:`spacejunk.predict.namer`) on fresh simulations.

The detector network runs on simulated images it never saw (made here in memory, one
at a time, so nothing is written but the checkpoint); each region it finds in its
whole-image view becomes a training example, named by the truth artifact its box
matches (box IoU at least ``match_iou``, the COCO criterion of AP50) or ``none``. Half of
the images are the simulator's random mix, half hold ``per_image`` artifacts of distinct
random categories, so every category has examples. The namer is written into a copy of
the detector's checkpoint (``meta["namer"]``). ``spacejunk train namer`` runs
:func:`train_namer`.
"""

from __future__ import annotations

import argparse
import logging
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch
from tqdm import tqdm

from .._errors import InputError
from ..categories import CATEGORIES
from ..evaluate.coco import box_iou
from ..preprocess.normalise import bin_image

__all__ = ["NamerTrainSettings", "build_parser", "collect_regions", "fit_namer", "train_namer", "image_regions"]

log = logging.getLogger("spacejunk")


@dataclass(frozen=True)
class NamerTrainSettings:
    """What a namer training run depends on (recorded in ``meta["namer"]["recipe"]``)."""

    detector: str
    out: str
    n_images: int = 200
    seed: int = 21
    per_image: int = 4
    match_iou: float = 0.5
    epochs: int = 300
    hidden: int = 64
    second_fraction: float = 0.1  # a second choice under half the first scores under 0.5: unseen at the default threshold
    min_score: float = 0.05
    min_side_px: float = 128.0
    shape: tuple[int, int] = (4096, 2048)
    threads: int = 2
    workers: int = 1
    quiet: bool = False

    def __post_init__(self) -> None:
        if self.n_images < 2:
            raise ValueError(f"n_images must be >= 2, got {self.n_images}")
        if self.workers < 1:
            raise ValueError(f"workers must be >= 1, got {self.workers}")
        if not 0 < self.match_iou <= 1:
            raise ValueError(f"match_iou must be in (0, 1], got {self.match_iou}")


def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    """Add the options of ``spacejunk train namer`` to ``parser`` (a new one if None)."""
    p = parser or argparse.ArgumentParser(prog="spacejunk train namer", description="train a detector's region namer")
    d = NamerTrainSettings(detector="", out="")
    p.add_argument("--detector", help="segmentation detector checkpoint (default: the shipped one)")
    p.add_argument("--out", required=True, help="checkpoint to write: the detector with its namer")
    p.add_argument("--n", type=int, default=d.n_images, help=f"simulated images (default {d.n_images})")
    p.add_argument("--seed", type=int, default=d.seed,
                   help=f"simulation seed (default {d.seed}; never one of the evaluation sets)")
    p.add_argument("--shape", default="4096,2048", help="rows,columns of the simulated images (default a DECam CCD)")
    p.add_argument("--epochs", type=int, default=d.epochs, help=f"passes over the regions (default {d.epochs})")
    p.add_argument("--threads", type=int, default=d.threads, help="torch CPU threads (default 2)")
    p.add_argument("--min-side", type=float, default=d.min_side_px,
                   help=f"smallest region named, longest side in full-resolution pixels (default {d.min_side_px:g}; "
                        "smaller ones are dropped at detection too)")
    p.add_argument("--workers", type=int, default=d.workers,
                   help="processes simulating and looking at images side by side, one thread each (default 1)")
    return p


def _whole_view(meta: dict) -> dict:
    views = [v for v in meta.get("views", []) if v.get("tile") is None]
    if not views:
        raise ValueError("the detector has no whole-image view to name the regions of")
    return views[0]


def image_regions(model, meta: dict, exposure, truth, *, match_iou: float = 0.5, min_side_px: float = 0.0):
    """Features, names and view classes of the network's regions in one exposure.

    Regions whose longest side is under ``min_side_px`` (full-resolution pixels) are left out.

    Returns
    -------
    features : ndarray (n, n_features), names : list of str (a category or ``"none"``),
    view_classes : list of str
    """
    from ..predict.detector import _model_input, segmentation_candidates
    from ..predict.namer import NONE, large_enough, region_features
    from .datasets import Normalisation

    view = _whole_view(meta)
    factor = int(view["bin"])
    classes = list(meta.get("classes", CATEGORIES))
    image = Normalisation.from_dict(meta.get("normalisation")).apply(exposure)
    data = bin_image(_model_input(image, exposure.bands, meta["bands"]), factor)
    cand = segmentation_candidates(model, data, factor=factor, tile=None, overlap=0, batch_size=1, classes=classes,
                                   keep=set(view.get("categories") or classes))
    keep = large_enough(cand.boxes, scale=factor, min_side_px=min_side_px)
    boxes = cand.boxes[keep]
    feats = region_features(cand.prob, data, boxes, cand.labels[keep], cand.scores[keep], threshold=model.threshold,
                            scale=factor)
    names = [NONE] * len(boxes)
    if truth and len(boxes):
        tb = np.array([[a.xmin, a.ymin, a.xmax, a.ymax] for a in truth], float)
        full = boxes * factor
        iou = box_iou(full, tb)
        # an edge bleed's box is cut to its glow after naming (predict.edge_bleeds): a region
        # holding most of one is that edge bleed
        ix = np.clip(np.minimum(full[:, None, 2], tb[None, :, 2]) - np.maximum(full[:, None, 0], tb[None, :, 0]), 0, None)
        iy = np.clip(np.minimum(full[:, None, 3], tb[None, :, 3]) - np.maximum(full[:, None, 1], tb[None, :, 1]), 0, None)
        inside = ix * iy / np.maximum((tb[:, 2] - tb[:, 0]) * (tb[:, 3] - tb[:, 1]), 1e-9)[None, :]
        bleed = np.array([a.category == "edge-bleed" for a in truth])
        score = np.where(bleed[None, :] & (inside >= 0.5), np.maximum(iou, match_iou), iou)
        for i in range(len(boxes)):
            j = int(np.argmax(score[i]))
            if score[i, j] >= match_iou:
                names[i] = truth[j].category
    return feats, names, cand.view_classes


def _image_jobs(settings: NamerTrainSettings) -> list[dict]:
    """``simulate_image`` arguments of the training images: half the random mix, half
    ``per_image`` distinct random categories each."""
    from ..simulate import image_name, image_seed

    rng = np.random.default_rng(settings.seed)
    jobs = []
    for k in range(settings.n_images):
        kwargs = {"seed": image_seed(settings.seed, k), "name": image_name(settings.seed, k),
                  "shape": tuple(settings.shape)}
        if k % 2:
            kwargs["artifacts"] = [str(c) for c in rng.choice(CATEGORIES, size=settings.per_image, replace=False)]
        jobs.append(kwargs)
    return jobs


#: A worker process's detector and settings (:func:`_start_worker`).
_WORKER: dict = {}


def _start_worker(settings: NamerTrainSettings) -> None:
    from ..predict.detector import load_detector

    torch.set_num_threads(1)
    model, meta = load_detector(settings.detector or None)
    _WORKER.update(model=model, meta=meta, settings=settings)


def _regions_of(kwargs: dict, model=None, meta=None, settings=None):
    """:func:`image_regions` of one simulated image (a worker's detector when none is given)."""
    from ..simulate import simulate_image

    if model is None:
        model, meta, settings = _WORKER["model"], _WORKER["meta"], _WORKER["settings"]
    sim = simulate_image(**kwargs)
    return image_regions(model, meta, sim.exposure, sim.artifacts, match_iou=settings.match_iou,
                         min_side_px=settings.min_side_px)


def collect_regions(model, meta: dict, settings: NamerTrainSettings):
    """Regions of ``settings.n_images`` fresh simulated images: features, names, view classes.

    With ``settings.workers`` > 1 the images are made and looked at by that many spawned
    processes, each loading the detector from ``settings.detector``; the regions are the
    same as with one.
    """
    jobs = _image_jobs(settings)
    if settings.workers > 1:
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(settings.workers, initializer=_start_worker, initargs=(settings,)) as pool:
            results = list(tqdm(pool.imap(_regions_of, jobs), total=len(jobs), desc="regions",
                                disable=settings.quiet))
    else:
        results = [_regions_of(kwargs, model, meta, settings)
                   for kwargs in tqdm(jobs, desc="regions", disable=settings.quiet)]
    feats = [f for f, _, _ in results]
    names = [n for _, ns, _ in results for n in ns]
    view_classes = results[-1][2] if results else None
    return np.concatenate(feats) if feats else np.zeros((0, 0), np.float32), names, view_classes


def fit_namer(features: np.ndarray, names: list[str], classes: list[str], *, epochs: int = 300, hidden: int = 64,
              seed: int = 0, quiet: bool = True):
    """A :class:`~spacejunk.predict.namer.RegionNamer` fitted to labelled region features.

    Full-batch AdamW on the cross-entropy, classes weighted by the inverse square root
    of their counts (so the rare categories count without drowning ``none``).
    """
    from ..predict.namer import RegionNamer

    torch.manual_seed(seed)
    x = torch.as_tensor(features, dtype=torch.float32)
    y = torch.as_tensor([classes.index(n) for n in names], dtype=torch.int64)
    model = RegionNamer(x.shape[1], classes, hidden=hidden)
    model.mean.copy_(x.mean(0))
    model.std.copy_(x.std(0).clamp(min=1e-3))
    counts = torch.bincount(y, minlength=len(classes)).float()
    weight = torch.where(counts > 0, counts.clamp(min=1).rsqrt(), torch.zeros_like(counts))
    weight = weight / (weight * counts).sum() * counts.sum()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss(weight=weight)
    model.train()
    for _ in tqdm(range(epochs), desc="namer", disable=quiet):
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
    model.eval()
    return model, float(loss.detach())


def train_namer(settings: NamerTrainSettings) -> dict:
    """Collect regions, fit the namer and write the detector with it to ``settings.out``.

    Returns
    -------
    dict
        ``meta["namer"]`` as written (classes, counts, training loss, recipe, seconds).
    """
    from ..io._atomic import atomic_path
    from ..models.registry import bundled_weights, load_checkpoint
    from ..predict.detector import DEFAULT_DETECTOR, load_detector
    from ..predict.namer import NONE, _feature_names

    torch.set_num_threads(settings.threads)
    start = time.monotonic()
    model, meta = load_detector(settings.detector or None)
    if not hasattr(model, "probabilities"):
        raise InputError(settings.detector, "the namer needs a segmentation detector (unet_boxes)")
    feats, names, view_classes = collect_regions(model, meta, settings)
    if len(names) < 10:
        raise InputError(settings.detector, f"the detector found only {len(names)} regions in "
                                            f"{settings.n_images} images: too few to train a namer")
    classes = [c for c in CATEGORIES if c in set(names)] + [NONE]
    namer, loss = fit_namer(feats, names, classes, epochs=settings.epochs, hidden=settings.hidden,
                            seed=settings.seed, quiet=settings.quiet)
    counts = {c: names.count(c) for c in classes}
    spec = namer.to_meta(feature_names=_feature_names(view_classes, len(meta["bands"])), view_classes=view_classes,
                         counts=counts, loss=round(loss, 4), second_fraction=settings.second_fraction,
                         min_score=settings.min_score, min_side_px=settings.min_side_px,
                         recipe={k: list(v) if isinstance(v, tuple) else v for k, v in asdict(settings).items()
                                 if k not in ("quiet", "out")},
                         seconds=round(time.monotonic() - start, 1))
    state = torch.load(settings.detector or bundled_weights(DEFAULT_DETECTOR), map_location="cpu", weights_only=True)
    state["meta"]["namer"] = spec
    with atomic_path(settings.out) as tmp:
        torch.save(state, tmp)
    load_checkpoint(settings.out)  # it must load
    log.info("namer: %d regions (%s), loss %.3f, %.0f s", len(names),
             ", ".join(f"{c} {n}" for c, n in counts.items()), loss, spec["seconds"])
    return spec

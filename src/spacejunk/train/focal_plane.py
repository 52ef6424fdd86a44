"""Training the focal-plane segmenter on simulated pictures plus annotated real ones."""

from __future__ import annotations

import logging
import math
import os
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..categories import FOCAL_PLANE_CATEGORIES, FOCAL_PLANE_CODES
from ..focal_plane import FocalPlaneModel, check_views, normalise_grey, radial_channel, resize_grey
from ..io.focal_plane import AnnotatedImage, Region
from ..models.ensemble import Ensemble, as_one, members_of
from ..models.registry import build_model, save_checkpoint

__all__ = [
    "AUGMENT_PRESETS",
    "PRETRAIN_STEPS",
    "FocalPlaneTrainConfig",
    "TrainResult",
    "pretrain_focal_plane",
    "train_focal_plane",
    "save_focal_plane_model",
    "calibrate_pupil",
    "calibrate_strokes",
    "targets_from_annotators",
    "targets_from_truth",
    "default_data_dir",
    "with_overrides",
]

log = logging.getLogger("spacejunk")

#: Default number of steps of pre-training on simulated pictures only, before the real
#: ones join (``spacejunk train focal-plane --pretrain-steps``).
PRETRAIN_STEPS = 2000

#: Named augmentation presets. Geometric: flips and 90-degree turns (``flips``), zoom
#: range (``zoom``: factors in [1/zoom, zoom]), shift (fraction of the side), rotation
#: (degrees). Photometric on the 0-255 scale: gamma range, contrast range, brightness
#: shift (fraction of 255), Gaussian noise (max sigma), blur (probability, max sigma in
#: network pixels) -- blur and noise stand in for JPEG losses at other qualities.
AUGMENT_PRESETS: dict[str, dict[str, Any]] = {
    "none": dict(flips=False, zoom=1.0, shift=0.0, rotate=0.0, gamma=(1.0, 1.0), contrast=(1.0, 1.0),
                 brightness=0.0, noise=0.0, blur=(0.0, 0.0)),
    "light": dict(flips=True, zoom=1.1, shift=0.05, rotate=3.0, gamma=(0.85, 1.2), contrast=(0.8, 1.25),
                  brightness=0.05, noise=3.0, blur=(0.2, 0.8)),
    "strong": dict(flips=True, zoom=1.25, shift=0.1, rotate=8.0, gamma=(0.7, 1.4), contrast=(0.6, 1.6),
                   brightness=0.1, noise=8.0, blur=(0.3, 1.2)),
}


@dataclass(frozen=True)
class FocalPlaneTrainConfig:
    """Settings of one training run (recorded in the checkpoint).

    Attributes
    ----------
    input_size : int
        Side of the square the pictures are resized to (default 128).
    base_channels, depth : int
        U-Net width and depth (defaults 12 and 4).
    steps : int
        Optimiser steps (default 600).
    batch_size : int
        Pictures per step (default 8).
    real_fraction : float
        Share of each batch drawn from the real annotated pictures (default 0.5; the
        rest are simulated). Without real pictures every batch is simulated.
    n_sim : int
        Simulated pictures made before training (default 1000), each re-augmented at
        every use.
    lr, weight_decay : float
        AdamW settings; the rate follows a one-cycle schedule (defaults 3e-3, 1e-4).
    dice_weight, category_weight : float
        Weights of the soft-Dice loss of "any artifact" and of the category
        cross-entropy, added to the BCE loss of "any artifact" (defaults 1.0, 0.3).
    augment : str
        Name of an :data:`AUGMENT_PRESETS` entry (default ``"strong"``).
    threshold : float
        Probability of "any artifact" the model marks at (default 0.5: a pixel more
        likely than not to be marked by an annotator).
    min_area : float
        Regions smaller than this fraction of the picture's area are dropped from what
        the model finds (default 0.002, 320 px of a 400 x 400 picture: 95 % of the
        regions people drew on the 1,970 single-annotator exposures are larger; in
        cross-validation it halves the regions found and costs one of 37 consensus
        regions, ``docs/focal-plane.md``).
    radial_channel : bool
        Give the network the distance from the picture's centre as a second input
        channel (default True): the large pupil ghosts are centred near the optical axis.
    pupil_ghosts : bool
        Also look for the large pupil ghost by the spider's shadows
        (:mod:`spacejunk.predict.pupil_ghost`, default True): its threshold is calibrated
        on the real pictures trained on, its disc's radius taken from the simulator's
        label sets (:func:`calibrate_pupil`).
    strokes : bool
        Also mark where dark and bright strokes crowd, ray fans and bright ghosts
        (:mod:`spacejunk.predict.strokes`, default True): its density threshold is
        calibrated on the real pictures trained on (:func:`calibrate_strokes`).
    views : int
        The model averages the network's logits over this many views of a picture: 1, 2
        or 8 (default 8: every flip and quarter-turn, which the training augments with;
        :func:`spacejunk.focal_plane.network_logits`). Training is the same; the model
        and its checkpoint record it.
    members : int
        Networks trained, each from its own seed and simulated pictures
        (:func:`member_configs`); the model averages their logits
        (:class:`~spacejunk.models.ensemble.Ensemble`; default 3, which in cross-validation
        lifts the mean IoU and the precision on both splits, "Where it stands" in
        `docs/focal-plane.md`).
    seed : int
        Seed of the batches, the augmentation and the weights.
    sim_seed : int or None
        Seed of the simulated pictures (default None: ``seed``). Runs with the same
        ``sim_seed``, ``n_sim`` and ``input_size`` in one process share the pictures.
    """

    input_size: int = 128
    base_channels: int = 12
    depth: int = 4
    steps: int = 600
    batch_size: int = 8
    real_fraction: float = 0.5
    n_sim: int = 1000
    lr: float = 3e-3
    weight_decay: float = 1e-4
    dice_weight: float = 1.0
    category_weight: float = 0.3
    augment: str = "strong"
    threshold: float = 0.5
    min_area: float = 0.002
    radial_channel: bool = True
    pupil_ghosts: bool = True
    strokes: bool = True
    views: int = 8
    members: int = 3
    seed: int = 0
    sim_seed: int | None = None

    def __post_init__(self):
        if self.augment not in AUGMENT_PRESETS:
            raise ValueError(f"unknown augment preset {self.augment!r}; known: {', '.join(AUGMENT_PRESETS)}")
        for name in ("input_size", "base_channels", "depth", "steps", "batch_size", "members"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.n_sim < 0:
            raise ValueError(f"n_sim must be >= 0, got {self.n_sim}")
        if not 0.0 <= self.real_fraction <= 1.0:
            raise ValueError(f"real_fraction must be in [0, 1], got {self.real_fraction}")
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"threshold must be in [0, 1], got {self.threshold}")
        check_views(self.views)  # at once, not when the model is built after training
        if not 0.0 <= self.min_area < 1.0:
            raise ValueError(f"min_area must be in [0, 1), got {self.min_area}")


@dataclass
class TrainResult:
    """A trained model and how the training went.

    Attributes
    ----------
    model : FocalPlaneModel
    losses : list of float
        Loss of every step.
    seconds : float
        Wall-clock training time (simulation included).
    config : FocalPlaneTrainConfig
    real_images : list of str
        Names of the real pictures trained on.
    """

    model: FocalPlaneModel
    losses: list = field(default_factory=list)
    seconds: float = 0.0
    config: FocalPlaneTrainConfig = field(default_factory=FocalPlaneTrainConfig)
    real_images: list = field(default_factory=list)


# --------------------------------------------------------------------------- targets
_N_CAT = len(FOCAL_PLANE_CATEGORIES)


def targets_from_annotators(masks: np.ndarray, *, size: int, min_fraction: float = 0.5) -> torch.Tensor:
    """Training targets from several annotators' masks ``(n_annotators, n_cat, ny, nx)``.

    Returns
    -------
    torch.Tensor
        float32 ``(2 + n_cat, size, size)``: the fraction of annotators marking the
        pixel with anything, the consensus "any artifact" mask (at least
        ``min_fraction`` of them), and a one-hot of the category with the most votes
        (zero where nobody marked), all area-resampled to ``size``.
    """
    masks = np.asarray(masks, dtype=bool)
    n = masks.shape[0]
    frac = masks.any(axis=1).mean(axis=0)
    consensus = frac >= min_fraction - 1e-9
    votes = masks.sum(axis=0)
    onehot = np.zeros(votes.shape, dtype=np.float32)
    top = np.argmax(votes, axis=0)
    marked = votes.max(axis=0) > 0
    for k in range(votes.shape[0]):
        onehot[k] = (top == k) & marked
    del n
    stack = np.concatenate([frac[None], consensus[None], onehot], axis=0).astype(np.float32)
    return _resize_targets(stack, size)


def targets_from_truth(truth: np.ndarray, *, size: int) -> torch.Tensor:
    """Training targets ``(2 + n_cat, size, size)`` from exact truth masks ``(n_cat, ny, nx)``.

    Where categories overlap the later one in :data:`FOCAL_PLANE_CATEGORIES` wins
    (rays over faint ghosts over bright ghosts).
    """
    truth = np.asarray(truth, dtype=bool)
    anything = truth.any(axis=0)
    onehot = np.zeros(truth.shape, dtype=np.float32)
    taken = np.zeros(anything.shape, dtype=bool)
    for k in reversed(range(truth.shape[0])):
        onehot[k] = truth[k] & ~taken
        taken |= truth[k]
    stack = np.concatenate([anything[None], anything[None], onehot], axis=0).astype(np.float32)
    return _resize_targets(stack, size)


def _resize_targets(stack: np.ndarray, size: int) -> torch.Tensor:
    t = torch.from_numpy(stack)
    if t.shape[-2:] != (size, size):
        t = F.interpolate(t[None], size=(size, size), mode="area")[0]
    return t.contiguous()


# --------------------------------------------------------------------------- augmentation
def _augment(x: torch.Tensor, y: torch.Tensor, preset: dict[str, Any], gen: torch.Generator
             ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Augment a batch: raw grey ``x (n, 1, s, s)`` (0-255 scale) and targets ``y (n, c, s, s)``.

    Returns the augmented ``x`` and ``y`` and the radial channel ``(n, 1, s, s)`` of the
    source positions (flips and turns about the centre leave it unchanged).
    """

    def uni(lo: float, hi: float, n: int = 1) -> torch.Tensor:
        return lo + (hi - lo) * torch.rand(n, generator=gen)

    n = x.shape[0]
    x, y = x.clone(), y.clone()
    radius = radial_channel(n, x.shape[-1])
    if preset["flips"]:
        for i in range(n):
            k = int(torch.randint(0, 4, (1,), generator=gen))
            xi, yi = torch.rot90(x[i], k, (-2, -1)), torch.rot90(y[i], k, (-2, -1))
            if bool(torch.rand(1, generator=gen) < 0.5):
                xi, yi = xi.flip(-1), yi.flip(-1)
            x[i], y[i] = xi, yi
    if preset["zoom"] > 1.0 or preset["shift"] > 0 or preset["rotate"] > 0:
        zoom = torch.exp(uni(-math.log(preset["zoom"]), math.log(preset["zoom"]), n))
        ang = uni(-preset["rotate"], preset["rotate"], n) * math.pi / 180
        tx, ty = uni(-preset["shift"], preset["shift"], n) * 2, uni(-preset["shift"], preset["shift"], n) * 2
        cos, sin = torch.cos(ang) / zoom, torch.sin(ang) / zoom
        theta = torch.stack([torch.stack([cos, -sin, tx], 1), torch.stack([sin, cos, ty], 1)], 1)
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        radius = radial_channel(n, x.shape[-1], grid=grid)
        bg = torch.quantile(x.reshape(n, -1), 0.05, dim=1)[:, None, None, None]
        x = F.grid_sample(x - bg, grid, mode="bilinear", padding_mode="zeros", align_corners=False) + bg
        y = F.grid_sample(y, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    # photometric, on the 0-255 scale
    gamma = uni(*preset["gamma"], n)[:, None, None, None]
    x = 255.0 * (x.clamp(0, 255) / 255.0) ** gamma
    contrast = uni(*preset["contrast"], n)[:, None, None, None]
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = (x - mean) * contrast + mean + uni(-preset["brightness"], preset["brightness"], n)[:, None, None, None] * 255
    p_blur, max_sigma = preset["blur"]
    if p_blur > 0:
        for i in range(n):
            if bool(torch.rand(1, generator=gen) < p_blur):
                x[i] = _gaussian_blur(x[i], float(uni(0.3, max_sigma)))
    if preset["noise"] > 0:
        sigma = uni(0, preset["noise"], n)[:, None, None, None]
        x = x + sigma * torch.randn(x.shape, generator=gen)
    return x, y, radius


def _gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of ``(c, h, w)``."""
    r = max(1, int(math.ceil(2.5 * sigma)))
    k = torch.exp(-0.5 * (torch.arange(-r, r + 1, dtype=x.dtype) / sigma) ** 2)
    k = (k / k.sum())
    c = x.shape[0]
    xx = F.conv2d(F.pad(x[None], (r, r, 0, 0), mode="replicate"), k.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
    xx = F.conv2d(F.pad(xx, (0, 0, r, r), mode="replicate"), k.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)
    return xx[0]


# --------------------------------------------------------------------------- loss
def _loss(logits: torch.Tensor, y: torch.Tensor, *, dice_weight: float, category_weight: float) -> torch.Tensor:
    """BCE(any, vote fraction) + dice(any, consensus) + cross-entropy of categories where marked."""
    frac, consensus, onehot = y[:, 0], y[:, 1], y[:, 2:]
    any_logit = logits[:, 0]
    bce = F.binary_cross_entropy_with_logits(any_logit, frac.clamp(0, 1))
    p = torch.sigmoid(any_logit)
    inter = (p * consensus).sum(dim=(1, 2))
    denom = p.sum(dim=(1, 2)) + consensus.sum(dim=(1, 2))
    dice = 1.0 - (2 * inter + 1.0) / (denom + 1.0)
    loss = bce + dice_weight * dice.mean()
    weight = onehot.sum(1)
    if category_weight > 0 and float(weight.sum()) > 0:
        logp = F.log_softmax(logits[:, 1:], dim=1)
        ce = -(onehot * logp).sum(1)
        loss = loss + category_weight * (ce * weight).sum() / weight.sum().clamp_min(1.0)
    return loss


# --------------------------------------------------------------------------- training
_SIM_CACHE: dict[tuple, tuple[torch.Tensor, torch.Tensor]] = {}


def _simulated_set(config: FocalPlaneTrainConfig, region_sets, quiet: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """The simulated pictures (raw grey) and targets of a run, cached per process."""
    sim_seed = config.seed if config.sim_seed is None else config.sim_seed
    key = (sim_seed, config.n_sim, config.input_size, id(region_sets), len(region_sets or ()))
    if key not in _SIM_CACHE:
        _SIM_CACHE.clear()  # keep one set: they are large
        _SIM_CACHE[key] = _make_simulated_set(config, sim_seed, region_sets, quiet)
    return _SIM_CACHE[key]


def _make_simulated_set(config: FocalPlaneTrainConfig, sim_seed: int, region_sets, quiet: bool
                        ) -> tuple[torch.Tensor, torch.Tensor]:
    from tqdm import tqdm

    from ..simulate.focal_plane import simulate_focal_plane

    rng = np.random.default_rng([sim_seed, 1])
    xs, ys = [], []
    for _ in tqdm(range(config.n_sim), desc="simulate", unit="image", disable=quiet):
        sim = simulate_focal_plane(seed=rng, region_sets=region_sets)
        xs.append(resize_grey(sim.image, size=config.input_size))
        ys.append(targets_from_truth(sim.truth, size=config.input_size))
    if not xs:
        s = config.input_size
        return torch.zeros(0, 1, s, s), torch.zeros(0, 2 + _N_CAT, s, s)
    return torch.stack(xs), torch.stack(ys)


def member_configs(config: FocalPlaneTrainConfig) -> list[FocalPlaneTrainConfig]:
    """The training settings of each network of an ensemble of ``config.members``.

    Member ``i`` has the seed ``seed + 1000 i`` and simulated pictures of seed
    ``sim_seed + i`` (``sim_seed`` defaulting to ``seed``), one network each, so that
    member ``i`` of a cross-validation fold is the network a run of ``seed + i`` trains
    for that fold.
    """
    sim_seed = config.seed if config.sim_seed is None else config.sim_seed
    return [replace(config, members=1, seed=config.seed + 1000 * i, sim_seed=sim_seed + i)
            for i in range(config.members)]


def ensemble_of(models: Sequence[FocalPlaneModel]) -> FocalPlaneModel:
    """One model averaging the networks of ``models``, with the first model's settings.

    An ensemble among ``models`` gives its members one by one; the training seconds add up.
    """
    if not models:
        raise ValueError("no model to join")
    nets = [net for m in models for net in members_of(m.network)]
    seconds = sum(float(m.meta.get("train_seconds") or 0.0) for m in models)
    return replace(models[0], network=as_one(nets),
                   meta={**models[0].meta, "train_seconds": round(seconds, 1)})


def _train_network(config: FocalPlaneTrainConfig, xr: torch.Tensor, yr: torch.Tensor, arch_config: dict, *,
                   region_sets, init: FocalPlaneModel | None, quiet: bool) -> tuple[torch.nn.Module, list[float]]:
    """One U-Net trained on the real pictures ``(xr, yr)`` and ``config``'s simulated ones; its losses."""
    from tqdm import tqdm

    torch.manual_seed(config.seed)
    gen = torch.Generator().manual_seed(config.seed)
    xs, ys = _simulated_set(config, region_sets, quiet)
    preset = AUGMENT_PRESETS[config.augment]
    net = build_model("unet", **arch_config)
    if init is not None:
        try:
            net.load_state_dict(init.network.state_dict())
        except RuntimeError as err:
            raise ValueError(f"init model does not match the configured U-Net: {err}") from None
    opt = torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=config.lr, total_steps=config.steps, pct_start=0.15)
    n_real = len(xr)
    k_real = 0 if n_real == 0 else (config.batch_size if len(xs) == 0 else
                                    int(round(config.batch_size * config.real_fraction)))
    k_sim = config.batch_size - k_real
    losses: list[float] = []
    net.train()
    bar = tqdm(range(config.steps), desc="train", unit="step", disable=quiet)
    for _ in bar:
        idx_r = torch.randint(0, max(n_real, 1), (k_real,), generator=gen)
        idx_s = torch.randint(0, max(len(xs), 1), (k_sim,), generator=gen)
        xb = torch.cat([xr[idx_r], xs[idx_s]]) if k_sim else xr[idx_r]
        yb = torch.cat([yr[idx_r], ys[idx_s]]) if k_sim else yr[idx_r]
        xb, yb, radius = _augment(xb, yb, preset, gen)
        xb = normalise_grey(xb)
        logits = net(torch.cat([xb, radius], dim=1) if config.radial_channel else xb)
        loss = _loss(logits, yb, dice_weight=config.dice_weight, category_weight=config.category_weight)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
        if len(losses) % 20 == 0:
            bar.set_postfix(loss=f"{np.mean(losses[-20:]):.3f}")
    net.eval()
    return net, losses


def pretrain_focal_plane(config: FocalPlaneTrainConfig, steps: int = PRETRAIN_STEPS, *,
                         region_sets: Sequence[Sequence[Region]] | None = None, quiet: bool = False) -> TrainResult:
    """One network pre-trained for ``steps`` on ``config``'s simulated pictures only.

    Every member of an ensemble starts from it, so it is one network, trained with member
    0's seed, whatever ``config.members`` says.
    """
    return train_focal_plane([], config=replace(config, steps=steps, members=1), region_sets=region_sets,
                             quiet=quiet)


def train_focal_plane(real: Sequence[AnnotatedImage] = (), *, config: FocalPlaneTrainConfig | None = None,
                      region_sets: Sequence[Sequence[Region]] | None = None, init: FocalPlaneModel | None = None,
                      quiet: bool = False) -> TrainResult:
    """Train a focal-plane segmenter (a :func:`~spacejunk.models.unet.unet`) from scratch.

    Parameters
    ----------
    real : sequence of AnnotatedImage
        Annotated real pictures; their targets are the annotators' vote fraction and
        consensus (see :func:`targets_from_annotators`). May be empty.
    config : FocalPlaneTrainConfig, optional
        Settings (defaults of :class:`FocalPlaneTrainConfig`).
    region_sets : sequence of label sets, optional
        Real label sets the simulator draws artifacts from (see
        :func:`spacejunk.simulate.focal_plane.random_regions`).
    init : FocalPlaneModel, optional
        Start from this model's weights (e.g. one trained on simulated pictures only)
        instead of random ones; its architecture and input size must match ``config``.
    quiet : bool, optional
        No progress bars.

    Returns
    -------
    TrainResult

    Notes
    -----
    Runs on the CPU with the torch thread count as set by the caller. Deterministic for
    a given seed, data and thread count.
    """
    config = config or FocalPlaneTrainConfig()
    if not real and config.n_sim == 0:
        raise ValueError("nothing to train on: no real pictures and n_sim = 0")
    t0 = time.perf_counter()
    s = config.input_size
    xr = torch.stack([resize_grey(a.image, size=s) for a in real]) if real else torch.zeros(0, 1, s, s)
    yr = torch.stack([targets_from_annotators(a.masks, size=s) for a in real]) if real else \
        torch.zeros(0, 2 + _N_CAT, s, s)
    arch_config = dict(in_channels=2 if config.radial_channel else 1, out_channels=1 + _N_CAT,
                       base_channels=config.base_channels,
                       depth=config.depth)
    if init is not None and init.input_size != s:
        raise ValueError(f"init model works at input_size {init.input_size}, config asks for {s}")
    nets, member_losses = [], []
    for member in member_configs(config):
        net, losses = _train_network(member, xr, yr, arch_config, region_sets=region_sets, init=init, quiet=quiet)
        nets.append(net)
        member_losses.append(losses)
    losses = [float(v) for v in np.mean(member_losses, axis=0)] if member_losses[0] else []
    net = as_one(nets)
    meta = _meta(config, arch_config, [a.name for a in real])
    if init is not None:
        meta["init"] = {"recipe": init.meta.get("recipe"), "real_images": init.meta.get("real_images", []),
                        "init": init.meta.get("init"), "train_seconds": init.meta.get("train_seconds")}
    pupil = calibrate_pupil(real, region_sets=region_sets) if config.pupil_ghosts else None
    strokes = calibrate_strokes(real, pupil=pupil) if config.strokes else None
    model = FocalPlaneModel(network=net, input_size=s, threshold=config.threshold, min_area=config.min_area,
                            categories=FOCAL_PLANE_CATEGORIES, radial_channel=config.radial_channel, pupil=pupil,
                            strokes=strokes, views=config.views, meta=meta)
    seconds = time.perf_counter() - t0
    meta["train_seconds"] = round(seconds, 1)
    log.info("trained focal-plane model: %d steps in %.0f s, last loss %.3f", config.steps, seconds,
             float(np.mean(losses[-20:])) if losses else float("nan"))
    return TrainResult(model=model, losses=losses, seconds=seconds, config=config,
                       real_images=[a.name for a in real])


def calibrate_pupil(real: Sequence[AnnotatedImage] = (), *, region_sets=None, settings=None):
    """Pupil-ghost settings for a model trained on ``real``.

    The disc's radius is the median of the large circles of ``region_sets``
    (:func:`~spacejunk.predict.pupil_ghost.radius_from_regions`, if they hold any); the threshold
    is :func:`~spacejunk.predict.pupil_ghost.calibrate_threshold` over the real pictures,
    a picture holding a ghost when its consensus does
    (:func:`~spacejunk.predict.pupil_ghost.has_pupil_ghost`). Without real pictures of
    both kinds the default threshold stays.
    """
    from ..predict.pupil_ghost import (PupilGhostSettings, calibrate_threshold, has_pupil_ghost,
                                       pupil_statistics, radius_from_regions)

    settings = settings or PupilGhostSettings()
    try:
        settings = replace(settings, radius=round(radius_from_regions(region_sets or ()), 2))
    except ValueError:  # no large circle among them: the default radius stays
        pass
    if real:
        scores = [pupil_statistics(a.image, settings).score for a in real]
        has = [has_pupil_ghost(a.consensus()[-1]) for a in real]
        settings = replace(settings, threshold=round(calibrate_threshold(scores, has, default=settings.threshold), 4))
        log.info("pupil ghosts: %d of %d real pictures hold one; threshold %.3f", sum(has), len(has),
                 settings.threshold)
    return settings


def calibrate_strokes(real: Sequence[AnnotatedImage] = (), *, pupil=None, settings=None):
    """Stroke-finder settings for a model trained on ``real``.

    The density threshold, least mark and stretch are
    :func:`~spacejunk.predict.strokes.calibrate_stroke_settings` over the real pictures'
    consensus, the marks joined with the disc of each picture's pupil ghost where ``pupil``
    (the model's pupil-ghost settings) finds one. Without real pictures the default stays.
    """
    from ..predict.pupil_ghost import contrast_image, find_pupil_ghost, pupil_disc
    from ..predict.strokes import StrokeSettings, calibrate_stroke_settings

    settings = settings or StrokeSettings()
    if not real:
        return settings
    refs = [a.consensus()[-1] for a in real]
    contrasts, discs = [], []
    for a, ref in zip(real, refs):
        z = contrast_image(a.image, pupil) if pupil is not None else None  # one high-pass for both finders
        ghost = find_pupil_ghost(a.image, pupil, contrast=z) if pupil is not None else None
        contrasts.append(z)
        discs.append(pupil_disc(ghost, ref.shape) if ghost is not None else None)
    settings = calibrate_stroke_settings([a.image for a in real], refs, also=discs, contrasts=contrasts,
                                         settings=settings)
    log.info("strokes: density threshold %.3f, least mark %.3f, stretch %d px on %d real pictures",
             settings.density, settings.min_area, settings.extend, len(real))
    return settings


def _meta(config: FocalPlaneTrainConfig, arch_config: dict, real_names: list[str]) -> dict:
    return {
        "task": "focal-plane",
        "categories": list(FOCAL_PLANE_CATEGORIES),
        "codes": dict(FOCAL_PLANE_CODES),
        "threshold": config.threshold,
        "min_area": config.min_area,
        "input_size": config.input_size,
        "input": "luminance (mean of channels), area-resampled to input_size^2, minus median over the 1-99 % range"
                 + ("; distance from the centre in half-sides" if config.radial_channel else ""),
        "radial_channel": config.radial_channel,
        "outputs": "logit of any artifact, then one logit per category (softmax)",
        "recipe": asdict(config),
        "arch_config": arch_config,
        "real_images": list(real_names),
        "data": "DeepGhostBusters, Tanoglidis et al. 2021 (Astronomy & Computing 39, 100580), MIT",
    }


def save_focal_plane_model(path: str | os.PathLike, model: FocalPlaneModel, *, half: bool = True,
                           extra_meta: dict | None = None) -> Path:
    """Save a focal-plane model as a checkpoint (float16 weights by default) with its metadata.

    ``extra_meta`` (e.g. cross-validation figures) is merged into the metadata.
    """
    meta = dict(model.meta)
    meta.update({"task": "focal-plane", "threshold": model.threshold, "input_size": model.input_size,
                 "categories": list(model.categories), "fill_holes": model.fill_holes, "min_area": model.min_area,
                 "radial_channel": model.radial_channel, "views": model.views,
                 "pupil": asdict(model.pupil) if model.pupil is not None else None,
                 "strokes": asdict(model.strokes) if model.strokes is not None else None})
    if extra_meta:
        meta.update(extra_meta)
    arch_config = meta.get("arch_config") or _arch_config_of(model.network)
    if isinstance(model.network, Ensemble):
        return save_checkpoint(path, model.network, arch="ensemble", half=half, meta=meta,
                               config={"member_arch": "unet", "member_config": arch_config,
                                       "members": len(model.network.members)})
    return save_checkpoint(path, model.network, arch="unet", config=arch_config, meta=meta, half=half)


def _arch_config_of(net: torch.nn.Module) -> dict:
    raise ValueError("the model's metadata lacks 'arch_config'; train it with train_focal_plane")


def default_data_dir() -> Path:
    """The DeepGhostBusters folder: ``$SPACEJUNK_DES_GHOSTS`` or ``../shared/data/des-ghosts``."""
    env = os.environ.get("SPACEJUNK_DES_GHOSTS")
    return Path(env) if env else Path("..") / "shared" / "data" / "des-ghosts"


def with_overrides(config: FocalPlaneTrainConfig, **changes: Any) -> FocalPlaneTrainConfig:
    """A copy of ``config`` with ``changes`` (None values ignored)."""
    return replace(config, **{k: v for k, v in changes.items() if v is not None})

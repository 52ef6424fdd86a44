"""Run the tile classifier on a whole exposure: one probability per 200 x 200 tile.

The network runs once over the whole normalised image (and once over its binned copy for
context); each tile's probability is pooled from the feature maps over the tile's
footprint, so the cost hardly depends on the number of tiles or on their overlap.
"""

from __future__ import annotations

import functools
import logging
import warnings
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .._errors import InputError, SpacejunkWarning
from ..io.exposure import Exposure
from ..models.registry import bundled_weights, load_checkpoint
from ..preprocess import bin_image, tile_grid
from ..train.datasets import Normalisation
from .dark_halos import fill_with_sky
from .finders import finder_tile_scores, record_exposure, record_finder_scores, run_finders, uses_finders

__all__ = ["TileScores", "classify_exposure", "load_default_classifier", "model_inputs", "arrange_bands", "score_tiles",
           "halos_to_fill", "network_scores", "record_finder_inputs", "DEFAULT_WEIGHTS"]

log = logging.getLogger("spacejunk")

#: File name of the shipped classifier in ``spacejunk/weights``.
DEFAULT_WEIGHTS = "classifier.pt"


@dataclass(frozen=True, eq=False)
class TileScores:
    """The classifier's verdict on every tile of one image.

    Attributes
    ----------
    grid : ndarray, shape (n, 4), int64
        Tiles ``(x0, y0, x1, y1)``, pixels, exclusive max, row-major from (0, 0)
        (:func:`spacejunk.preprocess.tile_grid`).
    scores : ndarray, shape (n,), float32
        Probability that the tile holds an artifact, in [0, 1].
    threshold : float
        Score from which a tile counts as positive.
    bands : tuple of str
        Bands of the exposure the model used.
    """

    grid: np.ndarray
    scores: np.ndarray
    threshold: float
    bands: tuple[str, ...] = ()

    @property
    def positive(self) -> np.ndarray:
        """Bool (n,): tiles whose score is >= the threshold."""
        return self.scores >= self.threshold

    def __len__(self) -> int:
        return len(self.grid)


@functools.lru_cache(maxsize=1)
def load_default_classifier() -> tuple[nn.Module, dict]:
    """The shipped classifier ``spacejunk/weights/classifier.pt`` as ``(model, meta)``, loaded once per process.

    Raises
    ------
    InputError
        The weights file is missing from the installation or unreadable.
    """
    model, meta = load_checkpoint(bundled_weights(DEFAULT_WEIGHTS))
    return _prepare(model), meta


def _prepare(model: nn.Module) -> nn.Module:
    """Eval mode, channels-last (the fast layout for the CPU convolutions)."""
    return model.eval().to(memory_format=torch.channels_last)


def _check_model_meta(model, meta) -> tuple[nn.Module, dict]:
    if model is None and meta is None:
        return load_default_classifier()
    if model is None or meta is None:
        raise ValueError("pass both model and meta (from load_checkpoint), or neither for the shipped model")
    if meta.get("task", "classifier") != "classifier" or not hasattr(model, "tile_logits"):
        raise ValueError(f"model is not a tile classifier (task {meta.get('task')!r}, arch {meta.get('arch')!r})")
    return model, meta


def model_inputs(exposure: Exposure, meta: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, tuple[str, ...]]:
    """The arrays the classifier reads, from an exposure.

    Parameters
    ----------
    exposure : Exposure
        Any size, any bands; the bands the model does not know are ignored.
    meta : dict
        Checkpoint metadata (``bands``, ``normalisation``, ``context_bin``).

    Returns
    -------
    image : ndarray, shape (n_slots, ny, nx), float32
        Normalised bands in the model's band slots, zeros for bands the exposure lacks.
    present : ndarray, shape (n_slots,), float32
        1 for each slot filled, 0 otherwise.
    context : ndarray, shape (n_slots, cy, cx), float32, or None
        ``image`` binned by ``context_bin`` (None when the model has no context branch).
    used : tuple of str
        The bands used.

    Raises
    ------
    InputError
        None of the exposure's bands is known to the model.
    """
    slots = tuple(meta["bands"])
    used = tuple(b for b in slots if b in exposure.bands)
    if not used:
        where = exposure.paths[0] if exposure.paths else None
        raise InputError(where, f"image {exposure.name!r} has bands {', '.join(exposure.bands)}; "
                                f"the classifier knows only {', '.join(slots)}")
    ignored = [b for b in exposure.bands if b not in slots]
    if ignored:
        warnings.warn(f"image {exposure.name!r}: band(s) {', '.join(ignored)} unknown to the classifier, ignored",
                      SpacejunkWarning, stacklevel=3)
    norm = Normalisation.from_dict(meta.get("normalisation")).apply(exposure.select(used))
    return arrange_bands(norm, used, meta)


def arrange_bands(norm: np.ndarray, bands, meta: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray | None,
                                                                 tuple[str, ...]]:
    """Put normalised bands into the model's band slots (see :func:`model_inputs` for the outputs).

    Parameters
    ----------
    norm : ndarray, shape (n_bands, ny, nx)
        Bands normalised with the model's settings (``meta["normalisation"]``).
    bands : sequence of str
        Band of each layer of ``norm``; bands the model does not know are dropped.
    meta : dict
        Checkpoint metadata.
    """
    slots = tuple(meta["bands"])
    bands = tuple(bands)
    used = tuple(b for b in slots if b in bands)
    if not used:
        raise ValueError(f"bands {', '.join(bands)}: none is known to the classifier ({', '.join(slots)})")
    ny, nx = norm.shape[-2:]
    if bands == slots:
        image = np.asarray(norm, dtype=np.float32)
    else:
        image = np.zeros((len(slots), ny, nx), np.float32)
        for b in used:
            image[slots.index(b)] = norm[bands.index(b)]
    present = np.array([b in used for b in slots], np.float32)
    context = None
    if meta.get("context", True) and meta.get("context_bin"):
        context = bin_image(image, int(meta["context_bin"]))
    return image, present, context, used


def score_tiles(model: nn.Module, image: np.ndarray, present: np.ndarray, grid: np.ndarray, *,
                context: np.ndarray | None = None) -> np.ndarray:
    """Probabilities of tiles of one image from the model inputs.

    Parameters
    ----------
    model : TileClassifier
    image : ndarray, shape (n_slots, ny, nx), float32
    present : ndarray, shape (n_slots,)
    grid : ndarray, shape (n, 4)
        Tiles ``(x0, y0, x1, y1)`` (any positions and sizes inside the image).
    context : ndarray, shape (n_slots, cy, cx), optional

    Returns
    -------
    ndarray, shape (n,), float32
        Sigmoid of the tile logits.
    """
    grid = np.asarray(grid, dtype=np.float32).reshape(-1, 4)
    if len(grid) == 0:
        return np.zeros(0, np.float32)
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32))[None]
            x = x.contiguous(memory_format=torch.channels_last)
            p = torch.from_numpy(np.asarray(present, np.float32))[None]
            boxes = torch.cat([torch.zeros(len(grid), 1), torch.from_numpy(grid)], dim=1)
            ctx = None if context is None else torch.from_numpy(np.ascontiguousarray(context, np.float32))[None]
            logits = model(x, p, boxes, ctx)
            return torch.sigmoid(logits).numpy().astype(np.float32)
    finally:
        model.train(was_training)


def halos_to_fill(exposure: Exposure | None, meta: dict, found: dict | None = None) -> tuple[list, dict | None]:
    """The boxes of the dark halos to hide from the network (:func:`network_scores`), and
    ``found`` with the dark-halo finder's artifacts added: none unless the model asks for
    them to be filled (``meta["fill_dark_halos"]``) and for the dark-halo finder."""
    if exposure is None or not meta.get("fill_dark_halos") or meta.get("dark_halos") in (None, False):
        return [], found
    found = dict(found or {})
    if "dark_halos" not in found:
        found.update(run_finders(exposure, {"dark_halos": meta["dark_halos"]}))
    return [a.box for a in found["dark_halos"]], found


def record_finder_inputs(record, bands, grid: np.ndarray, meta: dict, *, min_fraction: float
                         ) -> tuple[list, np.ndarray | None]:
    """What the finders ``meta`` asks for give an image of a data folder (a
    :class:`~spacejunk.train.datasets.ImageRecord`): the dark halos to fill
    (:func:`halos_to_fill`) and the tiles' finder scores
    (:func:`~spacejunk.predict.finders.record_finder_scores`), its files read again once for
    both, and not at all when ``meta`` asks for no finder (``[]``, None)."""
    exposure = record_exposure(record, bands) if uses_finders(meta) else None
    halos, found = halos_to_fill(exposure, meta)
    scores = record_finder_scores(record, bands, grid, meta, min_fraction=min_fraction, exposure=exposure,
                                  found=found)
    return halos, scores


def network_scores(model: nn.Module, meta: dict, image: np.ndarray, present: np.ndarray, grid: np.ndarray, *,
                   context: np.ndarray | None = None, halos=()) -> np.ndarray:
    """:func:`score_tiles` with the dark halos boxed in ``halos`` (:func:`halos_to_fill`)
    filled with sky first (:func:`~spacejunk.predict.dark_halos.fill_with_sky`; the context
    binned again): the network flags a ring of tiles beyond a large halo, while the
    halo's own tiles are the dark-halo finder's."""
    if len(halos):
        image = fill_with_sky(image, halos)
        if context is not None:
            context = bin_image(image, int(meta["context_bin"]))
    return score_tiles(model, image, present, grid, context=context)


def classify_exposure(exposure: Exposure, *, model: nn.Module | None = None, meta: dict | None = None,
                      threshold: float | None = None, overlap: int = 0, trails=None,
                      found: dict | None = None) -> TileScores:
    """Probability that each tile of an exposure holds an artifact.

    Parameters
    ----------
    exposure : Exposure
        The image: any size, any subset of the bands the model was trained on (others are
        ignored with a warning).
    model, meta : optional
        A classifier and its metadata from :func:`spacejunk.models.load_checkpoint`;
        default the shipped model (:func:`load_default_classifier`).
    threshold : float, optional
        Score in [0, 1] from which a tile is positive; default the model's own
        (``meta["threshold"]``, chosen on validation images for a target recall).
    overlap : int, optional
        Pixels shared by neighbouring tiles (default 0: the 200-px grid from (0, 0) of
        ``tiles.csv``, whose last row and column are moved inward to end on the border).
    trails : list of Trail or False, optional
        Straight trails of the image (:func:`spacejunk.predict.trails.find_trails`), or
        False for none; default: found here when the model asks for them
        (``meta["trails"]``). A tile a trail covers scores at least the trail's score.
    found : dict of str to list of Artifact, optional
        What the other finders the model asks for (``meta["cross_talk"]``,
        ``meta["dark_halos"]``, ...; :mod:`spacejunk.predict.finders`) found, by key; those
        missing are run here. A tile an artifact's box covers scores at least its score.

    Returns
    -------
    TileScores
        Grid, scores and threshold.

    Raises
    ------
    InputError
        The exposure has none of the model's bands.
    ValueError
        Bad ``threshold`` or ``overlap``; only one of ``model``/``meta`` given.

    Notes
    -----
    The whole image goes through the network once; a tile's score is pooled from the
    feature maps over its footprint (mean and max at strides 8, 16 and 32) plus the context
    features at its position, so overlapping tiles cost nothing extra. The deepest
    features see ~200 px beyond a tile's edges, so an artifact cut by a tile border is
    seen whole by the tiles on both sides.
    """
    if not isinstance(exposure, Exposure):
        raise TypeError(f"exposure must be an Exposure, got {type(exposure).__name__}")
    model, meta = _check_model_meta(model, meta)
    if threshold is None:
        threshold = float(meta.get("threshold", 0.5))
    elif not 0.0 <= float(threshold) <= 1.0:
        raise ValueError(f"threshold must be in [0, 1], got {threshold}")
    tile = int(meta.get("tile", 200))
    grid = tile_grid(exposure.shape, tile=tile, overlap=overlap)
    image, present, context, used = model_inputs(exposure, meta)
    exposure = exposure.select(used)
    halos, found = halos_to_fill(exposure, meta, found)
    scores = network_scores(model, meta, image, present, grid, context=context, halos=halos)
    scores = np.maximum(scores, finder_tile_scores(exposure, grid, meta, trails=trails, found=found,
                                                   min_fraction=float(meta.get("min_fraction", 0.01))))
    return TileScores(grid=grid, scores=scores, threshold=float(threshold), bands=used)

"""Model proposals for review: run a proposer once per image and store what it says."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np
from tqdm import tqdm

from .._errors import InputError
from ..io.artifact import Artifact
from ..io.exposure import Exposure, read_exposure
from .store import ReviewStore

__all__ = ["Proposal", "Proposer", "as_proposal", "pipeline_proposer", "propose_images", "DEFAULT_THRESHOLD"]

log = logging.getLogger("spacejunk")

#: Threshold assumed for the queue when a proposer does not say its own.
DEFAULT_THRESHOLD = 0.5

#: A proposer: takes an Exposure, returns what :func:`as_proposal` understands.
Proposer = Callable[[Exposure], Any]


@dataclass(frozen=True)
class Proposal:
    """What a model proposes for one image.

    Attributes
    ----------
    artifacts : list of Artifact
        Proposed marks with their scores.
    grid : ndarray, shape (n, 4), int64
        Tiles ``(x0, y0, x1, y1)`` the classifier scored (may be empty).
    scores : ndarray, shape (n,), float64
        The classifier's probability for each tile.
    threshold : float
        The score threshold the proposer used.
    """

    artifacts: list[Artifact]
    grid: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), dtype=np.int64))
    scores: np.ndarray = field(default_factory=lambda: np.zeros(0))
    threshold: float = DEFAULT_THRESHOLD


def as_proposal(result: Any, *, threshold: float | None = None) -> Proposal:
    """Turn a proposer's answer into a :class:`Proposal`.

    Parameters
    ----------
    result : Proposal, ImageResult-like, or sequence of Artifact
        A :class:`Proposal`; an object with ``artifacts`` and either ``grid`` and
        ``tile_scores`` (:class:`spacejunk.pipeline.ImageResult`) or ``tiles`` with
        ``grid`` and ``scores`` (``TileScores``); or a plain list of artifacts.
    threshold : float, optional
        Threshold to record when ``result`` does not carry one (default 0.5).

    Returns
    -------
    Proposal
    """
    if isinstance(result, Proposal):
        return result
    if isinstance(result, (list, tuple)):
        artifacts, grid, scores = list(result), None, None
    elif hasattr(result, "artifacts"):
        artifacts = list(result.artifacts)
        tiles = getattr(result, "tiles", None)
        if tiles is not None:
            grid, scores = tiles.grid, tiles.scores
        else:
            grid, scores = getattr(result, "grid", None), getattr(result, "tile_scores", None)
    else:
        raise TypeError("a proposer must return a Proposal, an object with .artifacts, or a list of Artifact; "
                        f"got {type(result).__name__}")
    for a in artifacts:
        if not isinstance(a, Artifact):
            raise TypeError(f"a proposer's artifacts must be Artifact records, got {type(a).__name__}")
    grid = np.zeros((0, 4), dtype=np.int64) if grid is None else np.asarray(grid, dtype=np.int64).reshape(-1, 4)
    scores = np.zeros(0) if scores is None else np.asarray(scores, dtype=np.float64).ravel()
    if grid.shape[0] != scores.size:
        raise ValueError(f"proposer returned {grid.shape[0]} tiles but {scores.size} tile scores")
    t = getattr(result, "threshold", None)
    if t is None:
        t = DEFAULT_THRESHOLD if threshold is None else threshold
    return Proposal(artifacts, grid, np.clip(scores, 0.0, 1.0), float(t))


def pipeline_proposer(*, model: str | os.PathLike | Sequence[str | os.PathLike] | None = None,
                      threshold: float | None = None, bands: Sequence[str] | None = None) -> Proposer:
    """The detection pipeline as a proposer (:func:`spacejunk.pipeline.detect_exposure`).

    Parameters
    ----------
    model : path or list of paths, optional
        Checkpoints of your own replacing the shipped models, as ``spacejunk detect
        --model``: a classifier, a detector or one of each (each file's metadata says
        which; :func:`spacejunk.pipeline.checkpoint_task`).
    threshold : float, optional
        Score threshold (default: the model's own).
    bands : sequence of str, optional
        Bands to use (default: all the model knows).

    Returns
    -------
    callable
        ``proposer(exposure) -> Proposal``.
    """
    from ..pipeline import DetectSettings, detect_exposure

    settings = DetectSettings.from_models(model, threshold=threshold, bands=bands or None)

    def propose(exposure: Exposure) -> Proposal:
        return as_proposal(detect_exposure(exposure, settings=settings),
                           threshold=DEFAULT_THRESHOLD if threshold is None else threshold)

    return propose


def propose_images(store: ReviewStore, images: Mapping[str, Sequence[str | os.PathLike]], proposer: Proposer | None,
                   *, model_name: str = "model", quiet: bool = False) -> list[str]:
    """Run ``proposer`` on each image the store does not have yet, and store its marks.

    Parameters
    ----------
    store : ReviewStore
        Where the proposals go.
    images : mapping of str to sequence of path
        Image name -> its files (:func:`spacejunk.io.find_images`).
    proposer : callable or None
        ``proposer(exposure)``, see :func:`as_proposal` for what it may return. None is
        allowed when every image already has proposals.
    model_name : str, optional
        Recorded with the proposals.
    quiet : bool, optional
        No progress bar.

    Returns
    -------
    list of str
        Images that could not be read (logged and left out); the others are stored.

    Raises
    ------
    InputError
        ``proposer`` is None but some images have no proposals yet.
    """
    have = set(store.image_names())
    todo = [name for name in images if name not in have]
    if not todo:
        return []
    if proposer is None:
        raise InputError(None, f"{len(todo)} image(s) have no model proposals yet and no model was given")
    failed: list[str] = []
    for name in tqdm(todo, desc="model proposals", unit="image", disable=quiet):
        try:
            exposure = read_exposure(images[name])
        except InputError as err:
            log.warning("review: skipping %s: %s", name, err)
            failed.append(name)
            continue
        proposal = as_proposal(proposer(exposure))
        store.add_proposals(name, shape=exposure.shape, bands=exposure.bands, artifacts=proposal.artifacts,
                            tile_grid=proposal.grid, tile_scores=proposal.scores, threshold=proposal.threshold,
                            model=model_name)
    return failed

"""Focal-plane mode: ghosts and scattered-light rays in binned whole-exposure pictures.

A focal-plane picture (JPG/PNG or 2-D FITS, e.g. the 400 x 400 DeepGhostBusters
pictures of Tanoglidis et al. 2021) is segmented by a small U-Net working on a reduced
copy (the model's ``input_size``, 128 x 128 for the shipped model); its map is scaled
back to the picture's size. Per picture, :func:`detect_focal_plane` writes
``<stem>_mask.png`` (8-bit, codes of :data:`~spacejunk.categories.FOCAL_PLANE_CODES`),
``<stem>.png`` (the picture with the found regions outlined) and rows of
``artifacts.csv``.
"""

from __future__ import annotations

import glob
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

from ._errors import InputError, NoArtifactsWarning
from .categories import CATEGORY_COLORS, FOCAL_PLANE_CATEGORIES, FOCAL_PLANE_CODES
from .io._atomic import atomic_path
from .io.artifact import Artifact

__all__ = [
    "FocalPlaneModel",
    "load_focal_plane_model",
    "prepare_focal_plane",
    "resize_grey",
    "normalise_grey",
    "radial_channel",
    "probabilities_from_logits",
    "network_logits",
    "probabilities_to_mask",
    "segment_focal_plane",
    "with_pupil_ghost",
    "with_strokes",
    "mask_to_artifacts",
    "detect_focal_plane",
    "FOCAL_PLANE_SUFFIXES",
    "VIEWS",
    "DEFAULT_WEIGHTS",
]

log = logging.getLogger("spacejunk")

#: File name of the shipped model in ``spacejunk/weights``.
DEFAULT_WEIGHTS = "focal_plane.pt"

#: Numbers of test-time views a model can average over (:attr:`FocalPlaneModel.views`).
VIEWS: tuple[int, ...] = (1, 2, 8)

#: File endings taken as focal-plane pictures when a folder or glob is given.
FOCAL_PLANE_SUFFIXES: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".fits", ".fit", ".fits.fz", ".fits.gz")


@dataclass(frozen=True)
class FocalPlaneModel:
    """A focal-plane segmentation network with the settings it was trained with.

    Attributes
    ----------
    network : torch.nn.Module
        Maps ``(n, 1, size, size)`` normalised pictures to ``(n, 1 + n_categories, size,
        size)`` logits: "any artifact" first, then one per category.
    input_size : int
        Side of the square the pictures are resized to.
    threshold : float
        Default probability threshold of "any artifact".
    categories : tuple of str
        Category of each of the category logits.
    fill_holes : bool
        Mark the holes inside found regions too (people draw outlines).
    min_area : float
        Found regions smaller than this fraction of the picture's area are dropped
        (people do not draw specks; 0 keeps every region).
    radial_channel : bool
        The network takes a second input channel: the distance from the picture's
        centre (see :func:`radial_channel`).
    pupil : PupilGhostSettings or None
        Look for the large pupil ghost by the spider's shadows
        (:mod:`spacejunk.predict.pupil_ghost`) and mark its disc as ``ghost-faint``
        (None: the network alone).
    strokes : StrokeSettings or None
        Mark where dark and bright strokes crowd, ray fans and bright ghosts
        (:mod:`spacejunk.predict.strokes`, :func:`with_strokes`; None: not).
    views : int
        The network's logits are averaged over this many views of the picture: 1 (as it
        is), 2 (and mirrored left-right) or 8 (every flip and quarter-turn, the ways the
        network was trained to see it; see :func:`network_logits`).
    meta : dict
        Everything else recorded in the checkpoint (recipe, cross-validation figures).
    """

    network: torch.nn.Module
    input_size: int = 128
    threshold: float = 0.5
    categories: tuple[str, ...] = FOCAL_PLANE_CATEGORIES
    fill_holes: bool = True
    min_area: float = 0.0
    radial_channel: bool = True
    pupil: Any = None
    strokes: Any = None
    views: int = 1
    meta: dict = field(default_factory=dict, compare=False)

    def __post_init__(self):
        check_views(self.views)


def check_views(views: int) -> None:
    """Raise ValueError unless ``views`` is one of :data:`VIEWS`."""
    if views not in VIEWS:
        raise ValueError(f"views must be one of {VIEWS}, got {views}")


def load_focal_plane_model(path: str | os.PathLike | None = None) -> FocalPlaneModel:
    """Load a focal-plane checkpoint; ``None`` loads the shipped model.

    Raises
    ------
    InputError
        If the file is missing, unreadable or not a focal-plane model.
    """
    from .models.registry import bundled_weights, load_checkpoint
    from .predict.pupil_ghost import settings_from_meta as pupil_settings_from_meta
    from .predict.strokes import settings_from_meta as strokes_settings_from_meta

    path = bundled_weights(DEFAULT_WEIGHTS) if path is None else Path(path)
    network, meta = load_checkpoint(path)
    if meta.get("task") != "focal-plane":
        raise InputError(path, f"not a focal-plane model (task {meta.get('task')!r})")
    return FocalPlaneModel(network=network, input_size=int(meta.get("input_size", 128)),
                           threshold=float(meta.get("threshold", 0.5)),
                           categories=tuple(meta.get("categories", FOCAL_PLANE_CATEGORIES)),
                           fill_holes=bool(meta.get("fill_holes", True)),
                           min_area=float(meta.get("min_area", 0.0)),
                           radial_channel=bool(meta.get("radial_channel", False)),
                           pupil=pupil_settings_from_meta(meta), strokes=strokes_settings_from_meta(meta),
                           views=int(meta.get("views", 1)), meta=meta)


def _as_model(model: FocalPlaneModel | str | os.PathLike | None) -> FocalPlaneModel:
    if isinstance(model, FocalPlaneModel):
        return model
    return load_focal_plane_model(model)


# --------------------------------------------------------------------------- preprocessing
def prepare_focal_plane(image: np.ndarray | torch.Tensor, *, size: int) -> torch.Tensor:
    """A picture as the network sees it: grey, resized to ``size x size``, normalised.

    Parameters
    ----------
    image : array ``(n_channels, ny, nx)`` or ``(ny, nx)``
        The picture (any scale: JPG 0-255 or FITS counts).
    size : int
        Side of the output square.

    Returns
    -------
    torch.Tensor
        float32 ``(1, size, size)``: the mean of the channels, area-resampled, minus its
        median, divided by its 1-99 percentile range, clipped to [-1.5, 3].

    Notes
    -----
    The network sees luminance only, so colour and grey pictures of the same exposure
    give the same result. Non-finite pixels count as 0.
    """
    grey = resize_grey(image, size=size)
    return normalise_grey(grey)


def radial_channel(n: int, size: int, *, grid: torch.Tensor | None = None) -> torch.Tensor:
    """``(n, 1, size, size)`` distance from the picture's centre, in units of half its side.

    The optical axis lies near the centre of a focal-plane picture and the large
    pupil ghosts are centred near it, so the network is told where each pixel lies.
    ``grid`` (``(n, size, size, 2)``, as from ``torch.nn.functional.affine_grid``) gives
    the source position of each pixel of an augmented picture.
    """
    if grid is None:
        c = (torch.arange(size, dtype=torch.float32) + 0.5) / size * 2 - 1
        r = torch.sqrt(c[None, :] ** 2 + c[:, None] ** 2)
        return r.expand(n, 1, size, size).contiguous()
    return grid.pow(2).sum(-1).sqrt()[:, None].contiguous()


def resize_grey(image: np.ndarray | torch.Tensor, *, size: int) -> torch.Tensor:
    """Mean of the channels, area-resampled to ``(1, size, size)`` (float32, values kept)."""
    t = torch.as_tensor(np.asarray(image, dtype=np.float32))
    if t.ndim == 2:
        t = t[None]
    if t.ndim != 3:
        raise ValueError(f"image must be (n_channels, ny, nx) or (ny, nx), got shape {tuple(t.shape)}")
    t = torch.nan_to_num(t, nan=0.0, posinf=0.0, neginf=0.0).mean(0, keepdim=True)
    if t.shape[-2:] != (size, size):
        t = F.interpolate(t[None], size=(size, size), mode="area")[0]
    return t.contiguous()


def normalise_grey(grey: torch.Tensor) -> torch.Tensor:
    """``(..., ny, nx)`` grey pictures minus their median over their 1-99 % range, clipped to [-1.5, 3]."""
    flat = grey.reshape(*grey.shape[:-2], -1)
    q = torch.quantile(flat, torch.tensor([0.01, 0.5, 0.99], dtype=flat.dtype), dim=-1)
    lo, med, hi = (v[..., None, None] for v in q)
    return ((grey - med) / (hi - lo).clamp_min(1e-6)).clamp(-1.5, 3.0)


# --------------------------------------------------------------------------- segmentation
def probabilities_from_logits(logits: torch.Tensor) -> torch.Tensor:
    """``(..., 1 + n_cat, ny, nx)`` logits -> ``(..., n_cat, ny, nx)`` probabilities.

    Probability of category ``k`` = P(any artifact) x P(category k | artifact), so the
    categories add up to the probability of an artifact.
    """
    p_any = torch.sigmoid(logits[..., :1, :, :])
    p_cat = torch.softmax(logits[..., 1:, :, :], dim=-3)
    return p_any * p_cat


def segment_focal_plane(image: np.ndarray, *, model: FocalPlaneModel | str | os.PathLike | None = None,
                        threshold: float | None = None, fill_holes: bool | None = None,
                        min_area: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Segment ghosts and rays in one focal-plane picture.

    Parameters
    ----------
    image : numpy.ndarray
        ``(n_channels, ny, nx)`` or ``(ny, nx)`` picture, as from
        :func:`spacejunk.io.focal_plane.read_focal_plane_image`.
    model : FocalPlaneModel, path or None, optional
        The model, a checkpoint path, or None for the shipped model.
    threshold : float, optional
        Probability of "any artifact" above which a pixel is marked (default: the
        model's own).
    fill_holes : bool, optional
        Also mark holes inside marked regions (default: the model's own setting).
    min_area : float, optional
        Drop regions smaller than this fraction of the picture's area (default: the
        model's own setting).

    Returns
    -------
    prob : numpy.ndarray
        float32 ``(n_categories, ny, nx)``: probability of each category; the sum over
        categories is the probability that the pixel belongs to an artifact.
    mask : numpy.ndarray
        uint8 ``(ny, nx)``: 0 where clean, else the code of its region's most probable category
        (:data:`~spacejunk.categories.FOCAL_PLANE_CODES`).
    """
    fp = _as_model(model)
    thr = fp.threshold if threshold is None else float(threshold)
    if not 0.0 <= thr <= 1.0:
        raise ValueError(f"threshold must be in [0, 1], got {threshold}")
    arr = np.asarray(image, dtype=np.float32)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3:
        raise ValueError(f"image must be (n_channels, ny, nx) or (ny, nx), got shape {arr.shape}")
    ny, nx = arr.shape[-2:]
    x = prepare_focal_plane(arr, size=fp.input_size)[None]
    if fp.radial_channel:
        x = torch.cat([x, radial_channel(1, fp.input_size)], dim=1)
    with torch.no_grad():
        logits = network_logits(fp.network, x, views=fp.views)
        logits = F.interpolate(logits, size=(ny, nx), mode="bilinear", align_corners=False)
        prob = probabilities_from_logits(logits)[0]
    prob_np = prob.numpy().astype(np.float32)
    options = dict(threshold=thr, categories=fp.categories,
                   fill_holes=fp.fill_holes if fill_holes is None else fill_holes,
                   min_area=fp.min_area if min_area is None else min_area)
    disc = None
    from .predict.pupil_ghost import contrast_image

    # both finders work on one high-passed copy of the picture (half a second to make)
    contrast = contrast_image(arr, fp.pupil) if fp.pupil is not None else None
    if fp.pupil is not None:
        prob_np, disc = with_pupil_ghost(prob_np, arr, fp.pupil, categories=fp.categories, contrast=contrast)
    if fp.strokes is not None:  # marks inside the disc are the ghost's own: not stretched
        prob_np = with_strokes(prob_np, arr, fp.strokes, categories=fp.categories, contrast=contrast, disc=disc)
    if disc is None:
        return prob_np, probabilities_to_mask(prob_np, **options)
    # the disc is a region of its own: what the network marks beside it keeps its own regions and names
    outside = probabilities_to_mask(np.where(disc, 0.0, prob_np).astype(np.float32), **options)
    faint = FOCAL_PLANE_CODES["ghost-faint"]
    on_disc = disc & (prob_np.sum(0) >= thr)
    if on_disc.sum() < options["min_area"] * on_disc.size:  # the least region holds for the disc too
        on_disc[:] = False
    return prob_np, np.where(on_disc, np.uint8(faint), outside).astype(np.uint8)


def network_logits(network: torch.nn.Module, x: torch.Tensor, *, views: int = 1) -> torch.Tensor:
    """The network's logits for the square input ``x`` ``(n, c, size, size)``, averaged over ``views``.

    Each view is the input turned by a quarter-turn ``k`` times and mirrored left-right or
    not; its logits are turned back before the mean: with ``views=2`` the picture as it is
    and mirrored, with 8 every flip and quarter-turn (the network was trained on all of
    them, and they are what the DECam layout and the radial channel are symmetric under).
    A region the network marks from one side of the picture only fades by the mean.
    """
    check_views(views)
    network.eval()
    turns = range(4) if views == 8 else range(1)
    mirrors = (False, True) if views >= 2 else (False,)
    total = None
    for k in turns:
        for mirror in mirrors:
            xv = torch.rot90(x, k, dims=(-2, -1))
            y = network(xv.flip(-1) if mirror else xv)
            y = torch.rot90(y.flip(-1) if mirror else y, -k, dims=(-2, -1))
            total = y if total is None else total + y
    return total / views


def with_pupil_ghost(prob: np.ndarray, image: np.ndarray, settings, *,
                     categories: Sequence[str] = FOCAL_PLANE_CATEGORIES,
                     contrast: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """``prob`` with the disc of the picture's pupil ghost, if one is found, marked ``ghost-faint``.

    Inside the disc the probability of an artifact is raised to ``settings.probability``,
    the increase going to ``ghost-faint`` (people give these discs that type). ``contrast``:
    the picture's high-passed copy if already made
    (:func:`spacejunk.predict.pupil_ghost.pupil_statistics`).

    Returns
    -------
    prob : numpy.ndarray
        The probabilities (``prob`` itself when no ghost is found).
    disc : numpy.ndarray or None
        bool mask of the disc, None when no ghost is found.
    """
    from .predict.pupil_ghost import find_pupil_ghost, pupil_disc

    ghost = find_pupil_ghost(image, settings, contrast=contrast)
    if ghost is None:
        return prob, None
    disc = pupil_disc(ghost, prob.shape[-2:])
    out = prob.copy()
    lift = np.clip(settings.probability - out.sum(0), 0.0, None) * disc
    out[list(categories).index("ghost-faint")] += lift.astype(out.dtype)
    return out, disc


def with_strokes(prob: np.ndarray, image: np.ndarray, settings, *,
                 categories: Sequence[str] = FOCAL_PLANE_CATEGORIES, contrast: np.ndarray | None = None,
                 disc: np.ndarray | None = None) -> np.ndarray:
    """``prob`` raised to ``settings.probability`` where dark and bright strokes crowd.

    The regions are :func:`spacejunk.predict.strokes.stroke_regions`': ray fans and bright
    ghosts, never a faint ghost (a faint ghost has no strokes). So the increase goes to
    ``ghost-bright`` where the network finds that more likely than ``rays``, else to ``rays``.
    ``contrast``: the picture's high-passed copy if already made
    (:func:`spacejunk.predict.strokes.stroke_density`); ``disc``: the pupil ghost's disc, if
    one was found (marks inside it are not stretched).
    """
    from .predict.strokes import stroke_regions

    regions = stroke_regions(image, settings, contrast=contrast, disc=disc)
    if not regions.any():
        return prob
    lift = np.clip(settings.probability - prob.sum(0), 0.0, None) * regions
    rays, bright = list(categories).index("rays"), list(categories).index("ghost-bright")
    to_bright = prob[bright] > prob[rays]
    out = prob.copy()
    out[bright] += np.where(to_bright, lift, 0.0).astype(out.dtype)
    out[rays] += np.where(to_bright, 0.0, lift).astype(out.dtype)
    return out


def probabilities_to_mask(prob: np.ndarray, *, threshold: float, categories: Sequence[str] = FOCAL_PLANE_CATEGORIES,
                          fill_holes: bool = False, per_region: bool = True, min_area: float = 0.0) -> np.ndarray:
    """uint8 code mask from ``(n_cat, ny, nx)`` probabilities.

    A pixel is marked where the probabilities add up to at least ``threshold``.
    ``fill_holes=True`` also marks the holes inside marked regions (people draw outlines,
    so their regions have none). With ``per_region=True`` (the default) every connected
    region (8-connected) takes one code, that of the category with the largest summed
    probability over it, as a person gives one ``Type`` per drawn region; otherwise each
    pixel takes its own most probable category. Regions (8-connected, holes filled or
    not as asked) smaller than ``min_area`` times the picture's area are left clean.
    """
    if not 0.0 <= min_area < 1.0:
        raise ValueError(f"min_area must be in [0, 1), got {min_area}")
    codes = np.array([FOCAL_PLANE_CODES[c] for c in categories], dtype=np.uint8)
    marked = prob.sum(0) >= threshold
    if fill_holes:
        marked = ndimage.binary_fill_holes(marked)
    if not per_region and min_area == 0:
        return np.where(marked, codes[np.argmax(prob, axis=0)], 0).astype(np.uint8)
    # the regions are labelled once: for the least size and for their one category each
    labels, n = ndimage.label(marked, structure=np.ones((3, 3), dtype=bool))
    kept = np.bincount(labels.ravel(), minlength=n + 1) >= min_area * marked.size
    kept[0] = False
    if not per_region:
        return np.where(kept[labels], codes[np.argmax(prob, axis=0)], 0).astype(np.uint8)
    lut = np.zeros(n + 1, dtype=np.uint8)
    if n:
        idx = np.arange(1, n + 1)
        sums = np.stack([np.atleast_1d(ndimage.sum(prob[k], labels, idx)) for k in range(len(codes))])
        lut[1:] = codes[np.argmax(sums, axis=0)]
    lut[~kept] = 0
    return lut[labels]


def mask_to_artifacts(mask: np.ndarray, prob: np.ndarray, *, image: str, min_pixels: int = 1) -> list[Artifact]:
    """One :class:`~spacejunk.io.Artifact` per connected region of each code of ``mask``.

    Parameters
    ----------
    mask : uint8 ``(ny, nx)``
        Codes of :data:`~spacejunk.categories.FOCAL_PLANE_CODES` (0 = clean).
    prob : float ``(n_categories, ny, nx)``
        Category probabilities; the score of a region is the mean over its pixels of the
        probability of an artifact (the sum over categories).
    image : str
        Image name written in the records.
    min_pixels : int, optional
        Smaller regions are dropped (default 1: none).

    Returns
    -------
    list of Artifact
        Centre = centroid; radius = that of the circle of the region's area (at least
        0.5 px); box = the region's bounding box (exclusive ends); sorted by score.
    """
    ny, nx = mask.shape
    p_any = prob.sum(0)
    by_code = {code: cat for cat, code in FOCAL_PLANE_CODES.items()}
    out: list[Artifact] = []
    for code in sorted(int(c) for c in np.unique(mask) if c):
        labels, n = ndimage.label(mask == code, structure=np.ones((3, 3), dtype=bool))
        if n == 0:
            continue
        slices = ndimage.find_objects(labels)
        idx = np.arange(1, n + 1)
        sizes = ndimage.sum(np.ones_like(p_any), labels, idx)
        scores = ndimage.mean(p_any, labels, idx)
        centres = ndimage.center_of_mass(np.ones_like(p_any), labels, idx)
        for k, sl in enumerate(slices):
            if sl is None or sizes[k] < min_pixels:
                continue
            cy, cx = centres[k]
            out.append(Artifact(image=image, x=float(cx), y=float(cy),
                                radius=float(max(np.sqrt(sizes[k] / np.pi), 0.5)),
                                xmin=float(sl[1].start), ymin=float(sl[0].start),
                                xmax=float(sl[1].stop), ymax=float(sl[0].stop),
                                score=float(np.clip(scores[k], 0.0, 1.0)), category=by_code[code]))
    out.sort(key=lambda a: -a.score)
    return out


# --------------------------------------------------------------------------- pictures
def _preview(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """uint8 ``(ny, nx, 3)`` picture with the outline of each region in its category's colour."""
    arr = np.asarray(image, dtype=np.float32)
    if arr.shape[0] == 1:
        arr = np.repeat(arr, 3, axis=0)
    lo, hi = np.percentile(arr, [0.5, 99.5])
    if arr.max() <= 255 and arr.min() >= 0 and hi > 1:
        rgb = arr
    else:
        rgb = (arr - lo) / max(hi - lo, 1e-6) * 255.0
    rgb = np.moveaxis(np.clip(rgb, 0, 255).astype(np.uint8), 0, -1).copy()
    for cat, code in FOCAL_PLANE_CODES.items():
        region = mask == code
        if region.any():
            edge = region & ~ndimage.binary_erosion(region, border_value=0)
            edge = ndimage.binary_dilation(edge) & ~ndimage.binary_erosion(region, iterations=2, border_value=0) \
                if min(mask.shape) >= 200 else edge
            rgb[edge] = CATEGORY_COLORS.get(cat, (255, 255, 0))
    return rgb


def _write_png(path: Path, array: np.ndarray) -> None:
    from PIL import Image

    with atomic_path(path) as tmp:
        Image.fromarray(array).save(tmp, format="PNG")


# --------------------------------------------------------------------------- batch
def _expand(paths: Sequence[str | os.PathLike]) -> list[Path]:
    """Files of ``paths``: files as given (missing ones too), folders' pictures, globs' matches."""
    out: list[Path] = []
    for p in ([paths] if isinstance(paths, (str, os.PathLike)) else paths):
        text = str(p)
        path = Path(text)
        if path.is_dir():
            out.extend(sorted(f for f in path.iterdir() if f.is_file() and f.name.lower().endswith(
                FOCAL_PLANE_SUFFIXES) and not f.name.endswith("_mask.png")))
        elif any(ch in text for ch in "*?[") and not path.exists():
            out.extend(sorted(Path(f) for f in glob.glob(text) if Path(f).is_file()))
        else:
            out.append(path)
    seen: set[Path] = set()
    return [p for p in out if not (p in seen or seen.add(p))]


def _stem(path: Path) -> str:
    name = path.name
    for suffix in sorted(FOCAL_PLANE_SUFFIXES, key=len, reverse=True):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def detect_focal_plane(paths: Sequence[str | os.PathLike] | str | os.PathLike, out_dir: str | os.PathLike, *,
                       model: FocalPlaneModel | str | os.PathLike | None = None, threshold: float | None = None,
                       min_area: float | None = None, write_png: bool = True, overwrite: bool = False, quiet: bool = False) -> dict[str, Any]:
    """Find ghosts and rays in focal-plane pictures and write masks, pictures and a catalog.

    Parameters
    ----------
    paths : sequence of str or path-like
        Picture files (JPG/PNG/FITS), folders (their pictures) or glob patterns.
    out_dir : str or path-like
        Output folder, created if needed.
    model : FocalPlaneModel, path or None, optional
        Model or checkpoint; None (default) uses the shipped model.
    threshold : float, optional
        Probability of "any artifact" to mark a pixel (default: the model's own).
    min_area : float, optional
        Regions smaller than this fraction of the picture's area are dropped (default:
        the model's own).
    write_png : bool, optional
        Write ``<stem>.png`` pictures with the regions outlined (default True).
    overwrite : bool, optional
        Redo pictures whose ``<stem>_mask.png`` exists (default False: skip them and
        keep their rows of ``artifacts.csv``).
    quiet : bool, optional
        No progress bar.

    Returns
    -------
    dict
        ``done``, ``failed``, ``skipped`` (counts), ``artifacts`` (rows written for the
        pictures processed now), ``seconds``, ``errors`` (list of ``{"path", "reason"}``),
        ``out`` (the folder).

    Notes
    -----
    A picture that cannot be read (missing, truncated, not an image, FITS data that are
    not 2-D) is reported in ``errors`` and logged, counts as failed, and the batch goes
    on. Every file is written atomically. A picture with nothing found gets an all-zero
    mask and no rows; if nothing is found in the whole batch, a
    :class:`~spacejunk.NoArtifactsWarning` is emitted.
    """
    import warnings

    from tqdm import tqdm

    from .io.focal_plane import read_focal_plane_image
    from .io.outputs import read_artifacts, write_artifacts

    t0 = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = _expand(paths)
    if not files:
        raise InputError(None, f"no focal-plane pictures found in {', '.join(map(str, paths)) if not isinstance(paths, (str, os.PathLike)) else paths}")
    fp = _as_model(model)
    thr = fp.threshold if threshold is None else float(threshold)
    if not 0.0 <= thr <= 1.0:
        raise ValueError(f"threshold must be in [0, 1], got {threshold}")
    area = fp.min_area if min_area is None else float(min_area)
    if not 0.0 <= area < 1.0:
        raise ValueError(f"min_area must be in [0, 1), got {min_area}")
    csv_path = out / "artifacts.csv"
    previous = read_artifacts(csv_path) if csv_path.exists() else []
    summary: dict[str, Any] = {"done": 0, "failed": 0, "skipped": 0, "artifacts": 0, "seconds": 0.0,
                               "errors": [], "out": str(out)}
    redone: set[str] = set()
    found: list[Artifact] = []
    for path in tqdm(files, desc="focal-plane", unit="image", disable=quiet):
        stem = _stem(path)
        mask_path = out / f"{stem}_mask.png"
        if mask_path.exists() and not overwrite:
            summary["skipped"] += 1
            continue
        try:
            image = read_focal_plane_image(path)
            prob, mask = segment_focal_plane(image, model=fp, threshold=thr, min_area=area)
        except InputError as err:
            summary["failed"] += 1
            summary["errors"].append({"path": str(path), "reason": err.problem})
            log.error("spacejunk: %s: %s", path, err.problem)
            continue
        arts = mask_to_artifacts(mask, prob, image=stem)
        redone.add(stem)
        found.extend(arts)
        _write_png(mask_path, mask)
        if write_png:
            _write_png(out / f"{stem}.png", _preview(image, mask))
        summary["done"] += 1
        summary["artifacts"] += len(arts)
        log.info("%s: %d region(s)", path.name, len(arts))
    kept = [a for a in previous if a.image not in redone]
    write_artifacts(csv_path, kept + found)
    if summary["done"] and not found:
        warnings.warn(f"no ghosts or rays found in {summary['done']} picture(s)", NoArtifactsWarning, stacklevel=2)
    summary["seconds"] = time.perf_counter() - t0
    return summary

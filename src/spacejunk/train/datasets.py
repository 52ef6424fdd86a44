"""Training data: a folder of images read into normalised arrays, artifact masks and binned context.

A *data folder* is what ``spacejunk simulate`` writes (or any folder of images with
labels): ``<image>_<band>.fits[.fz]`` files, ``labels.csv`` (volunteer-style circles)
and, from the simulator, ``truth.csv`` and ``truth/<image>_truth.fits`` (the exact
artifact footprints, int32 category bits). The artifact mask of an image is, in order of
preference: the circles of an explicit labels CSV (``labels=``), the simulator's truth
mask, the circles of the folder's ``labels.csv``. An image without any row in the labels
has no artifacts.

Reusable by every model: :func:`iter_image_folder` yields one :class:`ImageRecord` at a
time (memory stays at one full image), :func:`load_image_folder` collects them.
"""

from __future__ import annotations

import logging
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
from tqdm import tqdm

from .._errors import InputError
from ..io import Artifact, Exposure, find_images, read_exposure, read_labels, read_mask_fits
from ..io.labels import labels_to_category_mask
from ..preprocess import bin_image, normalise

__all__ = ["Normalisation", "ImageRecord", "make_record", "iter_image_folder", "load_image_folder", "mask_source",
           "parse_image_list"]

log = logging.getLogger("spacejunk")


@dataclass(frozen=True)
class Normalisation:
    """How an exposure becomes model input: :func:`spacejunk.preprocess.normalise` settings.

    Attributes
    ----------
    stretch : {"asinh", "linear"}
        Stretch of the noise-normalised bands (default ``"asinh"``: linear within a few
        sigma, logarithmic beyond, so saturated stars do not dominate).
    softening : float
        ``a`` of the asinh stretch, in noise units (default 5).
    clip : float or None
        Clip the stretched values to ``[-clip, clip]`` (default None).
    mask_bits : int
        DESDM bits whose pixels are set to the sky (default 0: keep every pixel; DESDM
        flags some artifacts themselves, STREAK, CRAY, and the model must see them).
    background : {"none", "amplifiers", "plane"}
        ``"amplifiers"``: both amplifiers of each band brought to one sky level
        (:func:`spacejunk.preprocess.amplifier_step`); ``"plane"``: a robust plane per
        amplifier subtracted (:func:`spacejunk.preprocess.sky_planes`); default
        ``"none"``, one sky per band.
    """

    stretch: str = "asinh"
    softening: float = 5.0
    clip: float | None = None
    mask_bits: int = 0
    background: str = "none"

    def apply(self, exposure: Exposure) -> np.ndarray:
        """Normalised bands of ``exposure``, float32 (n_bands, ny, nx), 0 = sky, 1 ~ noise."""
        return normalise(exposure, stretch=self.stretch, softening=self.softening, clip=self.clip,
                         mask_bits=self.mask_bits, background=self.background)

    def as_dict(self) -> dict:
        """Plain dict (for checkpoint metadata)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict | None) -> "Normalisation":
        """The settings stored by :meth:`as_dict` (unknown keys ignored; None: defaults)."""
        if not d:
            return cls()
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


@dataclass(frozen=True, eq=False)
class ImageRecord:
    """One image of a data folder, ready for training.

    Attributes
    ----------
    name : str
        Image name.
    bands : tuple of str
        Bands of ``image``, in order.
    image : ndarray, shape (n_bands, ny, nx)
        Normalised bands (:class:`Normalisation`), float16 or float32.
    mask : ndarray, shape (ny, nx), int32
        Artifact mask: :data:`spacejunk.categories.CATEGORY_BITS` of the artifacts covering
        each pixel, 0 where clean.
    artifacts : tuple of Artifact
        The truth (simulator) or labels of the image.
    context : ndarray, shape (n_bands, ceil(ny / context_bin), ceil(nx / context_bin)), float32, or None
        The normalised bands binned ``context_bin`` x ``context_bin`` (mean), or None if not asked.
    mask_source : str
        ``"truth"``, ``"labels"`` or ``"none"`` (no truth and no labels: all clean).
    path : Path or None
        The first file of the image.
    """

    name: str
    bands: tuple[str, ...]
    image: np.ndarray
    mask: np.ndarray
    artifacts: tuple[Artifact, ...] = field(default=())
    context: np.ndarray | None = None
    mask_source: str = "none"
    path: Path | None = None

    @property
    def shape(self) -> tuple[int, int]:
        """(ny, nx)."""
        return tuple(self.image.shape[1:])  # type: ignore[return-value]


def make_record(exposure: Exposure, mask: np.ndarray | None = None, *, artifacts: Sequence[Artifact] = (),
                normalisation: Normalisation | None = None, context_bin: int | None = 16, dtype: type = np.float32,
                mask_source: str = "truth") -> ImageRecord:
    """An :class:`ImageRecord` from an in-memory exposure (e.g. ``simulate_image(...).exposure``).

    Parameters
    ----------
    exposure : Exposure
    mask : ndarray, shape (ny, nx), optional
        Artifact mask (category bits or bool; non-zero = artifact); default all clean.
    artifacts : sequence of Artifact, optional
    normalisation, context_bin, dtype : optional
        As in :func:`iter_image_folder`.
    mask_source : str, optional
        Recorded as :attr:`ImageRecord.mask_source` (default ``"truth"``).
    """
    normalisation = normalisation or Normalisation()
    if mask is None:
        mask, mask_source = np.zeros(exposure.shape, np.int32), "none"
    mask = np.asarray(mask)
    if mask.shape != exposure.shape:
        raise ValueError(f"mask must have the exposure's shape {exposure.shape}, got {mask.shape}")
    image = normalisation.apply(exposure)
    context = bin_image(image, context_bin) if context_bin else None
    return ImageRecord(name=exposure.name, bands=exposure.bands, image=image.astype(dtype, copy=False),
                       mask=mask.astype(np.int32, copy=False), artifacts=tuple(artifacts), context=context,
                       mask_source=mask_source, path=exposure.paths[0] if exposure.paths else None)


def mask_source(folder: str | os.PathLike, *, labels: str | os.PathLike | None = None) -> str:
    """Where the artifact masks of a data folder come from: ``"labels-file"``, ``"truth"``, ``"labels"`` or ``"none"``."""
    folder = Path(folder)
    if labels is not None:
        return "labels-file"
    if (folder / "truth").is_dir():
        return "truth"
    if (folder / "labels.csv").is_file():
        return "labels"
    return "none"


def _read_truth_artifacts(folder: Path) -> dict[str, list[Artifact]]:
    path = folder / "truth.csv"
    if not path.is_file():
        return {}
    from ..io import read_artifacts

    out: dict[str, list[Artifact]] = {}
    for art in read_artifacts(path):
        out.setdefault(art.image, []).append(art)
    return out


def iter_image_folder(folder: str | os.PathLike, *, bands: Sequence[str] | None = None,
                      labels: str | os.PathLike | None = None, normalisation: Normalisation | None = None,
                      context_bin: int | None = 16, dtype: type = np.float32, images: Sequence[str] | None = None,
                      quiet: bool = False) -> Iterator[ImageRecord]:
    """Yield the images of a data folder one at a time.

    Parameters
    ----------
    folder : str or path-like
        A data folder (see the module docstring).
    bands : sequence of str, optional
        Bands to read, in this order; default all bands of each image.
    labels : str or path-like, optional
        A labels CSV (``image,x,y,size[,radius][,category]``) whose circles replace the
        simulator's truth, e.g. volunteer labels exported by the review app.
    normalisation : Normalisation, optional
        Default ``Normalisation()``.
    context_bin : int or None, optional
        Binning factor of :attr:`ImageRecord.context` (default 16); None: no context.
    dtype : numpy dtype, optional
        dtype of :attr:`ImageRecord.image` (float16 halves the memory of a training set).
    images : sequence of str, optional
        Only these image names (default: every image of the folder).
    quiet : bool, optional
        No progress bar.

    Yields
    ------
    ImageRecord

    Raises
    ------
    InputError
        The folder does not exist or holds no image, the labels file is bad, an image
        asked for is absent, or a truth mask has the wrong shape.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(folder, "data folder not found")
    normalisation = normalisation or Normalisation()
    found = find_images(folder)
    if images is not None:
        missing = sorted(set(images) - set(found))
        if missing:
            raise InputError(folder, f"no image named {', '.join(missing)}")
        found = {k: found[k] for k in images}
    source = mask_source(folder, labels=labels)
    circles: dict[str, list[Artifact]] = {}
    if source == "labels-file":
        circles = read_labels(labels)
    elif source == "labels":
        circles = read_labels(folder / "labels.csv")
    truth_artifacts = _read_truth_artifacts(folder) if source == "truth" else {}
    for name, files in tqdm(found.items(), desc=f"reading {folder.name}", unit="image", disable=quiet):
        exposure = read_exposure(files, bands=bands)
        image = normalisation.apply(exposure)
        if source == "truth":
            truth_path = folder / "truth" / f"{name}_truth.fits"
            if truth_path.is_file():
                mask = read_mask_fits(truth_path)
                if mask.shape != exposure.shape:
                    raise InputError(truth_path, f"truth mask has shape {mask.shape}, the image {exposure.shape}")
                arts = tuple(truth_artifacts.get(name, ()))
                kind = "truth"
            else:
                log.warning("%s: no truth mask for image %s; taking it as clean", folder, name)
                mask, arts, kind = np.zeros(exposure.shape, np.int32), (), "none"
        elif source in ("labels", "labels-file"):
            arts = tuple(circles.get(name, ()))
            mask = labels_to_category_mask(arts, exposure.shape).astype(np.int32, copy=False)
            kind = "labels"
        else:
            mask, arts, kind = np.zeros(exposure.shape, np.int32), (), "none"
        context = bin_image(image, context_bin) if context_bin else None
        yield ImageRecord(name=name, bands=exposure.bands, image=image.astype(dtype, copy=False), mask=mask,
                          artifacts=arts, context=context, mask_source=kind,
                          path=Path(files[0]) if files else None)


def load_image_folder(folder: str | os.PathLike, **options) -> list[ImageRecord]:
    """All the images of a data folder: ``list(iter_image_folder(folder, **options))``.

    See :func:`iter_image_folder` for the options. A full 4096 x 2048 three-band image
    takes ~100 MB in float32 (50 MB with ``dtype=np.float16``) plus 32 MB of mask.
    """
    records = list(iter_image_folder(folder, **options))
    if not records:
        raise InputError(folder, "no images in this data folder")
    return records


def parse_image_list(value: str | None) -> tuple[str, ...] | None:
    """Image names from ``--images``: a file with one name per line, or names separated by commas.

    Returns None for None or an empty string (every image of the folder). The review app
    writes such a file beside its export (``<labels>.images.txt``: the reviewed images),
    so that training on a partly reviewed folder does not take the rest as clean.
    """
    if not value:
        return None
    path = Path(value)
    if path.is_file():
        names = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
        names = [n for n in names if n and not n.startswith("#")]
        if not names:
            raise InputError(path, "no image names in this file")
    else:
        names = [n.strip() for n in value.split(",") if n.strip()]
    return tuple(dict.fromkeys(names))

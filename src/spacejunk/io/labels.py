"""Volunteer labels: circles in a CSV file, and the masks they cover."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from .._errors import InputError
from ..categories import CATEGORY_BITS, LABEL_RADIUS_PX
from .artifact import Artifact
from .outputs import _format_number, _parse_category, _parse_float, _parse_image, _read_csv, _write_csv

__all__ = ["LABEL_COLUMNS", "read_labels", "write_labels", "labels_to_mask", "labels_to_category_mask"]

#: Columns written by :func:`write_labels`; ``image,x,y`` and ``size`` or ``radius`` are required to read.
LABEL_COLUMNS: tuple[str, ...] = ("image", "x", "y", "size", "radius", "category")

#: Marks up to this radius are ``small``, larger ones ``medium``, when writing.
_SMALL_MAX_RADIUS_PX = 50.0


def read_labels(path: str | os.PathLike) -> dict[str, list[Artifact]]:
    """Read a labels CSV: one circle per row.

    Parameters
    ----------
    path : str or path-like
        CSV with header ``image,x,y,size`` and optionally ``radius`` and ``category``, in
        any order (extra columns are ignored). ``x``, ``y`` are the centre in 0-based
        pixels; ``size`` is ``small`` (radius 25 px) or ``medium`` (75 px) unless
        ``radius`` (px) is given; ``category`` defaults to ``other``.

    Returns
    -------
    dict of str to list of Artifact
        Image name -> its marks in file order, each with score 1 and the circle's
        bounding box (not clipped: the image size is not known here). An image with no
        rows is absent (it has no artifacts).

    Raises
    ------
    InputError
        Naming the file, and the line for a bad row: wrong number of fields, empty
        image, ``x``/``y`` not numbers, a radius that is not positive, an unknown size
        or category. Missing header columns are listed.
    """
    path = Path(path)
    labels: dict[str, list[Artifact]] = {}
    for line, row in _read_csv(path, required=("image", "x", "y"), either=("size", "radius")):
        image = _parse_image(path, line, row)
        x, y = (_parse_float(path, line, row, c) for c in ("x", "y"))
        size = row.get("size", "").lower()
        if size and size not in LABEL_RADIUS_PX:
            raise InputError(path, f"line {line}: unknown size {row['size']!r}; expected one of "
                                   f"{', '.join(LABEL_RADIUS_PX)}")
        if row.get("radius", ""):
            radius = _parse_float(path, line, row, "radius", minimum=0.0)
            if radius == 0:
                raise InputError(path, f"line {line}: radius must be positive, got {row['radius']}")
        elif size:
            radius = LABEL_RADIUS_PX[size]
        else:
            raise InputError(path, f"line {line}: neither size nor radius is given")
        category = _parse_category(path, line, row.get("category", "") or "other")
        labels.setdefault(image, []).append(Artifact.from_circle(image, x, y, radius, category=category))
    return labels


def write_labels(path: str | os.PathLike, artifacts: Iterable[Artifact]) -> Path:
    """Write a labels CSV ``image,x,y,size,radius,category`` (readable by :func:`read_labels`).

    Parameters
    ----------
    path : str or path-like
        Output file, written atomically.
    artifacts : iterable of Artifact
        Marks; ``size`` is ``small`` for a radius up to 50 px, else ``medium``; the
        radius itself is written too (to 0.01 px), so nothing is lost.

    Returns
    -------
    Path
        ``path``.
    """
    def row(a: Artifact) -> list[str]:
        size = "small" if a.radius <= _SMALL_MAX_RADIUS_PX else "medium"
        return [a.image, _format_number(a.x, 2), _format_number(a.y, 2), size, _format_number(a.radius, 2),
                a.category]

    return _write_csv(path, LABEL_COLUMNS, (row(a) for a in artifacts))


def _check_shape(shape: Sequence[int]) -> tuple[int, int]:
    try:
        ny, nx = (int(n) for n in shape)
    except (TypeError, ValueError):
        raise TypeError(f"shape: expected (ny, nx), got {shape!r}") from None
    if ny <= 0 or nx <= 0:
        raise ValueError(f"shape: expected positive (ny, nx), got {shape!r}")
    return ny, nx


def _circle(a: Artifact, ny: int, nx: int) -> tuple[slice, slice, np.ndarray] | None:
    """The pixels of ``a``'s circle: the bounding box's slices and a bool disc within it.

    A pixel is inside when its centre (integer coordinates) is within ``radius`` of the
    circle's centre. None when the circle misses the image.
    """
    r = float(a.radius)
    y0, y1 = max(math.ceil(a.y - r), 0), min(math.floor(a.y + r) + 1, ny)
    x0, x1 = max(math.ceil(a.x - r), 0), min(math.floor(a.x + r) + 1, nx)
    if y0 >= y1 or x0 >= x1:
        return None
    dy2 = (np.arange(y0, y1, dtype=np.float64)[:, None] - a.y) ** 2
    dx2 = (np.arange(x0, x1, dtype=np.float64)[None, :] - a.x) ** 2
    return slice(y0, y1), slice(x0, x1), dx2 + dy2 <= r * r


def labels_to_mask(artifacts: Iterable[Artifact], shape: Sequence[int]) -> np.ndarray:
    """Pixels covered by any of the circles.

    Parameters
    ----------
    artifacts : iterable of Artifact
        Circles (``x``, ``y``, ``radius``, 0-based pixels) of one image; their
        ``image`` field is not looked at.
    shape : (ny, nx)
        Shape of the image.

    Returns
    -------
    ndarray of bool, shape (ny, nx)
        True inside a circle (pixel centre within the radius). Circles partly or
        wholly outside the image are clipped. No artifacts: all False.
    """
    ny, nx = _check_shape(shape)
    mask = np.zeros((ny, nx), dtype=bool)
    for a in artifacts:
        disc = _circle(a, ny, nx)
        if disc is not None:
            rows, cols, inside = disc
            mask[rows, cols] |= inside
    return mask


def labels_to_category_mask(artifacts: Iterable[Artifact], shape: Sequence[int]) -> np.ndarray:
    """Circles as a category bit mask, as in ``<image>_mask.fits``.

    Parameters
    ----------
    artifacts : iterable of Artifact
        Circles of one image.
    shape : (ny, nx)
        Shape of the image.

    Returns
    -------
    ndarray of int32, shape (ny, nx)
        Bitwise OR of :data:`spacejunk.categories.CATEGORY_BITS` of the circles covering
        each pixel; 0 where none does. Categories without a bit (the focal-plane ones)
        are left out.
    """
    ny, nx = _check_shape(shape)
    mask = np.zeros((ny, nx), dtype=np.int32)
    for a in artifacts:
        bit = CATEGORY_BITS.get(a.category)
        disc = None if bit is None else _circle(a, ny, nx)
        if disc is not None:
            rows, cols, inside = disc
            mask[rows, cols] |= np.where(inside, np.int32(bit), np.int32(0))
    return mask

"""Writing (and reading back) detection outputs: artifacts.csv, tiles.csv, mask FITS, DS9 regions."""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np
from astropy.io import fits

from .._errors import InputError
from ..categories import CATEGORY_BITS, category_hex, check_category
from ._atomic import atomic_path
from .artifact import ARTIFACT_COLUMNS, Artifact
from .exposure import _clean_header

__all__ = [
    "TILE_COLUMNS",
    "write_artifacts",
    "read_artifacts",
    "write_tiles",
    "read_tiles",
    "write_mask_fits",
    "read_mask_fits",
    "write_regions",
]

#: Columns of ``tiles.csv`` (DESIGN.md), in order.
TILE_COLUMNS: tuple[str, ...] = ("image", "x0", "y0", "x1", "y1", "score")


_COORD_DECIMALS = 2  # 0.01 px
_SCORE_DECIMALS = 4


# --------------------------------------------------------------------------- CSV helpers (shared with labels)
def _format_number(value: float, decimals: int) -> str:
    """``value`` with at most ``decimals`` decimals, trailing zeros dropped (``12.5``, ``3``)."""
    value = float(value)
    if not math.isfinite(value):
        return str(value)
    text = f"{value:.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _write_csv(path: str | os.PathLike, columns: Sequence[str], rows: Iterable[Sequence[str]]) -> Path:
    """Write a CSV file atomically: header ``columns`` then ``rows`` (already formatted)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(columns)
            writer.writerows(rows)
    return path


def _read_csv(path: str | os.PathLike, *, required: Sequence[str],
              either: Sequence[str] = ()) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield ``(line number, row)`` of a CSV file with a header, fields stripped.

    Column names are matched in lower case, in any order; extra columns are kept (and
    ignored by the callers). ``either``: at least one of these columns must be present.
    Blank lines are skipped. InputError naming the file (and the line) for a missing
    file, a missing column or a row with the wrong number of fields.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(path, "no such file")
    if path.is_dir():
        raise InputError(path, "is a folder, not a CSV file")
    expected = ",".join([*required, *either])
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        try:
            header: list[str] | None = None
            for row in reader:
                if not any(field.strip() for field in row):
                    continue
                if header is None:
                    header = [field.strip().lower() for field in row]
                    repeated = sorted({c for c in header if header.count(c) > 1})
                    if repeated:
                        raise InputError(path, f"line {reader.line_num}: repeated column(s) {', '.join(repeated)}")
                    missing = [c for c in required if c not in header]
                    if either and not any(c in header for c in either):
                        missing.append(" or ".join(either))
                    if missing:
                        raise InputError(path, f"missing column(s) {', '.join(missing)}: the header is "
                                               f"{','.join(header)!r}, expected {expected!r}")
                    continue
                if len(row) != len(header):
                    raise InputError(path, f"line {reader.line_num}: expected {len(header)} fields "
                                           f"({','.join(header)}), found {len(row)}")
                yield reader.line_num, {c: field.strip() for c, field in zip(header, row)}
        except UnicodeDecodeError:
            raise InputError(path, "not a text CSV file (cannot decode it as UTF-8)") from None
        except csv.Error as err:
            raise InputError(path, f"line {reader.line_num}: malformed CSV ({err})") from None
    if header is None:
        raise InputError(path, f"empty file: expected a header line {expected!r}")


def _parse_float(path: Path, line: int, row: dict[str, str], column: str, *,
                 minimum: float | None = None, maximum: float | None = None) -> float:
    """``row[column]`` as a finite float within bounds; InputError naming file and line otherwise."""
    text = row[column]
    if text == "":
        raise InputError(path, f"line {line}: {column} is empty")
    try:
        value = float(text)
    except ValueError:
        raise InputError(path, f"line {line}: {column} is not a number: {text!r}") from None
    if not math.isfinite(value):
        raise InputError(path, f"line {line}: {column} is not a finite number: {text!r}")
    if minimum is not None and value < minimum:
        raise InputError(path, f"line {line}: {column} must be >= {minimum:g}, got {text}")
    if maximum is not None and value > maximum:
        raise InputError(path, f"line {line}: {column} must be <= {maximum:g}, got {text}")
    return value


def _parse_image(path: Path, line: int, row: dict[str, str]) -> str:
    if not row["image"]:
        raise InputError(path, f"line {line}: image is empty")
    return row["image"]


def _parse_category(path: Path, line: int, text: str) -> str:
    try:
        return check_category(text)
    except ValueError as err:
        raise InputError(path, f"line {line}: {err}") from None


# --------------------------------------------------------------------------- artifacts.csv
def write_artifacts(path: str | os.PathLike, artifacts: Iterable[Artifact]) -> Path:
    """Write ``artifacts.csv``: one row per artifact, columns :data:`~spacejunk.io.ARTIFACT_COLUMNS`.

    Parameters
    ----------
    path : str or path-like
        Output file, written atomically; its folder is created if needed.
    artifacts : iterable of Artifact
        In the order to write. No artifacts: a file with the header only.

    Returns
    -------
    Path
        ``path``.

    Notes
    -----
    Coordinates are written to 0.01 px, scores to 1e-4.
    """
    def row(a: Artifact) -> list[str]:
        coords = [_format_number(v, _COORD_DECIMALS) for v in (a.x, a.y, a.radius, a.xmin, a.ymin, a.xmax, a.ymax)]
        return [a.image, *coords, _format_number(a.score, _SCORE_DECIMALS), a.category]

    return _write_csv(path, ARTIFACT_COLUMNS, (row(a) for a in artifacts))


def read_artifacts(path: str | os.PathLike) -> list[Artifact]:
    """Read ``artifacts.csv`` (or the simulator's ``truth.csv``, same columns).

    Parameters
    ----------
    path : str or path-like
        CSV with the columns of :data:`~spacejunk.io.ARTIFACT_COLUMNS` in any order;
        extra columns are ignored.

    Returns
    -------
    list of Artifact
        In file order; empty for a file with a header only.

    Raises
    ------
    InputError
        Naming the file, and the line for a bad row: missing column, wrong number of
        fields, a value that is not a number, a negative radius, a score outside
        [0, 1], an unknown category.
    """
    path = Path(path)
    artifacts = []
    for line, row in _read_csv(path, required=ARTIFACT_COLUMNS):
        image = _parse_image(path, line, row)
        x, y = (_parse_float(path, line, row, c) for c in ("x", "y"))
        radius = _parse_float(path, line, row, "radius", minimum=0.0)
        box = [_parse_float(path, line, row, c) for c in ("xmin", "ymin", "xmax", "ymax")]
        if box[2] < box[0] or box[3] < box[1]:
            raise InputError(path, f"line {line}: the box has xmax < xmin or ymax < ymin: {box}")
        score = _parse_float(path, line, row, "score", minimum=0.0, maximum=1.0)
        category = _parse_category(path, line, row["category"])
        artifacts.append(Artifact(image, x, y, radius, *box, score=score, category=category))
    return artifacts


# --------------------------------------------------------------------------- tiles.csv
def write_tiles(path: str | os.PathLike, image: str | Sequence[str], grid: np.ndarray,
                scores: np.ndarray) -> Path:
    """Write ``tiles.csv``: ``image,x0,y0,x1,y1,score``, one row per tile.

    Parameters
    ----------
    path : str or path-like
        Output file, written atomically.
    image : str or sequence of str
        Image name of every row, or one name per row (to write several images' tiles
        in one file).
    grid : array_like of int, shape (n, 4)
        Tiles as ``(x0, y0, x1, y1)``, pixels, ``x1``/``y1`` exclusive.
    scores : array_like of float, shape (n,)
        Classifier probability of each tile, in [0, 1]; written to 1e-4.

    Returns
    -------
    Path
        ``path``.
    """
    grid = np.asarray(grid)
    scores = np.asarray(scores, dtype=float)
    if grid.ndim != 2 or grid.shape[1] != 4:
        raise ValueError(f"grid: expected shape (n, 4) of (x0, y0, x1, y1), got {grid.shape}")
    if not np.issubdtype(grid.dtype, np.integer):
        raise TypeError(f"grid: expected integer pixel coordinates, got dtype {grid.dtype}")
    if scores.shape != (len(grid),):
        raise ValueError(f"scores: expected shape ({len(grid)},) to match grid, got {scores.shape}")
    names = [image] * len(grid) if isinstance(image, str) else list(image)
    if len(names) != len(grid):
        raise ValueError(f"image: expected one name or {len(grid)} names (one per tile), got {len(names)}")
    rows = ([name, *(str(int(v)) for v in box), _format_number(s, _SCORE_DECIMALS)]
            for name, box, s in zip(names, grid, scores))
    return _write_csv(path, TILE_COLUMNS, rows)


def read_tiles(path: str | os.PathLike) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Read ``tiles.csv`` back.

    Returns
    -------
    dict of str to (grid, scores)
        Per image, in file order: ``grid`` int64 (n, 4) of ``(x0, y0, x1, y1)`` and
        ``scores`` float64 (n,).

    Raises
    ------
    InputError
        Naming the file and the line of a bad row.
    """
    path = Path(path)
    boxes: dict[str, list[list[int]]] = {}
    scores: dict[str, list[float]] = {}
    for line, row in _read_csv(path, required=TILE_COLUMNS):
        image = _parse_image(path, line, row)
        box = []
        for c in ("x0", "y0", "x1", "y1"):
            value = _parse_float(path, line, row, c)
            if value != int(value):
                raise InputError(path, f"line {line}: {c} is not a whole number of pixels: {row[c]!r}")
            box.append(int(value))
        boxes.setdefault(image, []).append(box)
        scores.setdefault(image, []).append(_parse_float(path, line, row, "score", minimum=0.0, maximum=1.0))
    return {name: (np.array(boxes[name], dtype=np.int64).reshape(-1, 4), np.array(scores[name], dtype=float))
            for name in boxes}


# --------------------------------------------------------------------------- mask FITS
def _bit_number(value: int) -> int:
    return int(value).bit_length() - 1


def write_mask_fits(path: str | os.PathLike, mask: np.ndarray, *, header: fits.Header | None = None) -> Path:
    """Write ``<image>_mask.fits``: an int32 image, a documented bit per artifact category.

    Parameters
    ----------
    path : str or path-like
        Output file, written atomically.
    mask : ndarray of int, shape (ny, nx)
        Bitwise OR of :data:`spacejunk.categories.CATEGORY_BITS`; 0 where no artifact is.
    header : astropy.io.fits.Header, optional
        Cards to copy (e.g. the image's WCS), without its structural keywords.

    Returns
    -------
    Path
        ``path``.

    Notes
    -----
    The primary header gets one card per category, ``BIT<n> = '<category>'`` for the
    bit of value ``2**n`` (``BIT16 = 'ghost'``, ``BIT10 = 'satellite'``), so that the
    file documents itself.
    """
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"mask: expected a 2-D array (ny, nx), got shape {mask.shape}")
    if not np.issubdtype(mask.dtype, np.integer):
        raise TypeError(f"mask: expected an integer array of category bits, got dtype {mask.dtype}")
    info = np.iinfo(np.int32)
    if mask.size and (int(mask.min()) < info.min or int(mask.max()) > info.max):
        raise ValueError("mask: values do not fit in int32")
    hdr = _clean_header(header)
    hdr["MASKTYPE"] = ("spacejunk", "artifact mask: OR of category bits, 0 = none")
    for category, bit in sorted(CATEGORY_BITS.items(), key=lambda item: item[1]):
        hdr[f"BIT{_bit_number(bit)}"] = (category, f"mask value {bit}")
    hdu = fits.PrimaryHDU(mask.astype(np.int32, copy=False), header=hdr)
    path = Path(path)
    with atomic_path(path) as tmp:
        hdu.writeto(tmp, overwrite=True)
    return path


def read_mask_fits(path: str | os.PathLike) -> np.ndarray:
    """Read a mask written by :func:`write_mask_fits`: int32 (ny, nx) of category bits.

    Raises
    ------
    InputError
        The file is missing, not FITS, or has no 2-D image in its first HDU.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "no such file")
    try:
        with fits.open(path) as hdul:
            data = hdul[0].data
            if data is None or data.ndim != 2:
                raise InputError(path, "no 2-D mask image in the primary HDU")
            return np.asarray(data, dtype=np.int32)
    except (OSError, TypeError, ValueError) as err:
        if isinstance(err, InputError):
            raise
        raise InputError(path, f"not a readable FITS mask ({err})") from None


# --------------------------------------------------------------------------- DS9 regions
def write_regions(path: str | os.PathLike, artifacts: Iterable[Artifact]) -> Path:
    """Write a DS9 region file: one circle per artifact, labelled with category and score.

    Parameters
    ----------
    path : str or path-like
        Output file (``<image>.reg``), written atomically.
    artifacts : iterable of Artifact
        Circles in 0-based pixels; written in DS9's ``image`` system, which is 1-based
        (``circle(x+1, y+1, radius)``).

    Returns
    -------
    Path
        ``path``.

    Notes
    -----
    Each circle is coloured by category (:data:`spacejunk.categories.CATEGORY_COLORS`) and carries
    ``text={<category> <score>}``.
    """
    lines = [
        "# Region file format: DS9 version 4.1",
        "# spacejunk artifacts: circles in image pixels (1-based), text = category and score",
        'global color=green dashlist=8 3 width=2 font="helvetica 10 normal roman" select=1 highlite=1 dash=0 '
        "fixed=0 edit=1 move=1 delete=1 include=1 source=1",
        "image",
    ]
    for a in artifacts:
        x, y, r = (_format_number(v, _COORD_DECIMALS) for v in (a.x + 1.0, a.y + 1.0, a.radius))
        colour = category_hex(a.category, default=(255, 255, 255))
        lines.append(f"circle({x},{y},{r}) # color={colour} text={{{a.category} {a.score:.2f}}}")
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path

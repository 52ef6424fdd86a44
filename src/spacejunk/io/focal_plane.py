"""Focal-plane pictures (binned whole DECam exposures) and their VGG Image Annotator labels.

A focal-plane picture is one small image of a whole exposure (JPG/PNG, or a 2-D FITS),
as in the DeepGhostBusters data (Tanoglidis et al. 2021, Astronomy & Computing 39,
100580). Its labels are VGG Image Annotator (VIA 2) JSON files: circles, ellipses,
polygons, polylines (closed outlines, filled like polygons) and rectangles, each with a
``Type`` of ``Bright``, ``Faint`` or ``Rays``.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .._errors import InputError
from ..categories import FOCAL_PLANE_CATEGORIES

__all__ = [
    "Region",
    "VIA_TYPES",
    "SHAPE_KINDS",
    "read_focal_plane_image",
    "read_via",
    "regions_to_mask",
    "consensus_mask",
    "AnnotatedImage",
    "read_annotated_images",
    "read_des_ghosts",
]

#: VIA ``region_attributes.Type`` -> focal-plane category.
VIA_TYPES: dict[str, str] = {"Bright": "ghost-bright", "Faint": "ghost-faint", "Rays": "rays"}

#: Shape kinds of VIA regions and the parameters each needs.
SHAPE_KINDS: dict[str, tuple[str, ...]] = {
    "circle": ("cx", "cy", "r"),
    "ellipse": ("cx", "cy", "rx", "ry"),
    "polygon": ("all_points_x", "all_points_y"),
    "polyline": ("all_points_x", "all_points_y"),
    "rect": ("x", "y", "width", "height"),
}

_RASTER_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".gif")
_FITS_SUFFIXES = (".fits", ".fit", ".fts", ".fits.fz", ".fits.gz", ".fz")


@dataclass(frozen=True)
class Region:
    """One labelled region of a focal-plane picture.

    Attributes
    ----------
    kind : str
        Shape kind, one of :data:`SHAPE_KINDS` (``circle``, ``ellipse``, ``polygon``,
        ``polyline``, ``rect``).
    params : dict
        The VIA shape parameters in image pixels: ``cx, cy, r`` (circle); ``cx, cy, rx,
        ry, theta`` (ellipse, ``theta`` in radians, default 0); ``all_points_x,
        all_points_y`` (polygon, polyline; tuples); ``x, y, width, height`` (rect).
    category : str
        One of :data:`spacejunk.categories.FOCAL_PLANE_CATEGORIES`.
    """

    kind: str
    params: dict = field(hash=False)
    category: str


@dataclass(frozen=True)
class AnnotatedImage:
    """A focal-plane picture with the masks of several annotators.

    Attributes
    ----------
    name : str
        File name of the picture.
    image : numpy.ndarray
        float32 ``(n_channels, ny, nx)`` (see :func:`read_focal_plane_image`).
    masks : numpy.ndarray
        bool ``(n_annotators, n_categories, ny, nx)``, one :func:`regions_to_mask` per
        annotator (an annotator without an entry for the picture marked nothing).
    """

    name: str
    image: np.ndarray = field(repr=False)
    masks: np.ndarray = field(repr=False)

    def consensus(self, *, min_fraction: float = 0.5) -> np.ndarray:
        """:func:`consensus_mask` of all the annotators."""
        return consensus_mask(self.masks, min_fraction=min_fraction)


# --------------------------------------------------------------------------- images
def read_focal_plane_image(path: str | os.PathLike) -> np.ndarray:
    """Read a focal-plane picture as float32 ``(n_channels, ny, nx)``.

    Parameters
    ----------
    path : str or path-like
        A JPG/PNG (or other raster) picture, RGB or grey, or a FITS file whose first
        image HDU with data holds a 2-D array.

    Returns
    -------
    numpy.ndarray
        float32 ``(3, ny, nx)`` for colour pictures, ``(1, ny, nx)`` for grey pictures
        and FITS images. Raster values stay in their 0-255 scale; FITS values are as
        stored (non-finite pixels become 0).

    Raises
    ------
    InputError
        If the file is missing, unreadable, truncated, not an image, or its data are
        not 2-D.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "file not found")
    name = path.name.lower()
    if name.endswith(_FITS_SUFFIXES):
        return _read_fits_image(path)
    return _read_raster(path)


def _read_raster(path: Path) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im.load()  # decodes now: truncated files fail here, not later
            if im.mode in ("L", "I", "I;16", "F", "1", "P", "LA"):
                arr = np.asarray(im.convert("F") if im.mode in ("I", "I;16", "F") else im.convert("L"),
                                 dtype=np.float32)[None]
            else:
                arr = np.moveaxis(np.asarray(im.convert("RGB"), dtype=np.float32), -1, 0)
    except UnidentifiedImageError:
        raise InputError(path, "not an image file (unrecognised format)") from None
    except (OSError, SyntaxError, ValueError) as err:
        raise InputError(path, f"unreadable or truncated image ({err})") from None
    if arr.shape[1] < 2 or arr.shape[2] < 2:
        raise InputError(path, f"image is too small ({arr.shape[1]} x {arr.shape[2]} pixels)")
    return np.ascontiguousarray(arr)


def _read_fits_image(path: Path) -> np.ndarray:
    from astropy.io import fits

    try:
        with fits.open(path, memmap=False) as hdul:
            for hdu in hdul:
                if hdu.is_image and hdu.data is not None and getattr(hdu.data, "size", 0):
                    data = np.asarray(hdu.data)
                    break
            else:
                raise InputError(path, "no image HDU with data in this FITS file")
    except InputError:
        raise
    except (OSError, ValueError, TypeError, IndexError) as err:
        raise InputError(path, f"unreadable FITS file ({err})") from None
    if data.ndim != 2:
        raise InputError(path, f"expected 2-D image data, found {data.ndim}-D with shape {data.shape}")
    arr = np.array(data, dtype=np.float32)
    arr[~np.isfinite(arr)] = 0.0
    return arr[None]


# --------------------------------------------------------------------------- VIA labels
def read_via(path: str | os.PathLike) -> dict[str, list[Region]]:
    """Read a VGG Image Annotator (VIA 2) JSON file.

    Parameters
    ----------
    path : str or path-like
        A VIA project or export: either ``{"_via_img_metadata": {key: entry}}`` or the
        bare ``{key: entry}`` mapping, each entry with ``filename`` and ``regions``.

    Returns
    -------
    dict
        ``{filename: [Region, ...]}``; an image without regions maps to an empty list.

    Raises
    ------
    InputError
        Naming the file and, where it applies, the image and region index at fault: a
        missing file, invalid JSON, an unknown shape or ``Type``, missing or non-numeric
        parameters, polygons with fewer than 3 points or unequal x and y lists.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "file not found")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InputError(path, f"not valid JSON ({err})") from None
    meta = doc.get("_via_img_metadata", doc) if isinstance(doc, dict) else None
    if not isinstance(meta, dict):
        raise InputError(path, "not a VIA file (expected an object of image entries)")
    out: dict[str, list[Region]] = {}
    for key, entry in meta.items():
        if not isinstance(entry, dict) or "filename" not in entry:
            raise InputError(path, f"image entry {key!r} has no 'filename'")
        fname = str(entry["filename"])
        raw = entry.get("regions", [])
        if isinstance(raw, dict):  # VIA 1 stored regions as {"0": region, ...}
            raw = list(raw.values())
        if not isinstance(raw, list):
            raise InputError(path, f"image {fname!r}: 'regions' must be a list")
        regions = out.setdefault(fname, [])
        for i, reg in enumerate(raw):
            regions.append(_parse_region(reg, where=f"image {fname!r}, region {i}", path=path))
    return out


def _parse_region(reg: Any, *, where: str, path: Path) -> Region:
    if not isinstance(reg, dict):
        raise InputError(path, f"{where}: not an object")
    shape = reg.get("shape_attributes")
    attrs = reg.get("region_attributes") or {}
    if not isinstance(shape, dict) or not isinstance(attrs, dict):
        raise InputError(path, f"{where}: missing shape_attributes")
    kind = shape.get("name")
    if kind not in SHAPE_KINDS:
        raise InputError(path, f"{where}: unknown shape {kind!r}; expected one of {', '.join(SHAPE_KINDS)}")
    vtype = attrs.get("Type")
    if vtype not in VIA_TYPES:
        raise InputError(path, f"{where}: unknown Type {vtype!r}; expected one of {', '.join(VIA_TYPES)}")
    params: dict[str, Any] = {}
    for key in SHAPE_KINDS[kind]:
        if key not in shape:
            raise InputError(path, f"{where}: {kind} lacks '{key}'")
        val = shape[key]
        if key.startswith("all_points"):
            if not isinstance(val, list) or not all(_is_number(v) for v in val):
                raise InputError(path, f"{where}: '{key}' must be a list of numbers")
            params[key] = tuple(float(v) for v in val)
        else:
            if not _is_number(val):
                raise InputError(path, f"{where}: '{key}' must be a number, got {val!r}")
            params[key] = float(val)
    if kind == "ellipse":
        theta = shape.get("theta", 0.0)
        if not _is_number(theta):
            raise InputError(path, f"{where}: 'theta' must be a number, got {theta!r}")
        params["theta"] = float(theta)
    if kind in ("polygon", "polyline"):
        nx_, ny_ = len(params["all_points_x"]), len(params["all_points_y"])
        if nx_ != ny_:
            raise InputError(path, f"{where}: {nx_} x values but {ny_} y values")
        if nx_ < 3:
            raise InputError(path, f"{where}: a {kind} needs at least 3 points, got {nx_}")
    sizes = {"circle": ("r",), "ellipse": ("rx", "ry"), "rect": ("width", "height")}.get(kind, ())
    if any(params[k] < 0 for k in sizes):
        raise InputError(path, f"{where}: negative size")
    return Region(kind=kind, params=params, category=VIA_TYPES[vtype])


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


# --------------------------------------------------------------------------- masks
def regions_to_mask(regions: Sequence[Region], shape: tuple[int, int], *,
                    categories: Sequence[str] = FOCAL_PLANE_CATEGORIES) -> np.ndarray:
    """Rasterise regions into one boolean mask per category.

    Parameters
    ----------
    regions : sequence of Region
        The regions of one image.
    shape : (ny, nx)
        Size of the image, pixels.
    categories : sequence of str, optional
        Order of the output planes (default :data:`FOCAL_PLANE_CATEGORIES`).

    Returns
    -------
    numpy.ndarray
        bool ``(len(categories), ny, nx)``.

    Notes
    -----
    Pixel ``(x, y)`` (column, row) is tested at its centre, the point ``(x, y)`` in
    VIA's coordinates. A pixel is inside a circle when its distance to the centre is
    at most ``r``; inside an ellipse when ``(u/rx)^2 + (v/ry)^2 <= 1`` in the frame
    rotated by ``theta`` (radians, clockwise on screen as VIA draws it); inside a rect
    when ``x <= col < x + width`` and ``y <= row < y + height`` (so its area is
    ``width * height`` for integer values); inside a polygon or polyline (closed
    automatically) by the even-odd rule. Shapes are clipped to the image.
    """
    ny, nx = (int(shape[0]), int(shape[1]))
    if ny <= 0 or nx <= 0:
        raise ValueError(f"shape must be two positive integers, got {shape!r}")
    index = {c: i for i, c in enumerate(categories)}
    mask = np.zeros((len(categories), ny, nx), dtype=bool)
    for reg in regions:
        if reg.category not in index:
            raise ValueError(f"region category {reg.category!r} is not among categories {tuple(categories)}")
        sub = _shape_mask(reg, ny, nx)
        if sub is not None:
            (y0, y1, x0, x1), m = sub
            mask[index[reg.category], y0:y1, x0:x1] |= m
    return mask


def _bbox(xmin: float, xmax: float, ymin: float, ymax: float, ny: int, nx: int) -> tuple[int, int, int, int] | None:
    x0, x1 = max(int(math.floor(xmin)), 0), min(int(math.ceil(xmax)) + 1, nx)
    y0, y1 = max(int(math.floor(ymin)), 0), min(int(math.ceil(ymax)) + 1, ny)
    if x0 >= x1 or y0 >= y1:
        return None
    return y0, y1, x0, x1


def _shape_mask(reg: Region, ny: int, nx: int):
    p = reg.params
    if reg.kind == "circle":
        box = _bbox(p["cx"] - p["r"], p["cx"] + p["r"], p["cy"] - p["r"], p["cy"] + p["r"], ny, nx)
        if box is None:
            return None
        yy, xx = np.mgrid[box[0]:box[1], box[2]:box[3]]
        return box, (xx - p["cx"]) ** 2 + (yy - p["cy"]) ** 2 <= p["r"] ** 2
    if reg.kind == "ellipse":
        rx, ry, th = p["rx"], p["ry"], p.get("theta", 0.0)
        half = max(rx, ry)
        box = _bbox(p["cx"] - half, p["cx"] + half, p["cy"] - half, p["cy"] + half, ny, nx)
        if box is None or rx <= 0 or ry <= 0:
            return None
        yy, xx = np.mgrid[box[0]:box[1], box[2]:box[3]]
        dx, dy = xx - p["cx"], yy - p["cy"]
        c, s = math.cos(th), math.sin(th)
        u, v = dx * c + dy * s, -dx * s + dy * c
        return box, (u / rx) ** 2 + (v / ry) ** 2 <= 1.0
    if reg.kind == "rect":
        x0, y0 = p["x"], p["y"]
        x1, y1 = x0 + p["width"], y0 + p["height"]
        box = _bbox(x0, x1, y0, y1, ny, nx)
        if box is None:
            return None
        yy, xx = np.mgrid[box[0]:box[1], box[2]:box[3]]
        return box, (xx >= x0) & (xx < x1) & (yy >= y0) & (yy < y1)
    # polygon / polyline: even-odd rule on pixel centres
    px = np.asarray(p["all_points_x"], dtype=float)
    py = np.asarray(p["all_points_y"], dtype=float)
    box = _bbox(px.min(), px.max(), py.min(), py.max(), ny, nx)
    if box is None:
        return None
    return box, _polygon_inside(px, py, box)


def _polygon_inside(px: np.ndarray, py: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """Even-odd point-in-polygon test for the pixel centres of ``box``."""
    y0, y1, x0, x1 = box
    ys = np.arange(y0, y1, dtype=float)[:, None]
    xs = np.arange(x0, x1, dtype=float)[None, :]
    inside = np.zeros((y1 - y0, x1 - x0), dtype=bool)
    xa, ya = px, py
    xb, yb = np.roll(px, -1), np.roll(py, -1)
    for xa_, ya_, xb_, yb_ in zip(xa, ya, xb, yb):
        if ya_ == yb_:
            continue
        crosses = (ya_ > ys) != (yb_ > ys)  # (rows, 1)
        if not crosses.any():
            continue
        x_at = xa_ + (ys - ya_) * (xb_ - xa_) / (yb_ - ya_)  # (rows, 1)
        inside ^= crosses & (xs < x_at)
    return inside


def consensus_mask(masks_per_annotator: Sequence[np.ndarray] | np.ndarray, *,
                   min_fraction: float = 0.5) -> np.ndarray:
    """Pixels marked by at least ``min_fraction`` of the annotators.

    Parameters
    ----------
    masks_per_annotator : sequence of bool arrays ``(n_categories, ny, nx)``
        One mask per annotator (e.g. from :func:`regions_to_mask`), all the same shape.
    min_fraction : float, optional
        Fraction of the annotators that must mark a pixel, in (0, 1] (default 0.5:
        at least half, so 4 of 8).

    Returns
    -------
    numpy.ndarray
        bool ``(n_categories + 1, ny, nx)``: the consensus of each category, then, as
        the last plane, the consensus of "any artifact" -- the pixels that at least
        ``min_fraction`` of the annotators marked with any category. The last plane
        can hold pixels that no single category reaches (annotators who agree there is
        an artifact but not on its kind).
    """
    if not 0.0 < min_fraction <= 1.0:
        raise ValueError(f"min_fraction must be in (0, 1], got {min_fraction}")
    stack = np.asarray(masks_per_annotator, dtype=bool)
    if stack.ndim != 4 or stack.shape[0] == 0:
        raise ValueError("masks_per_annotator must be a non-empty sequence of (n_categories, ny, nx) masks, "
                         f"got an array of shape {stack.shape}")
    need = min_fraction * stack.shape[0] - 1e-9
    per_category = stack.sum(axis=0) >= need
    any_artifact = stack.any(axis=1).sum(axis=0) >= need
    return np.concatenate([per_category, any_artifact[None]], axis=0)



def read_annotated_images(image_dir: str | os.PathLike, via_paths: Sequence[str | os.PathLike], *,
                          names: Sequence[str] | None = None) -> list[AnnotatedImage]:
    """Read pictures and the masks drawn on them by several annotators (one VIA file each).

    Parameters
    ----------
    image_dir : str or path-like
        Folder of the pictures named in the VIA files.
    via_paths : sequence of str or path-like
        One VIA file per annotator (e.g. ``annotator_1.json`` ... ``annotator_8.json``).
    names : sequence of str, optional
        Only these pictures (default: every picture named in any VIA file), sorted.

    Returns
    -------
    list of AnnotatedImage
        Sorted by name.

    Raises
    ------
    InputError
        For a missing or bad picture or VIA file.
    """
    if not via_paths:
        raise ValueError("via_paths must name at least one VIA file")
    per_annotator = [read_via(p) for p in via_paths]
    wanted = sorted(set().union(*per_annotator) if names is None else names)
    out = []
    for name in wanted:
        image = read_focal_plane_image(Path(image_dir) / name)
        shape = image.shape[-2:]
        masks = np.stack([regions_to_mask(a.get(name, []), shape) for a in per_annotator])
        out.append(AnnotatedImage(name=name, image=image, masks=masks))
    return out


def read_des_ghosts(data_dir: str | os.PathLike, *, with_region_sets: bool = True
                    ) -> tuple[list[AnnotatedImage], list[list[Region]]]:
    """Read the DeepGhostBusters data folder (Tanoglidis et al. 2021).

    Parameters
    ----------
    data_dir : str or path-like
        Folder holding ``common_core/images/``, ``common_core/annotator_<k>.json`` and
        ``single_annotator_regions.json``.
    with_region_sets : bool, optional
        Also read the single-annotator label sets (default True).

    Returns
    -------
    annotated : list of AnnotatedImage
        The common-core pictures with every annotator's masks, sorted by name.
    region_sets : list of list of Region
        One label set per exposure of ``single_annotator_regions.json`` (empty if not
        asked for).
    """
    root = Path(data_dir)
    core = root / "common_core"
    vias = sorted(core.glob("annotator_*.json"), key=lambda p: int("".join(ch for ch in p.stem if ch.isdigit()) or 0))
    if not vias:
        raise InputError(core, "no annotator_<k>.json files here (is this the des-ghosts data folder?)")
    annotated = read_annotated_images(core / "images", vias)
    region_sets = list(read_via(root / "single_annotator_regions.json").values()) if with_region_sets else []
    return annotated, region_sets

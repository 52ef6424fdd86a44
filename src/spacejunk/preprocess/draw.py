"""Drawing artifacts and tiles on RGB pictures, and saving them as PNG."""

from __future__ import annotations

import os
from typing import Iterable, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..categories import CATEGORY_COLORS
from ..io._atomic import atomic_path
from ..io.artifact import Artifact
from .rgb import binning_factor

__all__ = ["draw_artifacts", "draw_tiles", "save_png", "CATEGORY_COLORS", "DEFAULT_COLOR", "TILE_COLOR"]

#: Colour of every mark with ``color_by_category=False``, and of unknown categories.
DEFAULT_COLOR: tuple[int, int, int] = (255, 255, 0)

#: Outline colour of positive tiles.
TILE_COLOR: tuple[int, int, int] = (255, 140, 0)


def _check_rgb(rgb: np.ndarray) -> np.ndarray:
    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"rgb must be a uint8 array of shape (ny, nx, 3), got {rgb.dtype} {rgb.shape}")
    return rgb


def _line_width(shape: tuple[int, ...]) -> int:
    """Line width readable on a picture of ``shape``: 2 px, more on large pictures."""
    return max(2, round(max(shape[:2]) / 400))


def _font(shape: tuple[int, ...]) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    size = max(10, round(max(shape[:2]) / 60))
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError, ImportError):  # Pillow without FreeType
        return ImageFont.load_default()


def _to_picture(value: float, factor: int) -> float:
    """Image pixel coordinate -> picture pixel coordinate (block centres line up)."""
    return (value + 0.5) / factor - 0.5


def draw_artifacts(
    rgb: np.ndarray,
    artifacts: Iterable[Artifact],
    *,
    scale: float = 1.0,
    color_by_category: bool = True,
    show_score: bool = True,
    mark: str = "circle",
    legend: bool | Iterable[str] = True,
) -> np.ndarray:
    """Draw artifacts (labels, truth or detections) on an RGB picture.

    Parameters
    ----------
    rgb : ndarray, shape (h, w, 3), uint8
        The picture, e.g. from :func:`~spacejunk.preprocess.make_rgb`. Not modified.
    artifacts : iterable of Artifact
        Marks in image pixel coordinates.
    scale : float, optional
        The ``scale`` the picture was made at with ``make_rgb`` (default 1).
    color_by_category : bool, optional
        One colour per category from :data:`CATEGORY_COLORS` (default) or all in
        :data:`DEFAULT_COLOR`.
    show_score : bool, optional
        Write the score beside each mark after its category (default True).
    mark : {"circle", "box", "both"}, optional
        Draw each artifact's circle (default), its box, or both.
    legend : bool or iterable of str, optional
        With ``color_by_category``, list the categories drawn with their colours in the
        top-left corner (default True), or list the categories given (to make one key
        for marks drawn in several calls).

    Returns
    -------
    ndarray, shape (h, w, 3), uint8
        A new picture with the marks drawn.

    Notes
    -----
    ``make_rgb`` bins by ``factor = round(1 / scale)``; the same factor is used here, and
    image pixel ``x`` is drawn at ``(x + 0.5) / factor - 0.5``. Lines are 2 px wide on a
    picture up to 800 px, wider on larger ones; circles smaller than a few pixels are
    drawn with a minimum radius so cosmic rays stay visible. Marks running over the border
    are clipped. Unknown categories are drawn in :data:`DEFAULT_COLOR`. No artifacts: a
    copy of ``rgb``.
    """
    rgb = _check_rgb(rgb)
    if mark not in ("circle", "box", "both"):
        raise ValueError(f"mark must be 'circle', 'box' or 'both', got {mark!r}")
    factor = binning_factor(scale)
    artifacts = list(artifacts)
    for a in artifacts:
        if not isinstance(a, Artifact):
            raise TypeError(f"artifacts must be Artifact records, got {type(a).__name__}")
    picture = Image.fromarray(rgb)
    draw = ImageDraw.Draw(picture)
    width = _line_width(rgb.shape)
    font = _font(rgb.shape)
    used: list[str] = []
    for a in artifacts:
        color = CATEGORY_COLORS.get(a.category, DEFAULT_COLOR) if color_by_category else DEFAULT_COLOR
        if a.category not in used:
            used.append(a.category)
        x, y = _to_picture(a.x, factor), _to_picture(a.y, factor)
        r = max(a.radius / factor, 2 * width + 1)
        if mark in ("circle", "both"):
            draw.ellipse([x - r, y - r, x + r, y + r], outline=color, width=width)
        if mark in ("box", "both"):
            draw.rectangle(
                [a.xmin / factor, a.ymin / factor, max(a.xmin / factor, a.xmax / factor - 1),
                 max(a.ymin / factor, a.ymax / factor - 1)],
                outline=color, width=width,
            )
        text = f"{a.category} {a.score:.2f}" if show_score else a.category
        tx = x + r * 0.71 + width
        ty = y - r * 0.71 - width
        draw.text((tx, ty), text, fill=color, font=font, anchor="lb", stroke_width=1, stroke_fill=(0, 0, 0))
    if not isinstance(legend, bool):
        used = list(dict.fromkeys(legend))
        legend = True
    if legend and color_by_category and used:
        _draw_legend(draw, used, font, width)
    return np.asarray(picture).copy()


def _draw_legend(draw: ImageDraw.ImageDraw, categories: Sequence[str], font, width: int) -> None:
    """A small key of ``categories`` and their colours in the top-left corner."""
    order = {c: i for i, c in enumerate(CATEGORY_COLORS)}
    names = sorted(categories, key=lambda c: order.get(c, len(order)))
    line = max(int(draw.textbbox((0, 0), "Ag", font=font)[3]) + 4, 12)
    text_w = max(int(draw.textbbox((0, 0), n, font=font)[2]) for n in names)
    pad = 4
    swatch = line - 4
    draw.rectangle([0, 0, 3 * pad + swatch + text_w, 2 * pad + line * len(names)], fill=(0, 0, 0))
    for k, name in enumerate(names):
        y = pad + k * line
        color = CATEGORY_COLORS.get(name, DEFAULT_COLOR)
        draw.rectangle([pad, y + 2, pad + swatch, y + 2 + swatch], fill=color)
        draw.text((2 * pad + swatch, y), name, fill=color, font=font)


def draw_tiles(
    rgb: np.ndarray,
    grid: np.ndarray,
    scores: np.ndarray,
    *,
    threshold: float = 0.5,
    scale: float = 1.0,
    color: tuple[int, int, int] = TILE_COLOR,
) -> np.ndarray:
    """Outline the tiles whose score reaches a threshold.

    Parameters
    ----------
    rgb : ndarray, shape (h, w, 3), uint8
        The picture, made at ``scale``. Not modified.
    grid : ndarray, shape (n, 4)
        Tiles ``(x0, y0, x1, y1)`` in image pixels (e.g. from ``tile_grid``).
    scores : ndarray, shape (n,)
        Score of each tile, e.g. the classifier's probability.
    threshold : float, optional
        Tiles with ``score >= threshold`` are outlined (default 0.5).
    scale : float, optional
        The ``scale`` the picture was made at (default 1).
    color : (int, int, int), optional
        Outline colour (default :data:`TILE_COLOR`, orange).

    Returns
    -------
    ndarray, shape (h, w, 3), uint8
        A new picture with the outlines drawn.

    Notes
    -----
    Outlines are 1 px wide on small pictures, so that overlapping neighbours stay
    apart. NaN scores are never outlined.
    """
    rgb = _check_rgb(rgb)
    grid = np.asarray(grid)
    scores = np.asarray(scores, dtype=float)
    if grid.ndim != 2 or grid.shape[1] != 4:
        raise ValueError(f"grid must have shape (n, 4) of (x0, y0, x1, y1), got {grid.shape}")
    if scores.shape != (len(grid),):
        raise ValueError(f"scores must have shape ({len(grid)},) like grid, got {scores.shape}")
    factor = binning_factor(scale)
    picture = Image.fromarray(rgb)
    draw = ImageDraw.Draw(picture)
    width = max(1, _line_width(rgb.shape) // 2)
    for (x0, y0, x1, y1), s in zip(grid, scores):
        if s >= threshold:
            draw.rectangle([x0 / factor, y0 / factor, max(x0 / factor, x1 / factor - 1),
                            max(y0 / factor, y1 / factor - 1)], outline=tuple(color), width=width)
    return np.asarray(picture).copy()


def save_png(path: str | os.PathLike, rgb: np.ndarray) -> None:
    """Write an RGB (or grey) picture as PNG, atomically.

    Parameters
    ----------
    path : str or path-like
        Output file; its folder is created if needed. Written under a temporary name and
        renamed, so no half-written file is left behind.
    rgb : ndarray, shape (h, w, 3) or (h, w), uint8
        The picture.
    """
    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8 or not (rgb.ndim == 2 or (rgb.ndim == 3 and rgb.shape[2] == 3)):
        raise ValueError(f"rgb must be a uint8 array of shape (h, w, 3) or (h, w), got {rgb.dtype} {rgb.shape}")
    with atomic_path(path) as tmp:
        Image.fromarray(rgb).save(tmp, format="PNG")

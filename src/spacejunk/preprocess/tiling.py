"""Tiles covering an image: the grid, tile cut-outs and tile labels from a mask."""

from __future__ import annotations

import numpy as np

__all__ = ["tile_grid", "tile_fractions", "tile_labels", "cut_tiles"]


def _tile_pair(tile) -> tuple[int, int]:
    """``tile`` as (th, tw) positive ints; TypeError/ValueError naming ``tile`` otherwise."""
    values = (tile, tile) if np.ndim(tile) == 0 else tuple(tile)
    if len(values) != 2:
        raise ValueError(f"tile must be an int or a pair (th, tw), got {tile!r}")
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise TypeError(f"tile must be an int or a pair of ints, got {tile!r}")
        if v < 1:
            raise ValueError(f"tile must be >= 1, got {tile!r}")
    return int(values[0]), int(values[1])


def _starts(n: int, tile: int, step: int) -> np.ndarray:
    """Tile starts along one axis of length ``n``; the last one ends at ``n``."""
    if n <= tile:
        return np.zeros(1, dtype=np.int64)
    starts = np.arange(0, n - tile, step, dtype=np.int64)
    return np.append(starts, n - tile)


def tile_grid(shape: tuple[int, ...], *, tile: int | tuple[int, int] = 200, overlap: int = 0) -> np.ndarray:
    """The tiles covering an image, as ``(x0, y0, x1, y1)`` rows.

    Parameters
    ----------
    shape : tuple of int
        Image shape; the last two entries are (ny, nx), so ``array.shape`` of a
        (n_bands, ny, nx) stack works too.
    tile : int or (int, int), optional
        Tile size in pixels, square or (th, tw) (default 200).
    overlap : int, optional
        Pixels shared by neighbouring tiles, 0 <= overlap < tile (default 0); the step
        between tile starts is ``tile - overlap``.

    Returns
    -------
    ndarray, shape (n, 4), int64
        ``(x0, y0, x1, y1)`` of each tile, pixels, ``x1``/``y1`` exclusive, in row-major
        order (y0 outer, x0 inner). The first tile starts at (0, 0).

    Notes
    -----
    Along each axis the tiles start at 0, step, 2 step, ... and the last tile is moved
    inward to end exactly at the border, so every tile has the full size and lies inside
    the image. Where the length is not a multiple of the step the last tile overlaps its
    neighbour by more than ``overlap``: on a 4096 x 2048 CCD with ``tile=200``, rows
    start at 0, 200, ..., 3800 and 3896 (104 rows shared), columns at 0, ..., 1800 and
    1848, 21 x 11 = 231 tiles. Along an axis shorter than the tile there is one tile,
    clipped to the image (so all tiles still share one size).
    """
    if len(shape) < 2:
        raise ValueError(f"shape must end with (ny, nx), got {shape!r}")
    ny, nx = (int(v) for v in shape[-2:])
    if ny < 1 or nx < 1:
        raise ValueError(f"shape must have ny, nx >= 1, got {shape!r}")
    th, tw = _tile_pair(tile)
    if isinstance(overlap, bool) or not isinstance(overlap, (int, np.integer)):
        raise TypeError(f"overlap must be an int, got {type(overlap).__name__}")
    if not 0 <= overlap < min(th, tw):
        raise ValueError(f"overlap must be >= 0 and smaller than the tile ({min(th, tw)}), got {overlap}")
    ys = _starts(ny, th, th - overlap)
    xs = _starts(nx, tw, tw - overlap)
    y0, x0 = np.meshgrid(ys, xs, indexing="ij")
    y0, x0 = y0.ravel(), x0.ravel()
    return np.stack([x0, y0, np.minimum(x0 + tw, nx), np.minimum(y0 + th, ny)], axis=1)


def _check_grid(grid, shape: tuple[int, int]) -> np.ndarray:
    """``grid`` as an (n, 4) int array of tiles inside ``shape`` = (ny, nx)."""
    grid = np.asarray(grid)
    if grid.ndim != 2 or grid.shape[1] != 4:
        raise ValueError(f"grid must have shape (n, 4) of (x0, y0, x1, y1), got {grid.shape}")
    if grid.size and not np.issubdtype(grid.dtype, np.integer):
        if not np.array_equal(grid, np.round(grid)):
            raise ValueError("grid must hold integer pixel coordinates")
    grid = grid.astype(np.int64)
    ny, nx = shape
    x0, y0, x1, y1 = grid.T
    if np.any((x0 < 0) | (y0 < 0) | (x1 > nx) | (y1 > ny) | (x1 <= x0) | (y1 <= y0)):
        raise ValueError(f"grid has tiles that are empty or outside the image of shape {(ny, nx)}")
    return grid


def tile_fractions(mask: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Fraction of each tile covered by a mask.

    Parameters
    ----------
    mask : ndarray, shape (ny, nx)
        Boolean mask (or any array: non-zero counts as covered), e.g. a label mask.
    grid : ndarray, shape (n, 4)
        Tiles ``(x0, y0, x1, y1)`` inside the mask, e.g. from :func:`tile_grid`.

    Returns
    -------
    ndarray, shape (n,), float64
        Covered pixels / tile pixels, in [0, 1].

    Notes
    -----
    Computed with an integral image (a 2-D cumulative sum), so the cost is one pass
    over the mask whatever the number and overlap of tiles (~0.1 s for 4096 x 2048).
    """
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"mask must have shape (ny, nx), got {mask.shape}")
    grid = _check_grid(grid, mask.shape)
    ny, nx = mask.shape
    integral = np.zeros((ny + 1, nx + 1), dtype=np.int64 if ny * nx >= 2**31 else np.int32)
    np.cumsum(mask != 0, axis=0, dtype=integral.dtype, out=integral[1:, 1:])
    np.cumsum(integral[1:, 1:], axis=1, out=integral[1:, 1:])
    x0, y0, x1, y1 = grid.T
    covered = (integral[y1, x1].astype(np.int64) - integral[y0, x1] - integral[y1, x0] + integral[y0, x0])
    return covered / ((x1 - x0) * (y1 - y0))


def tile_labels(mask: np.ndarray, grid: np.ndarray, *, min_fraction: float = 0.01) -> np.ndarray:
    """Whether each tile counts as containing an artifact.

    Parameters
    ----------
    mask : ndarray, shape (ny, nx)
        Artifact mask (non-zero = artifact), e.g. from ``labels_to_mask``.
    grid : ndarray, shape (n, 4)
        Tiles ``(x0, y0, x1, y1)``, e.g. from :func:`tile_grid`.
    min_fraction : float, optional
        Smallest covered fraction of a positive tile, in [0, 1] (default 0.01).

    Returns
    -------
    ndarray, shape (n,), bool
        True where the covered fraction is >= ``min_fraction`` and > 0 (a tile with no
        artifact pixel is never positive, even with ``min_fraction=0``).
    """
    if isinstance(min_fraction, bool) or not isinstance(min_fraction, (int, float, np.integer, np.floating)):
        raise TypeError(f"min_fraction must be a number, got {type(min_fraction).__name__}")
    if not 0 <= min_fraction <= 1:
        raise ValueError(f"min_fraction must be in [0, 1], got {min_fraction!r}")
    fractions = tile_fractions(mask, grid)
    return (fractions >= min_fraction) & (fractions > 0)


def cut_tiles(array: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Cut the tiles of a grid out of an image or a stack of bands.

    Parameters
    ----------
    array : ndarray, shape (C, ny, nx) or (ny, nx)
        Bands (e.g. from :func:`~spacejunk.preprocess.normalise`) or one image.
    grid : ndarray, shape (n, 4)
        Tiles ``(x0, y0, x1, y1)``, all of one size (th, tw), e.g. from :func:`tile_grid`.

    Returns
    -------
    ndarray, shape (n, C, th, tw) or (n, th, tw) for a 2-D ``array``
        Copies of the tiles, ``array``'s dtype.

    Raises
    ------
    ValueError
        If the tiles differ in size or lie outside the image.
    """
    array = np.asarray(array)
    if array.ndim not in (2, 3):
        raise ValueError(f"array must have shape (C, ny, nx) or (ny, nx), got {array.shape}")
    grid = _check_grid(grid, array.shape[-2:])
    sizes = np.unique(np.stack([grid[:, 3] - grid[:, 1], grid[:, 2] - grid[:, 0]], axis=1), axis=0)
    if len(sizes) > 1:
        raise ValueError(f"grid tiles must all have one size, got {len(sizes)} sizes")
    th, tw = (int(v) for v in sizes[0]) if len(sizes) else (0, 0)
    out = np.empty((len(grid),) + array.shape[:-2] + (th, tw), dtype=array.dtype)
    for k, (x0, y0, x1, y1) in enumerate(grid):
        out[k] = array[..., y0:y1, x0:x1]
    return out

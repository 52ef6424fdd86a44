"""Deep-zoom tiles of an image's RGB picture for the review page's viewer (OpenSeadragon)."""

from __future__ import annotations

import io
import math
import threading
from collections import OrderedDict
from typing import Callable, Mapping, Sequence

import numpy as np
from PIL import Image

from ..io.exposure import Exposure, read_exposure

__all__ = ["TILE_SIZE", "max_level", "level_shape", "TilePyramid", "RenderCache"]

#: Side of a deep-zoom tile, pixels.
TILE_SIZE = 256


def max_level(shape: tuple[int, int]) -> int:
    """Deep-zoom level of full resolution: ``ceil(log2(max(ny, nx)))`` (level 0 is 1 x 1)."""
    ny, nx = shape
    return max(0, math.ceil(math.log2(max(int(ny), int(nx), 1))))


def level_shape(shape: tuple[int, int], level: int) -> tuple[int, int]:
    """(ny, nx) of the picture at ``level``: the full shape divided by ``2**(max - level)``, rounded up."""
    top = max_level(shape)
    if not 0 <= level <= top:
        raise ValueError(f"level must be in [0, {top}], got {level}")
    f = 2 ** (top - level)
    return -(-int(shape[0]) // f), -(-int(shape[1]) // f)


def _half(rgb: np.ndarray) -> np.ndarray:
    """2 x 2 block mean, output shape rounded up (an odd last row/column is averaged with itself)."""
    ny, nx = rgb.shape[:2]
    pad = ((0, ny % 2), (0, nx % 2), (0, 0))
    a = np.pad(rgb, pad, mode="edge").astype(np.uint16)
    s = a[0::2, 0::2] + a[1::2, 0::2] + a[0::2, 1::2] + a[1::2, 1::2]
    return ((s + 2) // 4).astype(np.uint8)


class TilePyramid:
    """The deep-zoom pyramid of one RGB picture, as OpenSeadragon asks for it.

    Parameters
    ----------
    rgb : ndarray, shape (ny, nx, 3), uint8
        The full-resolution picture (row 0 = image row 0).
    tile_size : int, optional
        Tile side, pixels (default 256).

    Notes
    -----
    Level ``max_level(shape)`` is the picture itself, one picture pixel per image
    pixel; each level below halves it (2 x 2 block mean), down to 1 x 1 at level 0.
    This is the Deep Zoom (DZI) layout with no tile overlap. All levels together take
    4/3 of the picture's memory (33 MB for a 4096 x 2048 CCD).
    """

    def __init__(self, rgb: np.ndarray, *, tile_size: int = TILE_SIZE):
        rgb = np.asarray(rgb)
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise ValueError(f"rgb must be a uint8 array of shape (ny, nx, 3), got {rgb.dtype} {rgb.shape}")
        self.shape = rgb.shape[:2]
        self.tile_size = int(tile_size)
        self.max_level = max_level(self.shape)
        levels = [rgb]
        for _ in range(self.max_level):
            levels.append(_half(levels[-1]))
        self.levels = levels[::-1]

    def tile(self, level: int, col: int, row: int) -> np.ndarray:
        """Tile ``(col, row)`` of ``level`` as (h, w, 3) uint8; ValueError if it does not exist."""
        if not 0 <= level <= self.max_level:
            raise ValueError(f"level must be in [0, {self.max_level}], got {level}")
        pic = self.levels[level]
        t = self.tile_size
        n_rows, n_cols = -(-pic.shape[0] // t), -(-pic.shape[1] // t)
        if not (0 <= col < n_cols and 0 <= row < n_rows):
            raise ValueError(f"tile ({col}, {row}) is outside level {level} ({n_cols} x {n_rows} tiles)")
        return pic[row * t:(row + 1) * t, col * t:(col + 1) * t]

    def tile_png(self, level: int, col: int, row: int) -> bytes:
        """:meth:`tile` encoded as PNG (lossless, so single pixels show as they are)."""
        buf = io.BytesIO()
        Image.fromarray(np.ascontiguousarray(self.tile(level, col, row)), mode="RGB").save(
            buf, format="PNG", compress_level=1)
        return buf.getvalue()


class RenderCache:
    """Pyramids of the images of a folder, made on first request and kept (least recently used out).

    Parameters
    ----------
    images : mapping of str to sequence of path
        Image name -> its files (:func:`spacejunk.io.find_images`).
    render : callable, optional
        ``render(exposure, bands=..., stretch=...) -> uint8 (ny, nx, 3)``; default
        :func:`spacejunk.preprocess.make_rgb` on the chosen bands (reddest in R).
    size : int, optional
        Pyramids kept (default 4; each is ~33 MB for a full CCD).

    Notes
    -----
    Thread-safe: the viewer asks for many tiles at once and the server answers them
    in a thread pool; each pyramid is made once, by the first request that needs it.
    """

    def __init__(self, images: Mapping[str, Sequence], *, render: Callable[..., np.ndarray] | None = None,
                 size: int = 4):
        self.images = dict(images)
        self.size = max(1, int(size))
        self._render = render or _default_render
        self._lock = threading.Lock()
        self._pyramids: OrderedDict[tuple, TilePyramid] = OrderedDict()
        self._making: dict[tuple, threading.Lock] = {}
        self._exposure_lock = threading.Lock()
        self._exposure: tuple[str, Exposure] | None = None

    def exposure(self, name: str) -> Exposure:
        """The image read from its files (the last one read is kept)."""
        with self._exposure_lock:
            if self._exposure is None or self._exposure[0] != name:
                self._exposure = (name, read_exposure(self.images[name]))
            return self._exposure[1]

    def pyramid(self, name: str, *, bands: Sequence[str], stretch: str) -> TilePyramid:
        """The pyramid of image ``name`` drawn from ``bands`` with ``stretch``."""
        key = (name, tuple(bands), stretch)
        with self._lock:
            if key in self._pyramids:
                self._pyramids.move_to_end(key)
                return self._pyramids[key]
            making = self._making.setdefault(key, threading.Lock())
        with making:
            with self._lock:
                if key in self._pyramids:
                    return self._pyramids[key]
            exposure = self.exposure(name)
            pyramid = TilePyramid(self._render(exposure, bands=tuple(bands), stretch=stretch))
            with self._lock:
                self._pyramids[key] = pyramid
                while len(self._pyramids) > self.size:
                    self._pyramids.popitem(last=False)
                self._making.pop(key, None)
            return pyramid


def _default_render(exposure: Exposure, *, bands: Sequence[str], stretch: str) -> np.ndarray:
    from ..preprocess import make_rgb

    return make_rgb(exposure.select([b for b in exposure.bands if b in set(bands)]), stretch=stretch)

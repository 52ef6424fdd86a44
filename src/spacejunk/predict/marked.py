"""Artifacts that know their pixels, for the tile classifier.

A finder's box can be mostly sky (a diagonal bundle of brush strokes, the glow of an edge
bleed fading away from the star's column): a :class:`MarkedArtifact` keeps the pixels it
covers as a bool map of the image binned ``bin`` x ``bin``, and the tile classifier scores the
tiles those pixels cover (:func:`spacejunk.predict.finders.box_tile_scores`), not all those of
its box.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..io.artifact import Artifact

__all__ = ["MarkedArtifact"]


@dataclass(frozen=True, eq=False)
class MarkedArtifact(Artifact):
    """An :class:`~spacejunk.io.Artifact` with its pixels (``marks``, a bool map of the image
    binned ``bin`` x ``bin``)."""

    marks: np.ndarray = field(default=None, repr=False)
    bin: int = 1

    def tile_fractions(self, grid: np.ndarray) -> np.ndarray:
        """Fraction of each tile ``(x0, y0, x1, y1)`` of ``grid`` on the marked pixels, counted
        on the binned map (each tile widened to whole blocks)."""
        from ..preprocess import tile_fractions

        grid = np.asarray(grid, np.float64).reshape(-1, 4)
        ny, nx = self.marks.shape
        lo = np.floor(grid[:, :2] / self.bin).astype(np.int64)
        hi = np.ceil(grid[:, 2:] / self.bin).astype(np.int64)
        binned = np.concatenate([np.minimum(lo, [nx - 1, ny - 1]), np.minimum(np.maximum(hi, lo + 1), [nx, ny])], 1)
        return tile_fractions(self.marks, binned)

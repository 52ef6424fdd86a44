"""The Artifact record shared by labels, simulator truth and detections."""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["Artifact", "ARTIFACT_COLUMNS"]

#: Columns of ``artifacts.csv`` (DESIGN.md), in order.
ARTIFACT_COLUMNS: tuple[str, ...] = (
    "image", "x", "y", "radius", "xmin", "ymin", "xmax", "ymax", "score", "category",
)


@dataclass(frozen=True)
class Artifact:
    """One artifact on one image, in 0-based pixel coordinates (x = column, y = row).

    Attributes
    ----------
    image : str
        Image name (see :class:`spacejunk.io.Exposure`).
    x, y : float
        Centre, pixels.
    radius : float
        Radius of the enclosing circle, pixels.
    xmin, ymin, xmax, ymax : float
        Bounding box, pixels, clipped to the image; ``xmax``/``ymax`` exclusive.
    score : float
        Confidence in [0, 1]; 1.0 for labels and truth.
    category : str
        One of :data:`spacejunk.categories.CATEGORIES` (or the focal-plane ones).
    """

    image: str
    x: float
    y: float
    radius: float
    xmin: float
    ymin: float
    xmax: float
    ymax: float
    score: float = 1.0
    category: str = "other"

    @classmethod
    def from_circle(cls, image: str, x: float, y: float, radius: float, *, shape: tuple[int, int] | None = None,
                    score: float = 1.0, category: str = "other") -> "Artifact":
        """An artifact whose box is the circle's bounding box, clipped to ``shape`` = (ny, nx) if given."""
        xmin, ymin, xmax, ymax = x - radius, y - radius, x + radius, y + radius
        if shape is not None:
            ny, nx = shape
            xmin, ymin = max(xmin, 0.0), max(ymin, 0.0)
            xmax, ymax = min(xmax, float(nx)), min(ymax, float(ny))
        return cls(image, float(x), float(y), float(radius), float(xmin), float(ymin), float(xmax), float(ymax),
                   float(score), category)

    @classmethod
    def from_box(cls, image: str, xmin: float, ymin: float, xmax: float, ymax: float, *, score: float = 1.0,
                 category: str = "other") -> "Artifact":
        """An artifact of a box: centred on it, ``radius`` half its diagonal."""
        xmin, ymin, xmax, ymax = float(xmin), float(ymin), float(xmax), float(ymax)
        return cls(image, (xmin + xmax) / 2, (ymin + ymax) / 2, 0.5 * math.hypot(xmax - xmin, ymax - ymin),
                   xmin, ymin, xmax, ymax, float(score), category)

    @property
    def box(self) -> tuple[float, float, float, float]:
        """(xmin, ymin, xmax, ymax)."""
        return (self.xmin, self.ymin, self.xmax, self.ymax)

    def as_row(self) -> dict:
        """The record as a ``artifacts.csv`` row (dict keyed by :data:`ARTIFACT_COLUMNS`; what a
        subclass adds, as a found ghost's region, is not part of the file)."""
        return {k: getattr(self, k) for k in ARTIFACT_COLUMNS}

"""The sample image shipped with spacejunk (for ``make demo`` and first tries).

``sample/`` holds one simulated 2048 x 1024 image in g, r, i (a quarter of a DECam CCD,
RICE-compressed ``.fits.fz``) with a ghost, a scattered-light spray and a satellite
trail, its volunteer-style ``labels.csv`` and ``truth.csv``. It was made by::

    spacejunk simulate --n 1 --seed 9 --shape 2048,1024 --compress --out sample
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = ["sample_dir", "sample_files"]


def sample_dir() -> Path:
    """Folder of the bundled sample image."""
    return Path(str(resources.files("spacejunk") / "data" / "sample"))


def sample_files() -> list[Path]:
    """The sample image's band files, g, r, i."""
    return sorted(sample_dir().glob("*.fits.fz"))

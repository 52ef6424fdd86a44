"""A folder of simulated images with their labels and truth."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Sequence

import numpy as np
from tqdm import tqdm

from ..io.labels import write_labels
from ..io.exposure import write_exposure
from ..io.outputs import write_artifacts, write_mask_fits
from .conditions import check_bands
from .image import check_shape, simulate_image

__all__ = ["simulate_dataset", "image_seed", "image_name"]

log = logging.getLogger("spacejunk")


def image_seed(seed: int, k: int) -> int:
    """Seed of image ``k`` of a data set of seed ``seed`` (independent of the data set's size)."""
    return int(np.random.SeedSequence([int(seed), int(k)]).generate_state(1, np.uint64)[0] >> np.uint64(1))


def image_name(seed: int, k: int) -> str:
    """Name of image ``k`` of a data set of seed ``seed``: ``sim_s{seed}_{k:04d}``."""
    return f"sim_s{seed}_{k:04d}"


def simulate_dataset(out_dir: str | os.PathLike, *, n: int, seed: int, bands: Sequence[str] = ("g", "r", "i"),
                     shape: tuple[int, int] = (4096, 2048), compress: bool = False, quiet: bool = False) -> list[str]:
    """Simulate ``n`` images with the random artifact mix and write them with their truth.

    Parameters
    ----------
    out_dir : str or path-like
        Output folder, created if needed.
    n : int
        Number of images (>= 1).
    seed : int
        Seed of the data set (>= 0); image ``k`` uses :func:`image_seed` ``(seed, k)`` and is
        the same whatever ``n``.
    bands : sequence of str, default ("g", "r", "i")
        Bands among g, r, i, z, Y.
    shape : (int, int), default (4096, 2048)
        (ny, nx) of each image.
    compress : bool, default False
        Write tile-compressed ``.fits.fz`` files.
    quiet : bool, default False
        No progress bar.

    Returns
    -------
    list of str
        The image names, ``sim_s{seed}_{k:04d}``.

    Notes
    -----
    Writes ``out_dir/<image>_<band>.fits[.fz]`` (SCI, MSK, WGT), ``out_dir/labels.csv``
    (``image,x,y,size,radius,category``: one volunteer-style circle per artifact),
    ``out_dir/truth.csv`` (the ``artifacts.csv`` columns, score 1) and
    ``out_dir/truth/<image>_truth.fits`` (int32 truth mask). Every file is written
    atomically; the two CSV files at the end, once all images are written.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n: expected a positive integer, got {n!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed: expected a non-negative integer, got {seed!r}")
    bands = check_bands(bands)
    shape = check_shape(shape)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    names: list[str] = []
    truth = []
    for k in tqdm(range(int(n)), desc="simulate", unit="image", disable=quiet):
        name = image_name(seed, k)
        image = simulate_image(seed=image_seed(seed, k), name=name, shape=shape, bands=bands)
        write_exposure(image.exposure, out, compress=compress)
        write_mask_fits(out / "truth" / f"{name}_truth.fits", image.truth_mask)
        truth.extend(image.artifacts)
        names.append(name)
    write_labels(out / "labels.csv", truth)
    write_artifacts(out / "truth.csv", truth)
    log.info("simulate: %d images with %d artifacts written to %s", len(names), len(truth), out)
    return names

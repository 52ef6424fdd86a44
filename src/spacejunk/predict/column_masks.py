"""Bad columns DESDM did not flag: a column (1-3 pixels wide) brighter or darker than its neighbours.

A charge trap or a hot column adds (or takes) a little signal along a column, from a
point to the readout edge or over the whole CCD. One pixel of it may be below the noise,
but summed along the column it is many sigma. So, for every band, in noise units with
DESDM-flagged pixels (bad pixels, saturated cores, bleed trails, edges) left out:

1. each column is cut into blocks of ``block`` rows; pixels more than ``source_sigma`` from
   their block's median in that column (stars, galaxies: a bad column is flat along the
   column, so it is never one), grown by ``grow`` pixels, are left out, and each block is
   averaged (clipped to +-``clip`` sigma);
2. the *offset* of a block is its mean minus the median of the same rows in the
   ``reference`` columns on either side (skipping the ``gap`` nearest, within the same
   amplifier: the two amplifiers' skies differ), and the bands' offsets are averaged
   (a bad column is in every band);
3. the offsets are put in units of their own scatter (robust, over the whole image), and
   each column's best run of blocks of one sign is found (maximum sum of
   ``|z| - penalty`` over consecutive blocks, the run a CUSUM would pick);
4. a run of at least ``min_blocks`` blocks whose significance (its offsets' sum divided by
   the square root of its length) is at least ``min_sigma`` is a bad column; neighbouring
   columns with runs of the same sign over the same rows are one artifact.

The score is ``significance / (significance + score_sigma)``: a column found at the limit
(``min_sigma``, 16) scores 0.25, one of ``score_sigma`` (48) 0.5. On the random mix of
simulated CCDs the false columns (a spray's streaks, a cross-talk copy's edge, a dark
halo's rim) reach a significance of 45 and the simulator's bad columns 30-400 (all but
the shortest above 48), so at the detector's default threshold (0.5) the false ones
are not reported and nearly every true one is.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from .._errors import quiet_runtime_warnings
from ..categories import DESDM_BITS
from ..io.artifact import Artifact
from ..io.exposure import Exposure
from ..preprocess.normalise import noise_units

__all__ = ["ColumnMaskSettings", "find_column_masks", "column_offsets", "best_runs"]

#: Pixels DESDM deals with itself: bad pixels, saturated cores, bleed trails, edges.
IGNORED_BITS = DESDM_BITS["BPM"] | DESDM_BITS["SATURATE"] | DESDM_BITS["TRAIL"] | DESDM_BITS["EDGE"]


@dataclass(frozen=True)
class ColumnMaskSettings:
    """How bad columns are looked for (see the module's notes)."""

    block: int = 32
    reference: int = 5
    gap: int = 2
    penalty: float = 1.0
    min_blocks: int = 6
    clip: float = 5.0
    source_sigma: float = 4.0
    grow: int = 2
    min_sigma: float = 16.0
    score_sigma: float = 48.0
    max_width: int = 4
    min_valid: float = 0.5


def column_offsets(values: np.ndarray, ignored: np.ndarray, s: ColumnMaskSettings) -> np.ndarray:
    """Offsets ``(n_blocks, nx)`` of each column's blocks from their reference columns (NaN: no data)."""
    ny, nx = values.shape
    nb = ny // s.block
    raw = values[:nb * s.block].reshape(nb, s.block, nx)
    # sources: what stands out of its own column's median (a column's own offset does not)
    ordered = np.sort(raw, axis=1)  # the median by sorting: 2-3 times faster than np.median here
    mid = s.block // 2
    median = ordered[:, mid:mid + 1] if s.block % 2 else 0.5 * (ordered[:, mid - 1:mid] + ordered[:, mid:mid + 1])
    source = np.abs(raw - median) > s.source_sigma
    source = source.reshape(nb * s.block, nx).view(np.uint8)
    for axis in (0, 1):  # grown by a square of side 2 grow + 1 (two fast 1-D passes)
        source = ndimage.maximum_filter1d(source, 2 * s.grow + 1, axis=axis)
    source = source.view(bool).reshape(raw.shape)
    ok = ~(ignored[:nb * s.block].reshape(raw.shape) | source)
    n = ok.sum(axis=1)
    v = np.where(ok, np.clip(raw, -s.clip, s.clip), 0.0)
    means = np.where(n >= s.min_valid * s.block, v.sum(axis=1) / np.maximum(n, 1), np.nan).astype(np.float32)
    out = np.full_like(means, np.nan)
    half = nx // 2
    for a0, a1 in ((0, half), (half, nx)):  # within one amplifier
        amp = means[:, a0:a1]
        w = a1 - a0
        padded = np.pad(amp, ((0, 0), (s.gap + s.reference, s.gap + s.reference)), constant_values=np.nan)
        refs = []
        for d in range(s.gap + 1, s.gap + s.reference + 1):
            c = s.gap + s.reference
            refs.append(padded[:, c - d:c - d + w])
            refs.append(padded[:, c + d:c + d + w])
        with quiet_runtime_warnings():
            ref = np.nanmedian(np.stack(refs), axis=0)
        out[:, a0:a1] = amp - ref
    return out


def best_runs(z: np.ndarray, penalty: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per column of ``z`` (n_blocks, nx), the run of blocks maximising ``sum(z - penalty)``.

    NaN blocks count as 0 (a run may cross them). Returns the start and end (exclusive)
    block of each column's best run and the run's sum of ``z``.
    """
    nb, nx = z.shape
    zz = np.nan_to_num(z, nan=0.0)
    best = np.zeros(nx)
    best_start = np.zeros(nx, np.int64)
    best_end = np.zeros(nx, np.int64)
    run = np.zeros(nx)
    start = np.zeros(nx, np.int64)
    for i in range(nb):
        g = zz[i] - penalty
        restart = run <= 0
        run = np.where(restart, g, run + g)
        start = np.where(restart, i, start)
        better = run > best
        best = np.where(better, run, best)
        best_start = np.where(better, start, best_start)
        best_end = np.where(better, i + 1, best_end)
    sums = np.array([zz[best_start[x]:best_end[x], x].sum() for x in range(nx)])
    return best_start, best_end, sums


def find_column_masks(exposure: Exposure, settings: ColumnMaskSettings | None = None) -> list[Artifact]:
    """Unflagged bad columns of ``exposure`` as ``column-mask`` artifacts."""
    s = settings or ColumnMaskSettings()
    ny, nx = exposure.shape
    if ny < s.block * s.min_blocks or nx < 4 * (s.gap + s.reference):
        return []
    offsets = []
    for b in range(len(exposure.bands)):
        values, ignored = noise_units(exposure, b, ignored_bits=IGNORED_BITS)
        offsets.append(column_offsets(values, ignored, s))
    with quiet_runtime_warnings():
        off = np.nanmean(np.stack(offsets), axis=0)
    finite = off[np.isfinite(off)]
    if finite.size < 10:
        return []
    scatter = 1.4826 * float(np.median(np.abs(finite - np.median(finite))))
    z = off / max(scatter, 1e-6)
    found = []  # (x, sign, start, end, significance)
    for sign in (1.0, -1.0):
        start, end, sums = best_runs(sign * z, s.penalty)
        length = end - start
        sig = sums / np.sqrt(np.maximum(length, 1))
        for x in np.flatnonzero((length >= s.min_blocks) & (sig >= s.min_sigma)):
            found.append((int(x), sign, int(start[x]), int(end[x]), float(sig[x])))
    found.sort()
    out: list[Artifact] = []
    used = [False] * len(found)
    for i, (x, sign, b0, b1, sig) in enumerate(found):
        if used[i]:
            continue
        used[i] = True
        xs, r0, r1, best = [x], b0, b1, sig
        for j in range(i + 1, len(found)):
            x2, sign2, c0, c1, sig2 = found[j]
            if x2 > xs[-1] + 1:
                break
            if used[j] or sign2 != sign or min(r1, c1) - max(r0, c0) < 0.5 * min(r1 - r0, c1 - c0):
                continue
            used[j] = True
            xs.append(x2)
            r0, r1, best = min(r0, c0), max(r1, c1), max(best, sig2)
        if len(xs) > s.max_width:
            continue  # wider than a bad column: a ghost's or a star's edge
        x0, x1 = float(xs[0]), float(xs[-1] + 1)
        y0 = float(r0 * s.block)
        y1 = float(ny if r1 * s.block >= (ny // s.block) * s.block else r1 * s.block)
        out.append(Artifact.from_box(exposure.name, x0, y0, x1, y1, score=best / (best + s.score_sigma),
                                     category="column-mask"))
    return sorted(out, key=lambda a: -a.score)

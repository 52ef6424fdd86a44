"""The large pupil ghost of a focal-plane picture, found by the shadows of the spider.

A bright star out of the field can throw an out-of-focus image of the telescope's pupil
over much of the DECam focal plane: a disc about a third of the picture across, nearly
centred on the optical axis. In a focal-plane picture (each CCD background-subtracted on
its own, then binned ~70x) the disc's own light is mostly gone; what stays are the
shadows of the prime-focus cage's spider, four dark strokes along the picture's
diagonals, between about half the disc's radius and its rim. People who mark these
ghosts draw the whole disc (DeepGhostBusters' 20 common-core pictures: 9 of them hold one,
median 0.35 of the picture).

So the finder matches a cross of four dark diagonal arms:

1. the grey picture, brought to the 400 x 400 frame of the DeepGhostBusters pictures, each
   CCD's median level taken off, the gaps between CCDs filled from the nearest CCD pixel, minus a running median of
   ``median_size`` px (stars and sky gradients go), in units of its robust scatter,
   clipped at +-``clip``, gaps left out;
2. for a centre and a radius ``R``, each arm's *contrast* is, along the diagonal from
   ``arm_span[0] R`` to ``arm_span[1] R``, the darker of the two samples ``side_px`` px to
   either side of the arm minus the sample on it, where all three lie on one CCD
   (positive where the arm is darker than both sides: a bright line beside the arm, a
   satellite or a star's spike, does not make it dark, nor does a step between CCDs); the
   arm's *significance* is its summed contrast over the square root of its samples (the
   mean times the root of the samples: a short arm's mean scatters more, so the mean alone
   would favour the shortest arms of the search);
3. the *score* is the third-largest of the four arm significances, the best over centres within
   ``search_px`` of the picture's centre and radii in ``radius_range`` times the disc's
   radius: three arms at least must be dark (one arm is often lost in a gap, and a single
   dark line, a satellite trail or a ray, makes one arm only);
4. a ghost is reported when the score is at least ``threshold``
   (:func:`calibrate_threshold` sets it from annotated pictures). Its centre is where the
   mean contrast of all arm samples is largest at the disc's radius, within ``centre_px``
   of the best cross, and the disc is drawn with the radius ``radius`` people give these
   ghosts: the median radius of the 474
   circles over 100 px drawn on the 1,970 single-annotator exposures
   (:func:`radius_from_regions`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy import ndimage

__all__ = ["PupilGhostSettings", "PupilGhost", "contrast_image", "pupil_statistics", "find_pupil_ghost",
           "pupil_disc", "calibrate_threshold", "has_pupil_ghost", "radius_from_regions", "settings_from_meta",
           "camera_outline", "FRAME"]

#: Side of the frame the finder works in (the DeepGhostBusters pictures' size); other
#: pictures are resampled to it and the disc scaled back.
FRAME = 400

#: Unit vectors (dx, dy) of the four diagonal arms, in picture coordinates (y down).
_ARMS = np.array([[1.0, 1.0], [-1.0, 1.0], [-1.0, -1.0], [1.0, -1.0]]) / np.sqrt(2.0)


@dataclass(frozen=True)
class PupilGhostSettings:
    """Settings of :func:`find_pupil_ghost`, in pixels of the 400 x 400 frame.

    Attributes
    ----------
    radius : float
        Radius of the drawn disc (default 124: the median radius of the 474 circles over
        100 px among the 6,607 single-annotator regions; :func:`radius_from_regions`).
    radius_range : (float, float)
        Radii searched for the arms, as factors of ``radius`` (default 0.8-1.3).
    arm_span : (float, float)
        Stretch of each arm from the centre, as fractions of the radius (default 0.5-0.95).
    side_px : float
        Distance of the two comparison samples on either side of an arm (default 4).
    search_px : float
        Centres searched within this distance of the frame's centre, in x and y
        (default 100).
    step_px : float
        Step of the coarse search grid; the best centres are refined at 1 px (default 2:
        the arms are 1-2 px wide, so a coarser grid steps over them).
    centre_px : float
        The disc's centre is sought within this distance of the best cross (default 16).
    median_size : int
        Side of the running median taken off the picture (default 15).
    clip : float
        The picture is clipped at this many robust sigmas (default 4).
    min_samples : int
        Least number of arm samples on CCD pixels for an arm to count (default 10).
    threshold : float
        Least score (third-largest arm significance) of a ghost (default 4.37, what
        :func:`calibrate_threshold` gives on the 20 DeepGhostBusters pictures).
    probability : float
        Probability of an artifact given to the disc's pixels (default 0.9).
    """

    radius: float = 124.0
    radius_range: tuple[float, float] = (0.8, 1.3)
    arm_span: tuple[float, float] = (0.5, 0.95)
    side_px: float = 4.0
    search_px: float = 100.0
    step_px: float = 2.0
    centre_px: float = 16.0
    median_size: int = 15
    clip: float = 4.0
    min_samples: int = 10
    threshold: float = 4.37
    probability: float = 0.9

    def __post_init__(self):
        if self.radius <= 0 or self.step_px <= 0 or self.search_px < 0:
            raise ValueError("radius and step_px must be > 0 and search_px >= 0")
        if not 0 <= self.arm_span[0] < self.arm_span[1]:
            raise ValueError(f"arm_span must be increasing fractions, got {self.arm_span}")
        if not 0 < self.radius_range[0] <= self.radius_range[1]:
            raise ValueError(f"radius_range must be increasing factors, got {self.radius_range}")
        if not 0.0 <= self.probability <= 1.0:
            raise ValueError(f"probability must be in [0, 1], got {self.probability}")


@dataclass(frozen=True)
class PupilGhost:
    """A pupil ghost (or the best candidate) in picture pixels.

    Attributes
    ----------
    x, y, radius : float
        The disc, in pixels of the picture given.
    score : float
        Third-largest arm significance of the best cross.
    arms : tuple of float
        The four arm significances of the best cross (summed contrast over the root of the
        samples).
    found : bool
        ``score >= threshold``.
    """

    x: float
    y: float
    radius: float
    score: float
    arms: tuple
    found: bool


def _grey(image: np.ndarray) -> np.ndarray:
    arr = np.asarray(image, dtype=np.float64)
    if arr.ndim == 3:
        arr = arr.mean(axis=0)
    if arr.ndim != 2:
        raise ValueError(f"image must be (n_channels, ny, nx) or (ny, nx), got shape {np.shape(image)}")
    if arr.shape != (FRAME, FRAME):
        arr = ndimage.zoom(arr, (FRAME / arr.shape[0], FRAME / arr.shape[1]), order=1)
    return np.nan_to_num(arr, nan=float(np.nanmedian(arr)) if np.isfinite(arr).any() else 0.0)


@functools.lru_cache(maxsize=1)
def _ccd_ids() -> np.ndarray:
    """The CCD of each pixel of the frame, one pixel in from its edges; -1 elsewhere.

    float ``(FRAME, FRAME)`` so that it is sampled like the picture; computed once.
    """
    from ..simulate.focal_plane import ccd_index_map, decam_layout

    idx = ccd_index_map((FRAME, FRAME), decam_layout((FRAME, FRAME)))
    on = ndimage.binary_erosion(idx >= 0, iterations=1)
    return np.where(on, idx, -1).astype(np.float64)


@functools.lru_cache(maxsize=1)
def camera_outline() -> np.ndarray:
    """bool ``(FRAME, FRAME)``: the camera's outline, the CCDs and the gaps between them; computed once."""
    on = np.pad(_ccd_ids() >= 0, 5)  # padded: the closing must not eat the CCDs at the picture's edge
    return ndimage.binary_fill_holes(ndimage.binary_closing(on, iterations=4))[5:-5, 5:-5]


def contrast_image(image: np.ndarray, settings: PupilGhostSettings = PupilGhostSettings()) -> np.ndarray:
    """Step 1: the picture in the 400 x 400 frame, high-passed, in robust sigmas (NaN in gaps)."""
    g = _grey(image)
    ids = _ccd_ids()
    on = ids >= 0
    levels = ndimage.median(g, ids.astype(int), index=np.arange(int(ids.max()) + 1))
    g = np.where(on, g - np.asarray(levels)[np.maximum(ids.astype(int), 0)], 0.0)  # each CCD's own level off
    _, (iy, ix) = ndimage.distance_transform_edt(~on, return_indices=True)
    g = g[iy, ix]
    z = ndimage.gaussian_filter(g, 1.0) - ndimage.median_filter(g, settings.median_size)
    vals = z[on]
    scale = 1.4826 * np.median(np.abs(vals - np.median(vals)))
    z = np.clip(z / max(scale, 1e-9), -settings.clip, settings.clip)
    z[~on] = np.nan
    return z


def _sample(z: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    xi, yi = np.rint(x).astype(int), np.rint(y).astype(int)
    ok = (xi >= 0) & (xi < z.shape[1]) & (yi >= 0) & (yi < z.shape[0])
    out = np.full(x.shape, np.nan)
    out[ok] = z[yi[ok], xi[ok]]
    return out


def _arm_profiles(z: np.ndarray, cx: np.ndarray, cy: np.ndarray, length: int, s: PupilGhostSettings
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative contrast along each arm, 1 px at a time: ``(n, 4, length + 1)`` sums and counts.

    The arm stretch ``[a, b)`` px of a centre ``i`` sums to ``sums[i, :, b] - sums[i, :, a]``,
    so every radius comes from one pass.
    """
    t = np.arange(length, dtype=float)
    ids = _ccd_ids()
    sums, counts = [], []
    for dx, dy in _ARMS:
        x = cx[:, None] + t[None] * dx
        y = cy[:, None] + t[None] * dy
        px, py = -dy * s.side_px, dx * s.side_px
        # darker than *both* sides (NaN where either is off a CCD): a bright line beside the
        # arm (a satellite, a star's spike) is no arm
        d = np.minimum(_sample(z, x + px, y + py), _sample(z, x - px, y - py)) - _sample(z, x, y)
        here = _sample(ids, x, y)  # the three samples on one CCD: no step between CCDs counts
        ok = np.isfinite(d) & (_sample(ids, x + px, y + py) == here) & (_sample(ids, x - px, y - py) == here)
        sums.append(np.cumsum(np.where(ok, d, 0.0), axis=1))
        counts.append(np.cumsum(ok, axis=1))
    pad = ((0, 0), (0, 0), (1, 0))
    return np.pad(np.stack(sums, 1), pad), np.pad(np.stack(counts, 1), pad)


def _arm_sums(profiles: tuple[np.ndarray, np.ndarray], r: float, s: PupilGhostSettings
              ) -> tuple[np.ndarray, np.ndarray]:
    """Per centre and arm: the summed contrast and the number of samples on CCDs, ``(n, 4)`` each."""
    a, b = int(np.ceil(s.arm_span[0] * r)), int(np.ceil(s.arm_span[1] * r))
    sums, counts = profiles
    return sums[:, :, b] - sums[:, :, a], counts[:, :, b] - counts[:, :, a]


def _arm_significance(sums: np.ndarray, counts: np.ndarray, min_samples: int, missing: float) -> np.ndarray:
    """Each arm's summed contrast over the square root of its samples; ``missing`` under ``min_samples``.

    The mean contrast times the square root of the samples: a long dark arm counts more
    than a short one of the same mean, so the search over radii and centres does not
    favour the shortest arms, whose means scatter most.
    """
    return np.where(counts >= min_samples, sums / np.sqrt(np.maximum(counts, 1)), missing)


def _third_arm(sums: np.ndarray, counts: np.ndarray, min_samples: int) -> np.ndarray:
    return np.sort(_arm_significance(sums, counts, min_samples, -np.inf), axis=1)[:, 1]  # the third-largest of four


def _grid(step: float, s: PupilGhostSettings) -> tuple[np.ndarray, np.ndarray]:
    c = FRAME / 2.0
    g = np.arange(c - s.search_px, c + s.search_px + 1e-9, step)
    gx, gy = np.meshgrid(g, g)
    return gx.ravel(), gy.ravel()


def _around(cx: float, cy: float, step: float) -> tuple[np.ndarray, np.ndarray]:
    """A 1-px grid within one coarse step of ``(cx, cy)``."""
    off = np.arange(-step, step + 1e-9, 1.0)
    ox, oy = np.meshgrid(off, off)
    return cx + ox.ravel(), cy + oy.ravel()


def pupil_statistics(image: np.ndarray, settings: PupilGhostSettings = PupilGhostSettings(), *,
                     contrast: np.ndarray | None = None) -> PupilGhost:
    """The best cross of dark arms in a picture and its score, whatever the threshold.

    Parameters
    ----------
    image : numpy.ndarray
        ``(n_channels, ny, nx)`` or ``(ny, nx)`` focal-plane picture.
    settings : PupilGhostSettings, optional
    contrast : numpy.ndarray, optional
        The picture's :func:`contrast_image` with these settings, if already made (the
        stroke finder uses it too); made here otherwise.

    Returns
    -------
    PupilGhost
        The disc in the picture's pixels, its score and ``found = score >= threshold``.
    """
    s = settings
    shape = np.shape(image)[-2:]
    z = contrast_image(image, s) if contrast is None else contrast
    radii = s.radius * np.arange(s.radius_range[0], s.radius_range[1] + 1e-9, 0.04)
    length = int(np.ceil(s.arm_span[1] * max(radii.max(), s.radius))) + 1

    def detection(x, y):
        """The third-largest arm significance at each centre, best over the radii, and that radius."""
        prof = _arm_profiles(z, x, y, length, s)
        v = np.stack([_third_arm(*_arm_sums(prof, r, s), s.min_samples) for r in radii])
        k = np.argmax(v, axis=0)
        return v[k, np.arange(len(x))], radii[k], prof

    def pooled(prof):
        """The mean contrast of all arm samples at the disc's radius."""
        sums, counts = _arm_sums(prof, s.radius, s)
        n = counts.sum(1)
        return np.where(n >= 2 * s.min_samples, sums.sum(1) / np.maximum(n, 1), -np.inf)

    # detection: the best cross on the coarse grid, refined at 1 px
    gx, gy = _grid(s.step_px, s)
    v, _, prof = detection(gx, gy)
    i = int(np.argmax(v))
    fx, fy = _around(gx[i], gy[i], s.step_px)
    v, rad, _ = detection(fx, fy)
    i = int(np.argmax(v))
    score, bx, by, br = float(v[i]), float(fx[i]), float(fy[i]), float(rad[i])
    # position: the best pooled contrast near that cross
    near = np.hypot(gx - bx, gy - by) <= s.centre_px
    w = pooled(tuple(p[near] for p in prof))
    j = int(np.argmax(w))
    fx, fy = _around(gx[near][j], gy[near][j], s.step_px)
    j = int(np.argmax(pooled(_arm_profiles(z, fx, fy, length, s))))
    cx, cy = float(fx[j]), float(fy[j])
    sums, counts = _arm_sums(_arm_profiles(z, np.array([bx]), np.array([by]), length, s), br, s)
    arms = tuple(float(a) for a in _arm_significance(sums[0], counts[0], s.min_samples, np.nan))
    sy, sx = shape[0] / FRAME, shape[1] / FRAME
    return PupilGhost(x=cx * sx, y=cy * sy, radius=s.radius * float(np.sqrt(sx * sy)), score=score,
                      arms=arms, found=bool(score >= s.threshold))


def settings_from_meta(meta: dict) -> PupilGhostSettings | None:
    """The pupil-ghost settings a focal-plane checkpoint records (``meta["pupil"]``), or None."""
    cfg = meta.get("pupil")
    return PupilGhostSettings(**cfg) if cfg else None


def find_pupil_ghost(image: np.ndarray, settings: PupilGhostSettings = PupilGhostSettings(), *,
                     contrast: np.ndarray | None = None) -> PupilGhost | None:
    """The pupil ghost of a focal-plane picture, or None (see the module's notes and :func:`pupil_statistics`)."""
    ghost = pupil_statistics(image, settings, contrast=contrast)
    return ghost if ghost.found else None


def pupil_disc(ghost: PupilGhost, shape: tuple[int, int]) -> np.ndarray:
    """bool ``shape`` mask of the ghost's disc."""
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return (xx - ghost.x) ** 2 + (yy - ghost.y) ** 2 <= ghost.radius ** 2


def calibrate_threshold(scores: Sequence[float], has_ghost: Sequence[bool], *,
                        default: float = PupilGhostSettings.threshold) -> float:
    """A score threshold from annotated pictures: the one that misclassifies fewest.

    Among the thresholds with fewest errors (a ghost below it, or a picture without one at
    or above it) the middle one of the widest gap between sorted scores is taken. With no
    picture of either kind, ``default``.
    """
    scores = np.asarray(scores, dtype=float)
    has = np.asarray(has_ghost, dtype=bool)
    if has.all() or not has.any():
        return float(default)
    order = np.sort(scores)
    cuts = np.concatenate([[order[0] - 1.0], (order[1:] + order[:-1]) / 2.0, [order[-1] + 1.0]])
    errors = np.array([int(((scores >= c) & ~has).sum() + ((scores < c) & has).sum()) for c in cuts])
    best = np.flatnonzero(errors == errors.min())
    # the widest margin: the cut whose neighbouring scores are farthest apart
    gaps = [np.min(np.abs(scores - cuts[i])) for i in best]
    return float(cuts[best[int(np.argmax(gaps))]])


def has_pupil_ghost(mask: np.ndarray, *, min_share: float = 0.15) -> bool:
    """Whether a label mask holds a disc of pupil-ghost size.

    True when its largest 8-connected region covers at least ``min_share`` of the picture
    (the disc of the default radius covers 0.30 of a 400 x 400 picture; the largest
    other region people drew on the 20 common-core pictures covers 0.08).
    """
    mask = np.asarray(mask, dtype=bool)
    labels, n = ndimage.label(mask, structure=np.ones((3, 3), dtype=bool))
    if n == 0:
        return False
    return bool(np.bincount(labels.ravel())[1:].max() >= min_share * mask.size)


def radius_from_regions(region_sets, *, least: float = 100.0, frame: float = FRAME) -> float:
    """Median radius of the circles over ``least`` px in label sets (``[[Region, ...], ...]``).

    The single-annotator DeepGhostBusters regions give 123.8 px (474 circles).
    """
    radii = [float(reg.params["r"]) for regions in region_sets for reg in regions
             if reg.kind == "circle" and float(reg.params.get("r", 0)) > least]
    if not radii:
        raise ValueError(f"no circle over {least:g} px in the label sets")
    return float(np.median(radii)) * FRAME / frame

"""Straight trails (satellites) found with a Radon transform of the binned image, band by band.

A satellite trail is a straight line across the CCD in one band. Locally it can be as
faint as the noise (the simulator draws peaks of 0.8-80 sky sigma), which a network that
looks at a tile or a binned copy misses; summed along its whole length it stands out by
tens of sigma. So, for every band:

1. the band in noise units above the sky, DESDM-flagged pixels (bad columns, saturated
   cores, bleed trails, cosmic rays, edges) set to the sky, clipped to
   ``[-clip, clip]`` sigma so that stars and galaxies weigh no more than a faint trail;
2. binned ``bin`` x ``bin`` (mean) and high-passed (minus a running median of
   ``median_size`` binned pixels), which removes ghosts, scattered light and gradients,
   and clipped to ``binned_clip`` times its robust scatter, so that a binned star counts
   no more than a binned stretch of faint trail (the unclipped bands are searched as well
   for airplanes' bright blinking dashes, which the clip cuts down);
3. the Radon transform of that (sums along lines, :func:`torch.nn.functional.grid_sample`
   over every angle), each sum divided by its noise (the binned noise times the square
   root of the number of pixels summed): a significance per line;
4. the most significant lines above ``min_sigma``, one after the other, each suppressing
   its neighbourhood (trails are at least ``min_separation_deg`` apart in angle or
   several binned pixels apart in offset);
5. each line refined at full resolution (its angle within ``refine_deg`` of the Radon
   transform's, its offset and width from the mean cross-section of a strip along it,
   the ends from where the signal along it stops) and boxed.

Lines within ``axis_tolerance_deg`` of the columns (after refinement) are not reported:
bad columns, cross-talk and bleed trails run along them and are not satellites. They are
refined and merged with the others all the same, so that their side lobes, a few degrees
off, go with them (:func:`_merge_bands`).

A spray's rays start at some distance from their star and fade further out, so many
stop part of the way across the CCD: they fail the lit-fraction test a satellite passes
(or look dashed, as half their line is dark). Such a line that holds one stretch of
signal from an end of the line, and little off it, is kept as a *ray*
(:func:`_ray_stretch`) when it joins a fan with another ray or trail (:func:`split_fans`);
a ray alone is dropped. Beside a ray (or a satellite that measures as one), fainter
lines (from ``weak_ray_sigma``) that are rays pointing back to the same place join its
fan, and a satellite in a fan is cut to its ray's stretch where it has one.

The rays of a spray from a distant star are 50-200 px wide, as broad as the high-pass
of step 2 and wider than a trail: a *broad pass* looks for them again in the bands
binned ``broad_bin`` x ``broad_bin`` (:attr:`TrailSettings.broad_bin`), where they are
a few pixels wide, and keeps those that join a fan.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

from .._errors import quiet_runtime_warnings
from ..categories import DESDM_BITS
from ..io.artifact import Artifact
from ..io.exposure import Exposure
from ..preprocess.normalise import bin_image, noise_units

#: category of a line along the columns while the trails are merged (never reported)
_COLUMNS = "columns"
#: category of a spray's ray (a line lit from one end part of the way across; kept in fans only)
RAY = "ray"
#: step along a line of the full-resolution strips sampled across it (px)
_STEP_PX = 2.0

__all__ = ["TrailSettings", "Trail", "trails_for_meta", "radon_significance", "empirical_significance", "find_trails",
           "trails_to_artifacts", "split_fans", "fans_to_artifacts", "trail_mask", "trail_tile_scores", "settings_from_meta"]

#: DESDM bits whose pixels are set to the sky before lines are looked for.
IGNORED_BITS = (DESDM_BITS["BPM"] | DESDM_BITS["SATURATE"] | DESDM_BITS["INTERP"] | DESDM_BITS["BADAMP"]
                | DESDM_BITS["CRAY"] | DESDM_BITS["TRAIL"] | DESDM_BITS["EDGEBLEED"] | DESDM_BITS["EDGE"])


@dataclass(frozen=True)
class TrailSettings:
    """How trails are looked for (see the module's notes).

    Attributes
    ----------
    bin : int
        Binning before the Radon transform (pixels per binned pixel).
    clip : float
        Pixel values are clipped to ``[-clip, clip]`` sky sigma first.
    median_size : int
        Running-median size of the high-pass, binned pixels.
    angle_step_deg : float
        Angle step of the Radon transform.
    min_sigma : float
        Least significance of a line (sum along it over its noise).
    min_length_px : float
        Shortest line (full-resolution pixels inside the image) considered, and shortest
        stretch of it holding the signal.
    max_trails : int
        Most trails per band.
    min_separation_deg : float
        Lines closer than this in angle (and a few binned pixels in offset) are one.
    axis_tolerance_deg : float
        Lines this close to the column direction (degrees) are not reported (0.1: only
        lines refined onto the columns; 2 before stop 31, which lost satellites and airplanes
        crossing the CCD within 2 degrees of them).
    min_lit_fraction : float
        Least fraction of the line's length inside the image that holds its signal: a
        satellite or an airplane crosses the whole CCD during an exposure, while the edge
        of a ghost, an arc or a spray of rays lies along a line for part of it only.
    max_width_px : float
        Widest cross-section (full-resolution pixels) of a trail; broader lines are edges
        of ghosts or arcs.
    dashed_fraction : float
        A trail whose kept stretch is dark (under a quarter of its bright level, in 10-px
        steps) over at least this share of its length is *dashed*: an airplane's blinking
        lights when it is narrow, the patchy edge of a ghost or an arc when it is wider
        than ``max_dashed_width_px``, which is dropped.
    max_dashed_width_px : float
        Widest dashed trail kept.
    dash_period_px, dash_modulation : float, (float, float)
        A trail whose brightness along it swings with a period in ``dash_period_px`` by
        at least ``dash_modulation`` of its mean (the amplitude of that Fourier term;
        on-off blinking gives 1.2-2, a satellite's slow variation under 0.1) is dashed
        too, however short its dark stretches (the lights of an airplane blink every
        40-400 px).
    duplicate_deg, duplicate_px : float
        A weaker line within ``duplicate_deg`` of a stronger one and on average within
        ``duplicate_px`` of it (in any band) is the same trail (a side lobe, or its copy
        in another band).
    fan_max_deg, fan_max_apex_px : float
        Two trails whose lines meet beyond or at an end of each (within a tenth of its
        length; neither crosses the other's middle),
        at an angle of at most ``fan_max_deg`` and within ``fan_max_apex_px`` of both
        segments, are rays of one fan: a bright spray from a star, not two satellites
        (:func:`split_fans`). 8,000 px (6,000 before stop 34, which split a simulated
        spray's ray seen 6,300 px from its star off its fan; the real ``Rays`` regions
        reach 10,000 px).
    fan_max_stray_deg : float
        A satellite (a trail across the whole CCD) in a fan of three trails or more whose
        line passes more than this angle, seen from its middle, off the point where the
        other rays' lines meet (least squares) is a satellite crossing the spray, not a
        ray of it: it meets one of the rays beyond their ends, but not the star they
        point back to (:func:`split_fans`).
    cross_section : str
        ``"mean"`` (default) or ``"median"`` along the line, for the cross-section that gives
        a trail's offset and width: the median along a dashed trail (lights on less than
        half the time) falls towards the sky's.
    refine_deg : float
        The angle is refined at full resolution within this many degrees of the Radon
        transform's (:func:`_refine_angle`).
    rays : bool
        Keep the lines that fail the lit-fraction or the dashed-width test but hold one
        stretch of signal from an end of the line inside the image as *rays*
        (:func:`_ray_stretch`), where they join a fan (:func:`split_fans`): a spray's
        rays often stop part of the way across the CCD, which a satellite does not. A
        ray in no fan is dropped.
    ray_min_px, ray_chunk_px, ray_lit_sigma, ray_max_rest, ray_max_fraction : float
        A ray's stretch is at least ``ray_min_px`` long, made of chunks (``ray_chunk_px``) whose
        median along the line stands ``ray_lit_sigma`` over the median beside it (a gap
        of one chunk between two lit pairs bridged), starts or ends within a chunk of
        the line's end, covers at most ``ray_max_fraction`` of the line, and at most
        ``ray_max_rest`` of the chunks off it are lit.
    weak_ray_sigma, weak_rays : float, int
        Where a ray (or a satellite measuring as one) is found, up to ``weak_rays`` more
        lines a band from ``weak_ray_sigma`` are looked at, and those that are rays
        pointing back to the same place (:func:`_same_fan`) join its fan: a spray's
        fainter rays.
    fan_min_deg : float
        A ray at least this far in angle from a stronger trail, meeting it beyond their
        ends, is another ray of its fan, not its side lobe or its copy in another band,
        however close (:func:`_merge_bands`; a spray's rays are often a few degrees and
        a hundred pixels apart).
    binned_clip : float
        The binned, high-passed bands are clipped to this many times their robust
        scatter (0: not clipped): a star fills a binned pixel or two far
        brighter than a faint trail does, so the sums along lines through the stars
        scatter less and a faint satellite stands out over them (one at 1.5 sky sigma: 8
        sigma over that scatter unclipped, 14 clipped at 4). The bright dashes of an
        airplane are cut down too, so the lines of the unclipped bands are looked at as
        well and kept where they blink (a modulation of at least ``dash_modulation``,
        narrower than ``max_dashed_width_px``). The broad pass does not clip.
    broad_bin, broad_median_size : int
        The *broad pass* (0 or 1: none) looks for rays again in the bands binned
        ``broad_bin`` x ``broad_bin`` (then ``bin / 2``, a high-pass of
        ``broad_median_size`` binned pixels; lengths scaled, so lines up to ``broad_bin``
        times ``max_width_px`` wide, the scatter of the line sums pooled over the angles,
        :func:`empirical_significance`): the rays of a
        spray from a distant star are 50-200 px wide, which the fine pass's high-pass
        takes for background and its ``max_width_px`` drops. A broad line is a ray when
        it stands over both its sides (not an edge) and joins a fan; one along a trail
        already found is its wings.
    """

    bin: int = 16
    clip: float = 3.0
    median_size: int = 9
    angle_step_deg: float = 0.5
    min_sigma: float = 10.0
    min_length_px: float = 400.0
    max_trails: int = 4
    min_separation_deg: float = 3.0
    axis_tolerance_deg: float = 0.1
    max_width_px: float = 50.0
    min_lit_fraction: float = 0.7
    dashed_fraction: float = 0.5
    max_dashed_width_px: float = 20.0
    dash_period_px: tuple[float, float] = (40.0, 400.0)
    dash_modulation: float = 0.7
    duplicate_deg: float = 8.0
    duplicate_px: float = 150.0
    fan_max_deg: float = 30.0
    fan_max_apex_px: float = 8000.0
    fan_max_stray_deg: float = 15.0
    cross_section: str = "mean"
    refine_deg: float = 0.5
    rays: bool = True
    ray_min_px: float = 640.0
    ray_chunk_px: float = 128.0
    ray_lit_sigma: float = 3.0
    ray_max_rest: float = 0.25
    ray_max_fraction: float = 0.8
    weak_ray_sigma: float = 4.0
    weak_rays: int = 20
    fan_min_deg: float = 1.0
    broad_bin: int = 4
    binned_clip: float = 4.0
    broad_median_size: int = 15


@dataclass(frozen=True)
class Trail:
    """One trail found in one band: a segment ``(x0, y0)``-``(x1, y1)`` of full width ``width``;
    ``dark_fraction`` is the share of its length under a quarter of its bright level, and
    ``category`` ``"airplane"`` for a dashed trail (blinking lights), ``"ray"`` for a ray
    of a fan that stops part of the way across the image (:attr:`TrailSettings.rays`),
    else ``"satellite"``."""

    band: str
    x0: float
    y0: float
    x1: float
    y1: float
    width: float
    significance: float
    dark_fraction: float = 0.0
    category: str = "satellite"

    def box(self, shape: tuple[int, int]) -> tuple[float, float, float, float]:
        """Bounding box (xmin, ymin, xmax, ymax) of the trail's pixels, clipped to ``shape``."""
        ny, nx = shape
        length = math.hypot(self.x1 - self.x0, self.y1 - self.y0) or 1.0
        # half extent of the trail's width along x and y
        hx = 0.5 * self.width * abs(self.y1 - self.y0) / length
        hy = 0.5 * self.width * abs(self.x1 - self.x0) / length
        xmin = max(min(self.x0, self.x1) - hx, 0.0)
        xmax = min(max(self.x0, self.x1) + hx + 1.0, float(nx))
        ymin = max(min(self.y0, self.y1) - hy, 0.0)
        ymax = min(max(self.y0, self.y1) + hy + 1.0, float(ny))
        return xmin, ymin, xmax, ymax

    def score(self, min_sigma: float) -> float:
        """``significance / (significance + min_sigma)``: 0.5 at the detection limit, towards 1 for bright trails."""
        return self.significance / (self.significance + min_sigma)


def _noise_units(exposure: Exposure, b: int, clip: float) -> np.ndarray:
    """Band ``b`` in noise units, flagged pixels at the sky, clipped to ``[-clip, clip]``."""
    out, ignored = noise_units(exposure, b, ignored_bits=IGNORED_BITS)
    out[ignored] = 0.0
    np.clip(out, -clip, clip, out=out)
    return out


def _diagonal(shape: tuple[int, int]) -> int:
    """Offsets of the lines (odd, centred on the image's middle): the image's diagonal."""
    diag = int(math.ceil(math.hypot(*shape)))
    return diag + (diag % 2 == 0)


def _line_grid(shape: tuple[int, int], angles: np.ndarray, n_rho: int | None = None, n_t: int | None = None
               ) -> torch.Tensor:
    """Sampling grid (n_angles, n_rho, n_t, 2) in grid_sample's [-1, 1] coordinates: ``n_rho``
    offsets and ``n_t`` positions along each line, one pixel apart, centred on the image's
    middle (both odd; default the image's diagonal, :func:`_diagonal`)."""
    h, w = shape
    n_rho = n_rho or _diagonal(shape)
    n_t = n_t or _diagonal(shape)
    cx, cy = (w - 1) / 2, (h - 1) / 2
    th = torch.as_tensor(angles, dtype=torch.float32)
    ux, uy = torch.cos(th), torch.sin(th)  # along the line
    nx_, ny_ = -uy, ux  # normal
    rho = (torch.arange(n_rho, dtype=torch.float32) - (n_rho - 1) / 2)[:, None]
    t = (torch.arange(n_t, dtype=torch.float32) - (n_t - 1) / 2)[None, :]
    x = cx + rho[None] * nx_[:, None, None] + t[None] * ux[:, None, None]
    y = cy + rho[None] * ny_[:, None, None] + t[None] * uy[:, None, None]
    gx = (2 * x + 1) / w - 1  # align_corners=False convention
    gy = (2 * y + 1) / h - 1
    return torch.stack([gx, gy], dim=-1)


def radon_significance(binned: np.ndarray, angles: np.ndarray, noise, *, chunk: int = 32
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Significance of the sum along every line of binned, high-passed bands.

    Parameters
    ----------
    binned : ndarray, shape (n_bands, h, w) or (h, w)
        Values with zero mean where there is nothing.
    angles : ndarray
        Line directions, radians (0 = along x, increasing towards +y).
    noise : float or sequence of float
        Standard deviation of one value of ``binned`` (per band).

    Returns
    -------
    significance : ndarray, shape (n_bands, n_angles, n_rho), or (n_angles, n_rho) for a 2-D input
        Sum along the line / (noise x sqrt(number of values summed)); 0 where none is.
    count : ndarray, shape (n_angles, n_rho)
        Number of values summed (the line's length inside the image, binned pixels);
        read-only, shared by every image of that size (kept, :func:`_line_counts`).
    """
    binned = np.asarray(binned, dtype=np.float32)
    flat = binned.ndim == 2
    stack = binned[None] if flat else binned
    n, h, w = stack.shape
    noise = np.broadcast_to(np.asarray(noise, dtype=np.float32), (n,))
    angles = np.asarray(angles, dtype=np.float64)
    sums = _line_sums(stack, angles, chunk)
    cnt = _line_counts(h, w, angles.tobytes(), chunk)
    sig = sums / (noise[:, None, None] * np.sqrt(np.maximum(cnt, 1.0))[None])
    sig[:, cnt < 1] = 0.0
    return (sig[0] if flat else sig), cnt


@functools.lru_cache(maxsize=8)
def _line_counts(h: int, w: int, angles: bytes, chunk: int) -> np.ndarray:
    """Values summed along every line of an ``h`` x ``w`` image (the sums of a plane of ones),
    for the angles given as float64 bytes; the same for every image of one size, so kept."""
    counts = _line_sums(np.ones((1, h, w), np.float32), np.frombuffer(angles, np.float64).copy(), chunk)[0]
    counts.flags.writeable = False
    return counts


def _line_sums(stack: np.ndarray, angles: np.ndarray, chunk: int) -> np.ndarray:
    """Sums (n, n_angles, n_rho) along every line of each layer of ``stack`` (n, h, w), bilinear,
    one pixel apart (:func:`_line_grid`)."""
    n, h, w = stack.shape
    img = torch.from_numpy(np.ascontiguousarray(stack, dtype=np.float32))[None]
    n_all = _diagonal((h, w))
    sums = np.zeros((n, len(angles), n_all), np.float32)
    for start in range(0, len(angles), chunk):
        part = angles[start:start + chunk]
        # only the offsets and positions that reach the image at these angles are sampled
        # (its half-extents across and along the lines, plus 2 px for the interpolation):
        # the other samples are zeros
        c, s = np.abs(np.cos(part)), np.abs(np.sin(part))
        half_rho = int(math.ceil(float(np.max((w - 1) / 2 * s + (h - 1) / 2 * c)))) + 2
        half_t = int(math.ceil(float(np.max((w - 1) / 2 * c + (h - 1) / 2 * s)))) + 2
        n_rho, n_t = min(2 * half_rho + 1, n_all), min(2 * half_t + 1, n_all)
        grid = _line_grid((h, w), part, n_rho, n_t)
        k = len(part)
        with torch.no_grad():
            out = F.grid_sample(img, grid.reshape(1, k * n_rho, n_t, 2), mode="bilinear", padding_mode="zeros",
                                align_corners=False)
        first = (n_all - n_rho) // 2
        sums[:, start:start + k, first:first + n_rho] = out.reshape(n, k, n_rho, n_t).sum(-1).numpy()
    return sums


def empirical_significance(sig: np.ndarray, cnt: np.ndarray, min_count: float, *, pooled: bool = False) -> np.ndarray:
    """``sig`` (n_angles, n_rho) re-scaled by its own scatter at each angle (median and MAD over the offsets).

    Stars, galaxies and their clipped wings make the sums along lines scatter more than
    white noise would; a trail is one outlier among the offsets of its angle. Lines
    shorter than ``min_count`` get 0. With ``pooled``, the scatter is the median over the
    angles of their MADs: a fan of broad rays, nearly parallel, fills many of the offsets
    of its angles and would raise their own MAD.
    """
    ok = cnt >= min_count
    v = np.where(ok, sig, np.nan)
    with quiet_runtime_warnings():  # angles without a long enough line
        med = np.nanmedian(v, axis=1, keepdims=True)
        mad = np.nanmedian(np.abs(v - med), axis=1, keepdims=True) * 1.4826
        if pooled:
            mad = np.full_like(mad, np.nanmedian(mad))
    mad = np.where(np.isfinite(mad) & (mad > 0), mad, 1.0)
    out = (v - med) / mad
    out[~ok | (ok.sum(axis=1, keepdims=True) < 8)] = 0.0
    return np.nan_to_num(out, nan=0.0)


def _peaks(sig: np.ndarray, cnt: np.ndarray, angles: np.ndarray, s: TrailSettings) -> list[tuple[float, float, float]]:
    """(angle, rho offset in binned pixels from the centre, significance) of the best lines:
    ``max_trails`` of them, and those along the columns met on the way."""
    sig = sig.copy()
    sig[cnt < s.min_length_px / s.bin] = 0.0
    # Lines along the columns (bad columns, cross-talk, bleed trails) are not satellites and
    # do not count towards max_trails, but are taken in turn like the others, so that their
    # neighbourhood (side lobes) is suppressed too.
    near_columns = np.abs(np.degrees(angles) - 90.0) < s.axis_tolerance_deg
    n_rho = sig.shape[1]
    sep = max(1, int(round(s.min_separation_deg / s.angle_step_deg)))
    out = []
    counted = 0
    while counted < s.max_trails:
        k = int(np.argmax(sig))
        a, r = divmod(k, n_rho)
        value = float(sig[a, r])
        if value < s.min_sigma:
            break
        out.append((float(angles[a]), r - (n_rho - 1) / 2, value))
        counted += not near_columns[a]
        # suppress the neighbourhood (angles wrap at 180 degrees with the offset reversed)
        for da in range(-sep, sep + 1):
            aa = a + da
            rr = r
            if aa < 0 or aa >= len(angles):
                aa %= len(angles)
                rr = n_rho - 1 - r
            sig[aa, max(rr - 6, 0):rr + 7] = 0.0
    return out


def _strip(band: np.ndarray, theta: float, rho: float, half: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``band`` sampled along the line at angle ``theta``, offset ``rho`` from the image's
    centre: (strip (2 half + 1, n), t, d), ``d`` the offsets across it (every pixel,
    ``-half`` to ``half``), ``t`` the positions along it (every ``_STEP_PX`` from the centre)
    where the whole cross-section lies inside the image."""
    ny, nx = band.shape
    cx, cy = (nx - 1) / 2, (ny - 1) / 2
    ux, uy = math.cos(theta), math.sin(theta)
    diag = math.hypot(nx, ny)
    t = np.arange(-diag / 2, diag / 2, _STEP_PX)
    d = np.arange(-half, half + 1, 1.0)
    xs = cx + (rho + d[:, None]) * -uy + t[None] * ux
    ys = cy + (rho + d[:, None]) * ux + t[None] * uy
    cols = ((xs >= 0) & (xs <= nx - 1) & (ys >= 0) & (ys <= ny - 1)).all(axis=0)
    strip = ndimage.map_coordinates(band, [ys[:, cols], xs[:, cols]], order=1, mode="constant", cval=0.0)
    return strip, t[cols], d


def _ends(shape: tuple[int, int], theta: float, rho: float, t0: float, t1: float) -> tuple[float, float, float, float]:
    """(x0, y0, x1, y1): the points at positions ``t0`` and ``t1`` along the line at angle
    ``theta``, offset ``rho`` from the centre of an image of ``shape`` (as in :func:`_strip`)."""
    ny, nx = shape
    ux, uy = math.cos(theta), math.sin(theta)
    px, py = (nx - 1) / 2 + rho * -uy, (ny - 1) / 2 + rho * ux
    return px + t0 * ux, py + t0 * uy, px + t1 * ux, py + t1 * uy


def _refine(band: np.ndarray, theta: float, rho_px: float, s: TrailSettings, *, half_strip: int = 40
            ) -> tuple[float, float, float, float, float, float, float, float] | None:
    """Offset, width and ends of a line at full resolution: (rho, width, t0, t1, length inside the
    image, dark fraction of the kept stretch, its strongest periodic modulation, peak of the
    cross-section in sky sigma) or None; a width over ``s.max_width_px`` is not checked here."""
    strip, t, d = _strip(band, theta, rho_px, half_strip)
    if t.size < s.min_length_px / 2:
        return None
    # The mean along the line: the median along a dashed trail (lights on less than half the
    # time) falls towards the sky's. The band is clipped to a few sigma, so stars weigh little.
    profile = np.mean(strip, axis=1) if s.cross_section == "mean" else np.median(strip, axis=1)
    # Peak of the cross-section smoothed over a few pixels (a trail is at least ~2 px wide).
    smooth = ndimage.uniform_filter1d(profile, 3)
    centre = int(np.argmax(smooth))
    peak = float(smooth[centre])
    if peak <= 0:
        return None
    level = min(0.7, 0.3 * peak) if peak > 0.7 else 0.5 * peak
    lo = centre
    while lo > 0 and smooth[lo - 1] >= level:
        lo -= 1
    hi = centre
    while hi < len(smooth) - 1 and smooth[hi + 1] >= level:
        hi += 1
    width = float(hi - lo + 1)
    rho = rho_px + float(d[centre]) + 0.5 * (d[lo] + d[hi] - 2 * d[centre])
    # Ends: the stretch along the line that holds the signal, the segment of chunks
    # (~128 px) maximising the sum of (chunk significance - 1): a trail crossing the CCD
    # is kept whole even where it fades, one that stops is cut where it stops.
    on = strip[lo:hi + 1].mean(axis=0)
    chunk = 64  # samples of 2 px
    n_chunks = max(1, len(on) // chunk)
    noise = 1.0 / math.sqrt(chunk * (hi - lo + 1))
    z = np.array([on[i * chunk:(i + 1) * chunk].mean() / noise for i in range(n_chunks)]) - 1.0
    best, best_lo, best_hi, run, run_lo = -np.inf, 0, n_chunks - 1, 0.0, 0
    for i, v in enumerate(z):
        if run <= 0:
            run, run_lo = 0.0, i
        run += v
        if run > best:
            best, best_lo, best_hi = run, run_lo, i
    t0 = float(t[0]) if best_lo == 0 else float(t[best_lo * chunk])
    t1 = float(t[-1]) if best_hi == n_chunks - 1 else float(t[min((best_hi + 1) * chunk, len(t)) - 1])
    # Dashes: the share of the kept stretch (10-px steps) under a quarter of its bright level
    stretch = on[best_lo * chunk:(best_hi + 1) * chunk]
    kept = ndimage.uniform_filter1d(stretch, 5)
    bright = float(np.percentile(kept, 90)) if kept.size else 0.0
    dark = float(np.mean(kept < 0.25 * bright)) if bright > 0 else 0.0
    periodic = dash_modulation(stretch, step_px=2.0, periods_px=s.dash_period_px)
    return rho, width, t0, t1, float(t[-1] - t[0]), dark, periodic, peak


def _refine_angle(band: np.ndarray, theta: float, rho_px: float, s: TrailSettings
                  ) -> tuple[float, tuple] | None:
    """:func:`_refine` at the angle, within ``s.refine_deg`` of ``theta`` (steps of
    ``s.angle_step_deg / 2``), whose cross-section peaks highest: the Radon transform's
    angle steps leave a trail crossing the CCD up to a quarter step askew, tens of pixels
    at its ends, which would widen it. Returns (angle, :func:`_refine`'s tuple) or None."""
    step = s.angle_step_deg / 2
    n = int(round(s.refine_deg / step)) if step > 0 else 0
    best = None
    for k in range(-n, n + 1):
        th = theta + math.radians(k * step)
        r = _refine(band, th, rho_px, s)
        if r is not None and (best is None or r[-1] > best[1][-1]):
            best = (th, r)
    return best


def dash_modulation(profile: np.ndarray, *, step_px: float, periods_px: tuple[float, float]) -> float:
    """The largest amplitude, over its mean, of the Fourier terms of ``profile`` (samples
    ``step_px`` apart along a trail) whose period lies in ``periods_px``; 0 when its mean
    is not positive or it is too short to hold two of the longest periods."""
    n = len(profile)
    mean = float(np.mean(profile)) if n else 0.0
    if mean <= 0 or n * step_px < 2 * periods_px[1]:
        return 0.0
    amplitude = 2.0 * np.abs(np.fft.rfft(profile - mean)) / n
    k = np.arange(len(amplitude))
    period = np.divide(n * step_px, k, out=np.full(len(k), np.inf), where=k > 0)
    band = (period >= periods_px[0]) & (period <= periods_px[1])
    return float(amplitude[band].max() / mean) if band.any() else 0.0


def find_trails(exposure: Exposure, settings: TrailSettings | None = None) -> list[Trail]:
    """Straight trails in every band of ``exposure`` (see the module's notes)."""
    s = settings or TrailSettings()
    bands = [_noise_units(exposure, b, s.clip) for b in range(len(exposure.bands))]
    found = _find_lines(bands, exposure.bands, s)
    if s.broad_bin <= 1:
        return found
    k = s.broad_bin
    coarse = [np.clip(bin_image(band, k) * k, -s.clip, s.clip) for band in bands]
    broad = [replace(t, x0=k * t.x0 + (k - 1) / 2, y0=k * t.y0 + (k - 1) / 2, x1=k * t.x1 + (k - 1) / 2,
                     y1=k * t.y1 + (k - 1) / 2, width=k * t.width, category=RAY)
             for t in _find_lines(coarse, exposure.bands, _coarser(s, k), broad=True)]
    # a broad line along a trail already found is its wings or its copy
    broad = [t for t in broad if not any(_duplicate(t, o, s, fan=False) for o in found)]
    # The broad pass kept its rays in fans of broad rays; a partner dropped just above (a
    # trail's wings) may leave one alone, kept if it joins a fan with a ray of the fine
    # pass (a broad ray alone in the broad pass is not looked at again). One that only
    # meets a satellite beyond their ends is nothing.
    rays = [t for t in found if t.category == RAY] + broad
    single, _ = split_fans(rays, s)
    alone = {id(t) for t in single}
    return found + [t for t in broad if id(t) not in alone]


def _coarser(s: TrailSettings, k: int) -> TrailSettings:
    """``s`` for the broad pass, on bands binned ``k`` x ``k``: lengths in binned pixels
    (widths too, but ``max_width_px`` is kept: broad lines are ``k`` times wider)."""
    return replace(s, broad_bin=0, binned_clip=0.0, bin=max(s.bin // 2, 1), median_size=s.broad_median_size,
                   min_length_px=s.min_length_px / k, duplicate_px=s.duplicate_px / k,
                   fan_max_apex_px=s.fan_max_apex_px / k, ray_min_px=s.ray_min_px / k,
                   ray_chunk_px=s.ray_chunk_px / k)


def _find_lines(bands: list[np.ndarray], names, s: TrailSettings, *, broad: bool = False) -> list[Trail]:
    """Trails in ``bands`` (noise units, clipped; named ``names``): one pass of :func:`find_trails`
    (``broad``: the broad pass, on binned bands, where every line is a ray or nothing)."""
    angles = np.radians(np.arange(0.0, 180.0, s.angle_step_deg))
    shape = bands[0].shape
    ny, nx = shape
    cx, cy = (nx - 1) / 2, (ny - 1) / 2
    binned, noises = [], []
    for band in bands:
        small = bin_image(band, s.bin)
        small = small - ndimage.median_filter(small, size=s.median_size, mode="nearest")
        mad = float(np.median(np.abs(small - np.median(small)))) * 1.4826
        binned.append(small)
        noises.append(mad if mad > 0 else 1.0 / s.bin)
    hb, wb = binned[0].shape
    # the binned grid's centre in full-resolution pixels
    bcx, bcy = (wb - 1) / 2 * s.bin + (s.bin - 1) / 2, (hb - 1) / 2 * s.bin + (s.bin - 1) / 2

    images, image_noises = binned, noises
    if s.binned_clip > 0:
        # the clip cuts an airplane's bright dashes down as it does the stars: the lines
        # of the unclipped bands are looked at too (in the same transform), and kept where
        # they blink (a ray lit along part of its line looks dashed too, but does not blink)
        images = [np.clip(small, -s.binned_clip * n, s.binned_clip * n) for small, n in zip(binned, noises)] + binned
        image_noises = noises + noises
    sig, cnt = radon_significance(np.stack(images), angles, image_noises)
    zs = [empirical_significance(z, cnt, s.min_length_px / s.bin, pooled=broad) for z in sig]
    zs, zs_dashed = zs[:len(names)], zs[len(names):]

    def line(b: int, theta: float, rho_b: float, value: float, *, rays_only: bool = False,
             blinking_only: bool = False) -> Trail | None:
        """The Radon peak ``(theta, rho_b)`` of band ``b`` refined into a trail, or None
        (``rays_only``: unless a ray; ``blinking_only``: unless an airplane's blinking lights)."""
        ux, uy = math.cos(theta), math.sin(theta)
        # the line's offset from the full-resolution centre
        rho_px = rho_b * s.bin + (bcx - cx) * (-uy) + (bcy - cy) * ux
        refined = _refine_angle(bands[b], theta, rho_px, s)
        if refined is None:
            return None
        theta, (rho, width, t0, t1, inside, dark, periodic, _) = refined
        if abs(math.degrees(theta) - 90.0) < s.axis_tolerance_deg:
            category = _COLUMNS  # not reported, but its side lobes merge into it below
        else:
            if width > s.max_width_px:
                return None  # a broad feature (a ghost's or an arc's edge), not a trail
            dashed = dark >= s.dashed_fraction or periodic >= s.dash_modulation
            if blinking_only and (periodic < s.dash_modulation or width > s.max_dashed_width_px):
                return None  # (before the ray's stretch is measured: only an airplane is kept)
            if broad:
                # a broad line is a spray's ray where it stands over both its sides
                stretch = _ray_stretch(bands[b], theta, rho, width, s, both_sides=True, whole=True)
                if stretch is None:
                    return None
                (t0, t1), category = stretch, RAY
            elif rays_only or t1 - t0 < max(s.min_length_px, s.min_lit_fraction * inside) or (
                    dashed and width > s.max_dashed_width_px):
                # the signal stops short (an elongated source, an edge) or the line is
                # broad and patchy (the edge of a ghost or an arc): not a trail, but
                # perhaps a spray's ray, kept if it joins a fan (below)
                stretch = _ray_stretch(bands[b], theta, rho, width, s) if s.rays else None
                if stretch is None:
                    return None
                (t0, t1), category = stretch, RAY
            else:
                category = "airplane" if dashed else "satellite"
        if (rays_only and category != RAY) or (blinking_only and category != "airplane"):
            return None
        return Trail(names[b], *_ends(shape, theta, rho, t0, t1), width, value, dark, category)

    lines = [t for b in range(len(names)) for peak in _peaks(zs[b], cnt, angles, s)
             if (t := line(b, *peak)) is not None]
    lines += [t for b, z in enumerate(zs_dashed) for peak in _peaks(z, cnt, angles, s)
              if (t := line(b, *peak, blinking_only=True)) is not None]
    found = [t for t in _merge_bands(lines, s) if t.category != _COLUMNS]
    if not s.rays:
        return found
    index = {name: b for b, name in enumerate(names)}
    # Rays, and satellites that measure as rays (a bright ray lights its whole line a
    # little, and _refine keeps the whole line), are seeds of fans: fainter rays (from
    # weak_ray_sigma) pointing back to the same place beside them join their fan. Each
    # satellite is measured as a ray once: a seed here, and its place in a fan below.
    as_rays = {id(t): _as_ray(t, bands[index[t.band]], s) for t in found if t.category == "satellite"}
    seeds = [t for t in found if t.category == RAY] + [r for r in as_rays.values() if r.category == RAY]
    if seeds and s.weak_ray_sigma < s.min_sigma:
        weak_s = replace(s, min_sigma=s.weak_ray_sigma, max_trails=s.weak_rays)
        weak = [t for b in range(len(names)) for peak in _peaks(zs[b], cnt, angles, weak_s)
                if peak[2] < s.min_sigma and (t := line(b, *peak, rays_only=True)) is not None
                and any(_same_fan(t, seed, s) for seed in seeds)]
        if weak:
            found = _merge_bands(found + weak, s)
    if any(t.category == RAY for t in found):
        # rays count only in fans; a satellite in a fan is measured as a ray where it is one
        single, fans = split_fans(found, s)
        alone = {id(t) for t in single if t.category == RAY}
        in_fans = {id(t) for fan in fans for t in fan}
        found = [as_rays.get(id(t), t) if id(t) in in_fans else t for t in found if id(t) not in alone]
    return found


def _same_fan(ray: Trail, seed: Trail, s: TrailSettings) -> bool:
    """Whether two trails are rays of one fan, as :func:`split_fans` joins them: their lines
    meet beyond (or at) an end of each, at most ``s.fan_max_deg`` apart and within
    ``s.fan_max_apex_px`` of both. (The star may lie beyond either end of a ray: a ray
    starts at any distance from it, then crosses the CCD or fades out on it.)"""
    apex = _apex(ray, seed)
    return apex is not None and apex[2] <= s.fan_max_deg and apex[3] <= s.fan_max_apex_px


def _as_ray(trail: Trail, band: np.ndarray, s: TrailSettings) -> Trail:
    """``trail`` cut to its ray's stretch and called a ray (:func:`_ray_stretch`), or as it is."""
    ny, nx = band.shape
    cx, cy = (nx - 1) / 2, (ny - 1) / 2
    theta = math.atan2(trail.y1 - trail.y0, trail.x1 - trail.x0)
    ux, uy = math.cos(theta), math.sin(theta)
    rho = (trail.x0 - cx) * -uy + (trail.y0 - cy) * ux
    stretch = _ray_stretch(band, theta, rho, trail.width, s)
    if stretch is None:
        return trail
    x0, y0, x1, y1 = _ends(band.shape, theta, rho, *stretch)
    return replace(trail, x0=x0, y0=y0, x1=x1, y1=y1, category=RAY)


def _ray_stretch(band: np.ndarray, theta: float, rho: float, width: float, s: TrailSettings, *,
                 gap_px: float = 6.0, side_px: float = 20.0, both_sides: bool = False,
                 whole: bool = False) -> tuple[float, float] | None:
    """The stretch ``(t0, t1)`` along a line (positions from the image's centre, as in
    :func:`_refine`) holding a spray's ray, or None when the line holds none.

    The line is cut in chunks of ``s.ray_chunk_px``; a chunk is lit when the median along the
    line within half its width stands ``s.ray_lit_sigma`` over the median of the bands
    beside it (``gap_px`` off, ``side_px`` wide; with ``both_sides``, over each of the
    two: the edge of something bright stands over one side only), in units of its noise
    (medians: stars and the wings of bright ones, which lift a mean, weigh little). A ray
    is one run of lit chunks (a gap of one chunk between two lit pairs bridged) at least
    ``s.ray_min_px`` long, starting or ending within a chunk of the line's ends inside
    the image, over at most ``s.ray_max_fraction`` of the line (with ``whole``, or at
    least ``s.min_lit_fraction`` of it: a ray crossing the image), with at most
    ``s.ray_max_rest`` of the other chunks lit (a broken edge or a row of stars lights
    chunks all along its line).
    """
    half = max(width / 2, 1.5)
    reach = half + gap_px + side_px
    strip, t, d = _strip(band, theta, rho, math.ceil(reach))
    chunk_px = s.ray_chunk_px
    per_chunk = int(chunk_px / _STEP_PX)
    n = t.size // per_chunk
    if n < 2:
        return None
    strip, t = strip[:, :n * per_chunk], t[:n * per_chunk]

    def chunks(rows: np.ndarray) -> np.ndarray:
        """The median of each chunk of the strip's ``rows``."""
        return np.median(strip[rows].reshape(int(rows.sum()), n, per_chunk).transpose(1, 0, 2).reshape(n, -1), axis=1)

    on = np.abs(d) <= half
    off = (np.abs(d) >= half + gap_px) & (np.abs(d) <= reach)
    sides = [off & (d < 0), off & (d > 0)] if both_sides else [off]
    beside = np.max([chunks(rows) for rows in sides], axis=0)
    # the median of m unit-noise values scatters by 1.2533 / sqrt(m)
    z = (chunks(on) - beside) * math.sqrt(on.sum() * per_chunk) / 1.2533
    lit = z >= s.ray_lit_sigma
    # a gap of one chunk between two lit pairs is bridged (a star's mask, a faint stretch)
    pad = np.concatenate([[False, False], lit, [False, False]])
    bridged = lit | (pad[:-4] & pad[1:-3] & pad[3:-1] & pad[4:])
    best, start, run = (0, 0), 0, 0
    for i, v in enumerate(bridged):
        run = run + 1 if v else 0
        if run == 1:
            start = i
        if run > best[0]:
            best = (run, start)
    length, first = best
    last = first + length - 1
    rest = np.concatenate([lit[:first], lit[last + 1:]])
    crossing = whole and length >= s.min_lit_fraction * n
    if (length * chunk_px < s.ray_min_px or (length > s.ray_max_fraction * n and not crossing)
            or (first > 1 and last < n - 2 and not crossing) or (rest.size and rest.mean() > s.ray_max_rest)):
        return None
    return float(t[first * per_chunk]), float(t[(last + 1) * per_chunk - 1])


def _merge_bands(trails: list[Trail], s: TrailSettings) -> list[Trail]:
    """One trail per line: side lobes and copies in other bands of a stronger trail are
    dropped (side lobes cross it; a ray at least ``fan_min_deg`` off that meets it beyond
    their ends, :func:`_same_fan`, is another ray of its fan and stays)."""
    out: list[Trail] = []
    for tr in sorted(trails, key=lambda t: -t.significance):
        if not any(_duplicate(tr, o, s, fan=tr.category == RAY) for o in out):
            out.append(tr)
    return out


def _duplicate(tr: Trail, o: Trail, s: TrailSettings, *, fan: bool) -> bool:
    """Whether ``tr`` is a side lobe or a copy of ``o`` (see :func:`_merge_bands`)."""
    th = math.atan2(tr.y1 - tr.y0, tr.x1 - tr.x0) % math.pi
    tho = math.atan2(o.y1 - o.y0, o.x1 - o.x0) % math.pi
    dth = min(abs(th - tho), math.pi - abs(th - tho))
    # distances of this trail's ends and middle from the other's line
    dists = [abs((x - o.x0) * math.sin(tho) - (y - o.y0) * math.cos(tho))
             for x, y in ((tr.x0, tr.y0), ((tr.x0 + tr.x1) / 2, (tr.y0 + tr.y1) / 2), (tr.x1, tr.y1))]
    # (a ray meeting the other beyond their ends is the next ray of its fan, unless it
    # overlaps the other all along: its copy in another band, a little askew)
    return dth < math.radians(s.duplicate_deg) and np.mean(dists) < s.duplicate_px and not (
        fan and dth >= math.radians(s.fan_min_deg) and _same_fan(tr, o, s)
        and max(dists) > 0.5 * (tr.width + o.width))


def _apex(a: Trail, b: Trail, end: float = 0.1) -> tuple[float, float, float, float] | None:
    """Where the lines of ``a`` and ``b`` meet: (x, y, angle between them in degrees,
    distance from the farther of the two segments), or None when they are parallel or
    the point lies inside either segment, more than ``end`` of its length from its ends
    (the trails cross, or one points at the other's middle)."""
    ax, ay, bx, by = a.x1 - a.x0, a.y1 - a.y0, b.x1 - b.x0, b.y1 - b.y0
    la, lb = math.hypot(ax, ay), math.hypot(bx, by)
    cross = ax * by - ay * bx
    if la == 0 or lb == 0 or abs(cross) < 1e-9 * la * lb:
        return None
    ta = ((b.x0 - a.x0) * by - (b.y0 - a.y0) * bx) / cross  # in units of a's length
    tb = ((b.x0 - a.x0) * ay - (b.y0 - a.y0) * ax) / cross
    if end < ta < 1 - end or end < tb < 1 - end:
        return None
    angle = math.degrees(math.asin(min(1.0, abs(cross) / (la * lb))))
    dist = max(la * max(-ta, ta - 1, 0.0), lb * max(-tb, tb - 1, 0.0))
    return a.x0 + ta * ax, a.y0 + ta * ay, angle, dist


def split_fans(trails: list[Trail], settings: TrailSettings | None = None) -> tuple[list[Trail], list[list[Trail]]]:
    """The trails that are rays of a fan (a bright spray) apart from the others.

    A spray of rays from a bright star, usually off the CCD, holds several straight
    streaks that the Radon transform finds as trails; unlike satellites, they point
    back to one place. Two trails whose lines meet beyond or at an end of each, at an angle
    of at most ``fan_max_deg`` and within ``fan_max_apex_px`` of both, are rays of one
    fan; fans sharing a ray are one. Dashed trails (airplanes) are never rays. A satellite
    that meets a ray so but does not point back to where the fan's other rays meet
    crosses the spray (``fan_max_stray_deg``) and is left out of it.

    Returns
    -------
    single : list of Trail
        Trails that belong to no fan (satellites and airplanes).
    fans : list of list of Trail
        Each fan's rays (two or more).
    """
    s = settings or TrailSettings()
    n = len(trails)
    group = list(range(n))

    def root(i: int) -> int:
        while group[i] != i:
            i = group[i]
        return i

    for i in range(n):
        for j in range(i + 1, n):
            if "airplane" in (trails[i].category, trails[j].category):
                continue  # dashed: an airplane's lights, not a ray
            if _same_fan(trails[i], trails[j], s):
                group[root(j)] = root(i)
    members: dict[int, list[Trail]] = {}
    for i in range(n):
        members.setdefault(root(i), []).append(trails[i])
    fans = []
    for group in members.values():
        strays = {id(tr) for tr in _strays(group, s.fan_max_stray_deg)}
        group = [tr for tr in group if id(tr) not in strays]
        if len(group) > 1:
            fans.append(group)
    in_fans = {id(tr) for fan in fans for tr in fan}
    return [tr for tr in trails if id(tr) not in in_fans], fans


def _meeting_point(trails: list[Trail]) -> tuple[float, float] | None:
    """The point nearest to the lines of ``trails`` (least squares), or None when they are parallel."""
    normals, offsets = [], []
    for tr in trails:
        dx, dy = tr.x1 - tr.x0, tr.y1 - tr.y0
        length = math.hypot(dx, dy) or 1.0
        normals.append((-dy / length, dx / length))
        offsets.append((-dy * tr.x0 + dx * tr.y0) / length)
    a = np.array(normals)
    if np.linalg.matrix_rank(a) < 2:
        return None
    x, y = np.linalg.lstsq(a, np.array(offsets), rcond=None)[0]
    return float(x), float(y)


def _strays(fan: list[Trail], max_deg: float) -> list[Trail]:
    """The satellites of ``fan`` (three trails or more) that do not point back to where the
    others meet: each time, the one farthest off, by the angle seen from its middle, while
    more than ``max_deg``."""
    strays: list[Trail] = []
    while len(fan) >= 3:
        worst, worst_deg = None, max_deg
        for tr in fan:
            if tr.category != "satellite":
                continue
            point = _meeting_point([o for o in fan if o is not tr])
            if point is None:
                continue
            dx, dy = tr.x1 - tr.x0, tr.y1 - tr.y0
            off = abs((point[0] - tr.x0) * dy - (point[1] - tr.y0) * dx) / (math.hypot(dx, dy) or 1.0)
            far = math.hypot(point[0] - 0.5 * (tr.x0 + tr.x1), point[1] - 0.5 * (tr.y0 + tr.y1))
            deg = math.degrees(math.atan2(off, far))
            if deg > worst_deg:
                worst, worst_deg = tr, deg
        if worst is None:
            break
        strays.append(worst)
        fan = [tr for tr in fan if tr is not worst]
    return strays


def fans_to_artifacts(fans: list[list[Trail]], *, name: str, shape: tuple[int, int], min_sigma: float
                      ) -> list[Artifact]:
    """One ``bright-spray`` per fan: the box of its rays' boxes, scored by its best ray."""
    out = []
    for rays in fans:
        boxes = np.array([tr.box(shape) for tr in rays])
        x0, y0 = boxes[:, 0].min(), boxes[:, 1].min()
        x1, y1 = boxes[:, 2].max(), boxes[:, 3].max()
        if x1 <= x0 or y1 <= y0:
            continue
        score = max(tr.score(min_sigma) for tr in rays)
        out.append(Artifact.from_box(name, x0, y0, x1, y1, score=score, category="bright-spray"))
    return out


def trails_to_artifacts(trails: list[Trail], *, name: str, shape: tuple[int, int], min_sigma: float,
                        category: str | None = None) -> list[Artifact]:
    """Artifacts (boxes) of ``trails``, scored by :meth:`Trail.score`, of each trail's category
    (``satellite`` or ``airplane``; a ray, ``bright-spray``) unless ``category`` is given."""
    out = []
    for tr in trails:
        x0, y0, x1, y1 = tr.box(shape)
        if x1 <= x0 or y1 <= y0:
            continue
        out.append(Artifact.from_box(name, x0, y0, x1, y1, score=tr.score(min_sigma),
                                     category=category or ("bright-spray" if tr.category == RAY else tr.category)))
    return out


def trail_mask(trails: list[Trail], shape: tuple[int, int]) -> np.ndarray:
    """Boolean (ny, nx) mask of the pixels within half a width of each trail's segment."""
    ny, nx = shape
    mask = np.zeros((ny, nx), bool)
    for tr in trails:
        x0, y0, x1, y1 = (int(v) for v in np.floor(tr.box(shape)))
        x1, y1 = min(x1 + 1, nx), min(y1 + 1, ny)
        if x1 <= x0 or y1 <= y0:
            continue
        yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
        dx, dy = tr.x1 - tr.x0, tr.y1 - tr.y0
        length2 = dx * dx + dy * dy or 1.0
        u = np.clip(((xx - tr.x0) * dx + (yy - tr.y0) * dy) / length2, 0.0, 1.0)
        dist2 = (xx - tr.x0 - u * dx) ** 2 + (yy - tr.y0 - u * dy) ** 2
        mask[y0:y1, x0:x1] |= dist2 <= (0.5 * tr.width) ** 2
    return mask


def trail_tile_scores(trails: list[Trail], grid: np.ndarray, shape: tuple[int, int], *, min_fraction: float,
                      min_sigma: float, settings: TrailSettings | None = None) -> np.ndarray:
    """Score of each tile ``(x0, y0, x1, y1)`` of ``grid`` from the trails crossing it.

    A tile at least ``min_fraction`` covered by a trail scores that trail's
    ``significance / (significance + min_sigma)`` (0.5 at the detection limit, towards 1
    for bright trails); other tiles score 0. The rays of a fan (:func:`split_fans`, with
    the fan rules of ``settings``) all score the fan's best ray, as the fan's
    ``bright-spray`` artifact does (:func:`fans_to_artifacts`): a faint ray is found
    beside a brighter one of its fan, from ``weak_ray_sigma``, and the fan vouches for it.
    """
    from ..preprocess.tiling import tile_fractions

    grid = np.asarray(grid).reshape(-1, 4)
    out = np.zeros(len(grid), np.float32)
    single, fans = split_fans(list(trails), settings)
    groups = [[tr] for tr in single] + fans
    for group in groups:
        score = max(tr.score(min_sigma) for tr in group)
        for tr in group:
            hit = tile_fractions(trail_mask([tr], shape), grid) >= min_fraction
            out[hit] = np.maximum(out[hit], score)
    return out


def trails_for_meta(exposure: Exposure, meta: dict, trails: list[Trail] | bool | None = None
                    ) -> tuple[list[Trail], float]:
    """The trails a model with checkpoint metadata ``meta`` uses, and the significance scoring 0.5.

    ``trails`` already found are used as they are (False or an empty list: none); None
    finds them here when ``meta`` asks for trails (:func:`settings_from_meta`).
    """
    s = settings_from_meta(meta)
    if trails is None and s is not None:
        trails = find_trails(exposure, s)
    return (list(trails) if trails else []), (s or TrailSettings()).min_sigma


def settings_from_meta(meta: dict) -> TrailSettings | None:
    """The trail settings a checkpoint asks for (``meta["trails"]``), or None when it uses none."""
    cfg = meta.get("trails")
    if cfg is None or cfg is False:
        return None
    return TrailSettings(**(cfg if isinstance(cfg, dict) else {}))

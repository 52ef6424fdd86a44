"""Tile outputs -> full-image results: boxes merged across tile borders, artifact masks."""

from __future__ import annotations

import numpy as np

from .categories import CATEGORY_BITS
from .io.artifact import Artifact

__all__ = ["merge_boxes", "box_intersections", "join_pairs", "join_overlapping", "artifacts_to_mask", "tiles_to_score_map", "SCORE_REDUCTIONS"]


def _as_boxes(boxes, name: str) -> np.ndarray:
    arr = np.asarray(boxes, dtype=np.float64)
    if arr.size == 0:
        return arr.reshape(0, 4)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ValueError(f"{name} must have shape (n, 4) of (xmin, ymin, xmax, ymax), got {arr.shape}")
    return arr


def box_intersections(boxes: np.ndarray, others: np.ndarray | None = None
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Intersection areas (n, m) of ``boxes`` (n, 4) with ``others`` (m, 4; default the
    boxes themselves), and the areas (n,) and (m,) of each, boxes as (x0, y0, x1, y1)."""
    others = boxes if others is None else others
    x0 = np.maximum(boxes[:, None, 0], others[None, :, 0])
    y0 = np.maximum(boxes[:, None, 1], others[None, :, 1])
    x1 = np.minimum(boxes[:, None, 2], others[None, :, 2])
    y1 = np.minimum(boxes[:, None, 3], others[None, :, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)

    def area(b):
        return np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)

    return inter, area(boxes), area(others)


def _cut_edges(boxes: np.ndarray, tiles: np.ndarray, shape: tuple[int, int] | None, border_px: float) -> np.ndarray:
    """(n, 4) bool: box touches its tile's left/top/right/bottom edge where that edge is inside the image."""
    ny, nx = shape if shape is not None else (np.inf, np.inf)
    if shape is None:  # the image is the union of the tiles
        nx, ny = tiles[:, 2].max(initial=0), tiles[:, 3].max(initial=0)
    return np.stack([
        (boxes[:, 0] <= tiles[:, 0] + border_px) & (tiles[:, 0] > 0),
        (boxes[:, 1] <= tiles[:, 1] + border_px) & (tiles[:, 1] > 0),
        (boxes[:, 2] >= tiles[:, 2] - border_px) & (tiles[:, 2] < nx),
        (boxes[:, 3] >= tiles[:, 3] - border_px) & (tiles[:, 3] < ny),
    ], axis=1)


def merge_boxes(
    boxes,
    scores,
    labels,
    *,
    tiles=None,
    shape: tuple[int, int] | None = None,
    iou_threshold: float = 0.5,
    containment: float = 0.8,
    border_px: float = 2.0,
    min_side_overlap: float = 0.5,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One set of boxes per full image from the detections on overlapping tiles.

    Parameters
    ----------
    boxes : array_like, shape (n, 4)
        ``(xmin, ymin, xmax, ymax)`` in full-image pixels (already shifted by the tile's
        origin), ``xmax``/``ymax`` exclusive.
    scores : array_like, shape (n,)
        Confidence of each box, in [0, 1].
    labels : array_like, shape (n,)
        Class of each box (int or str); boxes of different classes are never merged.
    tiles : array_like, shape (n, 4), optional
        ``(x0, y0, x1, y1)`` of the tile each box was found on. Without it, only
        suppression is done (no fusing of cut boxes).
    shape : (int, int), optional
        (ny, nx) of the full image, so tile edges on the image border are not taken for
        cuts. Default: the extent of ``tiles``.
    iou_threshold : float, optional
        Class-wise non-maximum suppression: a box overlapping a better one of its class by
        IoU > this is dropped (default 0.5).
    containment : float, optional
        A box whose area lies at this fraction or more inside a better box of its class is
        dropped too (default 0.8): the partial copy of an artifact seen whole on a
        neighbouring tile.
    border_px : float, optional
        A box edge within this many pixels of an inner tile edge counts as cut by that
        edge (default 2).
    min_side_overlap : float, optional
        Two boxes are fused when one is cut by its tile's edge, the other reaches across
        that edge, they overlap or touch, and their extents along the edge overlap by at
        least this fraction of the shorter one (default 0.5).

    Returns
    -------
    boxes : ndarray, shape (m, 4), float64
    scores : ndarray, shape (m,), float64
    labels : ndarray, shape (m,)
        The merged boxes, sorted by decreasing score. Fused boxes are the union of their
        parts and keep the best part's score.

    Notes
    -----
    Fusing runs first, transitively (an artifact cut into pieces by several tiles
    becomes one box), then suppression. Fusing needs the pieces to overlap or touch: on
    tiles with overlap, the pieces of one artifact share the overlap strip.
    """
    b = _as_boxes(boxes, "boxes")
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    lab = np.asarray(labels).reshape(-1)
    n = len(b)
    if len(s) != n or len(lab) != n:
        raise ValueError(f"boxes, scores and labels must have the same length, got {n}, {len(s)}, {len(lab)}")
    if not 0 <= iou_threshold <= 1 or not 0 < containment <= 1:
        raise ValueError("iou_threshold must be in [0, 1] and containment in (0, 1]")
    if n == 0:
        return b, s, lab
    if tiles is not None:
        t = _as_boxes(tiles, "tiles")
        if len(t) != n:
            raise ValueError(f"tiles must have one row per box ({n}), got {len(t)}")
        b, s, lab = _fuse_cut(b, s, lab, t, shape, border_px, min_side_overlap)
    order = np.argsort(-s, kind="stable")
    b, s, lab = b[order], s[order], lab[order]
    inter, area, _ = box_intersections(b)
    union = area[:, None] + area[None, :] - inter
    iou = np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)
    inside = np.where(area[None, :] > 0, inter / np.where(area[None, :] > 0, area[None, :], 1), 0.0)  # [i, j]: j in i
    same = lab[:, None] == lab[None, :]
    keep = np.ones(len(b), dtype=bool)
    for i in range(len(b)):
        if not keep[i]:
            continue
        later = np.arange(len(b)) > i
        drop = later & keep & same[i] & ((iou[i] > iou_threshold) | (inside[i] >= containment))
        keep[drop] = False
    return b[keep], s[keep], lab[keep]


def _fuse_cut(b, s, lab, t, shape, border_px, min_side_overlap):
    """Union-find fusing of boxes cut by tile edges with their continuation on the next tile."""
    n = len(b)
    cut = _cut_edges(b, t, shape, border_px)
    parent = np.arange(n)

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    candidates = np.flatnonzero(cut.any(axis=1))
    for i in candidates:
        for j in range(n):
            if j == i or lab[j] != lab[i] or np.array_equal(t[i], t[j]):
                continue
            # touching or overlapping (within border_px)
            if (b[j, 0] > b[i, 2] + border_px or b[i, 0] > b[j, 2] + border_px
                    or b[j, 1] > b[i, 3] + border_px or b[i, 1] > b[j, 3] + border_px):
                continue
            crosses = False
            # left/right cuts: j must reach across the edge, and overlap i along y
            for edge, (axis, sign, tile_col) in enumerate(((0, -1, 0), (1, -1, 1), (0, 1, 2), (1, 1, 3))):
                if not cut[i, edge]:
                    continue
                edge_pos = t[i, tile_col]
                reaches = b[j, axis] < edge_pos - border_px if sign < 0 else b[j, axis + 2] > edge_pos + border_px
                other = 1 - axis
                lo = max(b[i, other], b[j, other])
                hi = min(b[i, other + 2], b[j, other + 2])
                shorter = min(b[i, other + 2] - b[i, other], b[j, other + 2] - b[j, other])
                if reaches and shorter > 0 and (hi - lo) >= min_side_overlap * shorter:
                    crosses = True
                    break
            if crosses:
                ri, rj = find(i), find(j)
                if ri != rj:
                    parent[rj] = ri
    roots = np.array([find(i) for i in range(n)])
    out_b, out_s, out_l = [], [], []
    for r in np.unique(roots):
        members = np.flatnonzero(roots == r)
        group = b[members]
        out_b.append([group[:, 0].min(), group[:, 1].min(), group[:, 2].max(), group[:, 3].max()])
        best = members[np.argmax(s[members])]
        out_s.append(s[best])
        out_l.append(lab[best])
    return np.asarray(out_b, dtype=np.float64), np.asarray(out_s, dtype=np.float64), np.asarray(out_l)


def join_pairs(items, joinable, join) -> list:
    """``items`` with every pair for which ``joinable(a, b)`` holds replaced by ``join(a, b)``,
    until no pair is joinable. The first joinable pair (in order) is joined first, in the
    place of its first item."""
    items = list(items)
    joined = True
    while joined:
        joined = False
        for i in range(len(items)):
            for j in range(i + 1, len(items)):
                if joinable(items[i], items[j]):
                    items[i] = join(items[i], items[j])
                    del items[j]
                    joined = True
                    break
            if joined:
                break
    return items


def join_overlapping(boxes, joinable=None):
    """Boxes that overlap joined into their union, until none overlaps another.

    Parameters
    ----------
    boxes : iterable of (box, score)
        ``box`` is (x0, y0, x1, y1); boxes touching along an edge do not overlap.
    joinable : callable, optional
        ``joinable(a, b)`` of two boxes: whether they are to be joined (default: whenever
        they overlap).

    Returns
    -------
    list of (box, score)
        Each union with the best score of its boxes, in the order of its first box (best
        first when ``boxes`` are sorted so). A finder's pieces of one artifact (the same
        copy seen in several bands, a long track cut by the growing window) become one.
    """
    def overlap(p, q):
        a, b = p[0], q[0]
        if joinable is not None:
            return joinable(a, b)
        return min(a[2], b[2]) > max(a[0], b[0]) and min(a[3], b[3]) > max(a[1], b[1])

    def union(p, q):
        (a, sa), (b, sb) = p, q
        return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])), max(sa, sb)

    return join_pairs([(tuple(box), score) for box, score in boxes], overlap, union)


def artifacts_to_mask(artifacts, shape: tuple[int, int]) -> np.ndarray:
    """The int32 artifact mask of an image: each artifact's category bit over its box.

    Parameters
    ----------
    artifacts : iterable of Artifact
        Detections (or labels) on one image, boxes in pixels.
    shape : (int, int)
        (ny, nx) of the image.

    Returns
    -------
    ndarray, shape (ny, nx), int32
        Bitwise OR of :data:`spacejunk.categories.CATEGORY_BITS` of the artifacts covering
        each pixel; 0 where none does (the ``<image>_mask.fits`` layer).

    Notes
    -----
    A box covers the pixels whose index lies in ``[floor(xmin), ceil(xmax))`` x
    ``[floor(ymin), ceil(ymax))``, clipped to the image. An unknown category raises
    ValueError; artifacts of the focal-plane categories have no CCD bit and do too.
    """
    if len(shape) != 2 or min(int(v) for v in shape) < 1:
        raise ValueError(f"shape must be (ny, nx) with ny, nx >= 1, got {shape!r}")
    ny, nx = int(shape[0]), int(shape[1])
    mask = np.zeros((ny, nx), dtype=np.int32)
    for art in artifacts:
        if not isinstance(art, Artifact):
            raise TypeError(f"artifacts must hold Artifact records, got {type(art).__name__}")
        if art.category not in CATEGORY_BITS:
            raise ValueError(f"artifact category {art.category!r} has no mask bit; known: {', '.join(CATEGORY_BITS)}")
        x0, y0 = max(int(np.floor(art.xmin)), 0), max(int(np.floor(art.ymin)), 0)
        x1, y1 = min(int(np.ceil(art.xmax)), nx), min(int(np.ceil(art.ymax)), ny)
        if x1 > x0 and y1 > y0:
            mask[y0:y1, x0:x1] |= np.int32(CATEGORY_BITS[art.category])
    return mask


# --------------------------------------------------------------------------- tile scores -> score map
#: Ways :func:`tiles_to_score_map` combines the scores of overlapping tiles.
SCORE_REDUCTIONS: tuple[str, ...] = ("max", "mean", "min")


def tiles_to_score_map(grid, scores, shape: tuple[int, int], *, reduce: str = "max",
                       fill: float = 0.0) -> np.ndarray:
    """Full-size map of tile scores: each pixel gets the score of the tiles covering it.

    Parameters
    ----------
    grid : array_like of int, shape (n, 4)
        Tiles ``(x0, y0, x1, y1)``, pixels, exclusive max (e.g. ``TileScores.grid``).
    scores : array_like of float, shape (n,)
        Score of each tile (e.g. the classifier's probability).
    shape : (int, int)
        (ny, nx) of the image.
    reduce : {"max", "mean", "min"}, optional
        How the scores of tiles that overlap combine on their shared pixels (default
        ``"max"``: a pixel is as suspicious as the most suspicious tile covering it).
    fill : float, optional
        Value of pixels no tile covers (default 0).

    Returns
    -------
    ndarray, shape (ny, nx), float32
        The score map.

    Raises
    ------
    ValueError
        Bad shapes, a tile outside the image, or an unknown ``reduce``.

    Notes
    -----
    Tiles overlap where the grid makes them: the last row and column of the 200-px grid
    are moved inward to end on the image border (on a 4096 x 2048 CCD they share 104 and
    152 px with their neighbours), and ``overlap=`` in
    :func:`~spacejunk.predict.classify_exposure` makes every neighbour share a strip.
    With ``reduce="max"`` an artifact on a tile boundary keeps the highest score of the
    tiles it falls in, so it is never lost where tiles meet; ``"mean"`` smooths instead.
    Tiles with a non-finite score are skipped.
    """
    if reduce not in SCORE_REDUCTIONS:
        raise ValueError(f"reduce must be one of {', '.join(SCORE_REDUCTIONS)}, got {reduce!r}")
    if len(shape) != 2 or min(int(v) for v in shape) < 1:
        raise ValueError(f"shape must be (ny, nx) with ny, nx >= 1, got {shape!r}")
    ny, nx = int(shape[0]), int(shape[1])
    g = np.asarray(grid)
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    if g.size == 0:
        g = g.reshape(0, 4)
    if g.ndim != 2 or g.shape[1] != 4:
        raise ValueError(f"grid must have shape (n, 4) of (x0, y0, x1, y1), got {g.shape}")
    if len(s) != len(g):
        raise ValueError(f"scores must have one value per tile ({len(g)}), got {len(s)}")
    g = g.astype(np.int64)
    if len(g) and np.any((g[:, 0] < 0) | (g[:, 1] < 0) | (g[:, 2] > nx) | (g[:, 3] > ny)
                         | (g[:, 2] <= g[:, 0]) | (g[:, 3] <= g[:, 1])):
        raise ValueError(f"grid has tiles that are empty or outside the image of shape {(ny, nx)}")
    ok = np.isfinite(s)
    g, s = g[ok], s[ok]
    count = np.zeros((ny, nx), dtype=np.int32)
    if reduce == "mean":
        acc = np.zeros((ny, nx), dtype=np.float64)
        for (x0, y0, x1, y1), v in zip(g, s):
            acc[y0:y1, x0:x1] += v
            count[y0:y1, x0:x1] += 1
        out = np.divide(acc, count, out=np.full((ny, nx), float(fill)), where=count > 0).astype(np.float32)
        return out
    start = -np.inf if reduce == "max" else np.inf
    out = np.full((ny, nx), start, dtype=np.float32)
    op = np.maximum if reduce == "max" else np.minimum
    for (x0, y0, x1, y1), v in zip(g, s):
        view = out[y0:y1, x0:x1]
        op(view, np.float32(v), out=view)
        count[y0:y1, x0:x1] += 1
    out[count == 0] = fill
    return out

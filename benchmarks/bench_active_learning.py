"""Benchmark: does the review queue (least certain first) need fewer reviewed images than random order?

A simulated reviewer (the simulator's truth) reviews images of a pool in batches, in the
order the review queue gives (:func:`spacejunk.review.queue.review_order`, with and
without its diversity term) or in random order. After each batch a cheap tile model is
refitted on every tile of the images reviewed so far, and its tile recall is measured on
a separate test set. The queue orders the pool by the current model's tile scores
(:func:`~spacejunk.review.queue.image_uncertainty`, :func:`~spacejunk.review.queue.image_features`),
as `spacejunk review` does with the classifier's scores after each fine-tuning round.

Choices, so that it runs in a few minutes on two shared CPU cores:

- The tile model is a proxy for the CNN classifier: a small MLP (13 -> 32 -> 32 -> 1,
  Adam, weight decay) over 13 hand-made features per tile (background relative to the
  image, colour, gradient, structure-tensor coherence for trails, sharp pixels for
  cosmic rays, bright/dark/masked fractions, line response); see :func:`tile_features`.
  It is refitted from scratch after each batch (fine-tuning the CNN per batch would
  take hours here).
- Images are 512 x 256 px with 64-px tiles (32 tiles each); a tile is junk when the truth
  covers >= 2 % of it. 70 % of the images are clean, as in a survey (the simulator's
  own training mix is 85 % with artifacts; ``--clean 0.15`` runs that instead).
- Recall is counted at the threshold that flags 5 % of the clean test tiles (a ROC
  point), so neither calling everything junk nor the share of junk in the reviewed
  set can move it.

Writes ``docs/active-learning.png`` (recall against reviewed images) and replaces the
results block of ``docs/active-learning.md`` (between ``<!-- results:start -->`` and
``<!-- results:end -->``) with the table of this run.

Run ``python benchmarks/bench_active_learning.py --help`` for the options; the defaults
are the published run.
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage as ndi

from spacejunk.preprocess import normalise, tile_grid, tile_labels
from spacejunk.review.queue import image_features, image_uncertainty, review_order
from spacejunk.simulate import simulate_image

log = logging.getLogger("spacejunk.bench")

ROOT = Path(__file__).resolve().parents[1]
FEATURE_NAMES = ("background", "colour", "slope", "coherence", "gradient-energy", "sharpest", "n-sharp",
                 "bright-fraction", "dark-fraction", "masked", "saturated", "clipped-std", "line")


# --------------------------------------------------------------------------- data
def _signed_log(v: np.ndarray) -> np.ndarray:
    return np.sign(v) * np.log1p(np.abs(v))


def tile_features(exposure, grid: np.ndarray) -> np.ndarray:
    """(n_tiles, 13) features of each tile, from the bands in noise units above the sky.

    Stars (> 5 sigma, grown by 3 px) are left out of the background measures. Features:
    the star-free clipped background relative to the image's median tile, its g - i
    colour, the slope of a plane through its 8 x 8-binned values (scattered light), the
    coherence and energy of the smoothed structure tensor (trails, streaks, brush
    strokes), the sharpest pixel above its 3 x 3 median and how many exceed 8 sigma
    (cosmic rays), the fractions of pixels above 3 and below -3 sigma, masked and above
    1000 sigma, the clipped spread, and the strongest 31-px line mean along rows or
    columns. Heavy tails are tamed by ``sign(v) log(1 + |v|)``.
    """
    z = normalise(exposure, stretch=None, mask_bits=0)
    zm = z.mean(axis=0)
    stars = ndi.binary_dilation(zm > 5, iterations=3)
    masked = exposure.combined_mask != 0
    smooth = ndi.gaussian_filter(zm, 2.0)
    gy, gx = np.gradient(smooth)
    jxx, jyy, jxy = (ndi.gaussian_filter(v, 4.0) for v in (gx * gx, gy * gy, gx * gy))
    sharp = zm - ndi.median_filter(zm, 3)
    clipped = np.clip(zm, -5, 5)
    lines = np.maximum(ndi.uniform_filter1d(clipped, 31, axis=0), ndi.uniform_filter1d(clipped, 31, axis=1))
    out = np.zeros((len(grid), len(FEATURE_NAMES)))
    for k, (x0, y0, x1, y1) in enumerate(grid):
        s = (slice(y0, y1), slice(x0, x1))
        good = ~stars[s]
        bands = [np.clip(z[b][s][good], -5, 5).mean() if good.any() else 0.0 for b in range(z.shape[0])]
        a, c, b = jxx[s].mean(), jyy[s].mean(), jxy[s].mean()
        half = np.sqrt(max((a + c) ** 2 / 4 - (a * c - b * b), 0.0))
        t = np.where(stars[s], np.nan, clipped[s])
        h, w = (t.shape[0] // 8) * 8, (t.shape[1] // 8) * 8
        binned = t[:h, :w].reshape(h // 8, 8, w // 8, 8)
        with warnings.catch_warnings():  # all-star blocks are empty: NaN, left out below
            warnings.simplefilter("ignore", RuntimeWarning)
            binned = np.nanmean(np.nanmean(binned, axis=3), axis=1)
        yy, xx = np.mgrid[:binned.shape[0], :binned.shape[1]]
        ok = np.isfinite(binned)
        slope = 0.0
        if ok.sum() > 3:
            coef = np.linalg.lstsq(np.c_[xx[ok], yy[ok], np.ones(ok.sum())], binned[ok], rcond=None)[0]
            slope = float(np.hypot(coef[0], coef[1]))
        out[k] = (np.mean(bands), bands[0] - bands[-1], slope, 2 * half / (a + c + 1e-9), a + c, sharp[s].max(),
                  (sharp[s] > 8).sum(), (zm[s] > 3).mean(), (zm[s] < -3).mean(), masked[s].mean(),
                  (zm[s] > 1000).mean(), clipped[s][good].std() if good.any() else 0.0, lines[s].max())
    out[:, 0] -= np.median(out[:, 0])  # background relative to the image's typical tile
    return _signed_log(out)


@dataclass
class Pool:
    """Per-image tile features and truth labels."""

    features: list[np.ndarray]
    labels: list[np.ndarray]
    names: list[str]


def make_pool(n: int, *, seed: int, shape: tuple[int, int], tile: int, clean_fraction: float, quiet: bool) -> Pool:
    """``n`` simulated images; a fraction ``clean_fraction`` of them (drawn at random) without artifacts."""
    grid = tile_grid(shape, tile=tile)
    clean = np.random.default_rng(seed).random(n) < clean_fraction
    feats, labels, names = [], [], []
    for i in range(n):
        sim = simulate_image(seed=seed + i, name=f"img{seed + i:05d}", shape=shape, bands=("g", "r", "i"),
                             artifacts=None if clean[i] else "random")
        feats.append(tile_features(sim.exposure, grid))
        labels.append(tile_labels(sim.truth_mask != 0, grid, min_fraction=0.02))
        names.append(sim.exposure.name)
        if not quiet and (i + 1) % 20 == 0:
            log.info("  simulated %d / %d images", i + 1, n)
    return Pool(feats, labels, names)


# --------------------------------------------------------------------------- model
class TileModel:
    """The proxy tile classifier: a 2-layer MLP (32, 32) over the tile features, fitted by Adam.

    Full-batch, ``steps`` steps, weight decay 1e-2, seeded: about a second per fit on
    3,000 tiles on one CPU core.
    """

    def __init__(self, x: np.ndarray, y: np.ndarray, *, seed: int, steps: int = 200):
        import torch

        torch.manual_seed(seed)
        self.net = torch.nn.Sequential(torch.nn.Linear(x.shape[1], 32), torch.nn.ReLU(), torch.nn.Linear(32, 32),
                                       torch.nn.ReLU(), torch.nn.Linear(32, 1))
        opt = torch.optim.Adam(self.net.parameters(), lr=1e-2, weight_decay=1e-2)
        xt, yt = torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y, dtype=torch.float32)
        for _ in range(steps):
            opt.zero_grad()
            loss = torch.nn.functional.binary_cross_entropy_with_logits(self.net(xt)[:, 0], yt)
            loss.backward()
            opt.step()

    def predict(self, x: np.ndarray) -> np.ndarray:
        import torch

        with torch.no_grad():
            return torch.sigmoid(self.net(torch.as_tensor(x, dtype=torch.float32))[:, 0]).numpy().astype(np.float64)


def recall_at_fpr(scores: np.ndarray, truth: np.ndarray, *, fpr: float) -> float:
    """Tile recall at the threshold that flags a fraction ``fpr`` of the clean tiles (a ROC point).

    The threshold is the ``1 - fpr`` quantile of the clean tiles' scores; recall is the
    fraction of junk tiles scoring above it. Does not depend on the share of junk tiles
    in the training set (unlike recall at a fixed score threshold).
    """
    truth = truth.astype(bool)
    if not truth.any() or truth.all():
        return 0.0
    threshold = np.quantile(scores[~truth], 1 - fpr)
    return float((scores[truth] > threshold).mean())


# --------------------------------------------------------------------------- loop
def run_strategy(strategy: str, pool: Pool, test_x: np.ndarray, test_y: np.ndarray, *, start: list[int], batch: int,
                 budget: int, fpr: float, diversity: float, rng: np.random.Generator) -> list[tuple[int, float]]:
    reviewed = np.zeros(len(pool.names), dtype=bool)
    reviewed[start] = True
    curve = []
    while True:
        idx = np.flatnonzero(reviewed)
        x = np.vstack([pool.features[i] for i in idx])
        y = np.concatenate([pool.labels[i] for i in idx]).astype(float)
        model = TileModel(x, y, seed=int(reviewed.sum()))
        curve.append((int(reviewed.sum()), recall_at_fpr(model.predict(test_x), test_y, fpr=fpr)))
        if reviewed.sum() >= budget or reviewed.all():
            return curve
        todo = np.flatnonzero(~reviewed)
        if strategy == "random":
            pick = rng.choice(todo, size=min(batch, todo.size), replace=False)
        else:
            scores = [model.predict(f) for f in pool.features]
            u = [image_uncertainty(s) for s in scores]
            feats = np.array([image_features(s) for s in scores])
            order = review_order(u, feats, reviewed=reviewed, names=pool.names,
                                 diversity=diversity if strategy == "queue" else 0.0)
            pick = order[:batch]
        reviewed[pick] = True


def images_to_reach(curve: list[tuple[int, float]], target: float) -> int | None:
    return next((n for n, r in curve if r >= target), None)


# --------------------------------------------------------------------------- report
LABELS = {"random": "random order", "uncertainty": "uncertainty first (diversity 0)",
          "queue": "review queue (uncertainty + diversity {d})"}


def write_report(results: dict, args, seconds: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=120)
    colours = {"random": "#888888", "uncertainty": "#1f77b4", "queue": "#d62728"}
    table_rows = []
    budgets = [b for b in (8, 16, 24, 32, 48) if b <= args.budget]
    for strategy, curves in results.items():
        n = np.array([c[0] for c in curves[0]])
        r = np.array([[v for _, v in c] for c in curves])
        label = LABELS[strategy].format(d=args.diversity)
        ax.plot(n, r.mean(axis=0), color=colours[strategy], label=label, lw=2)
        ax.fill_between(n, r.mean(axis=0) - r.std(axis=0), r.mean(axis=0) + r.std(axis=0), color=colours[strategy],
                        alpha=0.12, lw=0)
        reach = [images_to_reach(c, args.target) for c in curves]
        censored = [v if v is not None else np.inf for v in reach]
        median = float(np.median(censored))
        on_mean = images_to_reach(list(zip(n, r.mean(axis=0))), args.target)
        at = [f"{r[:, list(n).index(b)].mean():.3f}" for b in budgets if b in n]
        table_rows.append((label, f"not within {args.budget}" if on_mean is None else str(on_mean),
                           f"> {args.budget}" if np.isinf(median) else f"{median:g}",
                           ", ".join(str(v) if v is not None else f">{args.budget}" for v in reach), at))
    ax.axhline(args.target, color="k", ls=":", lw=1)
    ax.text(n[0], args.target + 0.01, f"target {args.target:.2f}", fontsize=8)
    ax.set_xlabel("images reviewed")
    ax.set_ylabel(f"tile recall at {args.fpr:.0%} false positives (test set)")
    ax.set_title(f"Simulated review: mean of {args.repeats} runs (band: ± 1 sd), pool {args.pool}, "
                 f"batches of {args.batch}", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    png = ROOT / args.png
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png)
    log.info("wrote %s", png)

    head = (f"| order | images to reach recall {args.target:.2f} (mean curve) | median over runs | per run | "
            + " | ".join(f"recall @ {b} images" for b in budgets) + " |")
    lines = [head, "|" + "---|" * (4 + len(budgets))]
    for label, on_mean, median, per_run, at in table_rows:
        lines.append(f"| {label} | {on_mean} | {median} | {per_run} | " + " | ".join(at) + " |")
    command = "python benchmarks/bench_active_learning.py " + " ".join(sys.argv[1:])
    block = "\n".join([
        "<!-- results:start -->",
        f"Command: `{command.strip()}` ({seconds:.0f} s on this machine). Pool {args.pool} simulated images of "
        f"{args.shape.replace(',', ' x ')} px (bands g, r, i, {args.clean:.0%} of them clean), test set {args.test} "
        f"other images drawn alike, {args.tile}-px tiles, "
        f"{args.start} random images reviewed to start, then batches of {args.batch}; {args.repeats} runs "
        f"(seeds {args.seed}..{args.seed + args.repeats - 1}); recall counted where {args.fpr:.0%} of the clean "
        "test tiles are flagged.",
        "",
        *lines,
        "",
        "![tile recall against images reviewed](active-learning.png)",
        "<!-- results:end -->",
    ])
    md = ROOT / args.markdown
    text = md.read_text() if md.exists() else "# Active learning\n\n<!-- results:start -->\n<!-- results:end -->\n"
    if "<!-- results:start -->" not in text:
        text += "\n<!-- results:start -->\n<!-- results:end -->\n"
    text = re.sub(r"<!-- results:start -->.*?<!-- results:end -->", lambda _: block, text, flags=re.S)
    md.write_text(text)
    log.info("updated %s", md)
    print("\n".join(lines))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pool", type=int, default=96, help="images the reviewer can review (default 96)")
    p.add_argument("--test", type=int, default=48, help="test images for recall (default 48)")
    p.add_argument("--shape", default="512,256", help="rows,columns of the images (default 512,256)")
    p.add_argument("--clean", type=float, default=0.7,
                   help="fraction of images with no artifact at all, as in a survey (default 0.7)")
    p.add_argument("--tile", type=int, default=64, help="tile side, px (default 64)")
    p.add_argument("--start", type=int, default=4, help="random images reviewed before the first fit (default 4)")
    p.add_argument("--batch", type=int, default=4, help="images reviewed between refits (default 4)")
    p.add_argument("--budget", type=int, default=48, help="stop after this many reviewed images (default 48)")
    p.add_argument("--repeats", type=int, default=8, help="runs with different start sets (default 8)")
    p.add_argument("--target", type=float, default=0.4, help="tile recall to reach (default 0.4)")
    p.add_argument("--fpr", type=float, default=0.05,
                   help="fraction of clean tiles flagged at which recall is counted (default 0.05)")
    p.add_argument("--diversity", type=float, default=0.3, help="diversity weight of the queue (default 0.3)")
    p.add_argument("--seed", type=int, default=0, help="first seed (default 0)")
    p.add_argument("--png", default="docs/active-learning.png", help="curve PNG, relative to the repository")
    p.add_argument("--markdown", default="docs/active-learning.md", help="doc whose results block is replaced")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="%(message)s")
    import torch

    torch.set_num_threads(1)  # the machines are shared; one core is plenty for this model
    shape = tuple(int(v) for v in args.shape.split(","))
    t0 = time.perf_counter()
    log.info("simulating %d pool + %d test images of %s px", args.pool, args.test, shape)
    pool = make_pool(args.pool, seed=100_000, shape=shape, tile=args.tile, clean_fraction=args.clean, quiet=args.quiet)
    test = make_pool(args.test, seed=200_000, shape=shape, tile=args.tile, clean_fraction=args.clean, quiet=args.quiet)
    mu = np.vstack(pool.features).mean(axis=0)
    sd = np.vstack(pool.features).std(axis=0) + 1e-9
    pool.features = [(f - mu) / sd for f in pool.features]
    test_x = (np.vstack(test.features) - mu) / sd
    test_y = np.concatenate(test.labels).astype(float)
    log.info("%d pool tiles (%.0f%% with junk), %d test tiles (%.0f%%)", sum(map(len, pool.labels)),
             100 * np.concatenate(pool.labels).mean(), len(test_y), 100 * test_y.mean())
    results: dict[str, list] = {"random": [], "uncertainty": [], "queue": []}
    for r in range(args.repeats):
        rng = np.random.default_rng(args.seed + r)
        start = list(rng.choice(args.pool, size=args.start, replace=False))
        for strategy in results:
            curve = run_strategy(strategy, pool, test_x, test_y, start=start, batch=args.batch, budget=args.budget,
                                 fpr=args.fpr, diversity=args.diversity,
                                 rng=np.random.default_rng([args.seed, r]))
            results[strategy].append(curve)
            log.info("run %d %-11s reaches %.2f after %s images; recall at %d: %.3f", r, strategy, args.target,
                     images_to_reach(curve, args.target), curve[-1][0], curve[-1][1])
    write_report(results, args, time.perf_counter() - t0)
    return 0


if __name__ == "__main__":
    sys.exit(main())

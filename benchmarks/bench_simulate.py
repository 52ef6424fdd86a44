"""Benchmark: seconds to simulate one DECam CCD image (4096 x 2048, g, r, i by default).

Target: well under 20 s per three-band full-size image on two cores; aim ~5 s.

    python benchmarks/bench_simulate.py                # 5 full-size g,r,i images, random artifacts
    python benchmarks/bench_simulate.py --n 3 --artifacts all --bands g,r,i,z,Y
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from spacejunk.categories import CATEGORIES
from spacejunk.simulate import simulate_image


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=5, help="number of images (default 5)")
    p.add_argument("--seed", type=int, default=0, help="first seed (default 0)")
    p.add_argument("--shape", default="4096,2048", help="rows,columns (default 4096,2048)")
    p.add_argument("--bands", default="g,r,i", help="bands (default g,r,i)")
    p.add_argument("--artifacts", default="random", choices=("random", "none", "all"),
                   help="random mix (default), none, or one of every category")
    p.add_argument("--json", help="also write the timings to this JSON file")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    shape = tuple(int(v) for v in args.shape.split(","))
    bands = tuple(args.bands.split(","))
    artifacts = {"random": "random", "none": None, "all": list(CATEGORIES)}[args.artifacts]
    simulate_image(seed=10**6, shape=(64, 32), bands=bands, artifacts=None)  # warm-up (imports)
    times, counts = [], []
    for k in range(args.n):
        t0 = time.perf_counter()
        image = simulate_image(seed=args.seed + k, shape=shape, bands=bands, artifacts=artifacts)
        times.append(time.perf_counter() - t0)
        counts.append(len(image.artifacts))
        print(f"image {k}: {times[-1]:.2f} s, {counts[-1]} artifacts "
              f"({', '.join(sorted({a.category for a in image.artifacts})) or 'clean'})", flush=True)
    t = np.array(times)
    summary = dict(shape=list(shape), bands=list(bands), artifacts=args.artifacts, n=args.n,
                   mean_s=float(t.mean()), median_s=float(np.median(t)), max_s=float(t.max()),
                   mean_s_per_band=float(t.mean() / len(bands)))
    print(f"{args.n} images {shape[0]}x{shape[1]} x {len(bands)} bands ({args.artifacts} artifacts): "
          f"mean {t.mean():.2f} s, median {np.median(t):.2f} s, max {t.max():.2f} s per image")
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

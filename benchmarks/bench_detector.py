"""Detector benchmark: inference time per 4096 x 2048 image and COCO AP/AP50/AR@100 on simulated images.

Writes a JSON of the figures and a bar chart into docs/ (``docs/bench_detector.json``,
``docs/bench_detector.png``). Examples::

    python benchmarks/bench_detector.py                       # the shipped detector
    python benchmarks/bench_detector.py --model work/det/frcnn_r50_fpn.pt --data work/det/test --n 4

The target (issue 4): under 10 s per 4096 x 2048 three-band image on two cores.
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch


@dataclass(frozen=True)
class BenchSettings:
    model: str | None
    data: str | None
    n: int
    seed: int
    threads: int
    repeat: int
    out: str


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", help="detector checkpoint (default: the shipped one)")
    p.add_argument("--data", help="folder of simulated images with truth.csv (default: simulate --n of them)")
    p.add_argument("--n", type=int, default=4, help="images simulated or evaluated (default 4)")
    p.add_argument("--seed", type=int, default=4242, help="seed of simulated images, never used in training")
    p.add_argument("--threads", type=int, default=2, help="torch threads (default 2, the target machine)")
    p.add_argument("--repeat", type=int, default=3, help="timed runs on one image (default 3; the median is kept)")
    p.add_argument("--out", default="docs/bench_detector", help="output stem (default docs/bench_detector)")
    return p


def main(argv=None) -> dict:
    args = build_parser().parse_args(argv)
    settings = BenchSettings(args.model, args.data, args.n, args.seed, args.threads, args.repeat, args.out)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(settings.threads)
    from spacejunk.evaluate.detector import evaluate_detector
    from spacejunk.io import find_images, read_exposure
    from spacejunk.predict.detector import detect_exposure, load_detector
    from spacejunk.simulate import simulate_dataset

    model, meta = load_detector(settings.model)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(settings.data) if settings.data else Path(tmp) / "sim"
        if settings.data is None:
            simulate_dataset(data, n=settings.n, seed=settings.seed, quiet=True)
        images = find_images([data])
        first = read_exposure(next(iter(images.values())))
        detect_exposure(first, model=model, meta=meta)  # warm-up
        times = []
        for _ in range(settings.repeat):
            t0 = time.perf_counter()
            detect_exposure(first, model=model, meta=meta)
            times.append(time.perf_counter() - t0)
        names = sorted(images)[: settings.n]
        sub = Path(tmp) / "subset"
        sub.mkdir()
        for name in names:
            for f in images[name]:
                (sub / Path(f).name).symlink_to(Path(f).resolve())
        (sub / "truth.csv").symlink_to((data / "truth.csv").resolve())
        result = evaluate_detector(sub, model=model, meta=meta, quiet=True)
    figures = {"model": settings.model or "shipped", "arch": meta.get("arch"), "image_shape": list(first.shape),
               "bands": list(first.bands), "threads": settings.threads,
               "seconds_per_image_median": float(np.median(times)), "seconds_runs": times,
               "AP": result.scores.ap, "AP50": result.scores.ap50, "AR@100": result.scores.ar100,
               "n_images": len(names), "per_category": result.scores.per_category}
    out = Path(settings.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(figures, indent=2))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 2, figsize=(8, 3))
    ax[0].bar(["AP", "AP50", "AR@100"], [figures["AP"], figures["AP50"], figures["AR@100"]], color="tab:blue")
    ax[0].axhline(0.7, ls="--", c="grey", lw=0.8)
    ax[0].axhline(0.8, ls=":", c="grey", lw=0.8)
    ax[0].set_ylim(0, 1)
    source = f"seed {settings.seed}" if settings.data is None else Path(settings.data).name
    ax[0].set_title(f"{figures['arch']} on {len(names)} images ({source})")
    ax[1].bar(["inference"], [figures["seconds_per_image_median"]], color="tab:orange")
    ax[1].axhline(10, ls="--", c="red", lw=0.8)
    ax[1].set_ylabel(f"s per {first.shape[0]} x {first.shape[1]} image, {settings.threads} threads")
    fig.tight_layout()
    fig.savefig(out.with_suffix(".png"), dpi=100)
    logging.info("%s", json.dumps({k: v for k, v in figures.items() if k != "per_category"}))
    return figures


if __name__ == "__main__":
    main()

"""End-to-end throughput of ``spacejunk detect`` on full-size DECam CCD images.

Simulates N 4096 x 2048 three-band images (uncompressed, as DESDM's unpacked files),
runs the shipped models over them exactly as the command does (read, classify,
detect, write every output), and writes the seconds per image split by stage, and the
peak memory, to ``docs/bench_detect.md`` and ``.json``.

    python benchmarks/bench_detect.py --n 4
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import tempfile
import time
from pathlib import Path

import torch

from spacejunk.pipeline import detect
from spacejunk.simulate import simulate_dataset


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=4, help="images (default 4)")
    parser.add_argument("--seed", type=int, default=4242, help="simulation seed (default 4242)")
    parser.add_argument("--shape", default="4096,2048", help="rows,columns (default 4096,2048)")
    parser.add_argument("--workers", type=int, default=1, help="parallel images (default 1)")
    parser.add_argument("--out", default="docs/bench_detect", help="output stem (default docs/bench_detect)")
    return parser


def main(argv=None) -> dict:
    args = build_parser().parse_args(argv)
    shape = tuple(int(v) for v in args.shape.split(","))
    with tempfile.TemporaryDirectory() as tmp:
        data, out = Path(tmp) / "data", Path(tmp) / "out"
        simulate_dataset(data, n=args.n, seed=args.seed, shape=shape, quiet=True)
        detect([data], out=out, quiet=True, workers=args.workers)  # warm-up: loads models, fills caches
        t0 = time.perf_counter()
        run = detect([data], out=out, quiet=True, overwrite=True, workers=args.workers)
        wall = time.perf_counter() - t0
    result = {
        "images": args.n, "shape": list(shape), "bands": ["g", "r", "i"], "workers": args.workers,
        "seconds_per_image_wall": round(wall / args.n, 2),
        "seconds_per_image_by_stage": run.summary["seconds_per_image"],
        "artifacts_per_image": round(run.summary["artifacts"] / args.n, 1),
        "peak_memory_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "torch_threads": torch.get_num_threads(), "cpu": platform.processor() or platform.machine(),
    }
    stem = Path(args.out)
    stem.parent.mkdir(parents=True, exist_ok=True)
    stem.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    rows = "\n".join(f"| {k} | {v:.2f} |" for k, v in result["seconds_per_image_by_stage"].items())
    stem.with_suffix(".md").write_text(
        f"# `spacejunk detect` throughput\n\n{args.n} simulated {shape[0]} x {shape[1]} images in g, r, i, "
        f"{args.workers} worker(s), {result['torch_threads']} torch threads; made by "
        f"`python benchmarks/bench_detect.py --n {args.n}`.\n\n"
        f"Wall time per image, end to end: **{result['seconds_per_image_wall']} s**; peak memory "
        f"{result['peak_memory_mb']} MB.\n\n| stage | seconds per image |\n|---|---|\n{rows}\n")
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()

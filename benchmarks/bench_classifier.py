"""Benchmark: seconds for the tile classifier on one full DECam CCD (4096 x 2048, g, r, i).

Target: under 5 s per three-band full-size image on two cores, normalisation included
(``classify_exposure`` from the in-memory Exposure to the tile scores). Also times the
stages (normalise + band slots + binned context, network) and band subsets, and writes
the figures into ``docs/classifier.md`` (between the ``bench`` markers) and a JSON file.

    python benchmarks/bench_classifier.py                       # the shipped model
    python benchmarks/bench_classifier.py --model work/cls/run1.pt --repeat 5 --threads 1
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import sys
import time
from pathlib import Path

import numpy as np
import torch

from spacejunk.models.registry import load_checkpoint
from spacejunk.predict.classifier import _prepare, classify_exposure, load_default_classifier, model_inputs, score_tiles
from spacejunk.predict.finders import finder_keys, run_finders
from spacejunk.predict.trails import find_trails, settings_from_meta
from spacejunk.preprocess import tile_grid
from spacejunk.simulate import simulate_image

ROOT = Path(__file__).resolve().parents[1]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", help="classifier checkpoint (default: the shipped one)")
    p.add_argument("--repeat", type=int, default=5, help="timed runs per case (default 5; the median is reported)")
    p.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    p.add_argument("--shape", default="4096,2048", help="rows,columns (default 4096,2048)")
    p.add_argument("--bands", default="g,r,i", help="bands of the image (default g,r,i)")
    p.add_argument("--seed", type=int, default=3, help="simulation seed of the image (default 3)")
    p.add_argument("--doc", default=str(ROOT / "docs" / "classifier.md"),
                   help="markdown file whose 'bench' section is replaced (default docs/classifier.md; '' for none)")
    p.add_argument("--json", default=str(ROOT / "docs" / "classifier-bench.json"),
                   help="JSON file of the figures (default docs/classifier-bench.json; '' for none)")
    return p


def _median_time(fn, repeat: int) -> tuple[float, list[float]]:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), times


def _write_doc(path: Path, text: str) -> None:
    begin, end = "<!-- bench:begin -->", "<!-- bench:end -->"
    block = f"{begin}\n{text.rstrip()}\n{end}"
    old = path.read_text() if path.is_file() else "# Tile classifier\n"
    if begin in old and end in old:
        new = re.sub(re.escape(begin) + r".*?" + re.escape(end), lambda _: block, old, flags=re.S)
    else:
        new = old.rstrip() + "\n\n## Inference time\n\n" + block + "\n"
    path.write_text(new)


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    torch.set_num_threads(args.threads)
    shape = tuple(int(v) for v in args.shape.split(","))
    bands = tuple(args.bands.split(","))
    if args.model:
        model, meta = load_checkpoint(args.model)
        model = _prepare(model)
        name = args.model
    else:
        model, meta = load_default_classifier()
        name = "shipped (spacejunk/weights/classifier.pt)"
    exposure = simulate_image(seed=args.seed, name="bench", shape=shape, bands=bands).exposure
    grid = tile_grid(shape, tile=int(meta.get("tile", 200)))
    classify_exposure(exposure, model=model, meta=meta)  # warm-up
    rows = []
    subsets = [bands] + ([bands[:1], bands[:2]] if len(bands) > 1 else [])
    for subset in subsets:
        exp = exposure.select(subset)
        total, times = _median_time(lambda: classify_exposure(exp, model=model, meta=meta), args.repeat)
        inputs = {}
        prep, _ = _median_time(lambda: inputs.update(x=model_inputs(exp, meta)), args.repeat)
        image, present, context, _ = inputs["x"]
        net, _ = _median_time(lambda: score_tiles(model, image, present, grid, context=context), args.repeat)
        trail_settings = settings_from_meta(meta)

        def finders(trails: bool):
            fresh = exp.select(subset)  # a new Exposure: its sky and noise not yet known
            if trails:
                find_trails(fresh, trail_settings)
            else:
                run_finders(fresh, meta)

        trails = _median_time(lambda: finders(True), args.repeat)[0] if trail_settings is not None else 0.0
        others = _median_time(lambda: finders(False), args.repeat)[0] if finder_keys(meta) else 0.0
        rows.append({"bands": ",".join(subset), "total_s": total, "inputs_s": prep, "network_s": net,
                     "trails_s": trails, "finders_s": others, "runs_s": times})
        print(f"bands {','.join(subset)}: {total:.2f} s (inputs {prep:.2f} s, network {net:.2f} s, "
              f"trails {trails:.2f} s, {'+'.join(finder_keys(meta)) or 'no other finders'} {others:.2f} s)",
              flush=True)
    n_params = sum(p.numel() for p in model.parameters())
    summary = {"model": name, "shape": list(shape), "tiles": int(len(grid)), "threads": args.threads,
               "repeat": args.repeat, "cpu": platform.processor() or platform.machine(),
               "torch": torch.__version__, "parameters": int(n_params), "cases": rows}
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2) + "\n")
    if args.doc:
        lines = [f"`python benchmarks/bench_classifier.py --threads {args.threads} --repeat {args.repeat}`: "
                 f"model {name}, {n_params:,} parameters; one {shape[0]} x {shape[1]} image, {len(grid)} tiles, "
                 f"{args.threads} torch threads, median of {args.repeat} runs (machine shared with other jobs, "
                 "so these are upper bounds).",
                 "Each finder run alone on a new copy of the image finds its sky and noise itself; "
                 "in the total they are found once and shared.",
                 "", f"| bands | total (s) | normalise + context (s) | network (s) | trails (s) | "
                 f"{', '.join(finder_keys(meta)) or 'other finders'} (s) |",
                 "|---|---|---|---|---|---|"]
        lines += [f"| {r['bands']} | {r['total_s']:.2f} | {r['inputs_s']:.2f} | {r['network_s']:.2f} "
                  f"| {r['trails_s']:.2f} | {r['finders_s']:.2f} |" for r in rows]
        _write_doc(Path(args.doc), "\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())

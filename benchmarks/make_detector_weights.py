"""Make the shipped detector weights from nothing, on CPU: simulate its training data, train, copy.

One command (about 2 hours on two busy cores: 10 of simulation, 45 of training, 30 of fine-tuning,
25 of the region namer)::

    python benchmarks/make_detector_weights.py --work work/det --out src/spacejunk/weights/detector.pt

Steps (each skipped when its output exists, so an interrupted run goes on):

1. ``<work>/train``: 48 images of the simulator's random mix (seed 1), as
   ``spacejunk simulate --n 48 --seed 1`` writes them;
2. ``<work>/dense``: 36 images with 4 artifacts each of distinct random categories
   (seed 2), so that every category has examples;
3. ``<work>/all``: both folders joined (symbolic links, one ``truth.csv``);
4. ``spacejunk train detector`` with the recipe below;
5. a second run from that checkpoint (``--init``) at a lower learning rate for
   ``--finetune-minutes`` (default 30; 0 skips it);
6. the checkpoint is written to ``--out`` with the binned view alone (its full-resolution
   view found nothing on the test images and cost 13 s per image; ``--keep-tile-view``
   keeps it; the dropped view stays in ``meta["views_dropped"]``), with the settings of
   every finder a detector asks for (``DETECTOR_FINDERS``);
7. ``spacejunk train namer`` names the network's regions (``--namer-images`` fresh
   simulated images of seed 21, about 25 minutes for 840; 0 skips it).

The evaluation images (seed 999 in docs/detector.md) never enter training.

``--whole-view`` makes the whole-view network of docs/detector.md's runs instead (not
shipped: it measured no better), about 1.2 hours and 55 GB of disk::

    python benchmarks/make_detector_weights.py --whole-view --work work/det2 --out work/det2/named.pt

92 images of the random mix (seed 41) and 91 with three distinct categories each among
:data:`DENSE` (seed 42; the numbers are where the disk filled up), the network trained
on the whole CCD binned 8 x 8 alone (:data:`WHOLE_VIEW_RECIPE`: each image is binned as
it is read, so hundreds fit in memory), every category, no fine-tuning, then the namer
with two worker processes.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: The training recipe of the shipped detector (``spacejunk train detector`` options).
RECIPE = ["--arch", "unet_boxes", "--config", '{"stem_stride": 2, "base_channels": 16, "depth": 5}',
          "--steps-per-epoch", "100", "--batch-size", "2", "--lr", "3e-3",
          "--global-fraction", "0.5", "--infer-tile", "1024", "--overlap", "64", "--threads", "1", "--seed", "0"]

#: ``--whole-view``: the network learns the binned whole-image view alone.
WHOLE_VIEW_RECIPE = ["--arch", "unet_boxes", "--config", '{"stem_stride": 4, "base_channels": 24, "depth": 5}',
                     "--steps-per-epoch", "100", "--batch-size", "6", "--lr", "3e-3",
                     "--global-fraction", "1", "--global-bin", "8", "--threads", "2", "--seed", "0"]

#: ``--whole-view``: categories of the dense training images, those no finder reports
#: (and airplanes and tape bumps, which their finders often miss).
DENSE = ["ghost", "bright-arc", "bright-spray", "brush-strokes", "other", "edge-bleed", "tape-bump", "airplane"]


def dense_jobs(n: int, *, per_image: int = 3, seed: int = 42, categories=None) -> list[tuple[str, dict]]:
    """``n`` images named ``dense_s<seed>_<k>`` with ``per_image`` distinct ``categories``
    (default :data:`DENSE`) each."""
    from spacejunk.simulate import image_seed

    rng = np.random.default_rng(seed)
    cats = list(DENSE if categories is None else categories)
    return [(f"dense_s{seed}_{k:04d}", {"seed": image_seed(seed, k), "artifacts": [
        str(c) for c in rng.choice(cats, size=per_image, replace=False)]}) for k in range(n)]


@dataclass(frozen=True)
class MakeSettings:
    work: Path
    out: Path
    n_random: int
    n_dense: int
    per_image: int
    stage: str
    epochs: int
    time_limit: float | None
    finetune_minutes: float
    keep_tile_view: bool
    namer_images: int
    whole_view: bool = False


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--work", default="work/det", help="working folder for the data and checkpoint (default work/det)")
    p.add_argument("--out", default="src/spacejunk/weights/detector.pt", help="where the weights go")
    p.add_argument("--n-random", type=int, default=48, help="images of the random mix (default 48)")
    p.add_argument("--n-dense", type=int, default=36, help="images with several artifacts each (default 36)")
    p.add_argument("--per-image", type=int, default=4, help="artifacts per dense image (default 4)")
    p.add_argument("--stage", choices=("simulate", "all"), default="all", help="stop after simulating, or do all")
    p.add_argument("--epochs", type=int, default=25, help="epochs of 100 steps (default 25)")
    p.add_argument("--time-limit", type=float, default=45.0,
                   help="train detector --time-limit, minutes (default 45: a guard; the steps end first on an "
                        "idle two-core machine)")
    p.add_argument("--finetune-minutes", type=float, default=30.0,
                   help="then go on from that checkpoint at learning rate 1e-3 for this long (default 30; 0: no)")
    p.add_argument("--keep-tile-view", action="store_true", help="keep the full-resolution view in the shipped file")
    p.add_argument("--namer-images", type=int, default=840,
                   help="fresh simulated images the region namer learns from (default 840; 0: no namer)")
    p.add_argument("--whole-view", action="store_true",
                   help="the whole-view experiment (see above): its data, recipe and defaults (92 + 91 images, 20 "
                        "epochs, no fine-tuning)")
    return p


def _simulate(out: Path, names_and_kwargs) -> None:
    """Write images incrementally (done.txt lists finished ones) with truth.csv and labels.csv."""
    from spacejunk.io import read_artifacts, write_artifacts, write_exposure, write_labels, write_mask_fits
    from spacejunk.simulate import simulate_image

    out.mkdir(parents=True, exist_ok=True)
    done_file = out / "done.txt"
    done = set(done_file.read_text().split()) if done_file.is_file() else set()
    truth = [a for a in read_artifacts(out / "truth.csv") if a.image in done] if (out / "truth.csv").is_file() else []
    for name, kwargs in names_and_kwargs:
        if name in done:
            continue
        image = simulate_image(name=name, **kwargs)
        write_exposure(image.exposure, out)
        write_mask_fits(out / "truth" / f"{name}_truth.fits", image.truth_mask)
        truth.extend(image.artifacts)
        done.add(name)
        write_labels(out / "labels.csv", truth)
        write_artifacts(out / "truth.csv", truth)
        done_file.write_text("\n".join(sorted(done)))
        logging.info("simulated %s (%d artifacts)", name, len(image.artifacts))


def _join(parts: list[Path], out: Path) -> None:
    from spacejunk.io import read_artifacts, write_artifacts

    out.mkdir(parents=True, exist_ok=True)
    (out / "truth").mkdir(exist_ok=True)
    truth = []
    for part in parts:
        for f in part.glob("*.fits"):
            link = out / f.name
            if not link.exists():
                link.symlink_to(f.resolve())
        for f in (part / "truth").glob("*.fits"):
            link = out / "truth" / f.name
            if not link.exists():
                link.symlink_to(f.resolve())
        truth.extend(read_artifacts(part / "truth.csv"))
    write_artifacts(out / "truth.csv", truth)


def _add_finders(path: Path) -> None:
    """Record the finders' settings in checkpoint ``path``: satellites, cosmic rays, cross-talk, dark
    halos, bad columns and tape bumps come from them (:mod:`spacejunk.predict.trails`,
    :mod:`spacejunk.predict.finders`)."""
    import torch

    from spacejunk.predict.finders import DETECTOR_FINDERS, finder_meta

    state = torch.load(path, map_location="cpu", weights_only=False)
    state["meta"].update(finder_meta(keys=DETECTOR_FINDERS))
    torch.save(state, path)


def _without(options: list[str], *names: str) -> list[str]:
    """``options`` less the named options and their values."""
    out, skip = [], False
    for item in options:
        if skip:
            skip = False
        elif item in names:
            skip = True
        else:
            out.append(item)
    return out


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.whole_view:  # its own defaults, unless given
        given = set(argv if argv is not None else sys.argv[1:])
        for option, value in (("--n-random", 92), ("--n-dense", 91), ("--per-image", 3), ("--epochs", 20),
                              ("--finetune-minutes", 0.0)):
            if option not in given:
                setattr(args, option[2:].replace("-", "_"), value)
    s = MakeSettings(Path(args.work), Path(args.out), args.n_random, args.n_dense, args.per_image, args.stage,
                     args.epochs, args.time_limit, args.finetune_minutes,
                     args.keep_tile_view, args.namer_images, args.whole_view)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from spacejunk.categories import CATEGORIES
    from spacejunk.cli import main as cli
    from spacejunk.simulate import image_name, image_seed

    seed = 41 if s.whole_view else 1
    _simulate(s.work / "train", [(image_name(seed, k), {"seed": image_seed(seed, k)}) for k in range(s.n_random)])
    if s.whole_view:
        _simulate(s.work / "dense", dense_jobs(s.n_dense, per_image=s.per_image))
    else:
        _simulate(s.work / "dense", dense_jobs(s.n_dense, per_image=s.per_image, seed=2, categories=CATEGORIES))
    if s.stage == "simulate":
        return 0
    _join([s.work / "train", s.work / "dense"], s.work / "all")
    ckpt = s.work / f"unet_boxes_e{s.epochs}.pt"
    extra = [] if s.time_limit is None else ["--time-limit", str(s.time_limit)]
    recipe = WHOLE_VIEW_RECIPE if s.whole_view else RECIPE
    status = 0 if ckpt.is_file() else cli(["train", "detector", "--data", str(s.work / "all"), "--out", str(ckpt),
                                           "--epochs", str(s.epochs), *recipe, *extra])
    if status == 0 and s.finetune_minutes > 0:
        tuned = s.work / f"unet_boxes_e{s.epochs}_tuned.pt"
        status = cli(["train", "detector", "--data", str(s.work / "all"), "--init", str(ckpt), "--out", str(tuned),
                      "--epochs", "20", *_without(recipe, "--lr", "--seed", "--arch", "--config"), "--lr", "1e-3",
                      "--seed", "1", "--time-limit", str(s.finetune_minutes)])
        ckpt = tuned
    if status == 0:
        s.out.parent.mkdir(parents=True, exist_ok=True)
        if s.keep_tile_view:
            shutil.copyfile(ckpt, s.out)
        else:
            import torch

            state = torch.load(ckpt, map_location="cpu", weights_only=False)
            views = state["meta"]["views"]
            state["meta"]["views"] = [v for v in views if int(v.get("bin", 1)) > 1] or views
            state["meta"]["views_dropped"] = [v for v in views if v not in state["meta"]["views"]]
            torch.save(state, s.out)
        _add_finders(s.out)
        if s.namer_images > 0:
            status = cli(["train", "namer", "--detector", str(s.out), "--out", str(s.out), "--n", str(s.namer_images),
                          "--seed", "21", *(["--workers", "2", "--threads", "1"] if s.whole_view else [])])
        logging.info("wrote %s", s.out)
    return status


if __name__ == "__main__":
    raise SystemExit(main())

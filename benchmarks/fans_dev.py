"""Sprays' rays told from satellites (``predict.trails.split_fans``) on development images, never the test ones.

One command (about 20 minutes on two cores, most of it simulation; 50 GB of disk)::

    python benchmarks/fans_dev.py --work work/det2

Simulates (once; kept in ``--work``, where ``make_detector_weights.py --work`` keeps
the detector's training images, which are the same) 90 images with three artifacts
each among the categories the network reports (``<work>/dense``, seed 42:
``dense_s42_<k>``) and 90 of the random mix (``<work>/train``, seed 41),
finds the trails of every image holding a spray or a satellite, splits them into fans
and single trails, and counts: sprays on which the finder found two rays or more, of
them those reported as a fan, the fans' box IoU with the spray, and satellites (trails
matching a truth satellite at IoU >= 0.5) taken into a fan. Writes ``<work>/fans.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_detector_weights import _simulate, dense_jobs  # noqa: E402

from spacejunk.evaluate.coco import box_iou  # noqa: E402
from spacejunk.io import read_artifacts, read_exposure  # noqa: E402
from spacejunk.io.exposure import find_images  # noqa: E402
from spacejunk.predict.trails import TrailSettings, fans_to_artifacts, find_trails, split_fans  # noqa: E402
from spacejunk.simulate import image_name, image_seed  # noqa: E402

def _inside(box, truth) -> float:
    """Share of ``box`` inside ``truth``."""
    ix = max(0.0, min(box[2], truth[2]) - max(box[0], truth[0])) * max(0.0, min(box[3], truth[3]) - max(box[1], truth[1]))
    return ix / max((box[2] - box[0]) * (box[3] - box[1]), 1e-9)


def check_folder(folder: Path, names: list[str], s: TrailSettings) -> list[dict]:
    """One row per image of ``names`` holding a spray or a satellite."""
    truth: dict[str, list] = {}
    for a in read_artifacts(folder / "truth.csv"):
        truth.setdefault(a.image, []).append(a)
    rows = []
    images = find_images(folder)
    for name in names:
        files = images[name]
        arts = truth.get(name, [])
        sprays = [a.box for a in arts if a.category == "bright-spray"]
        sats = [a.box for a in arts if a.category == "satellite"]
        if not sprays and not sats:
            continue
        exposure = read_exposure(files)
        trails = find_trails(exposure, s)
        single, fans = split_fans(trails, s)
        on_spray = [t for t in trails if t.category == "satellite" and any(_inside(t.box(exposure.shape), b) > 0.7
                                                                         for b in sprays)]
        sat_trails = [t for t in trails if sats and box_iou([t.box(exposure.shape)], sats).max() >= 0.5]
        found = fans_to_artifacts(fans, name=name, shape=exposure.shape, min_sigma=s.min_sigma)
        ious = [round(float(box_iou([f.box], sprays).max()), 2) if sprays else 0.0 for f in found]
        rows.append({"image": name, "sprays": len(sprays), "satellites": len(sats), "trails": len(trails),
                     "rays_on_sprays": len(on_spray), "fans": len(fans), "fan_iou": ious,
                     "satellites_in_fans": sum(any(t is r for f in fans for r in f) for t in sat_trails),
                     "satellites_found": len(sat_trails)})
        logging.info("%s", rows[-1])
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--work", default="work/det2", help="working folder (default work/det2)")
    p.add_argument("--n-dense", type=int, default=90, help="dense images (default 90)")
    p.add_argument("--n-random", type=int, default=90, help="images of the random mix (default 90)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    work = Path(args.work)
    dense = dense_jobs(args.n_dense)
    random = [(image_name(41, k), {"seed": image_seed(41, k)}) for k in range(args.n_random)]
    _simulate(work / "dense", dense)
    _simulate(work / "train", random)
    s = TrailSettings()
    rows = (check_folder(work / "dense", [n for n, _ in dense], s)
            + check_folder(work / "train", [n for n, _ in random], s))
    multi = [r for r in rows if r["sprays"] and r["rays_on_sprays"] >= 2]
    ious = [v for r in rows if r["sprays"] for v in r["fan_iou"]]
    summary = {
        "images": len(rows),
        "sprays_with_two_rays_or_more": len(multi),
        "of_them_fans": sum(r["fans"] > 0 for r in multi),
        "fans": sum(r["fans"] for r in rows),
        "fan_iou": sorted(ious),
        "fans_on_no_spray": sum(r["fans"] for r in rows if not r["sprays"]),
        "satellites_found": sum(r["satellites_found"] for r in rows),
        "satellites_in_fans": sum(r["satellites_in_fans"] for r in rows),
    }
    (work / "fans.json").write_text(json.dumps({"summary": summary, "rows": rows}, indent=1))
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

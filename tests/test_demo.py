"""`spacejunk demo`: the shipped models on the bundled sample image, as `make demo` runs them."""

import json

from spacejunk.cli import main
from spacejunk.data import sample_dir
from spacejunk.evaluate.coco import box_iou
from spacejunk.io import read_artifacts, read_tiles
from spacejunk.io.outputs import read_mask_fits


def _iou(a, b) -> float:
    return float(box_iou([[a.xmin, a.ymin, a.xmax, a.ymax]], [[b.xmin, b.ymin, b.xmax, b.ymax]])[0, 0])


def test_demo_finds_the_sample_artifacts_with_the_shipped_models(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert f"{out}/sim_s9_0000.png" in printed
    assert (out / "sim_s9_0000.png").stat().st_size > 10_000
    summary = json.loads((out / "summary.json").read_text())
    assert summary["done"] == 1 and summary["failed"] == 0

    found = read_artifacts(out / "artifacts.csv")
    truth = read_artifacts(sample_dir() / "truth.csv")
    assert found, "the shipped detector found nothing on the sample"
    # The ghost covers the top of the quarter CCD: the shipped detector boxes it, as a ghost.
    ghost = next(t for t in truth if t.category == "ghost")
    best = max(found, key=lambda f: _iou(ghost, f))
    assert _iou(ghost, best) >= 0.8 and best.category == "ghost"
    # and no second ghost from what the bright one leaves beside it (the ghost-disc finder's
    # later searches ask twice the significance of the first)
    assert [f.category for f in found].count("ghost") == 1

    # The tile classifier scores the tiles under the artifacts above the clean ones.
    grid, scores = read_tiles(out / "tiles.csv")["sim_s9_0000"]
    assert len(grid) == 66 and scores.min() >= 0 and scores.max() <= 1
    centre_y = (grid[:, 1] + grid[:, 3]) / 2
    covered = centre_y < min(t.ymax for t in truth)          # the ghost spans the top 1288 rows
    clean = centre_y > max(t.ymax for t in truth) + 100
    assert scores[covered].mean() > scores[clean].mean() + 0.2
    mask = read_mask_fits(out / "sim_s9_0000_mask.fits")
    assert mask.shape == (2048, 1024) and mask.any()

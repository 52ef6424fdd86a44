"""Training the detector's region namer (spacejunk.train.namer) from the command line."""

import torch

from spacejunk.categories import CATEGORIES
from spacejunk.cli import main
from spacejunk.models import load_checkpoint
from spacejunk.models.registry import build_model, save_checkpoint
from spacejunk.predict.detector import detect_exposure
from spacejunk.predict.namer import NONE, namer_from_meta
from spacejunk.simulate import simulate_image
from spacejunk.train.detector import NORMALISATION

VIEW = ["ghost", "bright-arc", "bright-spray", "edge-bleed"]


def _detector(path):
    torch.manual_seed(0)
    model = build_model("unet_boxes", n_bands=3, num_classes=len(CATEGORIES) + 1, base_channels=4, depth=2)
    meta = {"bands": ["g", "r", "i"], "classes": list(CATEGORIES), "threshold": 0.5,
            "views": [{"bin": 8, "tile": None, "overlap": 0, "categories": VIEW}],
            "normalisation": NORMALISATION.as_dict(), "task": "detector"}
    save_checkpoint(path, model, arch="unet_boxes", config={"n_bands": 3, "num_classes": len(CATEGORIES) + 1,
                                                            "base_channels": 4, "depth": 2}, meta=meta)
    return path


def test_cli_trains_a_namer_into_a_copy_of_the_checkpoint(tmp_path):
    src = _detector(tmp_path / "det.pt")
    out = tmp_path / "named.pt"
    assert main(["train", "namer", "--detector", str(src), "--out", str(out), "--n", "12", "--shape", "512,256",
                 "--epochs", "20", "--seed", "5", "--threads", "1", "-q"]) == 0
    model, meta = load_checkpoint(out)
    spec = meta["namer"]
    assert spec["view_classes"] == VIEW and spec["classes"][-1] == NONE
    assert sum(spec["counts"].values()) >= 10 and spec["recipe"]["n_images"] == 12
    assert spec["recipe"]["shape"] == [512, 256]
    assert "namer" not in load_checkpoint(src)[1]  # the source is left alone
    namer = namer_from_meta(meta)
    assert namer.min_side_px == 128.0
    # the checkpoint detects with its namer: every box is at least the namer's smallest side
    image = simulate_image(seed=1, shape=(512, 256), artifacts=["ghost"])
    found = detect_exposure(image.exposure, model=model, meta=meta, threshold=0.0)
    assert all(max(a.xmax - a.xmin, a.ymax - a.ymin) >= 128 for a in found)
    assert all(a.category in VIEW for a in found)


def test_cli_namer_names_bad_input(tmp_path, capsys):
    assert main(["train", "namer", "--detector", str(tmp_path / "none.pt"), "--out", str(tmp_path / "o.pt"),
                 "-q"]) == 1
    assert "none.pt" in capsys.readouterr().err
    assert main(["train", "namer", "--detector", str(_detector(tmp_path / "d.pt")), "--out",
                 str(tmp_path / "o.pt"), "--n", "1", "-q"]) == 1
    assert "n_images must be >= 2" in capsys.readouterr().err
    assert not (tmp_path / "o.pt").exists()


def test_workers_collect_the_same_regions(tmp_path):
    from spacejunk.predict.detector import load_detector
    from spacejunk.train.namer import NamerTrainSettings, collect_regions

    src = _detector(tmp_path / "det.pt")
    model, meta = load_detector(str(src))
    kw = dict(detector=str(src), out=str(tmp_path / "o.pt"), n_images=4, shape=(512, 256), threads=1, quiet=True)
    one = collect_regions(model, meta, NamerTrainSettings(**kw))
    two = collect_regions(model, meta, NamerTrainSettings(workers=2, **kw))
    assert one[1] == two[1] and one[2] == two[2] and len(one[1]) > 0
    torch.testing.assert_close(torch.as_tensor(one[0]), torch.as_tensor(two[0]))

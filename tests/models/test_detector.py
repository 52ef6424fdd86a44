"""Detector architectures (spacejunk.models.detector): builders, losses, regions to boxes."""

import numpy as np
import pytest
import torch

from spacejunk.categories import CATEGORIES
from spacejunk.models import build_model, load_checkpoint, save_checkpoint
from spacejunk.models.detector import DETECTOR_ARCHS, regions_to_boxes

N_CLASSES = len(CATEGORIES) + 1
# small configs so the tests stay fast
SMALL = {"unet_boxes": {"base_channels": 4, "depth": 2}}


@pytest.fixture(autouse=True)
def _threads():
    torch.set_num_threads(1)


def _target(h, w, boxes=(), labels=()):
    sem = torch.zeros(N_CLASSES - 1, h, w)
    for (x0, y0, x1, y1), lab in zip(boxes, labels):
        sem[lab - 1, y0:y1, x0:x1] = 1
    return {"boxes": torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
            "labels": torch.tensor(labels, dtype=torch.int64), "semantic": sem}


@pytest.mark.parametrize("arch", ["frcnn_r18_fpn", "retinanet_r18_fpn", "frcnn_r50_fpn", "retinanet_r50_fpn"])
def test_image_without_artifacts_gives_zero_box_loss(arch):
    torch.manual_seed(0)
    model = build_model(arch, n_bands=2)
    model.train()
    losses = model([torch.randn(2, 64, 64)], [_target(64, 64)])
    box_losses = [v for k, v in losses.items() if "box" in k or "regression" in k]
    assert box_losses and all(float(v.detach()) == 0.0 for v in box_losses)
    cls = [v for k, v in losses.items() if "box" not in k and "regression" not in k]
    assert all(float(v.detach()) > 0 for v in cls)  # background is still learnt


@pytest.mark.parametrize("arch", DETECTOR_ARCHS)
def test_detectors_take_n_bands_and_return_torchvision_dicts(arch):
    torch.manual_seed(0)
    model = build_model(arch, n_bands=5, **SMALL.get(arch, {})).eval()
    with torch.no_grad():
        out = model([torch.randn(5, 96, 64)])
    assert len(out) == 1 and set(out[0]) >= {"boxes", "scores", "labels"}
    assert out[0]["boxes"].shape[1] == 4
    if len(out[0]["labels"]):
        assert out[0]["labels"].min() >= 1 and out[0]["labels"].max() < N_CLASSES


def test_builders_check_arguments():
    with pytest.raises(ValueError, match="n_bands"):
        build_model("unet_boxes", n_bands=0)
    with pytest.raises(ValueError, match="num_classes"):
        build_model("frcnn_r18_fpn", num_classes=1)
    with pytest.raises(ValueError, match="stem_stride"):
        build_model("unet_boxes", stem_stride=3)


@pytest.mark.parametrize("stem_stride", [1, 2])
def test_segmentation_detector_loss_falls(stem_stride):
    torch.manual_seed(0)
    model = build_model("unet_boxes", n_bands=1, base_channels=4, depth=2, stem_stride=stem_stride)
    x = torch.randn(2, 1, 32, 32) * 0.3
    x[:, :, 8:12, 4:28] += 3.0  # a bright bar: category 5 (satellite)
    targets = [_target(32, 32, [(4, 8, 28, 12)], [5]) for _ in range(2)]
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    first = None
    for _ in range(80):
        loss = sum(model(list(x), targets).values())
        opt.zero_grad()
        loss.backward()
        opt.step()
        first = float(loss.detach()) if first is None else first
    assert float(loss.detach()) < 0.5 * first


def test_regions_to_boxes_finds_each_region():
    prob = np.zeros((3, 20, 30))
    prob[0, 2:5, 3:10] = 0.9          # one box of category 1
    prob[2, 10:12, 10:12] = 0.7       # 4 pixels of category 3
    prob[2, 15, 25] = 0.99            # a single pixel: below min_area
    for i in range(6):                # a diagonal trail: one 8-connected region
        prob[1, 12 + i, i] = 0.8
    boxes, scores, labels = regions_to_boxes(prob, threshold=0.5, min_area_px=2, scale=2)
    order = np.argsort(labels)
    np.testing.assert_array_equal(labels[order], [1, 2, 3])
    np.testing.assert_allclose(boxes[order], [[6, 4, 20, 10], [0, 24, 12, 36], [20, 20, 24, 24]])
    np.testing.assert_allclose(scores[order], [0.9, 0.8, 0.7])
    b, s, lab = regions_to_boxes(np.zeros((2, 5, 5)))
    assert b.shape == (0, 4) and len(s) == 0 and len(lab) == 0


@pytest.mark.parametrize("arch", ["unet_boxes", "frcnn_r18_fpn"])
def test_checkpoint_reload_gives_identical_predictions(tmp_path, arch):
    torch.manual_seed(0)
    config = {"n_bands": 3, **SMALL.get(arch, {})}
    model = build_model(arch, **config).eval()
    if arch == "unet_boxes":  # make some regions appear
        torch.nn.init.constant_(model.net.head.bias, 0.5)
    path = save_checkpoint(tmp_path / "d.pt", model, arch=arch, config=config, meta={"bands": ["g", "r", "i"]})
    loaded, meta = load_checkpoint(path)
    x = [torch.randn(3, 64, 64)]
    with torch.no_grad():
        a, b = model(x)[0], loaded(x)[0]
    assert len(a["boxes"]) > 0
    for key in ("boxes", "scores", "labels"):
        assert torch.equal(a[key], b[key])
    assert meta["bands"] == ["g", "r", "i"]


def test_regions_to_boxes_exclusive_and_joined():
    prob = np.zeros((2, 20, 20))
    prob[0, 2:6, 2:6] = 0.9
    prob[1, 2:6, 2:6] = 0.6          # same pixels, less probable category
    prob[0, 14:16, 10:12] = 0.8
    prob[0, 14:16, 14:16] = 0.8      # 2 px gap: joined with join_px=2 (gaps up to 4 px)
    b, s, lab = regions_to_boxes(prob, min_area_px=1)
    assert sorted(lab.tolist()) == [1, 1, 1, 2]
    b, s, lab = regions_to_boxes(prob, min_area_px=1, exclusive=True, join_px=2)
    order = np.argsort(b[:, 0])
    np.testing.assert_array_equal(lab[order], [1, 1])
    np.testing.assert_allclose(b[order], [[2, 2, 6, 6], [10, 14, 16, 16]])
    np.testing.assert_allclose(s[order], [0.9, 0.8])

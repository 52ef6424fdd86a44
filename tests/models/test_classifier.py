import numpy as np
import pytest
import torch

from spacejunk.models import build_model, load_checkpoint, save_checkpoint
from spacejunk.models.classifier import ARCH, TileClassifier

TINY = dict(bands=("g", "r", "i"), widths=(8, 8, 8, 8), blocks=(1, 1, 1), context_widths=(8, 8, 8, 8), hidden=8)


def _inputs(b=2, h=256, w=192, seed=0):
    g = torch.Generator().manual_seed(seed)
    image = torch.randn(b, 3, h, w, generator=g)
    context = torch.randn(b, 3, -(-h // 16), -(-w // 16), generator=g)
    present = torch.ones(b, 3)
    boxes = torch.tensor([[0, 0, 0, 100, 100], [0, 50, 60, 150, 160], [1, 92, 156, 192, 256]], dtype=torch.float32)
    return image, present, boxes, context


def _model(**kw):
    torch.manual_seed(0)
    return build_model(ARCH, **{**TINY, **kw}).eval()


def test_registered_builder_gives_one_logit_per_tile():
    model = _model()
    assert isinstance(model, TileClassifier) and model.bands == ("g", "r", "i")
    image, present, boxes, context = _inputs()
    with torch.no_grad():
        out = model(image, present, boxes, context)
    assert out.shape == (3,) and torch.isfinite(out).all()


@pytest.mark.parametrize("shape", [(200, 200), (256, 192), (301, 77)])
def test_any_image_size(shape):
    model = _model()
    image = torch.randn(1, 3, *shape)
    context = torch.randn(1, 3, -(-shape[0] // 16), -(-shape[1] // 16))
    boxes = torch.tensor([[0, 0, 0, min(200, shape[1]), min(200, shape[0])]], dtype=torch.float32)
    with torch.no_grad():
        assert model(image, torch.ones(1, 3), boxes, context).shape == (1,)


def test_missing_band_content_is_ignored():
    """A band marked absent may hold anything: the logits do not change."""
    model = _model()
    image, _, boxes, context = _inputs()
    present = torch.tensor([[1.0, 0.0, 1.0], [1.0, 0.0, 1.0]])
    other = image.clone()
    other[:, 1] = 1000.0 * torch.randn_like(other[:, 1])
    other_ctx = context.clone()
    other_ctx[:, 1] = 55.0
    with torch.no_grad():
        a = model(image, present, boxes, context)
        b = model(other, present, boxes, other_ctx)
    assert torch.allclose(a, b, atol=1e-5)


def test_every_band_subset_runs():
    model = _model()
    image, _, boxes, context = _inputs()
    for mask in ([1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [0, 1, 1], [1, 1, 1]):
        present = torch.tensor([mask, mask], dtype=torch.float32)
        with torch.no_grad():
            assert torch.isfinite(model(image, present, boxes, context)).all()


def test_context_is_required_when_used_and_optional_without():
    image, present, boxes, context = _inputs()
    with pytest.raises(ValueError, match="uses context"):
        with torch.no_grad():
            _model()(image, present, boxes, None)
    no_ctx = _model(context=False)
    with torch.no_grad():
        assert no_ctx(image, present, boxes, None).shape == (3,)


def test_overlapping_tiles_are_free_and_consistent():
    """A tile's logit does not depend on which other tiles are scored with it."""
    model = _model()
    image, present, boxes, context = _inputs()
    with torch.no_grad():
        all_three = model(image, present, boxes, context)
        alone = model(image, present, boxes[1:2], context)
    assert torch.allclose(all_three[1:2], alone, atol=1e-6)


def test_checkpoint_reloads_to_identical_predictions(tmp_path):
    model = _model()
    image, present, boxes, context = _inputs()
    config = {k: list(v) if isinstance(v, tuple) else v for k, v in TINY.items()}
    path = save_checkpoint(tmp_path / "c.pt", model, arch=ARCH, config=config, meta={"bands": ["g", "r", "i"]})
    loaded, meta = load_checkpoint(path)
    with torch.no_grad():
        assert torch.equal(model(image, present, boxes, context), loaded(image, present, boxes, context))
    assert meta["arch"] == ARCH and loaded.bands == ("g", "r", "i")


def test_bad_configuration_is_named():
    with pytest.raises(ValueError, match="at least one band"):
        build_model(ARCH, bands=())
    with pytest.raises(ValueError, match="widths"):
        build_model(ARCH, widths=(8, 8))


def test_parameters_are_few():
    model = build_model(ARCH)
    n = sum(p.numel() for p in model.parameters())
    assert 20_000 < n < 500_000
    assert np.isfinite(n)

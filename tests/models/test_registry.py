import pytest
import torch
from torch import nn

from spacejunk import InputError
from spacejunk.models.registry import build_model, load_checkpoint, register_model, save_checkpoint


@register_model("_test_linear")
def _linear(n_in: int = 3, n_out: int = 2) -> nn.Module:
    return nn.Linear(n_in, n_out)


def test_checkpoint_round_trip_gives_same_predictions(tmp_path):
    torch.manual_seed(0)
    model = build_model("_test_linear", n_in=4, n_out=2)
    path = save_checkpoint(tmp_path / "m.pt", model, arch="_test_linear", config={"n_in": 4, "n_out": 2},
                           meta={"bands": ["g", "r"]})
    loaded, meta = load_checkpoint(path)
    x = torch.randn(5, 4)
    assert torch.equal(model(x), loaded(x))
    assert meta["bands"] == ["g", "r"] and meta["arch"] == "_test_linear"


def test_half_checkpoint_is_close(tmp_path):
    model = build_model("_test_linear", n_in=4, n_out=2)
    path = save_checkpoint(tmp_path / "m.pt", model, arch="_test_linear", config={"n_in": 4, "n_out": 2},
                           meta={}, half=True)
    loaded, _ = load_checkpoint(path)
    x = torch.randn(5, 4)
    assert torch.allclose(model(x), loaded(x), atol=1e-2)


def test_unknown_arch_is_named():
    with pytest.raises(ValueError, match="unknown model architecture 'nope'"):
        build_model("nope")


def test_bad_checkpoint_files_are_named(tmp_path):
    with pytest.raises(InputError, match="missing.pt: model checkpoint not found"):
        load_checkpoint(tmp_path / "missing.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match="junk.pt: not a readable model checkpoint"):
        load_checkpoint(junk)
    other = tmp_path / "other.pt"
    torch.save({"weights": 1}, other)
    with pytest.raises(InputError, match="not a spacejunk checkpoint"):
        load_checkpoint(other)

"""An ensemble's output is its members' mean, and its checkpoint reloads to the same output."""

import pytest
import torch
from torch import nn

from spacejunk.models.ensemble import Ensemble, as_one, members_of
from spacejunk.models.registry import build_model, load_checkpoint, register_model, save_checkpoint


@register_model("_test_affine")
def _affine(n: int = 3) -> nn.Module:
    return nn.Linear(n, n)


def test_output_is_the_members_mean():
    a, b = nn.Linear(2, 2), nn.Linear(2, 2)
    for layer, value in ((a, 1.0), (b, 3.0)):
        nn.init.constant_(layer.weight, value)
        nn.init.zeros_(layer.bias)
    x = torch.tensor([[1.0, 2.0]])
    assert torch.equal(Ensemble([a, b])(x), torch.tensor([[6.0, 6.0]]))  # (3 + 9) / 2
    assert members_of(Ensemble([a, b])) == [a, b] and members_of(a) == [a]
    assert as_one([a]) is a and torch.equal(as_one([a, b])(x), Ensemble([a, b])(x))
    with pytest.raises(ValueError, match="at least one member"):
        Ensemble([])


def test_checkpoint_round_trip(tmp_path):
    torch.manual_seed(0)
    model = build_model("ensemble", member_arch="_test_affine", member_config={"n": 3}, members=3)
    assert len(model.members) == 3
    path = save_checkpoint(tmp_path / "e.pt", model, arch="ensemble", meta={},
                           config={"member_arch": "_test_affine", "member_config": {"n": 3}, "members": 3})
    loaded, meta = load_checkpoint(path)
    x = torch.randn(4, 3)
    assert torch.equal(model(x), loaded(x)) and meta["arch"] == "ensemble"
    with pytest.raises(ValueError, match="at least one member, got 0"):
        build_model("ensemble", member_arch="_test_affine", member_config={}, members=0)

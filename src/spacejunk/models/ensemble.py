"""Several trained networks of one architecture used as one: their outputs averaged.

Networks trained alike from different seeds err in different places; the mean of their
logits keeps what they agree on. A checkpoint of an ensemble names the architecture of
its members and their count (``arch="ensemble"``, ``config={"member_arch",
"member_config", "members"}``), so it loads through :func:`~spacejunk.models.registry.load_checkpoint`
like any single network.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from .registry import build_model, register_model

__all__ = ["Ensemble", "ensemble", "members_of", "as_one"]


class Ensemble(nn.Module):
    """The mean of ``members``' outputs (each maps the same input to outputs of one shape)."""

    def __init__(self, members: Sequence[nn.Module]):
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one member")
        self.members = nn.ModuleList(members)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        total = None
        for member in self.members:
            y = member(x)
            total = y if total is None else total + y
        return total / len(self.members)


@register_model("ensemble")
def ensemble(*, member_arch: str, member_config: dict, members: int) -> Ensemble:
    """Build an :class:`Ensemble` of ``members`` untrained ``member_arch`` networks built with
    ``member_config`` (registered as ``"ensemble"``)."""
    if members < 1:
        raise ValueError(f"an ensemble needs at least one member, got {members}")
    return Ensemble([build_model(member_arch, **member_config) for _ in range(members)])


def members_of(network: nn.Module) -> list[nn.Module]:
    """The networks an ensemble averages, or ``[network]`` for a single one."""
    return list(network.members) if isinstance(network, Ensemble) else [network]


def as_one(networks: Sequence[nn.Module]) -> nn.Module:
    """The one network of ``networks``, or their :class:`Ensemble` when there are several."""
    return networks[0] if len(networks) == 1 else Ensemble(networks)

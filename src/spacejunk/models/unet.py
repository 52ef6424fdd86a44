"""A small, generic U-Net for pixel segmentation of images of any size."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .registry import register_model

__all__ = ["UNet", "unet"]


class _ConvBlock(nn.Sequential):
    """Two 3x3 convolutions, each followed by batch normalisation and ReLU."""

    def __init__(self, c_in: int, c_out: int, *, dropout: float = 0.0):
        layers: list[nn.Module] = [
            nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
            nn.Conv2d(c_out, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
        ]
        if dropout > 0:
            layers.append(nn.Dropout2d(dropout))
        super().__init__(*layers)


class UNet(nn.Module):
    """U-Net (Ronneberger et al. 2015) with configurable width and depth.

    Parameters
    ----------
    in_channels : int
        Channels of the input image (e.g. 1 for grey, 3 for RGB).
    out_channels : int
        Channels of the output map (logits, one per class or head).
    base_channels : int, optional
        Channels of the first level; each level down doubles them (default 16).
    depth : int, optional
        Number of down-sampling steps (default 4); the input is seen at scales
        1, 1/2, ..., 1/2**depth, so the receptive field grows as 2**depth.
    max_channels : int, optional
        Cap on the channels of any level (default 256).
    dropout : float, optional
        Channel dropout in the bottleneck block (default 0).

    Notes
    -----
    Any input size works: the input is zero-padded on the bottom and right to a
    multiple of ``2**depth`` and the output is cropped back, so ``forward`` maps
    ``(n, in_channels, ny, nx)`` to ``(n, out_channels, ny, nx)``.
    """

    def __init__(self, in_channels: int = 1, out_channels: int = 1, *, base_channels: int = 16, depth: int = 4,
                 max_channels: int = 256, dropout: float = 0.0):
        super().__init__()
        if in_channels < 1 or out_channels < 1:
            raise ValueError(f"in_channels and out_channels must be >= 1, got {in_channels}, {out_channels}")
        if base_channels < 1:
            raise ValueError(f"base_channels must be >= 1, got {base_channels}")
        if depth < 1:
            raise ValueError(f"depth must be >= 1, got {depth}")
        self.depth = depth
        widths = [min(base_channels * 2 ** i, max_channels) for i in range(depth + 1)]
        self.down = nn.ModuleList()
        c = in_channels
        for w in widths[:-1]:
            self.down.append(_ConvBlock(c, w))
            c = w
        self.bottleneck = _ConvBlock(c, widths[-1], dropout=dropout)
        self.up = nn.ModuleList()
        self.merge = nn.ModuleList()
        c = widths[-1]
        for w in reversed(widths[:-1]):
            self.up.append(nn.ConvTranspose2d(c, w, 2, stride=2))
            self.merge.append(_ConvBlock(2 * w, w))
            c = w
        self.head = nn.Conv2d(c, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(n, out_channels, ny, nx)`` of input ``(n, in_channels, ny, nx)``."""
        ny, nx = x.shape[-2:]
        m = 2 ** self.depth
        pad_y, pad_x = (-ny) % m, (-nx) % m
        if pad_y or pad_x:
            x = F.pad(x, (0, pad_x, 0, pad_y))
        skips = []
        for block in self.down:
            x = block(x)
            skips.append(x)
            x = F.max_pool2d(x, 2)
        x = self.bottleneck(x)
        for up, merge, skip in zip(self.up, self.merge, reversed(skips)):
            x = merge(torch.cat([up(x), skip], dim=1))
        return self.head(x)[..., :ny, :nx]


@register_model("unet")
def unet(*, in_channels: int = 1, out_channels: int = 1, base_channels: int = 16, depth: int = 4,
         max_channels: int = 256, dropout: float = 0.0) -> UNet:
    """Build a :class:`UNet` (registered as ``"unet"`` for checkpoints)."""
    return UNet(in_channels, out_channels, base_channels=base_channels, depth=depth, max_channels=max_channels,
                dropout=dropout)

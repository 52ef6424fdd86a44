"""Multi-band tile classifier: does a 200 x 200 tile hold an artifact?

The network is fully convolutional and runs **once** over a whole image: a pixel-unshuffle
stem (stride 4) and depthwise-separable stages at strides 8, 16 and 32 give feature maps
from which each tile's features are pooled over the tile's footprint (mean and max per
stage), so overlapping tiles cost nothing extra. A small *context branch* sees a heavily
binned copy of the whole image (every ``context_bin`` x ``context_bin`` block averaged,
which lowers the noise ``context_bin`` times) and reaches across the whole CCD, so faint
gradients of ghosts and scattered light larger than the CCD are seen; its features are
sampled over each tile's footprint and pooled over the whole image. A small MLP turns the
concatenated features into one logit per tile. Two 1 x 1 heads used only in training
predict the artifact coverage of every stride-32 cell and every context cell (dense
supervision, many labels per image for the price of one).

Bands sit in fixed slots (the bands the model was trained on, in order). A missing band is
a slot of zeros, and a presence vector (1 for a band given, 0 for one missing) modulates
the first layer of both branches (feature-wise affine), so the model accepts any subset
of its bands; training drops bands at random to teach it.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import roi_align, roi_pool

from .registry import register_model

__all__ = ["TileClassifier", "tile_classifier", "ARCH"]

#: Name of the registered builder (the ``arch`` of the checkpoints).
ARCH = "tile-classifier"


def _cbr(c_in: int, c_out: int, *, k: int = 3, stride: int = 1, groups: int = 1, dilation: int = 1) -> list[nn.Module]:
    pad = dilation * (k // 2)
    return [nn.Conv2d(c_in, c_out, k, stride, padding=pad, dilation=dilation, groups=groups, bias=False),
            nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]


class _SepBlock(nn.Module):
    """Depthwise 3x3 (optionally strided or dilated) then pointwise 1x1; residual when shapes agree."""

    def __init__(self, c_in: int, c_out: int, *, stride: int = 1, dilation: int = 1):
        super().__init__()
        self.body = nn.Sequential(
            *_cbr(c_in, c_in, k=3, stride=stride, groups=c_in, dilation=dilation)[:2],
            nn.ReLU(inplace=True),
            nn.Conv2d(c_in, c_out, 1, bias=False),
            nn.BatchNorm2d(c_out),
        )
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.body(x)
        if self.residual:
            y = y + x
        return F.relu(y, inplace=True)


class _Film(nn.Module):
    """Feature-wise affine modulation of a feature map by the band-presence vector."""

    def __init__(self, n_bands: int, channels: int):
        super().__init__()
        self.scale = nn.Linear(n_bands, channels)
        self.shift = nn.Linear(n_bands, channels)
        for lin in (self.scale, self.shift):
            nn.init.zeros_(lin.weight)
            nn.init.zeros_(lin.bias)

    def forward(self, x: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
        gamma = self.scale(present)[:, :, None, None]
        beta = self.shift(present)[:, :, None, None]
        return x * (1.0 + gamma) + beta


class TileClassifier(nn.Module):
    """Tile classifier over a whole image with a binned whole-image context branch.

    Parameters
    ----------
    bands : sequence of str
        Band slots, in order (e.g. ``("g", "r", "i")``).
    widths : sequence of 4 int
        Channels at strides 4, 8, 16 and 32.
    blocks : sequence of 3 int
        Extra (residual) blocks at strides 8, 16 and 32.
    context : bool
        Use the context branch (False: tile features only, for ablations).
    context_bin : int
        Binning factor of the context image (pixels per context pixel).
    context_widths : sequence of 4 int
        Channels of the context branch at context strides 1, 2, 4 and 8.
    hidden : int
        Width of the MLP head.
    dropout : float
        Dropout before the head's last layer.
    """

    def __init__(self, *, bands: Sequence[str] = ("g", "r", "i"), widths: Sequence[int] = (24, 48, 64, 96),
                 blocks: Sequence[int] = (1, 1, 1), context: bool = True, context_bin: int = 16,
                 context_widths: Sequence[int] = (16, 32, 48, 64), hidden: int = 64, dropout: float = 0.1):
        super().__init__()
        self.bands = tuple(bands)
        n = len(self.bands)
        if n < 1:
            raise ValueError("bands must name at least one band")
        if len(widths) != 4 or len(blocks) != 3 or len(context_widths) != 4:
            raise ValueError("widths and context_widths need 4 values, blocks 3")
        w0, w1, w2, w3 = (int(v) for v in widths)
        self.stride = 32
        self.stem = nn.Sequential(nn.PixelUnshuffle(4), nn.Conv2d(16 * n, w0, 1, bias=False))
        self.stem_film = _Film(n, w0)
        self.stem_act = nn.Sequential(nn.BatchNorm2d(w0), nn.ReLU(inplace=True))
        self.stage8 = nn.Sequential(_SepBlock(w0, w1, stride=2), *[_SepBlock(w1, w1) for _ in range(blocks[0])])
        self.stage16 = nn.Sequential(_SepBlock(w1, w2, stride=2), *[_SepBlock(w2, w2) for _ in range(blocks[1])])
        self.stage32 = nn.Sequential(_SepBlock(w2, w3, stride=2), *[_SepBlock(w3, w3) for _ in range(blocks[2])])
        n_feat = 2 * (w1 + w2 + w3)
        self.use_context = bool(context)
        self.context_bin = int(context_bin)
        if self.use_context:
            c0, c1, c2, c3 = (int(v) for v in context_widths)
            self.ctx_stem = nn.Conv2d(n, c0, 3, padding=1, bias=False)
            self.ctx_film = _Film(n, c0)
            self.ctx_body = nn.Sequential(
                nn.BatchNorm2d(c0), nn.ReLU(inplace=True),
                _SepBlock(c0, c1, stride=2), _SepBlock(c1, c2, stride=2), _SepBlock(c2, c3, stride=2),
                _SepBlock(c3, c3, dilation=2), _SepBlock(c3, c3, dilation=4),
            )
            self.ctx_stride = 8 * self.context_bin
            n_feat += 2 * c3
            self.aux_ctx = nn.Conv2d(c3, 1, 1)
        # Training-only dense heads: artifact coverage of each stride-32 cell of the image and of
        # each cell of the context map (dense supervision that teaches the features faster).
        self.aux_fine = nn.Conv2d(w3, 1, 1)
        self.head = nn.Sequential(nn.Linear(n_feat + n, hidden), nn.ReLU(inplace=True), nn.Dropout(dropout),
                                  nn.Linear(hidden, 1))

    # ------------------------------------------------------------------ pieces
    def image_features(self, image: torch.Tensor, present: torch.Tensor) -> list[torch.Tensor]:
        """Feature maps at strides 8, 16, 32 of a (batch of) normalised image(s).

        Parameters
        ----------
        image : Tensor, shape (B, n_bands, H, W)
            Normalised bands in the model's slots, zeros where a band is missing. H and W
            need not be multiples of 32 (the image is zero-padded).
        present : Tensor, shape (B, n_bands)
            1.0 for a band given, 0.0 for a missing one.
        """
        ny, nx = image.shape[-2:]
        py, px = (-ny) % self.stride, (-nx) % self.stride
        x = image * present[:, :, None, None]
        if py or px:
            x = F.pad(x, (0, px, 0, py))
        x = self.stem_act(self.stem_film(self.stem(x), present))
        f8 = self.stage8(x)
        f16 = self.stage16(f8)
        f32 = self.stage32(f16)
        return [f8, f16, f32]

    def context_features(self, context: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
        """Context map (B, C, h/8, w/8) of binned whole images (B, n_bands, h, w)."""
        h, w = context.shape[-2:]
        ph, pw = (-h) % 8, (-w) % 8
        x = context * present[:, :, None, None]
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph))
        return self.ctx_body(self.ctx_film(self.ctx_stem(x), present))

    def tile_logits(self, feats: Sequence[torch.Tensor], boxes: torch.Tensor, present: torch.Tensor,
                    *, ctx: torch.Tensor | None = None, ctx_boxes: torch.Tensor | None = None) -> torch.Tensor:
        """Logits of tiles from feature maps.

        Parameters
        ----------
        feats : list of Tensor
            :meth:`image_features` output.
        boxes : Tensor, shape (K, 5), float
            ``(batch_index, x0, y0, x1, y1)`` of each tile in the image's pixels (exclusive max).
        present : Tensor, shape (B, n_bands)
        ctx : Tensor, optional
            :meth:`context_features` output; required when the model uses context.
        ctx_boxes : Tensor, shape (K, 5), optional
            The same tiles in the coordinates of the whole image (for crops), default ``boxes``.
        """
        pooled = []
        for f, stride in zip(feats, (8, 16, 32)):
            scale = 1.0 / stride
            pooled.append(roi_align(f, boxes, output_size=1, spatial_scale=scale, sampling_ratio=-1,
                                    aligned=True).flatten(1))
            pooled.append(roi_pool(f, boxes, output_size=1, spatial_scale=scale).flatten(1))
        if self.use_context:
            if ctx is None:
                raise ValueError("this model uses context: pass ctx")
            cb = boxes if ctx_boxes is None else ctx_boxes
            pooled.append(roi_align(ctx, cb, output_size=1, spatial_scale=1.0 / self.ctx_stride,
                                    sampling_ratio=2, aligned=True).flatten(1))
            pooled.append(ctx.mean(dim=(2, 3))[cb[:, 0].long()])
        pooled.append(present[boxes[:, 0].long()])
        return self.head(torch.cat(pooled, dim=1)).squeeze(1)

    def dense_logits(self, feats: Sequence[torch.Tensor], ctx: torch.Tensor | None = None
                     ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Training-only coverage logits: (B, 1, H/32, W/32) from the image and (B, 1, h/8, w/8) from the context."""
        fine = self.aux_fine(feats[2])
        coarse = self.aux_ctx(ctx) if (self.use_context and ctx is not None) else None
        return fine, coarse

    def forward(self, image: torch.Tensor, present: torch.Tensor, boxes: torch.Tensor,
                context: torch.Tensor | None = None, ctx_boxes: torch.Tensor | None = None) -> torch.Tensor:
        """Tile logits, shape (K,), for ``boxes`` (K, 5) on ``image`` (B, n_bands, H, W).

        ``context`` (B, n_bands, h, w) is the binned whole image (:func:`spacejunk.preprocess.bin_image`
        of the normalised bands by ``context_bin``); ``ctx_boxes`` the tiles in whole-image
        pixels when ``image`` is a crop of it.
        """
        if self.use_context and context is None:
            raise ValueError("this model uses context: pass context (the binned whole image)")
        feats = self.image_features(image, present)
        ctx = self.context_features(context, present) if self.use_context else None
        return self.tile_logits(feats, boxes, present, ctx=ctx, ctx_boxes=ctx_boxes)


@register_model(ARCH)
def tile_classifier(*, bands: Sequence[str] = ("g", "r", "i"), widths: Sequence[int] = (24, 48, 64, 96),
                    blocks: Sequence[int] = (1, 1, 1), context: bool = True, context_bin: int = 16,
                    context_widths: Sequence[int] = (16, 32, 48, 64), hidden: int = 64,
                    dropout: float = 0.1) -> TileClassifier:
    """Build an untrained :class:`TileClassifier` (see there for the arguments)."""
    return TileClassifier(bands=bands, widths=widths, blocks=blocks, context=context, context_bin=context_bin,
                          context_widths=context_widths, hidden=hidden, dropout=dropout)

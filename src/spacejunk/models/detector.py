"""Artifact detectors: torchvision's Faster R-CNN / RetinaNet for n bands, and a U-Net whose regions become boxes.

Every detector here follows torchvision's detection interface, so that one training
loop and one inference path serve them all:

- training mode: ``model(images, targets) -> dict of losses``, where ``images`` is a list
  of ``(n_bands, h, w)`` float tensors (normalised bands, see
  :func:`spacejunk.preprocess.normalise`) and each target a dict with ``boxes``
  ``(n, 4)`` float ``(xmin, ymin, xmax, ymax)`` pixels, ``labels`` ``(n,)`` int64 in
  ``1..len(CATEGORIES)`` (0 is the background) and, for the segmentation detector,
  ``semantic`` ``(len(CATEGORIES), h, w)`` multi-hot masks;
- eval mode: ``model(images) -> list of dicts`` with ``boxes``, ``labels`` and ``scores``.

Inputs are already normalised, so the torchvision models get ``image_mean`` 0 and
``image_std`` 1 and never resize (the caller chooses the scale, e.g. binned copies).
All are trained from scratch: no pretrained weights are loaded anywhere.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models.detection import (
    FasterRCNN,
    RetinaNet,
    fasterrcnn_mobilenet_v3_large_fpn,
    fasterrcnn_resnet50_fpn,
    retinanet_resnet50_fpn,
)
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.backbone_utils import _resnet_fpn_extractor
from torchvision.models.detection.transform import GeneralizedRCNNTransform
from torchvision.models.resnet import resnet18, resnet34
from torchvision.ops.feature_pyramid_network import LastLevelP6P7

from ..categories import CATEGORIES
from .registry import register_model
from .unet import UNet

__all__ = [
    "DETECTOR_ARCHS",
    "SegmentationDetector",
    "regions_to_boxes",
    "frcnn_r50_fpn",
    "retinanet_r50_fpn",
    "frcnn_r18_fpn",
    "retinanet_r18_fpn",
    "frcnn_mbv3_fpn",
    "unet_boxes",
]

#: Default number of classes: the CCD categories plus the background (label 0).
_N_CLASSES = len(CATEGORIES) + 1

#: Anchor sizes (pixels) per FPN level: from cosmic rays (~8 px) to large ghosts.
_ANCHOR_SIZES = ((16,), (32,), (64,), (128,), (256,))
_ASPECT_RATIOS = (0.25, 0.5, 1.0, 2.0, 4.0)


class _NoResize(GeneralizedRCNNTransform):
    """torchvision's detection transform without resizing (the caller picks the scale)."""

    def resize(self, image, target=None):  # noqa: D102 - same contract as the parent
        return image, target


def _set_transform(model: nn.Module, n_bands: int) -> None:
    """Identity normalisation and no resizing for ``n_bands`` already-normalised bands."""
    old = model.transform
    model.transform = _NoResize(min_size=old.min_size, max_size=old.max_size, image_mean=[0.0] * n_bands,
                                image_std=[1.0] * n_bands, size_divisible=old.size_divisible)


def _replace_first_conv(body: nn.Module, n_bands: int) -> None:
    """Replace the first convolution of a ResNet body by one taking ``n_bands`` channels."""
    old = body.conv1
    body.conv1 = nn.Conv2d(n_bands, old.out_channels, kernel_size=old.kernel_size, stride=old.stride,
                           padding=old.padding, bias=False)


def _check(n_bands: int, num_classes: int) -> None:
    if isinstance(n_bands, bool) or not isinstance(n_bands, int) or n_bands < 1:
        raise ValueError(f"n_bands must be an int >= 1, got {n_bands!r}")
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(f"num_classes must be an int >= 2 (background + categories), got {num_classes!r}")


def _anchors(anchor_sizes: Sequence[Sequence[int]] | None, aspect_ratios: Sequence[float] | None,
             n_levels: int) -> AnchorGenerator:
    sizes = tuple(tuple(int(v) for v in s) for s in (anchor_sizes or _ANCHOR_SIZES))
    if len(sizes) != n_levels:
        raise ValueError(f"anchor_sizes must give {n_levels} levels, got {len(sizes)}")
    ratios = tuple(float(r) for r in (aspect_ratios or _ASPECT_RATIOS))
    return AnchorGenerator(sizes, (ratios,) * len(sizes))


# --------------------------------------------------------------------------- torchvision baselines
@register_model("frcnn_r50_fpn")
def frcnn_r50_fpn(*, n_bands: int = 3, num_classes: int = _N_CLASSES, anchor_sizes=None, aspect_ratios=None,
                  box_detections_per_img: int = 100, box_score_thresh: float = 0.01) -> FasterRCNN:
    """Faster R-CNN ResNet-50 FPN (the prototype's baseline), from scratch, for ``n_bands`` bands.

    Parameters
    ----------
    n_bands : int, optional
        Input channels (default 3).
    num_classes : int, optional
        Classes including the background (default ``len(CATEGORIES) + 1``).
    anchor_sizes : sequence of sequences of int, optional
        Anchor sizes in pixels per FPN level (5 levels); default 16 to 256 px.
    aspect_ratios : sequence of float, optional
        Anchor aspect ratios (default 0.25, 0.5, 1, 2, 4 for trails).
    box_detections_per_img : int, optional
        Most boxes per image (default 100).
    box_score_thresh : float, optional
        Boxes scoring below this are dropped (default 0.01).
    """
    _check(n_bands, num_classes)
    model = fasterrcnn_resnet50_fpn(weights=None, weights_backbone=None, num_classes=num_classes,
                                    rpn_anchor_generator=_anchors(anchor_sizes, aspect_ratios, 5),
                                    box_detections_per_img=box_detections_per_img,
                                    box_score_thresh=box_score_thresh)
    _replace_first_conv(model.backbone.body, n_bands)
    _set_transform(model, n_bands)
    return model


@register_model("retinanet_r50_fpn")
def retinanet_r50_fpn(*, n_bands: int = 3, num_classes: int = _N_CLASSES, anchor_sizes=None, aspect_ratios=None,
                      detections_per_img: int = 100, score_thresh: float = 0.05) -> RetinaNet:
    """RetinaNet ResNet-50 FPN (the prototype's other baseline), from scratch, for ``n_bands`` bands.

    Parameters are those of :func:`frcnn_r50_fpn` (``detections_per_img`` and
    ``score_thresh`` are RetinaNet's names). RetinaNet has no background logit but keeps
    label 0 unused, so ``num_classes`` counts it as for Faster R-CNN.
    """
    _check(n_bands, num_classes)
    model = retinanet_resnet50_fpn(weights=None, weights_backbone=None, num_classes=num_classes,
                                   anchor_generator=_anchors(anchor_sizes, aspect_ratios, 5),
                                   detections_per_img=detections_per_img, score_thresh=score_thresh)
    _replace_first_conv(model.backbone.body, n_bands)
    _set_transform(model, n_bands)
    return model


def _light_resnet_fpn(depth: int, n_bands: int, *, p6p7: bool = False):
    body = (resnet18 if depth == 18 else resnet34)(weights=None, norm_layer=nn.BatchNorm2d)
    _replace_first_conv(body, n_bands)
    extra = LastLevelP6P7(256, 256) if p6p7 else None
    return _resnet_fpn_extractor(body, 5, returned_layers=[2, 3, 4] if p6p7 else None, extra_blocks=extra,
                                 norm_layer=None)


@register_model("frcnn_r18_fpn")
def frcnn_r18_fpn(*, n_bands: int = 3, num_classes: int = _N_CLASSES, anchor_sizes=None, aspect_ratios=None,
                  box_detections_per_img: int = 100, box_score_thresh: float = 0.01) -> FasterRCNN:
    """Faster R-CNN with a ResNet-18 FPN backbone (lighter), from scratch; options as :func:`frcnn_r50_fpn`."""
    _check(n_bands, num_classes)
    backbone = _light_resnet_fpn(18, n_bands)
    model = FasterRCNN(backbone, num_classes=num_classes, min_size=600, max_size=4096,
                       rpn_anchor_generator=_anchors(anchor_sizes, aspect_ratios, 5),
                       box_detections_per_img=box_detections_per_img, box_score_thresh=box_score_thresh)
    _set_transform(model, n_bands)
    return model


@register_model("retinanet_r18_fpn")
def retinanet_r18_fpn(*, n_bands: int = 3, num_classes: int = _N_CLASSES, anchor_sizes=None, aspect_ratios=None,
                      detections_per_img: int = 100, score_thresh: float = 0.05) -> RetinaNet:
    """RetinaNet with a ResNet-18 FPN backbone (lighter), from scratch; options as :func:`retinanet_r50_fpn`."""
    _check(n_bands, num_classes)
    backbone = _light_resnet_fpn(18, n_bands, p6p7=True)
    model = RetinaNet(backbone, num_classes=num_classes, min_size=600, max_size=4096,
                      anchor_generator=_anchors(anchor_sizes, aspect_ratios, 5),
                      detections_per_img=detections_per_img, score_thresh=score_thresh)
    _set_transform(model, n_bands)
    return model


@register_model("frcnn_mbv3_fpn")
def frcnn_mbv3_fpn(*, n_bands: int = 3, num_classes: int = _N_CLASSES, box_detections_per_img: int = 100,
                   box_score_thresh: float = 0.01) -> FasterRCNN:
    """Faster R-CNN MobileNetV3-Large FPN (torchvision's light model), from scratch, for ``n_bands`` bands."""
    _check(n_bands, num_classes)
    model = fasterrcnn_mobilenet_v3_large_fpn(weights=None, weights_backbone=None, num_classes=num_classes,
                                              box_detections_per_img=box_detections_per_img,
                                              box_score_thresh=box_score_thresh)
    first = model.backbone.body["0"][0]
    model.backbone.body["0"][0] = nn.Conv2d(n_bands, first.out_channels, kernel_size=first.kernel_size,
                                            stride=first.stride, padding=first.padding, bias=False)
    _set_transform(model, n_bands)
    return model


# --------------------------------------------------------------------------- segmentation -> boxes
def regions_to_boxes(
    probabilities: np.ndarray,
    *,
    threshold: float = 0.5,
    min_area_px: int = 4,
    scale: float = 1.0,
    exclusive: bool = False,
    join_px: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boxes of the connected regions of per-category probability maps.

    Parameters
    ----------
    probabilities : ndarray, shape (n_categories, ny, nx)
        Probability of each category at each pixel, in [0, 1].
    threshold : float, optional
        A pixel belongs to a category's region where its probability exceeds this
        (default 0.5).
    min_area_px : int, optional
        Regions with fewer pixels are dropped (default 4), in pixels of the map.
    scale : float, optional
        Box coordinates are multiplied by this (e.g. the binning factor of the map;
        default 1).
    exclusive : bool, optional
        A pixel belongs only to its most probable category (default False: to every
        category above ``threshold``).
    join_px : int, optional
        Regions of one category separated by at most ``2 * join_px`` pixels are one
        region (default 0: only touching pixels); the box spans only their pixels.

    Returns
    -------
    boxes : ndarray, shape (n, 4), float64
        ``(xmin, ymin, xmax, ymax)``, exclusive max, in units of ``scale`` pixels.
    scores : ndarray, shape (n,), float64
        Mean probability over each region.
    labels : ndarray, shape (n,), int64
        Category index + 1 (0 is reserved for the background, as in torchvision).

    Notes
    -----
    Regions are 8-connected, so a thin diagonal trail stays one region.
    """
    from scipy import ndimage

    prob = np.asarray(probabilities)
    if prob.ndim != 3:
        raise ValueError(f"probabilities must have shape (n_categories, ny, nx), got {prob.shape}")
    structure = np.ones((3, 3), dtype=bool)
    best = np.argmax(prob, axis=0) if exclusive and prob.shape[0] > 1 else None
    boxes, scores, labels = [], [], []
    for k in range(prob.shape[0]):
        above = prob[k] > threshold
        if best is not None:
            above &= best == k
        if not above.any():
            continue
        if join_px > 0:
            joined, n = ndimage.label(ndimage.binary_dilation(above, structure=structure, iterations=int(join_px)),
                                      structure=structure)
            regions = np.where(above, joined, 0)
        else:
            regions, n = ndimage.label(above, structure=structure)
        slices = ndimage.find_objects(regions)
        index = np.arange(1, n + 1)
        areas = ndimage.sum_labels(above, regions, index)
        means = ndimage.mean(prob[k], regions, index)
        for i, sl in enumerate(slices):
            if sl is None or areas[i] < min_area_px:
                continue
            ys, xs = sl
            boxes.append([xs.start * scale, ys.start * scale, xs.stop * scale, ys.stop * scale])
            scores.append(float(means[i]))
            labels.append(k + 1)
    if not boxes:
        return np.zeros((0, 4)), np.zeros(0), np.zeros(0, dtype=np.int64)
    return np.asarray(boxes, dtype=np.float64), np.asarray(scores), np.asarray(labels, dtype=np.int64)


class SegmentationDetector(nn.Module):
    """A U-Net predicting one probability map per category; its connected regions become boxes.

    Parameters
    ----------
    n_bands : int, optional
        Input channels (default 3).
    num_classes : int, optional
        Classes including the background (default ``len(CATEGORIES) + 1``): the network
        has ``num_classes - 1`` sigmoid outputs, one per category (an artifact may lie on
        another, e.g. a cosmic ray on a ghost).
    base_channels, depth, max_channels : int, optional
        Width and depth of the :class:`~spacejunk.models.unet.UNet`.
    stem_stride : int, optional
        The U-Net runs at 1/``stem_stride`` of the input resolution (1, 2 or 4; default
        1): the input is rearranged losslessly into ``stem_stride**2`` times more
        channels (pixel unshuffle) and the output back (pixel shuffle), so thin trails and
        cosmic rays keep their pixels while the network costs about ``stem_stride**2``
        times less.
    threshold : float, optional
        Probability above which a pixel is in a region (default 0.5).
    min_area_px : int, optional
        Smallest region kept, input pixels (default 4).
    pos_weight : float, optional
        Weight of artifact pixels in the cross-entropy (default 1).
    exclusive : bool, optional
        Each pixel goes to its most probable category only when regions are found
        (default True; see :func:`regions_to_boxes`).
    join_px : int, optional
        Regions of one category up to ``2 * join_px`` apart are one artifact (default 2
        input pixels, so a cosmic ray or a dashed trail is not split into pieces).

    Notes
    -----
    Training mode returns ``{"loss_bce", "loss_dice"}`` from the targets' ``semantic``
    masks (optionally weighted per category by a target's ``channel_weight`` ``(K,)``,
    0 for categories a view is not meant to see); eval mode returns torchvision-style
    dicts. :meth:`probabilities` gives the maps
    themselves, which inference stitches across tiles before finding regions, so a region
    cut by a tile border is never split.
    """

    def __init__(self, *, n_bands: int = 3, num_classes: int = _N_CLASSES, base_channels: int = 16, depth: int = 4,
                 max_channels: int = 128, stem_stride: int = 1, threshold: float = 0.5, min_area_px: int = 4,
                 pos_weight: float = 1.0, exclusive: bool = True, join_px: int = 2):
        super().__init__()
        _check(n_bands, num_classes)
        if stem_stride not in (1, 2, 4):
            raise ValueError(f"stem_stride must be 1, 2 or 4, got {stem_stride!r}")
        self.n_bands = n_bands
        self.num_classes = num_classes
        self.stem_stride = stem_stride
        self.threshold = float(threshold)
        self.min_area_px = int(min_area_px)
        self.pos_weight = float(pos_weight)
        self.exclusive = bool(exclusive)
        self.join_px = int(join_px)
        s2 = stem_stride * stem_stride
        self.net = UNet(n_bands * s2, (num_classes - 1) * s2, base_channels=base_channels, depth=depth,
                        max_channels=max_channels)

    @staticmethod
    def _stack(images) -> torch.Tensor:
        if isinstance(images, torch.Tensor):
            return images if images.ndim == 4 else images[None]
        shapes = {tuple(im.shape) for im in images}
        if len(shapes) != 1:
            raise ValueError(f"images of one batch must share a shape, got {sorted(shapes)}")
        return torch.stack(list(images))

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(b, n_categories, h, w)`` of a batch ``(b, n_bands, h, w)``."""
        if x.shape[1] != self.n_bands:
            raise ValueError(f"expected {self.n_bands} bands, got input of shape {tuple(x.shape)}")
        h, w = x.shape[-2:]
        s = self.stem_stride
        if s > 1:
            pad_y, pad_x = (-h) % s, (-w) % s
            if pad_y or pad_x:
                x = F.pad(x, (0, pad_x, 0, pad_y))
            out = F.pixel_shuffle(self.net(F.pixel_unshuffle(x, s)), s)
            return out[..., :h, :w]
        return self.net(x)

    def probabilities(self, x: torch.Tensor, *, channels: Sequence[int] | None = None) -> torch.Tensor:
        """Sigmoid probabilities ``(b, n_categories, h, w)`` of a batch ``(b, n_bands, h, w)``.

        ``channels`` (category indices, 0-based) restricts the output to those maps.
        """
        logits = self.logits(x)
        if channels is not None:
            logits = logits[:, list(channels)]
        return torch.sigmoid(logits)

    def forward(self, images, targets=None):
        """Losses (training, needs ``targets``) or detections (eval); see the module docstring."""
        x = self._stack(images)
        if self.training:
            if targets is None:
                raise ValueError("targets are needed in training mode")
            truth = torch.stack([t["semantic"] for t in targets]).to(dtype=x.dtype)
            if truth.shape[1] != self.num_classes - 1 or truth.shape[-2:] != x.shape[-2:]:
                raise ValueError(f"targets' semantic masks must have shape ({self.num_classes - 1}, h, w), "
                                 f"got {tuple(truth.shape[1:])} for images {tuple(x.shape[-2:])}")
            logits = self.logits(x)
            pos_weight = None
            if self.pos_weight != 1.0:
                pos_weight = torch.full((logits.shape[1], 1, 1), self.pos_weight, dtype=x.dtype)
            # per-sample, per-category weights: 0 where a view is not asked to see a category
            cw = torch.stack([t["channel_weight"] if "channel_weight" in t else torch.ones(logits.shape[1])
                              for t in targets]).to(dtype=x.dtype)[:, :, None, None]
            bce_map = F.binary_cross_entropy_with_logits(logits, truth, pos_weight=pos_weight, reduction="none")
            bce = (bce_map * cw).sum() / (cw.sum() * logits.shape[2] * logits.shape[3]).clamp(min=1)
            prob = torch.sigmoid(logits) * cw
            truth = truth * cw
            inter = (prob * truth).sum(dim=(0, 2, 3))
            denom = prob.sum(dim=(0, 2, 3)) + truth.sum(dim=(0, 2, 3))
            present = truth.sum(dim=(0, 2, 3)) > 0
            dice = 1 - (2 * inter + 1) / (denom + 1)
            loss_dice = dice[present].mean() if present.any() else prob.mean() * 0
            return {"loss_bce": bce, "loss_dice": loss_dice}
        with torch.no_grad():
            prob = self.probabilities(x).cpu().numpy()
        out = []
        for p in prob:
            b, s, lab = regions_to_boxes(p, threshold=self.threshold, min_area_px=self.min_area_px,
                                         exclusive=self.exclusive, join_px=self.join_px)
            out.append({"boxes": torch.as_tensor(b, dtype=torch.float32),
                        "scores": torch.as_tensor(s, dtype=torch.float32),
                        "labels": torch.as_tensor(lab, dtype=torch.int64)})
        return out


@register_model("unet_boxes")
def unet_boxes(*, n_bands: int = 3, num_classes: int = _N_CLASSES, base_channels: int = 16, depth: int = 4,
               max_channels: int = 128, stem_stride: int = 1, threshold: float = 0.5, min_area_px: int = 4,
               pos_weight: float = 1.0, exclusive: bool = True, join_px: int = 2) -> SegmentationDetector:
    """Build a :class:`SegmentationDetector` (registered as ``"unet_boxes"``)."""
    return SegmentationDetector(n_bands=n_bands, num_classes=num_classes, base_channels=base_channels, depth=depth,
                                max_channels=max_channels, stem_stride=stem_stride, threshold=threshold,
                                min_area_px=min_area_px, pos_weight=pos_weight, exclusive=exclusive,
                                join_px=join_px)


#: Registered detector architectures (names for ``spacejunk train detector --arch``).
DETECTOR_ARCHS: tuple[str, ...] = ("frcnn_r50_fpn", "retinanet_r50_fpn", "frcnn_r18_fpn", "retinanet_r18_fpn",
                                   "frcnn_mbv3_fpn", "unet_boxes")

"""Focal-plane segmentation scored against annotator consensus; annotators scored the same way.

The reference of a picture is the consensus of its annotators (pixels marked by at
least half of them, :func:`spacejunk.io.focal_plane.consensus_mask`). A model is scored
against the consensus of all annotators; each annotator against the consensus of the
others, so model and people stand in one table. Cross-validation trains one model per
fold on the other folds' real pictures (plus simulated ones) and scores it on the
fold's pictures only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from ..categories import FOCAL_PLANE_CATEGORIES, FOCAL_PLANE_CODES
from ..io.focal_plane import AnnotatedImage, Region, consensus_mask
from .segmentation import pixel_scores

__all__ = [
    "score_mask",
    "annotator_scores",
    "fold_assignment",
    "evaluate_model",
    "CrossValidation",
    "cross_validate_focal_plane",
    "summarise",
    "markdown_report",
]

log = logging.getLogger("spacejunk")


def score_mask(codes: np.ndarray, reference: np.ndarray) -> dict[str, float]:
    """Scores of a code mask against a consensus.

    Parameters
    ----------
    codes : uint8 ``(ny, nx)``
        0 clean, else :data:`~spacejunk.categories.FOCAL_PLANE_CODES`.
    reference : bool ``(n_cat + 1, ny, nx)``
        Consensus per category then "any artifact" (from :func:`consensus_mask`).

    Returns
    -------
    dict
        ``iou``, ``precision``, ``recall`` of "any artifact", and ``iou_<category>`` per
        category (NaN where both the prediction and the reference of that category are
        empty, so medians skip it).
    """
    any_scores = pixel_scores(codes > 0, reference[-1])
    row: dict[str, float] = {"iou": any_scores.iou, "precision": any_scores.precision, "recall": any_scores.recall}
    for k, cat in enumerate(FOCAL_PLANE_CATEGORIES):
        pred = codes == FOCAL_PLANE_CODES[cat]
        ref = reference[k]
        row[f"iou_{cat}"] = float("nan") if not pred.any() and not ref.any() else pixel_scores(pred, ref).iou
    return row


def _codes_of(masks: np.ndarray) -> np.ndarray:
    """uint8 codes of one annotator's ``(n_cat, ny, nx)`` masks (the first category wins overlaps)."""
    codes = np.zeros(masks.shape[-2:], dtype=np.uint8)
    for k in reversed(range(masks.shape[0])):
        codes[masks[k]] = FOCAL_PLANE_CODES[FOCAL_PLANE_CATEGORIES[k]]
    return codes


def annotator_scores(data: Sequence[AnnotatedImage], *, min_fraction: float = 0.5) -> list[dict[str, Any]]:
    """Each annotator's scores against the consensus of the other annotators, per picture.

    Returns
    -------
    list of dict
        One row per picture and annotator: ``image``, ``annotator`` (1-based), and the
        keys of :func:`score_mask`. The "any artifact" score uses the annotator's union
        of categories.
    """
    rows = []
    for item in data:
        n = item.masks.shape[0]
        if n < 2:
            raise ValueError(f"{item.name}: need at least 2 annotators to score them, got {n}")
        for k in range(n):
            others = consensus_mask(np.delete(item.masks, k, axis=0), min_fraction=min_fraction)
            rows.append({"image": item.name, "annotator": k + 1, **score_mask(_codes_of(item.masks[k]), others)})
    return rows


def fold_assignment(names: Sequence[str], *, folds: int = 5, seed: int = 0) -> dict[str, int]:
    """Split pictures into ``folds`` folds of (nearly) equal size by a seeded shuffle.

    Returns
    -------
    dict
        ``{name: fold}`` with folds numbered from 1.
    """
    names = sorted(names)
    if not 2 <= folds <= len(names):
        raise ValueError(f"folds must be between 2 and the number of pictures ({len(names)}), got {folds}")
    order = np.random.default_rng(seed).permutation(len(names))
    return {names[i]: int(rank % folds) + 1 for rank, i in enumerate(order)}


def evaluate_model(model, data: Sequence[AnnotatedImage], *, threshold: float | None = None,
                   min_area: float | None = None, min_fraction: float = 0.5) -> list[dict[str, Any]]:
    """Score a focal-plane model on annotated pictures (rows as :func:`score_mask`, plus ``image``).

    ``threshold`` and ``min_area`` default to the model's own (:func:`segment_focal_plane`).
    """
    from ..focal_plane import segment_focal_plane

    rows = []
    for item in data:
        _, codes = segment_focal_plane(item.image, model=model, threshold=threshold, min_area=min_area)
        rows.append({"image": item.name, **score_mask(codes, item.consensus(min_fraction=min_fraction))})
    return rows


@dataclass
class CrossValidation:
    """Result of :func:`cross_validate_focal_plane`.

    Attributes
    ----------
    rows : list of dict
        Per picture: ``fold``, ``image``, the keys of :func:`score_mask`,
        ``iou_at`` = {threshold: IoU} for the thresholds asked for (holes not filled),
        and ``iou_no_fill`` (at the model's threshold, holes not filled).
    folds : dict
        ``{fold: {"images": [...], "train_seconds": s, "median_iou": m}}``.
    config : dict
        The training settings.
    probabilities : dict
        ``{image: float16 (ny, nx)}``: each picture's probability of "any artifact"
        from the model that did not see it.
    pretrained : FocalPlaneModel or None
        The simulation-only model the folds started from (``pretrain_steps > 0``);
        fold 0 of :attr:`folds` records its training time.
    models : dict
        ``{fold: FocalPlaneModel}``: each fold's trained model.
    """

    rows: list = field(default_factory=list)
    folds: dict = field(default_factory=dict)
    config: dict = field(default_factory=dict)
    probabilities: dict = field(default_factory=dict, repr=False)
    pretrained: Any = field(default=None, repr=False)
    models: dict = field(default_factory=dict, repr=False)


def cross_validate_focal_plane(data: Sequence[AnnotatedImage], *, folds: int = 5, config=None,
                               region_sets: Sequence[Sequence[Region]] | None = None, seed: int = 0,
                               thresholds: Sequence[float] = (0.3, 0.4, 0.5, 0.6, 0.7),
                               only_folds: Sequence[int] | None = None, pretrain_steps: int = 0,
                               init=None, fold_models: Mapping[int, Any] | None = None,
                               quiet: bool = False) -> CrossValidation:
    """K-fold cross-validation of the focal-plane training on annotated real pictures.

    Parameters
    ----------
    data : sequence of AnnotatedImage
        The annotated pictures (e.g. the 20 DeepGhostBusters common-core images).
    folds : int, optional
        Number of folds (default 5). A fold's pictures are never trained on by the
        model that scores them; simulated pictures are always used.
    config : FocalPlaneTrainConfig, optional
        Training settings (its seed is combined with the fold number).
    region_sets : optional
        Real label sets for the simulator (see :func:`train_focal_plane`).
    seed : int, optional
        Seed of the fold split.
    thresholds : sequence of float, optional
        Extra thresholds at which the "any artifact" IoU is also recorded (the
        reported figures use the model's own threshold).
    only_folds : sequence of int, optional
        Run these folds only (1-based).
    pretrain_steps : int, optional
        If > 0, first train one model on simulated pictures only for this many steps
        (it sees no real picture, so all folds may share it) and start every fold's
        training from it.
    init : FocalPlaneModel, optional
        Start every fold from this model instead (it must not have seen any of
        ``data``, e.g. a simulation-only model saved earlier).
    fold_models : mapping of int to FocalPlaneModel, optional
        Score these models, one per fold (as :attr:`CrossValidation.models` of an earlier
        run with the same ``folds`` and ``seed``), instead of training them; they take
        the ``threshold`` and ``min_area`` of ``config``; with ``config.pupil_ghosts``
        those without pupil-ghost settings get them calibrated on the fold's training
        pictures, without it none keeps them; the same for ``config.strokes``. Scoring
        again at other settings costs seconds instead of a training per fold.
    quiet : bool, optional
        No progress bars.
    """
    import dataclasses

    from ..focal_plane import segment_focal_plane
    from ..train.focal_plane import (FocalPlaneTrainConfig, calibrate_pupil, calibrate_strokes, pretrain_focal_plane,
                                     train_focal_plane)

    config = config or FocalPlaneTrainConfig()
    assign = fold_assignment([d.name for d in data], folds=folds, seed=seed)
    result = CrossValidation(config=dataclasses.asdict(config))
    probs = result.probabilities
    if init is not None and init.meta.get("real_images"):
        raise ValueError("init model was trained on real pictures; cross-validation needs one that was not")
    result.pretrained = init
    if init is None and pretrain_steps > 0:
        log.info("pre-training on simulated pictures only: %d steps", pretrain_steps)
        pre = pretrain_focal_plane(config, pretrain_steps, region_sets=region_sets, quiet=quiet)
        init = pre.model
        result.folds[0] = {"images": [], "train_seconds": round(pre.seconds, 1), "median_iou": float("nan"),
                           "final_loss": float(np.mean(pre.losses[-50:]))}
        result.pretrained = init
    for fold in range(1, folds + 1):
        if only_folds and fold not in only_folds:
            continue
        test = [d for d in data if assign[d.name] == fold]
        train = [d for d in data if assign[d.name] != fold]
        log.info("fold %d/%d: training on %d real pictures, testing on %s", fold, folds, len(train),
                 ", ".join(d.name for d in test))
        fold_config = dataclasses.replace(config, seed=config.seed * 1000 + fold,
                                          sim_seed=config.seed if config.sim_seed is None else config.sim_seed)
        if fold_models is not None:
            if fold not in fold_models:
                raise ValueError(f"fold_models has no model for fold {fold}")
            model = dataclasses.replace(fold_models[fold], threshold=config.threshold, min_area=config.min_area,
                                        views=config.views)
            if not config.pupil_ghosts:
                model = dataclasses.replace(model, pupil=None)
            elif model.pupil is None:  # calibrated on this fold's training pictures
                model = dataclasses.replace(model, pupil=calibrate_pupil(train, region_sets=region_sets))
            if not config.strokes:
                model = dataclasses.replace(model, strokes=None)
            elif model.strokes is None:
                model = dataclasses.replace(model, strokes=calibrate_strokes(train, pupil=model.pupil))
            seconds, losses = float(model.meta.get("train_seconds", 0.0)), [float("nan")]
        else:
            trained = train_focal_plane(train, config=fold_config, region_sets=region_sets, init=init, quiet=quiet)
            model, seconds, losses = trained.model, trained.seconds, trained.losses
        result.models[fold] = model
        ious = []
        for item in test:
            ref = item.consensus()
            prob, codes = segment_focal_plane(item.image, model=model)
            row = {"fold": fold, "image": item.name, **score_mask(codes, ref)}
            p_any = prob.sum(0)
            row["iou_at"] = {float(t): pixel_scores(p_any >= t, ref[-1]).iou for t in thresholds}
            row["iou_no_fill"] = pixel_scores(p_any >= model.threshold, ref[-1]).iou
            probs[item.name] = p_any.astype(np.float16)
            result.rows.append(row)
            ious.append(row["iou"])
        result.folds[fold] = {"images": [d.name for d in test], "train_seconds": round(seconds, 1),
                              "median_iou": float(np.median(ious)), "final_loss": float(np.mean(losses[-50:]))}
        log.info("fold %d: median IoU %.3f (%s)", fold, np.median(ious), ", ".join(f"{v:.2f}" for v in ious))
    return result


def summarise(rows: Sequence[dict[str, Any]]) -> dict[str, float]:
    """Medians (NaN-skipping) of the score columns of ``rows``."""
    out: dict[str, float] = {"n": float(len(rows))}
    for key in ("iou", "precision", "recall", *(f"iou_{c}" for c in FOCAL_PLANE_CATEGORIES)):
        vals = np.array([r[key] for r in rows if key in r], dtype=float)
        vals = vals[np.isfinite(vals)]
        out[key] = float(np.median(vals)) if vals.size else float("nan")
        if key == "iou":
            out["mean_iou"] = float(np.mean(vals)) if vals.size else float("nan")
    return out


def _fmt(v: float) -> str:
    return "–" if v is None or not np.isfinite(v) else f"{v:.3f}"


def markdown_report(model_rows: Sequence[dict[str, Any]], annotator_rows: Sequence[dict[str, Any]], *,
                    folds: dict | None = None, title: str = "Model", command: str = "") -> str:
    """Markdown tables: per picture model vs annotators, per fold, per category.

    Parameters
    ----------
    model_rows : rows of :func:`evaluate_model` or :attr:`CrossValidation.rows`
    annotator_rows : rows of :func:`annotator_scores`
    folds : dict, optional
        :attr:`CrossValidation.folds`, for the per-fold table.
    title : str
        Name of the model column.
    command : str
        The command that made the tables (printed above them).
    """
    lines: list[str] = []
    if command:
        lines += ["Made by:", "", "```", command, "```", ""]
    n_annot = max((r["annotator"] for r in annotator_rows), default=0)
    by_img: dict[str, dict[int, float]] = {}
    for r in annotator_rows:
        by_img.setdefault(r["image"], {})[r["annotator"]] = r["iou"]
    model_by_img = {r["image"]: r for r in model_rows}
    head = ["image"] + (["fold"] if folds else []) + [title] + [f"A{k}" for k in range(1, n_annot + 1)] + \
        ["annotators' median"]
    lines += ["### Pixel IoU of any artifact against the consensus, per picture", "",
              "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name in sorted(set(by_img) | set(model_by_img)):
        m = model_by_img.get(name, {})
        a = by_img.get(name, {})
        cells = [name.replace("Ghost_img_", "")] + ([str(m.get("fold", ""))] if folds else []) + \
            [_fmt(m.get("iou", float("nan")))] + [_fmt(a.get(k, float("nan"))) for k in range(1, n_annot + 1)] + \
            [_fmt(float(np.median(list(a.values()))) if a else float("nan"))]
        lines.append("| " + " | ".join(cells) + " |")
    med_cells = ["**median**"] + ([""] if folds else []) + [f"**{_fmt(summarise(model_rows)['iou'])}**"]
    for k in range(1, n_annot + 1):
        med_cells.append(_fmt(summarise([r for r in annotator_rows if r["annotator"] == k])["iou"]))
    med_cells.append(f"**{_fmt(summarise(annotator_rows)['iou'])}**")
    lines += ["| " + " | ".join(med_cells) + " |", ""]
    if folds:
        lines += ["### Per fold", "", "| fold | pictures | median IoU | training time (s) |", "|---|---|---|---|"]
        for fold, info in sorted(folds.items()):
            if not info["images"]:
                lines.append(f"| pre-training | simulated only, shared by the folds | – | {info['train_seconds']:.0f} |")
                continue
            pics = ", ".join(n.replace("Ghost_img_", "").replace(".jpg", "") for n in info["images"])
            lines.append(f"| {fold} | {pics} | {_fmt(info['median_iou'])} | {info['train_seconds']:.0f} |")
        lines.append("")
    sm, sa = summarise(model_rows), summarise(annotator_rows)
    lines += ["### Medians over pictures (categories: pictures where the prediction or the consensus has it)", "",
              "| who | IoU any | mean IoU any | precision | recall | " +
              " | ".join(f"IoU {c}" for c in FOCAL_PLANE_CATEGORIES) + " |",
              "|---|---|---|---|---|" + "---|" * len(FOCAL_PLANE_CATEGORIES)]
    for who, s in ((title, sm), ("annotators (each vs the others)", sa)):
        lines.append(f"| {who} | {_fmt(s['iou'])} | {_fmt(s['mean_iou'])} | {_fmt(s['precision'])} | "
                     f"{_fmt(s['recall'])} | " + " | ".join(_fmt(s[f'iou_{c}']) for c in FOCAL_PLANE_CATEGORIES) + " |")
    lines.append("")
    if model_rows and "iou_at" in model_rows[0]:
        ts = sorted(model_rows[0]["iou_at"])
        lines += ["### Threshold sensitivity (median IoU any, holes not filled; the model's threshold and "
                  "hole filling are used above)", "",
                  "| threshold | " + " | ".join(f"{t:g}" for t in ts) + " |", "|---|" + "---|" * len(ts),
                  "| median IoU | " + " | ".join(_fmt(float(np.median([r['iou_at'][t] for r in model_rows])))
                                                for t in ts) + " |", ""]
        if "iou_no_fill" in model_rows[0]:
            lines += [f"Median IoU at the model's threshold without filling holes: "
                      f"{_fmt(float(np.median([r['iou_no_fill'] for r in model_rows])))}.", ""]
    return "\n".join(lines)

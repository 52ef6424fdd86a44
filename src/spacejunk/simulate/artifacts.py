"""The artifact generators by category, and the random mix of a realistic image."""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from ..categories import CATEGORIES, check_category
from ._scene import Footprint, Scene
from .artifacts_detector import (
    inject_column_mask,
    inject_cross_talk,
    inject_edge_bleed,
    inject_other,
    inject_tape_bump,
)
from .artifacts_optics import (
    inject_bright_arc,
    inject_bright_spray,
    inject_brush_strokes,
    inject_dark_halo,
    inject_ghost,
)
from .artifacts_trails import inject_airplane, inject_cosmic_ray, inject_satellite

__all__ = ["GENERATORS", "ARTIFACT_RATES", "CLEAN_FRACTION", "draw_artifact_mix", "resolve_artifacts", "inject"]

Generator = Callable[..., list[Footprint]]

#: The generator of each category: ``gen(scene, rng, *, scale) -> list[Footprint]``.
GENERATORS: dict[str, Generator] = {
    "ghost": inject_ghost,
    "bright-arc": inject_bright_arc,
    "bright-spray": inject_bright_spray,
    "brush-strokes": inject_brush_strokes,
    "satellite": inject_satellite,
    "airplane": inject_airplane,
    "cosmic-ray": inject_cosmic_ray,
    "edge-bleed": inject_edge_bleed,
    "cross-talk": inject_cross_talk,
    "column-mask": inject_column_mask,
    "tape-bump": inject_tape_bump,
    "dark-halo": inject_dark_halo,
    "other": inject_other,
}

#: Relative frequency of each category in the random mix. Ghosts and scattered light
#: dominate the DES Exposure Checker's reports and the DeepGhostBusters sample;
#: satellites are the commonest trails; the rest are rarer detector problems.
ARTIFACT_RATES: dict[str, float] = {
    "ghost": 0.18,
    "bright-arc": 0.06,
    "bright-spray": 0.08,
    "brush-strokes": 0.05,
    "satellite": 0.12,
    "airplane": 0.04,
    "cosmic-ray": 0.10,
    "edge-bleed": 0.05,
    "cross-talk": 0.06,
    "column-mask": 0.08,
    "tape-bump": 0.06,
    "dark-halo": 0.05,
    "other": 0.07,
}

#: Share of images of the random mix without any artifact.
CLEAN_FRACTION: float = 0.15


def draw_artifact_mix(rng: np.random.Generator) -> list[str]:
    """Categories of the artifacts of one image of the random mix.

    ``CLEAN_FRACTION`` of the images have none; the others ``1 + Poisson(1.2)`` (at most
    6), each drawn with :data:`ARTIFACT_RATES`.
    """
    if rng.random() < CLEAN_FRACTION:
        return []
    n = min(1 + int(rng.poisson(1.2)), 6)
    names = list(ARTIFACT_RATES)
    p = np.array([ARTIFACT_RATES[c] for c in names])
    return [names[i] for i in rng.choice(len(names), size=n, p=p / p.sum())]


def resolve_artifacts(artifacts: str | Sequence[str] | None, rng: np.random.Generator) -> list[str]:
    """The categories to inject: ``"random"`` draws the mix, None gives none, names are checked.

    Raises
    ------
    ValueError
        On an unknown category (the message lists the choices).
    TypeError
        When ``artifacts`` is neither None, a string nor a sequence of strings.
    """
    if artifacts is None:
        return []
    if isinstance(artifacts, str):
        if artifacts.strip().lower() == "random":
            return draw_artifact_mix(rng)
        artifacts = [artifacts]
    try:
        items = list(artifacts)
    except TypeError:
        raise TypeError(f"artifacts: expected 'random', None, a category or a list of them, got {artifacts!r}") \
            from None
    out = []
    for item in items:
        if not isinstance(item, str):
            raise TypeError(f"artifacts: expected category names, got {item!r}")
        try:
            out.append(check_category(item, allowed=CATEGORIES))
        except ValueError as err:
            raise ValueError(f"artifacts: {err}") from None
    return out


def inject(scene: Scene, categories: Sequence[str], seed_sequence: np.random.SeedSequence, *,
           scale: float) -> list[Footprint]:
    """Run the generator of each category, each with its own random stream; all footprints."""
    footprints: list[Footprint] = []
    for category, child in zip(categories, seed_sequence.spawn(len(categories))):
        footprints.extend(GENERATORS[category](scene, np.random.default_rng(child), scale=scale))
    return footprints

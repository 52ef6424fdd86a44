"""Artifact categories, DESDM mask bits and the output mask codes."""

from __future__ import annotations

__all__ = [
    "CATEGORIES",
    "FOCAL_PLANE_CATEGORIES",
    "FOCAL_PLANE_CODES",
    "DESDM_BITS",
    "FLAGGED_BITS",
    "CATEGORY_BITS",
    "LABEL_RADIUS_PX",
    "CATEGORY_COLORS",
    "category_hex",
    "check_category",
]

#: Categories of the DES Exposure Checker (CCD level), lower case and hyphenated.
CATEGORIES: tuple[str, ...] = (
    "ghost",
    "bright-arc",
    "bright-spray",
    "brush-strokes",
    "satellite",
    "airplane",
    "cosmic-ray",
    "edge-bleed",
    "cross-talk",
    "column-mask",
    "tape-bump",
    "dark-halo",
    "other",
)

#: The three kinds of the real focal-plane labels (DeepGhostBusters ``Type``).
FOCAL_PLANE_CATEGORIES: tuple[str, ...] = ("ghost-bright", "ghost-faint", "rays")

#: 8-bit codes of ``<stem>_mask.png`` in focal-plane mode (0 = clean).
FOCAL_PLANE_CODES: dict[str, int] = {"ghost-bright": 1, "ghost-faint": 2, "rays": 3}

#: DESDM mask bits as written in the ``MSK`` layer.
DESDM_BITS: dict[str, int] = {
    "BPM": 1,
    "SATURATE": 2,
    "INTERP": 4,
    "BADAMP": 8,
    "CRAY": 16,
    "STAR": 32,
    "TRAIL": 64,
    "EDGEBLEED": 128,
    "SSXTALK": 256,
    "EDGE": 512,
    "STREAK": 1024,
    "SUSPECT": 2048,
    "FIXED": 4096,
    "NEAREDGE": 8192,
    "TAPEBUMP": 16384,
}

#: DESDM mask bits of pixels DESDM has already dealt with (bad pixels, saturated cores and
#: their bleed trails, which DESDM sets to the sky): a detection lying on them is not news
#: (:func:`spacejunk.predict.detector.drop_flagged`), and a classifier can be trained not to
#: look at them (``spacejunk train classifier --mask-flagged``).
FLAGGED_BITS: int = DESDM_BITS["BPM"] | DESDM_BITS["SATURATE"] | DESDM_BITS["TRAIL"]

#: Bit of each category in ``<image>_mask.fits`` (int32). DESDM's value is reused
#: where DESDM has one; the others use bits 16 and up, which DESDM does not use.
CATEGORY_BITS: dict[str, int] = {
    "column-mask": DESDM_BITS["BPM"],
    "cosmic-ray": DESDM_BITS["CRAY"],
    "edge-bleed": DESDM_BITS["EDGEBLEED"],
    "cross-talk": DESDM_BITS["SSXTALK"],
    "satellite": DESDM_BITS["STREAK"],
    "tape-bump": DESDM_BITS["TAPEBUMP"],
    "ghost": 1 << 16,
    "bright-arc": 1 << 17,
    "bright-spray": 1 << 18,
    "brush-strokes": 1 << 19,
    "airplane": 1 << 20,
    "dark-halo": 1 << 21,
    "other": 1 << 22,
}

#: Radius of a volunteer mark without an explicit ``radius`` column.
LABEL_RADIUS_PX: dict[str, float] = {"small": 25.0, "medium": 75.0}


#: One colour per category (none of them the mask's magenta), bright on a dark sky.
CATEGORY_COLORS: dict[str, tuple[int, int, int]] = {
    "ghost": (0, 255, 255),
    "bright-arc": (255, 165, 0),
    "bright-spray": (255, 215, 0),
    "brush-strokes": (173, 255, 47),
    "satellite": (0, 255, 0),
    "airplane": (30, 144, 255),
    "cosmic-ray": (255, 60, 60),
    "edge-bleed": (255, 105, 180),
    "cross-talk": (160, 120, 255),
    "column-mask": (210, 180, 140),
    "tape-bump": (127, 255, 212),
    "dark-halo": (192, 192, 192),
    "other": (255, 255, 0),
    "ghost-bright": (0, 255, 255),
    "ghost-faint": (0, 150, 255),
    "rays": (255, 165, 0),
}


def category_hex(category: str, *, default: tuple[int, int, int] = (255, 255, 0)) -> str:
    """``#rrggbb`` colour of ``category`` (as DS9 regions want it)."""
    r, g, b = CATEGORY_COLORS.get(category, default)
    return f"#{r:02x}{g:02x}{b:02x}"


def check_category(name: str, *, allowed: tuple[str, ...] = CATEGORIES + FOCAL_PLANE_CATEGORIES) -> str:
    """Return ``name`` normalised (lower case, hyphens) or raise ValueError naming the choices."""
    norm = str(name).strip().lower().replace("_", "-").replace(" ", "-")
    if norm not in allowed:
        raise ValueError(f"unknown category {name!r}; expected one of: {', '.join(allowed)}")
    return norm

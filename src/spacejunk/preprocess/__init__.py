"""Normalisation, RGB composites, tiling, tile labels and drawing."""

from .draw import CATEGORY_COLORS, draw_artifacts, draw_tiles, save_png
from .normalise import BACKGROUNDS, amplifier_step, bin_image, normalise, sky_and_noise, sky_planes
from .rgb import MASK_COLOR, RGB_STRETCHES, binning_factor, make_rgb, rgb_bands
from .tiling import cut_tiles, tile_fractions, tile_grid, tile_labels

__all__ = [
    "BACKGROUNDS",
    "CATEGORY_COLORS",
    "MASK_COLOR",
    "RGB_STRETCHES",
    "amplifier_step",
    "bin_image",
    "binning_factor",
    "cut_tiles",
    "draw_artifacts",
    "draw_tiles",
    "make_rgb",
    "normalise",
    "rgb_bands",
    "save_png",
    "sky_and_noise",
    "sky_planes",
    "tile_fractions",
    "tile_grid",
    "tile_labels",
]

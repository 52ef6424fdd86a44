"""DECam-like CCD images with injected artifacts and their truth."""

from .artifacts import ARTIFACT_RATES, CLEAN_FRACTION, GENERATORS
from .conditions import BAND_SPECS, BANDS, PIXEL_SCALE_ARCSEC, BandConditions, draw_conditions
from .dataset import image_name, image_seed, simulate_dataset
from .focal_plane import SimulatedFocalPlane, decam_layout, simulate_focal_plane
from .image import SimulatedImage, simulate_image

__all__ = [
    "ARTIFACT_RATES",
    "CLEAN_FRACTION",
    "GENERATORS",
    "BAND_SPECS",
    "BANDS",
    "PIXEL_SCALE_ARCSEC",
    "BandConditions",
    "draw_conditions",
    "image_name",
    "image_seed",
    "simulate_dataset",
    "SimulatedImage",
    "simulate_image",
]
__all__ += ["SimulatedFocalPlane", "decam_layout", "simulate_focal_plane"]

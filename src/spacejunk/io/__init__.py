"""Reading exposures and labels; writing catalogs, masks and regions."""

from .artifact import ARTIFACT_COLUMNS, Artifact
from .exposure import BAND_ORDER, Exposure, find_images, read_exposure, write_exposure
from .focal_plane import (AnnotatedImage, Region, consensus_mask, read_annotated_images, read_des_ghosts,
                          read_focal_plane_image, read_via, regions_to_mask)
from .labels import LABEL_COLUMNS, labels_to_category_mask, labels_to_mask, read_labels, write_labels
from .outputs import (
    TILE_COLUMNS,
    read_artifacts,
    read_mask_fits,
    read_tiles,
    write_artifacts,
    write_mask_fits,
    write_regions,
    write_tiles,
)

__all__ = [
    "ARTIFACT_COLUMNS", "Artifact", "BAND_ORDER", "Exposure", "find_images", "read_exposure", "write_exposure",
    "LABEL_COLUMNS", "labels_to_category_mask", "labels_to_mask", "read_labels", "write_labels",
    "TILE_COLUMNS", "read_artifacts", "read_mask_fits", "read_tiles", "write_artifacts",
    "write_mask_fits", "write_regions", "write_tiles",
]
__all__ += ["AnnotatedImage", "Region", "consensus_mask", "read_annotated_images", "read_des_ghosts",
            "read_focal_plane_image", "read_via", "regions_to_mask"]

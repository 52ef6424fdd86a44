"""Reading exposures and labels; writing catalogs, masks and regions."""

from .artifact import ARTIFACT_COLUMNS, Artifact
from .exposure import Exposure

__all__ = ["ARTIFACT_COLUMNS", "Artifact", "Exposure"]

"""spacejunk: find artifacts ("space junk") in Dark Energy Survey images."""

from ._errors import InputError, NoArtifactsWarning, SpacejunkWarning

__version__ = "0.1.0"

__all__ = ["InputError", "NoArtifactsWarning", "SpacejunkWarning", "__version__", "detect"]


def detect(*args, **kwargs):
    """Detect artifacts in images; see :func:`spacejunk.pipeline.detect`."""
    from .pipeline import detect as _detect

    return _detect(*args, **kwargs)

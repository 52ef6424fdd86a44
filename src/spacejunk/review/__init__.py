"""The review web app: people check the model's marks; the queue puts the least certain images first."""

from .proposals import Proposal, as_proposal, pipeline_proposer, propose_images
from .queue import binary_entropy, image_features, image_uncertainty, mark_uncertainty, review_order
from .store import DECISIONS, SOURCES, STORE_NAME, ConflictError, ImageState, Mark, ReviewStore

__all__ = [
    "DECISIONS",
    "SOURCES",
    "STORE_NAME",
    "ConflictError",
    "ImageState",
    "Mark",
    "Proposal",
    "ReviewStore",
    "as_proposal",
    "binary_entropy",
    "create_app",
    "image_features",
    "image_uncertainty",
    "mark_uncertainty",
    "open_review",
    "pipeline_proposer",
    "propose_images",
    "review_order",
    "serve",
]


def create_app(*args, **kwargs):
    """The review app; see :func:`spacejunk.review.server.create_app` (imports FastAPI on first use)."""
    from .server import create_app as _create_app

    return _create_app(*args, **kwargs)


def open_review(*args, **kwargs):
    """Open a folder for review; see :func:`spacejunk.review.server.open_review`."""
    from .server import open_review as _open_review

    return _open_review(*args, **kwargs)


def serve(*args, **kwargs):
    """Serve the review page; see :func:`spacejunk.review.server.serve`."""
    from .server import serve as _serve

    return _serve(*args, **kwargs)

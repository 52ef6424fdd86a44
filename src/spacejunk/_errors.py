"""Exceptions and warnings shared by every stage of spacejunk."""

from __future__ import annotations

from os import PathLike

__all__ = ["InputError", "SpacejunkWarning", "NoArtifactsWarning", "BadPixelsWarning"]


class InputError(ValueError):
    """Bad user input: names the file (when there is one) and what is wrong with it.

    Parameters
    ----------
    path : str or path-like or None
        The file at fault, or None where the problem is not tied to one file.
    problem : str
        What is wrong, in words a user can act on.
    """

    def __init__(self, path: str | PathLike | None, problem: str):
        self.path = None if path is None else str(path)
        self.problem = problem
        super().__init__(problem if path is None else f"{self.path}: {problem}")


class SpacejunkWarning(UserWarning):
    """Base class of the warnings spacejunk emits."""


class NoArtifactsWarning(SpacejunkWarning):
    """Nothing was found; the result is empty (finding nothing is not an error)."""


class BadPixelsWarning(SpacejunkWarning):
    """Non-finite pixels were found in the data and have been masked."""

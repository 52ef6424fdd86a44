"""Exceptions and warnings shared by every stage of spacejunk."""

from __future__ import annotations

import threading
import warnings
from contextlib import contextmanager
from os import PathLike

__all__ = ["InputError", "SpacejunkWarning", "NoArtifactsWarning", "BadPixelsWarning", "quiet_runtime_warnings"]


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


_quiet_lock = threading.Lock()
_quiet_depth = 0
_quiet_saved: list = []


@contextmanager
def quiet_runtime_warnings():
    """Ignore numpy's ``RuntimeWarning`` (an all-NaN slice, a mean of nothing) inside the block.

    ``warnings.catch_warnings`` is not thread-safe: two threads inside it at once (the
    finders run side by side, :func:`spacejunk.predict.finders.in_threads`) restore each
    other's filters and can leave the warnings of the whole process silenced. Here the
    first thread in sets the filter and the last one out restores the filters as they were;
    while any thread is inside, every thread's ``RuntimeWarning`` is ignored.
    """
    global _quiet_depth, _quiet_saved
    with _quiet_lock:
        if _quiet_depth == 0:
            _quiet_saved = list(warnings.filters)
            warnings.simplefilter("ignore", RuntimeWarning)
        _quiet_depth += 1
    try:
        yield
    finally:
        with _quiet_lock:
            _quiet_depth -= 1
            if _quiet_depth == 0:
                warnings.filters[:] = _quiet_saved
                getattr(warnings, "_filters_mutated", lambda: None)()

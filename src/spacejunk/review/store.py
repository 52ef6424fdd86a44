"""The review store: marks and per-image review state in SQLite (``DIR/review.sqlite``, WAL mode).

Every change is one SQLite transaction (``BEGIN IMMEDIATE`` ... ``COMMIT``) on a
connection of its own, committed before the method returns, so several threads or
processes (two reviewers, two servers) can write at once and a killed server loses
nothing it has acknowledged. Every change to a mark is also written to ``history``.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np

from ..categories import CATEGORIES, LABEL_RADIUS_PX
from ..io.artifact import Artifact
from . import queue

__all__ = [
    "STORE_NAME",
    "SOURCES",
    "DECISIONS",
    "Mark",
    "ImageState",
    "ReviewStore",
    "ConflictError",
    "check_reviewer",
    "utc_now",
]

#: File name of the store inside the reviewed folder.
STORE_NAME = "review.sqlite"

#: Who made a mark.
SOURCES: tuple[str, ...] = ("model", "person")

#: What a reviewer said about a mark.
DECISIONS: tuple[str, ...] = ("pending", "accepted", "rejected", "deleted")

#: Longest reviewer name, characters.
MAX_REVIEWER_CHARS = 64

_SCHEMA_VERSION = "1"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS images (
    name        TEXT PRIMARY KEY,
    ny          INTEGER NOT NULL CHECK (ny > 0),
    nx          INTEGER NOT NULL CHECK (nx > 0),
    bands       TEXT NOT NULL,
    model       TEXT NOT NULL,
    threshold   REAL NOT NULL,
    proposed_at TEXT NOT NULL,
    uncertainty REAL NOT NULL,
    features    TEXT NOT NULL,
    status      TEXT NOT NULL DEFAULT 'todo' CHECK (status IN ('todo', 'done')),
    reviewed_by TEXT,
    reviewed_at TEXT,
    claimed_by  TEXT,
    claimed_at  TEXT
);
CREATE TABLE IF NOT EXISTS tiles (
    image TEXT NOT NULL REFERENCES images(name),
    x0 INTEGER NOT NULL, y0 INTEGER NOT NULL, x1 INTEGER NOT NULL, y1 INTEGER NOT NULL,
    score REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS tiles_image ON tiles(image);
CREATE TABLE IF NOT EXISTS marks (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    image    TEXT NOT NULL REFERENCES images(name),
    x        REAL NOT NULL,
    y        REAL NOT NULL,
    radius   REAL NOT NULL CHECK (radius > 0),
    category TEXT NOT NULL,
    source   TEXT NOT NULL CHECK (source IN ('model', 'person')),
    decision TEXT NOT NULL CHECK (decision IN ('pending', 'accepted', 'rejected', 'deleted')),
    score    REAL,
    reviewer TEXT,
    time     TEXT NOT NULL,
    created  TEXT NOT NULL,
    version  INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS marks_image ON marks(image);
CREATE TABLE IF NOT EXISTS history (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    image    TEXT NOT NULL,
    mark     INTEGER,
    action   TEXT NOT NULL,
    reviewer TEXT,
    time     TEXT NOT NULL,
    detail   TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS history_image ON history(image);
"""


class ConflictError(RuntimeError):
    """A mark changed since the caller read it (its ``version`` moved on)."""


def utc_now() -> str:
    """The time now, UTC, ISO 8601 to the millisecond (``2025-01-31T12:00:00.000+00:00``)."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class Mark:
    """One mark on one image, as stored.

    Attributes
    ----------
    id : int
        Row id, unique in the store.
    image : str
        Image name.
    x, y, radius : float
        Circle centre and radius, 0-based pixels.
    category : str
        One of :data:`spacejunk.categories.CATEGORIES`.
    source : {"model", "person"}
        Proposed by the model, or added by a reviewer.
    decision : {"pending", "accepted", "rejected", "deleted"}
        What a reviewer said; a person's mark starts ``accepted``.
    score : float or None
        The model's confidence; None for a person's mark.
    reviewer : str or None
        Who made the last change (None for an untouched proposal).
    time : str
        UTC ISO time of the last change.
    created : str
        UTC ISO time the mark was made.
    version : int
        Starts at 1, +1 on every change (for optimistic concurrency).
    """

    id: int
    image: str
    x: float
    y: float
    radius: float
    category: str
    source: str
    decision: str
    score: float | None
    reviewer: str | None
    time: str
    created: str
    version: int

    def to_artifact(self, shape: tuple[int, int] | None = None) -> Artifact:
        """The mark as an :class:`~spacejunk.io.Artifact` (box clipped to ``shape`` if given)."""
        return Artifact.from_circle(self.image, self.x, self.y, self.radius, shape=shape,
                                    score=1.0 if self.score is None else self.score, category=self.category)

    def as_dict(self) -> dict:
        """JSON-ready dict of the fields."""
        return dict(self.__dict__)


@dataclass(frozen=True)
class ImageState:
    """One image's review state.

    Attributes
    ----------
    name : str
        Image name.
    shape : (int, int)
        (ny, nx), pixels.
    bands : tuple of str
        Bands of the image.
    model : str
        What proposed the marks.
    threshold : float
        The proposer's score threshold.
    proposed_at : str
        UTC ISO time the proposals were stored.
    uncertainty : float
        Queue uncertainty (:func:`spacejunk.review.queue.image_uncertainty`).
    features : tuple of float
        Queue features (:func:`spacejunk.review.queue.image_features`).
    status : {"todo", "done"}
        Whether a reviewer has finished the image.
    reviewed_by, reviewed_at : str or None
        Who finished it and when.
    claimed_by, claimed_at : str or None
        Who opened it last and when (so two reviewers are not sent the same image).
    n_marks, n_pending : int
        Marks not deleted, and model marks still pending.
    """

    name: str
    shape: tuple[int, int]
    bands: tuple[str, ...]
    model: str
    threshold: float
    proposed_at: str
    uncertainty: float
    features: tuple[float, ...]
    status: str
    reviewed_by: str | None
    reviewed_at: str | None
    claimed_by: str | None
    claimed_at: str | None
    n_marks: int
    n_pending: int

    def as_dict(self) -> dict:
        """JSON-ready dict of the fields (without the feature vector)."""
        d = dict(self.__dict__)
        d.pop("features")
        d["ny"], d["nx"] = d.pop("shape")
        d["bands"] = list(self.bands)
        return d


def check_reviewer(reviewer: str | None) -> str:
    """``reviewer`` stripped; ValueError if empty, too long or with control characters."""
    if not isinstance(reviewer, str):
        raise TypeError(f"reviewer must be a string, got {type(reviewer).__name__}")
    name = reviewer.strip()
    if not name:
        raise ValueError("reviewer must not be empty")
    if len(name) > MAX_REVIEWER_CHARS:
        raise ValueError(f"reviewer must be at most {MAX_REVIEWER_CHARS} characters, got {len(name)}")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        raise ValueError("reviewer must not contain control characters")
    return name


def _check_number(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return value


class ReviewStore:
    """Marks, tile scores and review state of the images of one folder, in SQLite.

    Parameters
    ----------
    path : str or path-like
        The database file (created with its tables if absent), usually
        ``DIR/review.sqlite`` (:data:`STORE_NAME`).
    timeout : float, optional
        Seconds a writer waits for another writer's lock before failing (default 30).

    Notes
    -----
    The store holds no open connection between calls: each method opens one, works in a
    single transaction and closes it, so one store object can be shared by threads and
    any number of processes can open the same file. The database is in WAL mode with
    ``synchronous=FULL``: a committed change survives a killed process (and a power cut).
    """

    def __init__(self, path: str | os.PathLike, *, timeout: float = 30.0):
        self.path = Path(path)
        self.timeout = float(timeout)
        with self._connect() as con:
            mode = con.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise RuntimeError(f"{self.path}: could not switch SQLite to WAL mode (got {mode!r})")
        with self._write() as con:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    con.execute(statement)
            con.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', ?)", (_SCHEMA_VERSION,))
            con.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('created', ?)", (utc_now(),))

    # ------------------------------------------------------------------ connections
    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        con = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None, check_same_thread=True)
        try:
            con.row_factory = sqlite3.Row
            con.execute("PRAGMA synchronous=FULL")
            con.execute("PRAGMA foreign_keys=ON")
            con.execute(f"PRAGMA busy_timeout={int(self.timeout * 1000)}")
            yield con
        finally:
            con.close()

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """A connection inside ``BEGIN IMMEDIATE``: committed on success, rolled back on error."""
        with self._connect() as con:
            con.execute("BEGIN IMMEDIATE")  # waits up to `timeout` for other writers
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

    @contextlib.contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """A connection inside a read transaction (one consistent snapshot)."""
        with self._connect() as con:
            con.execute("BEGIN")
            try:
                yield con
            finally:
                con.execute("COMMIT")

    # ------------------------------------------------------------------ images
    def add_proposals(self, name: str, *, shape: tuple[int, int], bands: Sequence[str],
                      artifacts: Iterable[Artifact], tile_grid=None, tile_scores=None,
                      threshold: float = 0.5, model: str = "model") -> ImageState:
        """Store an image and its model proposals (once: a second call changes nothing).

        Parameters
        ----------
        name : str
            Image name.
        shape : (int, int)
            (ny, nx) of the image, pixels.
        bands : sequence of str
            Its bands.
        artifacts : iterable of Artifact
            The proposed marks; stored ``pending`` with their score; centres are clipped
            into the image, categories outside the taxonomy become ``other``.
        tile_grid : array_like, shape (n, 4), optional
            Tiles ``(x0, y0, x1, y1)`` the classifier scored.
        tile_scores : array_like, shape (n,), optional
            The classifier's probability for each tile.
        threshold : float, optional
            The proposer's score threshold (default 0.5), used for the queue.
        model : str, optional
            What made the proposals (a checkpoint name), for the record.

        Returns
        -------
        ImageState
            The stored state (the earlier one if the image was already stored).
        """
        ny, nx = (int(v) for v in shape)
        if ny <= 0 or nx <= 0:
            raise ValueError(f"shape must be positive (ny, nx), got {shape!r}")
        artifacts = list(artifacts)
        grid = np.zeros((0, 4), dtype=np.int64) if tile_grid is None else np.asarray(tile_grid).reshape(-1, 4)
        scores = np.zeros(0) if tile_scores is None else np.asarray(tile_scores, dtype=np.float64).ravel()
        if grid.shape[0] != scores.size:
            raise ValueError(f"tile_grid has {grid.shape[0]} tiles but tile_scores has {scores.size} scores")
        mark_scores = [float(np.clip(a.score, 0.0, 1.0)) for a in artifacts]
        categories = [a.category if a.category in CATEGORIES else "other" for a in artifacts]
        queue_threshold = min(max(float(threshold), 0.01), 0.99)
        uncertainty = queue.image_uncertainty(np.clip(scores, 0, 1), mark_scores, threshold=queue_threshold)
        features = queue.image_features(np.clip(scores, 0, 1), categories)
        now = utc_now()
        with self._write() as con:
            if con.execute("SELECT 1 FROM images WHERE name = ?", (name,)).fetchone() is None:
                con.execute(
                    "INSERT INTO images(name, ny, nx, bands, model, threshold, proposed_at, uncertainty, features)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (name, ny, nx, ",".join(bands), str(model), float(threshold), now, float(uncertainty),
                     json.dumps([round(float(v), 6) for v in features])))
                con.executemany("INSERT INTO tiles(image, x0, y0, x1, y1, score) VALUES (?, ?, ?, ?, ?, ?)",
                                [(name, *(int(v) for v in g), float(s)) for g, s in zip(grid, scores)])
                con.executemany(
                    "INSERT INTO marks(image, x, y, radius, category, source, decision, score, reviewer, time,"
                    " created) VALUES (?, ?, ?, ?, ?, 'model', 'pending', ?, NULL, ?, ?)",
                    [(name, float(np.clip(a.x, 0, nx - 1)), float(np.clip(a.y, 0, ny - 1)),
                      max(float(a.radius), 0.5), c, s, now, now)
                     for a, c, s in zip(artifacts, categories, mark_scores)])
                con.execute("INSERT INTO history(image, mark, action, reviewer, time, detail) VALUES "
                            "(?, NULL, 'propose', NULL, ?, ?)",
                            (name, now, json.dumps({"model": str(model), "marks": len(artifacts)})))
        return self.image(name)

    def image_names(self) -> list[str]:
        """Names of the stored images, sorted."""
        with self._read() as con:
            return [r[0] for r in con.execute("SELECT name FROM images ORDER BY name")]

    def images(self, names: Iterable[str] | None = None) -> list[ImageState]:
        """States of the stored images (all, or those of ``names`` that are stored), by name."""
        with self._read() as con:
            rows = con.execute(
                "SELECT i.*, "
                " (SELECT COUNT(*) FROM marks m WHERE m.image = i.name AND m.decision != 'deleted') AS n_marks,"
                " (SELECT COUNT(*) FROM marks m WHERE m.image = i.name AND m.decision = 'pending') AS n_pending"
                " FROM images i ORDER BY name").fetchall()
        states = [self._state(r) for r in rows]
        if names is not None:
            wanted = set(names)
            states = [s for s in states if s.name in wanted]
        return states

    def image(self, name: str) -> ImageState:
        """State of one image; KeyError if it is not stored."""
        with self._read() as con:
            row = con.execute(
                "SELECT i.*, "
                " (SELECT COUNT(*) FROM marks m WHERE m.image = i.name AND m.decision != 'deleted') AS n_marks,"
                " (SELECT COUNT(*) FROM marks m WHERE m.image = i.name AND m.decision = 'pending') AS n_pending"
                " FROM images i WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise KeyError(f"unknown image {name!r}")
        return self._state(row)

    @staticmethod
    def _state(r: sqlite3.Row) -> ImageState:
        return ImageState(
            name=r["name"], shape=(r["ny"], r["nx"]), bands=tuple(b for b in r["bands"].split(",") if b),
            model=r["model"], threshold=r["threshold"], proposed_at=r["proposed_at"],
            uncertainty=r["uncertainty"], features=tuple(json.loads(r["features"])), status=r["status"],
            reviewed_by=r["reviewed_by"], reviewed_at=r["reviewed_at"], claimed_by=r["claimed_by"],
            claimed_at=r["claimed_at"], n_marks=r["n_marks"], n_pending=r["n_pending"])

    def tiles(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """The stored tile grid ``(n, 4)`` int64 and scores ``(n,)`` float64 of an image."""
        with self._read() as con:
            rows = con.execute("SELECT x0, y0, x1, y1, score FROM tiles WHERE image = ? ORDER BY rowid",
                               (name,)).fetchall()
        arr = np.array([tuple(r) for r in rows], dtype=np.float64).reshape(-1, 5)
        return arr[:, :4].astype(np.int64), arr[:, 4]

    def set_reviewed(self, name: str, *, reviewer: str, done: bool = True) -> ImageState:
        """Mark an image finished (``done=True``) or re-open it.

        Finishing an image turns its still-pending model marks into ``rejected`` by
        ``reviewer``: what the reviewer did not accept is not an artifact.
        """
        reviewer = check_reviewer(reviewer)
        now = utc_now()
        with self._write() as con:
            if con.execute("SELECT 1 FROM images WHERE name = ?", (name,)).fetchone() is None:
                raise KeyError(f"unknown image {name!r}")
            if done:
                pending = [r[0] for r in con.execute(
                    "SELECT id FROM marks WHERE image = ? AND decision = 'pending' ORDER BY id", (name,))]
                con.execute("UPDATE marks SET decision = 'rejected', reviewer = ?, time = ?, version = version + 1"
                            " WHERE image = ? AND decision = 'pending'", (reviewer, now, name))
                con.execute("UPDATE images SET status = 'done', reviewed_by = ?, reviewed_at = ? WHERE name = ?",
                            (reviewer, now, name))
                detail = {"rejected_pending": pending}
            else:
                con.execute("UPDATE images SET status = 'todo', reviewed_by = NULL, reviewed_at = NULL"
                            " WHERE name = ?", (name,))
                detail = {}
            con.execute("INSERT INTO history(image, mark, action, reviewer, time, detail) VALUES (?, NULL, ?, ?, ?, ?)",
                        (name, "done" if done else "reopen", reviewer, now, json.dumps(detail)))
        return self.image(name)

    def claim(self, name: str, *, reviewer: str) -> ImageState:
        """Record that ``reviewer`` has the image open now."""
        reviewer = check_reviewer(reviewer)
        with self._write() as con:
            cur = con.execute("UPDATE images SET claimed_by = ?, claimed_at = ? WHERE name = ?",
                              (reviewer, utc_now(), name))
            if cur.rowcount == 0:
                raise KeyError(f"unknown image {name!r}")
        return self.image(name)

    def progress(self, names: Iterable[str] | None = None) -> tuple[int, int]:
        """(images finished, images stored), over ``names`` if given."""
        states = self.images(names)
        return sum(s.status == "done" for s in states), len(states)

    # ------------------------------------------------------------------ marks
    def marks(self, image: str | None = None, *, include_deleted: bool = True) -> list[Mark]:
        """Marks of one image (or all), by id."""
        sql, args = "SELECT * FROM marks", []
        where = []
        if image is not None:
            where.append("image = ?")
            args.append(image)
        if not include_deleted:
            where.append("decision != 'deleted'")
        if where:
            sql += " WHERE " + " AND ".join(where)
        with self._read() as con:
            return [Mark(**dict(r)) for r in con.execute(sql + " ORDER BY id", args)]

    def mark(self, mark_id: int) -> Mark:
        """One mark; KeyError if there is none with this id."""
        with self._read() as con:
            row = con.execute("SELECT * FROM marks WHERE id = ?", (int(mark_id),)).fetchone()
        if row is None:
            raise KeyError(f"unknown mark {mark_id}")
        return Mark(**dict(row))

    def ordered_marks(self, image: str) -> list[Mark]:
        """Marks of an image in review order (see :mod:`spacejunk.review.queue`), deleted ones left out."""
        state = self.image(image)
        marks = self.marks(image, include_deleted=False)
        pending = [m for m in marks if m.decision == "pending"]
        other = [m for m in marks if m.decision != "pending"]
        if pending:
            u = queue.mark_uncertainty([m.score or 0.0 for m in pending],
                                       threshold=min(max(state.threshold, 0.01), 0.99))
            pending = [pending[i] for i in sorted(range(len(pending)), key=lambda i: (-u[i], pending[i].id))]
        return pending + other

    def _checked_geometry(self, con: sqlite3.Connection, image: str, x, y, radius) -> tuple[int, int]:
        row = con.execute("SELECT ny, nx FROM images WHERE name = ?", (image,)).fetchone()
        if row is None:
            raise KeyError(f"unknown image {image!r}")
        ny, nx = row
        if x is not None:
            x = _check_number(x, "x")
            if not 0 <= x < nx:
                raise ValueError(f"x = {x} is outside the image (0 <= x < {nx})")
        if y is not None:
            y = _check_number(y, "y")
            if not 0 <= y < ny:
                raise ValueError(f"y = {y} is outside the image (0 <= y < {ny})")
        if radius is not None:
            radius = _check_number(radius, "radius")
            if not 0 < radius <= max(ny, nx):
                raise ValueError(f"radius = {radius} must be in (0, {max(ny, nx)}] pixels")
        return ny, nx

    def add_mark(self, image: str, *, x: float, y: float, reviewer: str, category: str,
                 radius: float | None = None, size: str | None = None) -> Mark:
        """Add a reviewer's mark (``source="person"``, ``decision="accepted"``).

        Parameters
        ----------
        image : str
            A stored image.
        x, y : float
            Centre, 0-based pixels, inside the image (``0 <= x < nx``, ``0 <= y < ny``).
        reviewer : str
            Who adds it.
        category : str
            One of :data:`spacejunk.categories.CATEGORIES`.
        radius : float, optional
            Radius in pixels, ``0 < radius <= max(ny, nx)``.
        size : {"small", "medium"}, optional
            Radius 25 or 75 px (:data:`~spacejunk.categories.LABEL_RADIUS_PX`) when
            ``radius`` is not given.

        Raises
        ------
        KeyError
            Unknown image.
        ValueError
            Coordinates outside the image, bad radius, size or category, bad reviewer.
        """
        reviewer = check_reviewer(reviewer)
        category = _check_category(category)
        if radius is None:
            if size not in LABEL_RADIUS_PX:
                raise ValueError(f"size must be one of {', '.join(LABEL_RADIUS_PX)} when no radius is given, "
                                 f"got {size!r}")
            radius = LABEL_RADIUS_PX[size]
        now = utc_now()
        with self._write() as con:
            self._checked_geometry(con, image, x, y, radius)
            cur = con.execute(
                "INSERT INTO marks(image, x, y, radius, category, source, decision, score, reviewer, time, created)"
                " VALUES (?, ?, ?, ?, ?, 'person', 'accepted', NULL, ?, ?, ?)",
                (image, float(x), float(y), float(radius), category, reviewer, now, now))
            mark_id = cur.lastrowid
            detail = json.dumps({"x": float(x), "y": float(y), "radius": float(radius), "category": category})
            con.execute("INSERT INTO history(image, mark, action, reviewer, time, detail)"
                        " VALUES (?, ?, 'add', ?, ?, ?)", (image, mark_id, reviewer, now, detail))
            row = con.execute("SELECT * FROM marks WHERE id = ?", (mark_id,)).fetchone()
        return Mark(**dict(row))

    def update_mark(self, mark_id: int, *, reviewer: str, decision: str | None = None, x: float | None = None,
                    y: float | None = None, radius: float | None = None, category: str | None = None,
                    version: int | None = None) -> Mark:
        """Decide on, move, resize, re-categorise or delete a mark.

        Parameters
        ----------
        mark_id : int
            The mark.
        reviewer : str
            Who changes it.
        decision : {"accepted", "rejected", "deleted", "pending"}, optional
            New decision. A person's mark can only be ``accepted`` or ``deleted``.
        x, y, radius, category : optional
            New geometry or category. Moving or editing a pending model mark accepts it
            (unless ``decision`` says otherwise).
        version : int, optional
            The version the caller last saw; :class:`ConflictError` if the mark has
            changed since (someone else edited it). None: last writer wins.

        Returns
        -------
        Mark
            The mark as stored now.
        """
        reviewer = check_reviewer(reviewer)
        if decision is not None and decision not in DECISIONS:
            raise ValueError(f"decision must be one of {', '.join(DECISIONS)}, got {decision!r}")
        if category is not None:
            category = _check_category(category)
        if version is not None and (isinstance(version, bool) or not isinstance(version, (int, np.integer))):
            raise TypeError(f"version must be an int, got {type(version).__name__}")
        now = utc_now()
        with self._write() as con:
            row = con.execute("SELECT * FROM marks WHERE id = ?", (int(mark_id),)).fetchone()
            if row is None:
                raise KeyError(f"unknown mark {mark_id}")
            old = Mark(**dict(row))
            if version is not None and version != old.version:
                raise ConflictError(f"mark {mark_id} was changed by {old.reviewer or 'someone'} at {old.time} "
                                    f"(version {old.version}, you had {version}); reload the image")
            self._checked_geometry(con, old.image, x, y, radius)
            new = {"x": old.x if x is None else float(x), "y": old.y if y is None else float(y),
                   "radius": old.radius if radius is None else float(radius),
                   "category": old.category if category is None else category}
            edited = any(new[k] != getattr(old, k) for k in new)
            if decision is None:
                decision = "accepted" if edited and old.decision == "pending" else old.decision
            if old.source == "person" and decision not in ("accepted", "deleted"):
                raise ValueError(f"a person's mark can only be accepted or deleted, not {decision}")
            con.execute("UPDATE marks SET x = ?, y = ?, radius = ?, category = ?, decision = ?, reviewer = ?,"
                        " time = ?, version = version + 1 WHERE id = ?",
                        (new["x"], new["y"], new["radius"], new["category"], decision, reviewer, now, old.id))
            changes = {k: [getattr(old, k), v] for k, v in {**new, "decision": decision}.items()
                       if getattr(old, k) != v}
            con.execute("INSERT INTO history(image, mark, action, reviewer, time, detail) VALUES (?, ?, ?, ?, ?, ?)",
                        (old.image, old.id, "update", reviewer, now, json.dumps(changes)))
            row = con.execute("SELECT * FROM marks WHERE id = ?", (old.id,)).fetchone()
        return Mark(**dict(row))

    def history(self, image: str | None = None) -> list[dict]:
        """The change log (of one image or all), oldest first: dicts with ``detail`` decoded."""
        sql, args = "SELECT * FROM history", ()
        if image is not None:
            sql, args = sql + " WHERE image = ?", (image,)
        with self._read() as con:
            rows = con.execute(sql + " ORDER BY id", args).fetchall()
        return [{**dict(r), "detail": json.loads(r["detail"])} for r in rows]

    # ------------------------------------------------------------------ labels
    def labels(self, *, reviewed_only: bool = True, images: Iterable[str] | None = None) -> list[Artifact]:
        """The reviewed labels: accepted model marks and people's marks not deleted.

        Parameters
        ----------
        reviewed_only : bool, optional
            Only images marked finished (default). An image half-way through review
            would otherwise teach the model that what is still pending is clean.

        Returns
        -------
        list of Artifact
            By image name then mark id; score 1 (they are labels now); boxes clipped to
            the image.
        """
        sql = ("SELECT m.*, i.ny, i.nx FROM marks m JOIN images i ON i.name = m.image "
               "WHERE m.decision = 'accepted'")
        if reviewed_only:
            sql += " AND i.status = 'done'"
        with self._read() as con:
            rows = con.execute(sql + " ORDER BY m.image, m.id").fetchall()
        if images is not None:
            wanted = set(images)
            rows = [r for r in rows if r["image"] in wanted]
        return [Artifact.from_circle(r["image"], r["x"], r["y"], r["radius"], shape=(r["ny"], r["nx"]),
                                     score=1.0, category=r["category"]) for r in rows]

    def export_labels(self, path: str | os.PathLike, *, reviewed_only: bool = True,
                      images: Iterable[str] | None = None) -> Path:
        """Write :meth:`labels` as a labels CSV ``image,x,y,size,radius,category`` (atomically).

        Images reviewed with no marks have no rows (DESIGN.md: no rows, no artifacts).
        ``size`` is ``small`` up to a radius of 50 px, else ``medium``; ``radius`` is exact.
        """
        from ..io.labels import write_labels

        return write_labels(path, self.labels(reviewed_only=reviewed_only, images=images))


    def export_reviewed_images(self, path: str | os.PathLike) -> Path:
        """Write the names of the reviewed images, one per line (atomically).

        ``spacejunk train ... --labels <export> --images <this file>`` then trains on the
        reviewed images only: an image with no rows in the export is clean only if
        someone reviewed it.
        """
        from ..io._atomic import atomic_path

        names = [im.name for im in self.images() if im.status == "done"]
        path = Path(path)
        with atomic_path(path) as tmp:
            tmp.write_text("".join(f"{n}\n" for n in names), encoding="utf-8")
        return path


def _check_category(category) -> str:
    if not isinstance(category, str):
        raise TypeError(f"category must be a string, got {type(category).__name__}")
    if category not in CATEGORIES:
        raise ValueError(f"unknown category {category!r}; expected one of: {', '.join(CATEGORIES)}")
    return category

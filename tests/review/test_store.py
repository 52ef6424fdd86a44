"""The SQLite review store: proposals, decisions, validation, history, export."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from spacejunk.io import Artifact, read_labels
from spacejunk.review import ConflictError, ReviewStore, image_uncertainty, open_review
from spacejunk.review.store import STORE_NAME


def test_proposals_are_stored_once(review_dir, proposer, simulated):
    folder = review_dir
    store, images = open_review(folder, proposer=proposer, quiet=True)
    assert sorted(images) == ["alpha", "beta", "gamma"]
    assert sorted(proposer.calls) == ["alpha", "beta", "gamma"]
    # reopening does not run the model again
    store2, _ = open_review(folder, proposer=proposer, quiet=True)
    assert len(proposer.calls) == 3
    with sqlite3.connect(folder / STORE_NAME) as con:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    marks = store2.marks("alpha")
    truth = simulated[1]["alpha"].artifacts
    assert [(m.source, m.decision, m.reviewer) for m in marks] == [("model", "pending", None)] * (len(truth) + 1)
    assert [m.score for m in marks] == [proposer.scores[0], proposer.scores[1], proposer.false_positive["score"]]
    assert (marks[0].x, marks[0].y, marks[0].category) == (truth[0].x, truth[0].y, truth[0].category)
    state = store2.image("alpha")
    assert state.shape == (256, 128) and state.bands == ("g", "r", "i") and state.status == "todo"
    grid, scores = store2.tiles("alpha")
    assert grid.shape == (8, 4) and scores.shape == (8,)
    assert state.uncertainty == pytest.approx(image_uncertainty(scores, [m.score for m in marks]))
    assert state.n_pending == 3 and state.n_marks == 3


def test_marks_in_review_order(prepared):
    _, store, _ = prepared
    # scores 0.9, 0.55, 0.3 at threshold 0.5: uncertainties 0.2, 0.9, 0.6
    assert [m.score for m in store.ordered_marks("alpha")] == [0.55, 0.3, 0.9]
    m = store.ordered_marks("alpha")[0]
    store.update_mark(m.id, reviewer="ann", decision="accepted")
    assert [m.score for m in store.ordered_marks("alpha")] == [0.3, 0.9, 0.55]


def test_decisions_history_and_conflicts(prepared):
    _, store, _ = prepared
    first = store.marks("alpha")[0]
    accepted = store.update_mark(first.id, reviewer="ann", decision="accepted", version=1)
    assert (accepted.decision, accepted.reviewer, accepted.version) == ("accepted", "ann", 2)
    assert accepted.time.endswith("+00:00")
    with pytest.raises(ConflictError, match="changed by ann"):
        store.update_mark(first.id, reviewer="bob", decision="rejected", version=1)
    assert store.mark(first.id).decision == "accepted"
    # moving a pending proposal accepts it
    second = store.marks("alpha")[1]
    moved = store.update_mark(second.id, reviewer="bob", x=10.5, y=20.25)
    assert (moved.x, moved.y, moved.decision) == (10.5, 20.25, "accepted")
    person = store.add_mark("alpha", x=5, y=6, size="medium", category="ghost", reviewer="bob")
    assert (person.source, person.decision, person.radius, person.score) == ("person", "accepted", 75.0, None)
    with pytest.raises(ValueError, match="person's mark can only be accepted or deleted"):
        store.update_mark(person.id, reviewer="bob", decision="rejected")
    store.update_mark(person.id, reviewer="bob", decision="deleted")
    actions = [(h["action"], h["mark"], h["reviewer"]) for h in store.history("alpha")]
    assert actions == [("propose", None, None), ("update", first.id, "ann"), ("update", second.id, "bob"),
                       ("add", person.id, "bob"), ("update", person.id, "bob")]
    assert store.history("alpha")[2]["detail"] == {"x": [second.x, 10.5], "y": [second.y, 20.25],
                                                   "decision": ["pending", "accepted"]}


@pytest.mark.parametrize("kwargs, message", [
    (dict(x=128, y=10, size="small", category="ghost"), r"x = 128.0 is outside the image \(0 <= x < 128\)"),
    (dict(x=-0.1, y=10, size="small", category="ghost"), "x = -0.1 is outside the image"),
    (dict(x=1, y=256, size="small", category="ghost"), "y = 256.0 is outside the image"),
    (dict(x=1, y=float("nan"), size="small", category="ghost"), "y must be finite"),
    (dict(x=1, y=1, size="large", category="ghost"), "size must be one of small, medium"),
    (dict(x=1, y=1, radius=0.0, category="ghost"), r"radius = 0.0 must be in \(0, 256\]"),
    (dict(x=1, y=1, radius=300.0, category="ghost"), "radius = 300.0 must be in"),
    (dict(x=1, y=1, size="small", category="ghosts"), "unknown category 'ghosts'"),
    (dict(x=1, y=1, size="small", category="ghost-bright"), "unknown category 'ghost-bright'"),
])
def test_bad_marks_are_refused_and_nothing_stored(prepared, kwargs, message):
    _, store, _ = prepared
    before = len(store.marks())
    with pytest.raises(ValueError, match=message):
        store.add_mark("alpha", reviewer="ann", **kwargs)
    assert len(store.marks()) == before


def test_bad_reviewer_and_unknown_things(prepared):
    _, store, _ = prepared
    with pytest.raises(ValueError, match="reviewer must not be empty"):
        store.add_mark("alpha", x=1, y=1, size="small", category="ghost", reviewer="  ")
    with pytest.raises(ValueError, match="at most 64 characters"):
        store.add_mark("alpha", x=1, y=1, size="small", category="ghost", reviewer="a" * 65)
    with pytest.raises(ValueError, match="control characters"):
        store.add_mark("alpha", x=1, y=1, size="small", category="ghost", reviewer="ann\x00")
    with pytest.raises(KeyError, match="unknown image 'delta'"):
        store.add_mark("delta", x=1, y=1, size="small", category="ghost", reviewer="ann")
    with pytest.raises(KeyError, match="unknown mark 999"):
        store.update_mark(999, reviewer="ann", decision="accepted")
    with pytest.raises(ValueError, match="decision must be one of"):
        store.update_mark(1, reviewer="ann", decision="maybe")


def test_done_rejects_pending_and_export(prepared, tmp_path):
    folder, store, _ = prepared
    alpha = store.marks("alpha")
    store.update_mark(alpha[0].id, reviewer="ann", decision="accepted")
    added = store.add_mark("alpha", x=64.0, y=200.0, size="small", category="cosmic-ray", reviewer="ann")
    gone = store.add_mark("alpha", x=30.0, y=30.0, size="small", category="ghost", reviewer="ann")
    store.update_mark(gone.id, reviewer="ann", decision="deleted")
    state = store.set_reviewed("alpha", reviewer="ann")
    assert (state.status, state.reviewed_by, state.n_pending) == ("done", "ann", 0)
    assert [m.decision for m in store.marks("alpha")] == ["accepted", "rejected", "rejected", "accepted", "deleted"]
    # beta: reviewed, everything rejected -> no rows; gamma: accepted but not finished -> not exported
    store.set_reviewed("beta", reviewer="bob")
    store.update_mark(store.marks("gamma")[0].id, reviewer="bob", decision="accepted")
    assert store.progress() == (2, 3)
    out = store.export_labels(tmp_path / "labels.csv")
    labels = read_labels(out)
    assert list(labels) == ["alpha"]
    got = [(a.x, a.y, a.radius, a.category) for a in labels["alpha"]]
    assert got == [(pytest.approx(alpha[0].x, abs=0.01), pytest.approx(alpha[0].y, abs=0.01),
                    pytest.approx(alpha[0].radius, abs=0.01), alpha[0].category),
                   (64.0, 200.0, 25.0, "cosmic-ray")]
    assert out.read_text().splitlines()[0] == "image,x,y,size,radius,category"
    assert added.id in [m.id for m in store.marks("alpha") if m.decision == "accepted"]
    # re-opening an image takes it out of the export again
    store.set_reviewed("alpha", reviewer="ann", done=False)
    assert store.labels() == []


def test_add_proposals_validates(tmp_path):
    store = ReviewStore(tmp_path / STORE_NAME)
    with pytest.raises(ValueError, match="tile_grid has 2 tiles but tile_scores has 1"):
        store.add_proposals("x", shape=(10, 10), bands=("r",), artifacts=[], tile_grid=np.zeros((2, 4)),
                            tile_scores=[0.5])
    with pytest.raises(ValueError, match="shape must be positive"):
        store.add_proposals("x", shape=(0, 10), bands=("r",), artifacts=[])
    # centres outside the image are clipped in, unknown categories become "other"
    a = Artifact.from_circle("x", 12.0, -3.0, 4.0, category="rays", score=0.7)
    state = store.add_proposals("x", shape=(10, 10), bands=("r",), artifacts=[a])
    (m,) = store.marks("x")
    assert (m.x, m.y, m.category, m.score) == (9.0, 0.0, "other", 0.7)
    assert state.uncertainty == pytest.approx(0.6)   # 1 - |0.7 - 0.5| / 0.5

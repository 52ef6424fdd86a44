"""`spacejunk review`: the export, and the refusals that happen before any server starts."""

from __future__ import annotations

from spacejunk.cli import main
from spacejunk.io import read_labels
from spacejunk.train.datasets import parse_image_list


def test_export_writes_the_reviewed_labels(prepared, tmp_path):
    folder, store, _ = prepared
    mark = store.marks("beta")[0]
    store.update_mark(mark.id, reviewer="ann", decision="accepted")
    store.add_mark("beta", x=3.0, y=4.0, size="small", category="tape-bump", reviewer="ann")
    store.set_reviewed("beta", reviewer="ann")
    store.set_reviewed("gamma", reviewer="ann")          # reviewed, nothing there: no rows
    out = tmp_path / "reviewed.csv"
    assert main(["review", str(folder), "--export", str(out), "--quiet"]) == 0
    labels = read_labels(out)
    assert list(labels) == ["beta"]
    assert [(a.category, a.radius) for a in labels["beta"]] == [(mark.category, round(mark.radius, 2)),
                                                               ("tape-bump", 25.0)]
    # The reviewed images, "gamma" (clean) included, so that training can leave out the others.
    listed = tmp_path / "reviewed.csv.images.txt"
    assert listed.read_text().split() == ["beta", "gamma"]
    assert parse_image_list(str(listed)) == ("beta", "gamma")
    assert parse_image_list("beta, gamma,beta") == ("beta", "gamma") and parse_image_list("") is None


def test_export_without_a_store_fails_clearly(review_dir, tmp_path, capsys):
    assert main(["review", str(review_dir), "--export", str(tmp_path / "x.csv")]) == 1
    assert "no review store here" in capsys.readouterr().err
    assert not (tmp_path / "x.csv").exists()


def test_other_hosts_need_a_token(review_dir, capsys):
    assert main(["review", str(review_dir), "--host", "0.0.0.0"]) == 1
    assert "give an access token with --token" in capsys.readouterr().err
    assert main(["review", str(review_dir), "--threshold", "2"]) == 1
    assert "--threshold must be in [0, 1]" in capsys.readouterr().err
    assert not (review_dir / "review.sqlite").exists()

"""Several reviewers at once lose nothing; a killed server loses nothing it acknowledged."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import httpx
import pytest

from spacejunk.review import ReviewStore, create_app

N_REVIEWERS = 4
MARKS_EACH = 20


def test_reviewers_posting_at_once_over_http(prepared, serve_app):
    folder, store, images = prepared
    app = create_app(folder, store=store, images=images)
    ids: dict[str, list[int]] = {}
    errors: list[str] = []
    start = threading.Barrier(N_REVIEWERS)
    model_marks = [m.id for m in store.marks("alpha")]

    def reviewer(k: int, url: str) -> None:
        name = f"reviewer-{k}"
        got = []
        with httpx.Client(base_url=url, timeout=30) as c:
            start.wait()
            for j in range(MARKS_EACH):
                image = ("alpha", "beta", "gamma")[j % 3]
                r = c.post(f"/api/images/{image}/marks", json={"x": k * 10 + 1.5, "y": j * 10 + 0.25,
                                                                "size": "small", "category": "cosmic-ray",
                                                                "reviewer": name})
                if r.status_code != 201:
                    errors.append(r.text)
                    continue
                got.append(r.json()["mark"]["id"])
                # everybody also flips the same model marks: last writer wins, nothing breaks
                m = model_marks[j % len(model_marks)]
                r = c.patch(f"/api/marks/{m}", json={"decision": ("accepted", "rejected")[k % 2], "reviewer": name})
                if r.status_code != 200:
                    errors.append(r.text)
        ids[name] = got

    with serve_app(app) as url:
        threads = [threading.Thread(target=reviewer, args=(k, url)) for k in range(N_REVIEWERS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
    assert errors == []
    person = [m for m in ReviewStore(folder / "review.sqlite").marks() if m.source == "person"]
    assert len(person) == N_REVIEWERS * MARKS_EACH
    assert sorted(m.id for m in person) == sorted(i for got in ids.values() for i in got)
    for k in range(N_REVIEWERS):
        mine = sorted((m.x, m.y) for m in person if m.reviewer == f"reviewer-{k}")
        assert mine == [(k * 10 + 1.5, j * 10 + 0.25) for j in range(MARKS_EACH)]
    history = store.history()
    assert sum(h["action"] == "add" for h in history) == N_REVIEWERS * MARKS_EACH
    assert sum(h["action"] == "update" for h in history) == N_REVIEWERS * MARKS_EACH


_WRITER = textwrap.dedent("""
    import sys
    from spacejunk.review import ReviewStore
    store = ReviewStore(sys.argv[1])
    tag, n = sys.argv[2], int(sys.argv[3])
    for j in range(n):
        store.add_mark("beta", x=float(j), y=float(len(tag)), size="small", category="ghost", reviewer=tag)
""")


def test_processes_writing_the_same_store(prepared):
    folder, store, _ = prepared
    db = str(folder / "review.sqlite")
    n = 25
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, db, "p" * (k + 1), str(n)]) for k in range(3)]
    for j in range(n):  # and this process too
        store.add_mark("beta", x=float(j), y=100.0, size="medium", category="satellite", reviewer="main")
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0]
    person = [m for m in store.marks("beta") if m.source == "person"]
    assert len(person) == 4 * n
    for tag in ("p", "pp", "ppp"):
        assert sorted(m.x for m in person if m.reviewer == tag) == [float(j) for j in range(n)]


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL")
def test_killed_server_keeps_every_acknowledged_mark(prepared, port_finder):
    folder, store, _ = prepared
    port = port_finder()
    # the server as `spacejunk review DIR` runs it (serve), without the CLI's slow imports of other commands
    code = "import sys; from spacejunk.review import serve; serve(sys.argv[1], port=int(sys.argv[2]), quiet=True)"
    proc = subprocess.Popen([sys.executable, "-c", code, str(folder), str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    acknowledged = []
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + "/api/session", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server did not start: {proc.stderr.read().decode()[-2000:]}")
            time.sleep(0.1)
        with httpx.Client(base_url=url, timeout=10) as c:
            for j in range(15):
                r = c.post("/api/images/gamma/marks", json={"x": 5.0 + j, "y": 7.0, "size": "small",
                                                            "category": "airplane", "reviewer": "kim"})
                assert r.status_code == 201
                acknowledged.append(r.json()["mark"]["id"])
            first = store.marks("gamma")[0]
            r = c.patch(f"/api/marks/{first.id}", json={"decision": "accepted", "reviewer": "kim"})
            assert r.status_code == 200
            assert c.post("/api/images/gamma/review", json={"reviewer": "kim"}).status_code == 200
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    after = ReviewStore(folder / "review.sqlite")
    kept = {m.id: m for m in after.marks("gamma")}
    assert set(acknowledged) <= set(kept)
    assert [(kept[i].x, kept[i].reviewer) for i in acknowledged] == [(5.0 + j, "kim") for j in range(15)]
    assert kept[first.id].decision == "accepted"
    assert after.image("gamma").status == "done"

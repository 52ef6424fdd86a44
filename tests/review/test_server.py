"""The review server through FastAPI's TestClient: API, tiles, validation, path traversal, token, hosts."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from spacejunk import InputError
from spacejunk.preprocess import make_rgb
from spacejunk.review import create_app
from spacejunk.review.render import TilePyramid, level_shape, max_level
from spacejunk.review.server import TOKEN_COOKIE, is_loopback, serve

TOKEN = "s3cret-token-for-tests"


@pytest.fixture
def client(prepared):
    folder, store, images = prepared
    with TestClient(create_app(folder, store=store, images=images, reviewer="ann")) as c:
        yield c


def _count_marks(prepared) -> int:
    return len(prepared[1].marks())


def test_session_and_queue(client):
    s = client.get("/api/session").json()
    assert s["reviewer"] == "ann" and s["categories"][0] == "ghost" and s["sizes"] == {"small": 25.0, "medium": 75.0}
    assert s["stretches"] == ["asinh", "linear", "zscale"] and s["progress"] == {"reviewed": 0, "total": 3}
    q = client.get("/api/images").json()
    # alpha has a mark at 0.55 (uncertainty 0.9) and a half-covered tile: first
    assert [i["name"] for i in q["images"]][0] == "alpha"
    assert [i["rank"] for i in q["images"]] == [0, 1, 2]
    assert q["images"][0]["uncertainty"] == pytest.approx(1.0)
    assert {(i["name"], i["ny"], i["nx"], i["max_level"]) for i in q["images"]} == {
        ("alpha", 256, 128, 8), ("beta", 256, 128, 8), ("gamma", 256, 128, 8)}


def test_image_detail_orders_marks(client):
    d = client.get("/api/images/alpha").json()
    assert [m["score"] for m in d["marks"]] == [0.55, 0.3, 0.9]
    assert d["image"]["n_pending"] == 3 and d["history"][0]["action"] == "propose"


def test_tiles_are_the_rgb_at_full_resolution(client, prepared):
    folder, store, images = prepared
    from spacejunk.io import read_exposure

    exposure = read_exposure(images["alpha"])
    r = client.get("/api/images/alpha/tiles/8/0_0.png?bands=g,r,i&stretch=asinh")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    tile = np.asarray(Image.open(io.BytesIO(r.content)))
    np.testing.assert_array_equal(tile, make_rgb(exposure, stretch="asinh"))
    # two bands and another stretch
    r = client.get("/api/images/alpha/tiles/8/0_0.png?bands=r,i&stretch=zscale")
    tile = np.asarray(Image.open(io.BytesIO(r.content)))
    np.testing.assert_array_equal(tile, make_rgb(exposure.select(["r", "i"]), stretch="zscale"))
    # the 1 x 1 top of the pyramid
    r = client.get("/api/images/alpha/tiles/0/0_0.png")
    assert np.asarray(Image.open(io.BytesIO(r.content))).shape == (1, 1, 3)


def test_pyramid_levels():
    rgb = np.arange(5 * 3 * 3, dtype=np.uint8).reshape(5, 3, 3)
    p = TilePyramid(rgb, tile_size=2)
    assert p.max_level == max_level((5, 3)) == 3
    assert [lv.shape[:2] for lv in p.levels] == [level_shape((5, 3), k) for k in range(4)] == \
        [(1, 1), (2, 1), (3, 2), (5, 3)]
    np.testing.assert_array_equal(p.tile(3, 1, 2), rgb[4:6, 2:4])
    assert p.levels[2][0, 0, 0] == round(np.mean(rgb[:2, :2, 0]))
    with pytest.raises(ValueError, match="outside level 3"):
        p.tile(3, 2, 0)


def test_add_accept_review_and_export_over_http(client, prepared):
    r = client.post("/api/images/beta/marks", json={"x": 12.5, "y": 30, "size": "medium", "category": "satellite",
                                                    "reviewer": "bob"})
    assert r.status_code == 201
    mark = r.json()["mark"]
    assert (mark["x"], mark["y"], mark["radius"], mark["source"], mark["reviewer"]) == \
        (12.5, 30.0, 75.0, "person", "bob")
    ghost = [m for m in client.get("/api/images/beta").json()["marks"] if m["category"] == "ghost"][0]
    r = client.patch(f"/api/marks/{ghost['id']}", json={"decision": "accepted", "version": ghost["version"]})
    assert r.status_code == 200 and r.json()["mark"]["reviewer"] == "ann"    # the server's default reviewer
    r = client.patch(f"/api/marks/{ghost['id']}", json={"decision": "rejected", "version": ghost["version"]})
    assert r.status_code == 409 and "reload" in r.json()["error"]
    r = client.post("/api/images/beta/review", json={"reviewer": "bob"})
    assert r.json()["progress"] == {"reviewed": 1, "total": 3} and r.json()["image"]["reviewed_by"] == "bob"
    csv = client.get("/api/labels.csv").text.splitlines()
    assert csv[0] == "image,x,y,size,radius,category" and len(csv) == 3
    assert csv[2] == "beta,12.5,30,medium,75,satellite"


def test_next_skips_images_open_by_someone_else(client):
    assert client.post("/api/images/alpha/claim", json={"reviewer": "ann"}).status_code == 200
    assert client.get("/api/next", params={"reviewer": "ann"}).json() == {"name": "alpha"}
    nxt = client.get("/api/next", params={"reviewer": "bob"}).json()["name"]
    assert nxt in ("beta", "gamma")
    assert client.get("/api/next", params={"reviewer": "ann", "current": "alpha"}).json()["name"] == nxt
    for name in ("alpha", "beta", "gamma"):
        client.post(f"/api/images/{name}/review", json={})
    assert client.get("/api/next").json() == {"name": None}


@pytest.mark.parametrize("path", [
    "/api/images/..%2F..%2Fetc%2Fpasswd",
    "/api/images/../../etc/passwd",
    "/api/images/%2e%2e/tiles/0/0_0.png",
    "/api/images/alpha_g/tiles/0/0_0.png",         # a file stem, not an image name
    "/api/images/review.sqlite",
    "/static/../review.sqlite",
    "/static/%2e%2e/%2e%2e/review.sqlite",
    "/static/..%2F..%2F..%2Fpyproject.toml",
    "/review.sqlite",
    "/alpha_g.fits",
])
def test_path_traversal_is_refused(client, path):
    r = client.get(path)
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/json"
    assert "SQLite" not in r.text and "SIMPLE" not in r.text and "error" in r.json()


@pytest.mark.parametrize("method, path, body, status, message", [
    ("post", "/api/images/alpha/marks", {"x": 128, "y": 1, "size": "small", "category": "ghost"}, 422,
     "outside the image"),
    ("post", "/api/images/alpha/marks", {"x": 1, "y": -5, "size": "small", "category": "ghost"}, 422,
     "outside the image"),
    ("post", "/api/images/alpha/marks", {"x": 1, "y": 1, "size": "small", "category": "unicorn"}, 422,
     "unknown category"),
    ("post", "/api/images/alpha/marks", {"x": 1, "y": 1, "size": "huge", "category": "ghost"}, 422, "size"),
    ("post", "/api/images/alpha/marks", {"x": 1, "y": 1, "category": "ghost"}, 422, "give size"),
    ("post", "/api/images/alpha/marks", {"x": 1, "y": 1, "radius": -3, "category": "ghost"}, 422, "radius"),
    ("post", "/api/images/alpha/marks", {"x": 1, "y": 1, "radius": 1e6, "category": "ghost"}, 422, "radius"),
    ("post", "/api/images/alpha/marks", {"x": "left", "y": 1, "size": "small", "category": "ghost"}, 422, "x"),
    ("post", "/api/images/alpha/marks", {"x": 1, "y": 1, "size": "small", "category": "ghost", "extra": 1}, 422,
     "extra"),
    ("post", "/api/images/alpha/marks", {"x": 1, "y": 1, "size": "small", "category": "ghost",
                                         "reviewer": "x" * 65}, 422, "reviewer"),
    ("post", "/api/images/alpha/marks", {"x": 1, "y": 1, "size": "small", "category": "ghost",
                                         "reviewer": "bad\u0007name"}, 400, "control characters"),
    ("post", "/api/images/nope/marks", {"x": 1, "y": 1, "size": "small", "category": "ghost"}, 404,
     "unknown image 'nope'"),
    ("patch", "/api/marks/1", {"decision": "maybe"}, 422, "decision"),
    ("patch", "/api/marks/1", {"x": 5000}, 422, "outside the image"),
    ("patch", "/api/marks/1", {"category": "unicorn"}, 422, "unknown category"),
    ("patch", "/api/marks/1", {"version": 0}, 422, "version"),
    ("patch", "/api/marks/99999", {"decision": "accepted"}, 404, "unknown mark 99999"),
    ("patch", "/api/marks/abc", {"decision": "accepted"}, 422, "mark_id"),
    ("post", "/api/images/alpha/review", {"done": "perhaps"}, 422, "done"),
])
def test_malformed_requests_get_a_clear_4xx_and_store_nothing(client, prepared, method, path, body, status, message):
    before = [m.as_dict() for m in prepared[1].marks()]
    r = getattr(client, method)(path, json=body)
    assert r.status_code == status, r.text
    assert message in r.json()["error"]
    assert [m.as_dict() for m in prepared[1].marks()] == before
    assert prepared[1].progress() == (0, 3)


def test_non_json_nan_and_oversized_bodies(client, prepared):
    before = _count_marks(prepared)
    r = client.post("/api/images/alpha/marks", content=b"x=1&y=2", headers={"content-type": "text/plain"})
    assert r.status_code == 415 and "JSON" in r.json()["error"]
    r = client.post("/api/images/alpha/marks", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422
    r = client.post("/api/images/alpha/marks", content=b'{"x": NaN, "y": 1, "size": "small", "category": "ghost"}',
                    headers={"content-type": "application/json"})
    assert r.status_code == 422 and "finite" in r.json()["error"]
    big = json.dumps({"x": 1, "y": 1, "size": "small", "category": "ghost", "reviewer": "a" * 20000})
    r = client.post("/api/images/alpha/marks", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413 and "over 16384 bytes" in r.json()["error"]

    def chunks():  # no Content-Length: the body is counted as it comes
        for _ in range(40):
            yield b" " * 1000

    r = client.post("/api/images/alpha/marks", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert _count_marks(prepared) == before


@pytest.mark.parametrize("query, status, message", [
    ("bands=g,q", 422, "bands must be distinct bands"),
    ("bands=g,g", 422, "bands must be distinct bands"),
    ("bands=", 422, "bands must be distinct bands"),
    ("stretch=log", 422, "stretch must be one of"),
])
def test_bad_tile_requests(client, query, status, message):
    r = client.get(f"/api/images/alpha/tiles/8/0_0.png?{query}")
    assert r.status_code == status and message in r.json()["error"]


@pytest.mark.parametrize("path", ["/api/images/alpha/tiles/9/0_0.png", "/api/images/alpha/tiles/8/1_0.png",
                                  "/api/images/alpha/tiles/8/0_1.png", "/api/images/alpha/tiles/-1/0_0.png"])
def test_missing_tiles_are_404(client, path):
    r = client.get(path)
    assert r.status_code in (404, 422) and "error" in r.json()


def test_security_headers(client):
    r = client.get("/")
    assert r.status_code == 200 and "OpenSeadragon" not in r.text and "review.js" in r.text
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert r.headers["x-frame-options"] == "DENY" and r.headers["x-content-type-options"] == "nosniff"
    assert client.get("/static/vendor/openseadragon/openseadragon.min.js").status_code == 200


def test_token_is_checked_on_every_request(prepared):
    folder, store, images = prepared
    app = create_app(folder, store=store, images=images, token=TOKEN)
    with TestClient(app) as c:
        for path in ("/", "/api/session", "/api/images/alpha", "/static/review.js",
                     "/api/images/alpha/tiles/0/0_0.png"):
            r = c.get(path)
            assert r.status_code == 401 and "access token required" in r.json()["error"], path
        assert c.get("/api/session", params={"token": "wrong"}).status_code == 401
        assert c.post("/api/images/alpha/marks", json={"x": 1, "y": 1, "size": "small",
                                                       "category": "ghost"}).status_code == 401
        assert c.get("/api/session", headers={"x-spacejunk-token": TOKEN}).status_code == 200
        assert c.get("/api/session", headers={"authorization": f"Bearer {TOKEN}"}).status_code == 200
        assert c.get("/api/session", headers={"authorization": "Bearer nope"}).status_code == 401
        # opening the page with ?token= sets a cookie; the page's own requests then carry it
        r = c.get("/", params={"token": TOKEN})
        assert r.status_code == 200 and TOKEN_COOKIE in r.cookies
        assert "httponly" in r.headers["set-cookie"].lower() and "samesite=strict" in r.headers["set-cookie"].lower()
        assert c.get("/api/session").status_code == 200
        assert c.post("/api/images/alpha/marks", json={"x": 1, "y": 1, "size": "small",
                                                       "category": "ghost"}).status_code == 201


def test_host_header_check(prepared):
    folder, store, images = prepared
    app = create_app(folder, store=store, images=images, allowed_hosts=["127.0.0.1", "localhost"])
    with TestClient(app, base_url="http://evil.example:8765") as c:
        r = c.get("/api/session")
        assert r.status_code == 400 and "not served here" in r.json()["error"]
    with TestClient(app, base_url="http://localhost:8765") as c:
        assert c.get("/api/session").status_code == 200


def test_other_hosts_need_a_token(review_dir):
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.4") and not is_loopback("example.org")
    with pytest.raises(InputError, match="give an access token with --token"):
        serve(review_dir, host="0.0.0.0", port=8765)
    with pytest.raises(InputError, match="at least 8 characters"):
        serve(review_dir, host="0.0.0.0", token="short")
    assert not (review_dir / "review.sqlite").exists()     # refused before touching anything

"""The review web app: a FastAPI server over the review store, the deep-zoom tiles and the page."""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import secrets
import tempfile
from datetime import datetime, timezone
from http.cookies import SimpleCookie
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Literal, Mapping, Sequence
from urllib.parse import parse_qs

import numpy as np
from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from .._errors import InputError
from ..categories import CATEGORIES, LABEL_RADIUS_PX, category_hex
from ..io.exposure import find_images
from ..preprocess.rgb import RGB_STRETCHES
from .proposals import Proposer, pipeline_proposer, propose_images
from .queue import review_order
from .render import TILE_SIZE, RenderCache, max_level
from .store import STORE_NAME, ConflictError, ImageState, ReviewStore, check_reviewer

__all__ = [
    "create_app",
    "open_review",
    "serve",
    "is_loopback",
    "TOKEN_COOKIE",
    "TOKEN_HEADER",
    "MAX_BODY_BYTES",
    "CLAIM_SECONDS",
]

log = logging.getLogger("spacejunk")

#: Cookie carrying the access token once the page was opened with ``?token=...``.
TOKEN_COOKIE = "spacejunk_token"

#: Header carrying the access token (``Authorization: Bearer <token>`` works too).
TOKEN_HEADER = "x-spacejunk-token"

#: Largest request body accepted, bytes.
MAX_BODY_BYTES = 16 * 1024

#: An image opened by a reviewer is not handed to another by "next" for this long, seconds.
CLAIM_SECONDS = 600

_LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")

_SECURITY_HEADERS = [
    (b"content-security-policy", b"default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
                                 b"script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]

_STATIC = Path(str(resources.files("spacejunk.review") / "static"))


def is_loopback(host: str) -> bool:
    """True when ``host`` is only reachable from this machine (localhost, 127.x.x.x, ::1)."""
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


# --------------------------------------------------------------------------- request bodies
class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NewMark(_Body):
    """A reviewer's new mark (``POST /api/images/{name}/marks``)."""

    x: float = Field(allow_inf_nan=False, description="centre column, 0-based pixels")
    y: float = Field(allow_inf_nan=False, description="centre row, 0-based pixels")
    size: Literal["small", "medium"] | None = Field(None, description="25 or 75 px when radius is not given")
    radius: float | None = Field(None, gt=0, allow_inf_nan=False, description="radius, pixels")
    category: str = Field(max_length=32)
    reviewer: str | None = Field(None, max_length=64)


class MarkChange(_Body):
    """A change to a mark (``PATCH /api/marks/{id}``)."""

    decision: Literal["pending", "accepted", "rejected", "deleted"] | None = None
    x: float | None = Field(None, allow_inf_nan=False)
    y: float | None = Field(None, allow_inf_nan=False)
    radius: float | None = Field(None, gt=0, allow_inf_nan=False)
    category: str | None = Field(None, max_length=32)
    reviewer: str | None = Field(None, max_length=64)
    version: int | None = Field(None, ge=1)


class ReviewChange(_Body):
    """Finish (``done=true``) or re-open an image (``POST /api/images/{name}/review``)."""

    done: bool = True
    reviewer: str | None = Field(None, max_length=64)


class Claim(_Body):
    """The reviewer opening an image (``POST /api/images/{name}/claim``)."""

    reviewer: str | None = Field(None, max_length=64)


# --------------------------------------------------------------------------- guard
class _Guard:
    """ASGI middleware: Host check, access token, body size and JSON-only writes, security headers."""

    def __init__(self, app, *, token: str | None, allowed_hosts: Sequence[str] | None, max_body_bytes: int):
        self.app = app
        self.token = token
        self.allowed_hosts = None if allowed_hosts is None else {h.lower() for h in allowed_hosts}
        self.max_body_bytes = int(max_body_bytes)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}

        async def send_secure(message):
            if message["type"] == "http.response.start":
                message = dict(message)
                message["headers"] = list(message.get("headers", [])) + _SECURITY_HEADERS
            await send(message)

        async def refuse(status: int, error: str, extra: list | None = None):
            body = json.dumps({"error": error}).encode()
            await send_secure({"type": "http.response.start", "status": status,
                               "headers": [(b"content-type", b"application/json"),
                                           (b"content-length", str(len(body)).encode())] + (extra or [])})
            await send_secure({"type": "http.response.body", "body": body})

        if self.allowed_hosts is not None:
            host = headers.get("host", "")
            hostname = host.rsplit(":", 1)[0] if not host.startswith("[") else host[1:].split("]", 1)[0]
            if hostname.lower() not in self.allowed_hosts:
                await refuse(400, f"Host {host!r} is not served here; use http://127.0.0.1 or http://localhost")
                return
        if self.token is not None and not self._has_token(scope, headers):
            await refuse(401, "access token required: open the page as /?token=<token>, or send the "
                              f"'{TOKEN_HEADER}' header or 'Authorization: Bearer <token>'",
                         [(b"www-authenticate", b"Bearer")])
            return
        method = scope["method"]
        if method in ("POST", "PUT", "PATCH", "DELETE"):
            ctype = headers.get("content-type", "").split(";")[0].strip().lower()
            if ctype != "application/json":
                await refuse(415, "send the request body as JSON (Content-Type: application/json)")
                return
            length = headers.get("content-length")
            if length is not None:
                try:
                    too_big = int(length) > self.max_body_bytes
                except ValueError:
                    await refuse(400, "bad Content-Length")
                    return
                if too_big:
                    await refuse(413, f"request body over {self.max_body_bytes} bytes")
                    return
            body = b""
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                body += message.get("body", b"")
                if len(body) > self.max_body_bytes:
                    await refuse(413, f"request body over {self.max_body_bytes} bytes")
                    return
                if not message.get("more_body", False):
                    break
            sent = False

            async def replay():
                nonlocal sent
                if not sent:
                    sent = True
                    return {"type": "http.request", "body": body, "more_body": False}
                return await receive()

            await self.app(scope, replay, send_secure)
            return
        await self.app(scope, receive, send_secure)

    def _has_token(self, scope, headers: dict) -> bool:
        given: list[str] = []
        auth = headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            given.append(auth[7:].strip())
        if TOKEN_HEADER in headers:
            given.append(headers[TOKEN_HEADER])
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        given.extend(query.get("token", []))
        if "cookie" in headers:
            cookie = SimpleCookie()
            try:
                cookie.load(headers["cookie"])
            except Exception:  # a malformed cookie header: just no token from it
                cookie = SimpleCookie()
            if TOKEN_COOKIE in cookie:
                given.append(cookie[TOKEN_COOKIE].value)
        want = self.token.encode()
        return any(secrets.compare_digest(g.encode(), want) for g in given)


# --------------------------------------------------------------------------- app
def _error(status: int, message: str) -> HTTPException:
    return HTTPException(status_code=status, detail=message)


def _json_safe_errors(errors: list[dict]) -> list[dict]:
    return [{"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
            for e in errors]


def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def create_app(directory: str | os.PathLike, *, store: ReviewStore | None = None,
               images: Mapping[str, Sequence] | None = None, token: str | None = None,
               reviewer: str | None = None, allowed_hosts: Sequence[str] | None = None,
               render: Callable[..., np.ndarray] | None = None, diversity: float = 0.3,
               max_body_bytes: int = MAX_BODY_BYTES, claim_seconds: float = CLAIM_SECONDS,
               cache_size: int = 4) -> FastAPI:
    """The review app for the images of ``directory`` (whose proposals are already stored).

    Parameters
    ----------
    directory : str or path-like
        The reviewed folder; the store is ``directory/review.sqlite``.
    store : ReviewStore, optional
        The store (default: opened from ``directory``).
    images : mapping of str to sequence of path, optional
        Image name -> files (default :func:`spacejunk.io.find_images` of ``directory``).
        Only images that are both here and in the store are served; a request naming
        anything else gets 404. Names are looked up, never joined into paths.
    token : str, optional
        Access token required on every request (query ``token``, cookie, header).
    reviewer : str, optional
        Reviewer name used when a request gives none (default ``"anonymous"``).
    allowed_hosts : sequence of str, optional
        Accepted ``Host`` header names (against DNS rebinding); None accepts any.
    render : callable, optional
        ``render(exposure, bands=, stretch=) -> uint8 (ny, nx, 3)`` (default ``make_rgb``).
    diversity : float, optional
        Weight of the diversity term of the queue (:func:`spacejunk.review.queue.review_order`).
    max_body_bytes : int, optional
        Largest request body (default 16 KiB); larger ones get 413.
    claim_seconds : float, optional
        How long an opened image is kept from other reviewers' "next".
    cache_size : int, optional
        Tile pyramids kept in memory.

    Returns
    -------
    fastapi.FastAPI
        Serve it with uvicorn (see :func:`serve`).
    """
    directory = Path(directory)
    store = store or ReviewStore(directory / STORE_NAME)
    files = dict(find_images(directory) if images is None else images)
    stored = set(store.image_names())
    served = {name: files[name] for name in files if name in stored}
    default_reviewer = check_reviewer(reviewer) if reviewer else "anonymous"
    cache = RenderCache(served, render=render, size=cache_size)

    app = FastAPI(title="spacejunk review", docs_url=None, redoc_url=None, openapi_url=None)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        errors = _json_safe_errors(exc.errors())
        text = "; ".join(f"{'.'.join(e['loc'][1:]) or e['loc'][0] if e['loc'] else 'body'}: {e['msg']}"
                         for e in errors)
        return JSONResponse({"error": f"invalid request: {text}", "detail": errors}, status_code=422)

    def known(name: str) -> str:
        if name not in served:
            raise _error(404, f"unknown image {name!r}")
        return name

    def who(name: str | None) -> str:
        if name is None or not name.strip():
            return default_reviewer
        try:
            return check_reviewer(name)
        except (TypeError, ValueError) as err:
            raise _error(400, str(err)) from None

    def ordered_states() -> list[ImageState]:
        states = store.images(served)
        if not states:
            return []
        k = max(len(s.features) for s in states)
        features = np.array([list(s.features) + [0.0] * (k - len(s.features)) for s in states])
        order = review_order([s.uncertainty for s in states], features, reviewed=[s.status == "done" for s in states],
                             diversity=diversity, names=[s.name for s in states])
        done = sorted((s for s in states if s.status == "done"), key=lambda s: (s.reviewed_at or "", s.name))
        return [states[i] for i in order] + done

    def image_json(state: ImageState) -> dict:
        d = state.as_dict()
        d["max_level"] = max_level(state.shape)
        d["tile_size"] = TILE_SIZE
        return d

    @app.get("/", include_in_schema=False)
    def index(request: Request):
        response = FileResponse(_STATIC / "index.html", media_type="text/html")
        response.headers["cache-control"] = "no-store"
        given = request.query_params.get("token")
        if token is not None and given is not None and secrets.compare_digest(given.encode(), token.encode()):
            response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict", path="/")
        return response

    @app.get("/api/session")
    def session() -> dict:
        done, total = store.progress(served)
        return {
            "reviewer": default_reviewer,
            "categories": list(CATEGORIES),
            "colours": {c: category_hex(c) for c in CATEGORIES},
            "sizes": dict(LABEL_RADIUS_PX),
            "stretches": list(RGB_STRETCHES),
            "tile_size": TILE_SIZE,
            "progress": {"reviewed": done, "total": total},
        }

    @app.get("/api/images")
    def list_images() -> dict:
        states = ordered_states()
        rows = []
        for rank, s in enumerate(states):
            d = image_json(s)
            d["rank"] = rank
            rows.append(d)
        done = sum(s.status == "done" for s in states)
        return {"images": rows, "progress": {"reviewed": done, "total": len(states)}}

    @app.get("/api/next")
    def next_image(reviewer: str | None = Query(None, max_length=64),
                   current: str | None = Query(None, max_length=512)) -> dict:
        me = who(reviewer)
        now = datetime.now(timezone.utc)
        todo = [s for s in ordered_states() if s.status != "done" and s.name != current]

        def free(s: ImageState) -> bool:
            t = _parse_time(s.claimed_at)
            return (s.claimed_by in (None, me) or t is None or (now - t).total_seconds() > claim_seconds)

        pick = next((s for s in todo if free(s)), todo[0] if todo else None)
        return {"name": None if pick is None else pick.name}

    @app.get("/api/images/{name}")
    def get_image(name: str) -> dict:
        known(name)
        return {"image": image_json(store.image(name)), "marks": [m.as_dict() for m in store.ordered_marks(name)],
                "history": store.history(name)[-50:]}

    @app.post("/api/images/{name}/claim")
    def claim(name: str, body: Claim) -> dict:
        known(name)
        return {"image": image_json(store.claim(name, reviewer=who(body.reviewer)))}

    @app.post("/api/images/{name}/marks", status_code=201)
    def add_mark(name: str, body: NewMark) -> dict:
        known(name)
        if body.radius is None and body.size is None:
            raise _error(422, "invalid request: give size ('small' or 'medium') or radius")
        try:
            mark = store.add_mark(name, x=body.x, y=body.y, radius=body.radius, size=body.size,
                                  category=body.category, reviewer=who(body.reviewer))
        except (TypeError, ValueError) as err:
            raise _error(422, f"invalid mark: {err}") from None
        return {"mark": mark.as_dict()}

    @app.patch("/api/marks/{mark_id}")
    def change_mark(mark_id: int, body: MarkChange) -> dict:
        try:
            mark = store.mark(mark_id)
        except KeyError:
            raise _error(404, f"unknown mark {mark_id}") from None
        known(mark.image)
        try:
            mark = store.update_mark(mark_id, reviewer=who(body.reviewer), decision=body.decision, x=body.x, y=body.y,
                                     radius=body.radius, category=body.category, version=body.version)
        except ConflictError as err:
            raise _error(409, str(err)) from None
        except (TypeError, ValueError) as err:
            raise _error(422, f"invalid change: {err}") from None
        return {"mark": mark.as_dict()}

    @app.post("/api/images/{name}/review")
    def review(name: str, body: ReviewChange) -> dict:
        known(name)
        state = store.set_reviewed(name, reviewer=who(body.reviewer), done=body.done)
        done, total = store.progress(served)
        return {"image": image_json(state), "progress": {"reviewed": done, "total": total}}

    @app.get("/api/images/{name}/tiles/{level}/{col}_{row}.png")
    def tile(name: str, level: int, col: int, row: int, bands: str | None = Query(None, max_length=64),
             stretch: str = Query("asinh", max_length=16)) -> Response:
        known(name)
        state = store.image(name)
        if stretch not in RGB_STRETCHES:
            raise _error(422, f"stretch must be one of {', '.join(RGB_STRETCHES)}, got {stretch!r}")
        chosen = state.bands if bands is None else tuple(b for b in bands.split(",") if b)
        unknown = [b for b in chosen if b not in state.bands]
        if not chosen or unknown or len(set(chosen)) != len(chosen):
            raise _error(422, f"bands must be distinct bands of image {name!r} ({','.join(state.bands)}), "
                              f"got {bands!r}")
        if not 0 <= level <= max_level(state.shape) or col < 0 or row < 0:
            raise _error(404, f"no tile {level}/{col}_{row} in image {name!r}")
        pyramid = cache.pyramid(name, bands=tuple(b for b in state.bands if b in chosen), stretch=stretch)
        try:
            png = pyramid.tile_png(level, col, row)
        except ValueError as err:
            raise _error(404, str(err)) from None
        return Response(png, media_type="image/png", headers={"cache-control": "private, max-age=3600"})

    @app.get("/api/labels.csv")
    def labels_csv() -> Response:
        with tempfile.TemporaryDirectory() as tmp:
            path = store.export_labels(Path(tmp) / "labels.csv", images=served)
            text = path.read_bytes()
        return Response(text, media_type="text/csv",
                        headers={"content-disposition": 'attachment; filename="labels.csv"',
                                 "cache-control": "no-store"})

    app.mount("/static", StaticFiles(directory=str(_STATIC)), name="static")
    app.add_middleware(_Guard, token=token, allowed_hosts=allowed_hosts, max_body_bytes=max_body_bytes)
    return app


def open_review(directory: str | os.PathLike, *, proposer: Proposer | None = None,
                model: str | os.PathLike | Sequence[str | os.PathLike] | None = None, threshold: float | None = None,
                quiet: bool = False) -> tuple[ReviewStore, dict[str, list[Path]]]:
    """Open (or create) ``directory/review.sqlite`` and store model proposals for new images.

    Parameters
    ----------
    directory : str or path-like
        Folder of images (anything :func:`spacejunk.io.find_images` reads).
    proposer : callable, optional
        ``proposer(exposure)`` (see :func:`spacejunk.review.proposals.as_proposal`);
        default: the detection pipeline with ``model`` and ``threshold``, made only if
        some image has no proposals yet.
    model : path or list of paths, optional
        Checkpoints of your own for the default proposer (a classifier, a detector or
        one of each, as ``spacejunk detect --model``).
    threshold : float, optional
        Score threshold of the default proposer (default: the models' own).
    quiet : bool, optional
        No progress bar.

    Returns
    -------
    (ReviewStore, dict of str to list of Path)
        The store, and the images that have proposals (served).
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise InputError(directory, "not a folder")
    images = find_images(directory)
    store = ReviewStore(directory / STORE_NAME)
    missing = [n for n in images if n not in set(store.image_names())]
    if missing and proposer is None:
        proposer = pipeline_proposer(model=model, threshold=threshold)
    if model:
        model_name = ",".join(Path(m).name for m in ([model] if isinstance(model, (str, os.PathLike)) else model))
    elif missing and callable(proposer) and getattr(proposer, "__module__", "") != pipeline_proposer.__module__:
        model_name = getattr(proposer, "__name__", type(proposer).__name__)
    else:
        model_name = "default"
    failed = propose_images(store, images, proposer, quiet=quiet, model_name=model_name)
    return store, {n: f for n, f in images.items() if n not in failed}


def serve(directory: str | os.PathLike, *, host: str = "127.0.0.1", port: int = 8765, token: str | None = None,
          reviewer: str | None = None, proposer: Proposer | None = None,
          model: str | os.PathLike | Sequence[str | os.PathLike] | None = None,
          threshold: float | None = None, quiet: bool = False, **app_options: Any) -> None:
    """Serve the review page for ``directory`` until interrupted.

    Parameters
    ----------
    directory : str or path-like
        Folder of images.
    host : str, optional
        Interface to listen on (default 127.0.0.1, this machine only). Any other host
        needs ``token``.
    port : int, optional
        TCP port (default 8765).
    token : str, optional
        Access token (required unless ``host`` is a loopback address).
    reviewer : str, optional
        Default reviewer name.
    proposer, model, threshold, quiet
        See :func:`open_review`.
    **app_options
        Passed to :func:`create_app`.

    Raises
    ------
    InputError
        A non-loopback host without a token; a bad port or folder.
    """
    import uvicorn

    if not is_loopback(host) and not token:
        raise InputError(None, f"--host {host} can be reached from other machines: give an access token with "
                               "--token (e.g. --token $(python -c 'import secrets; print(secrets.token_urlsafe())'))")
    if token is not None and len(token) < 8:
        raise InputError(None, "--token must be at least 8 characters")
    if not 0 < int(port) < 65536:
        raise InputError(None, f"--port must be in 1..65535, got {port}")
    store, images = open_review(directory, proposer=proposer, model=model, threshold=threshold, quiet=quiet)
    allowed = None
    if is_loopback(host):
        allowed = list(_LOOPBACK_NAMES) + ([host.strip("[]")] if host.strip("[]") not in _LOOPBACK_NAMES else [])
    app = create_app(directory, store=store, images=images, token=token, reviewer=reviewer, allowed_hosts=allowed,
                     **app_options)
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}/" + (f"?token={token}" if token else "")
    done, total = store.progress(images)
    log.info("review: %d of %d images reviewed; open %s (Ctrl-C to stop)", done, total, url)
    uvicorn.run(app, host=host, port=int(port), log_level="warning" if quiet else "info", server_header=False,
                timeout_keep_alive=5, limit_concurrency=64, h11_max_incomplete_event_size=16 * 1024)

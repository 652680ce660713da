"""The studio's web app (aiohttp): static page at `/studio/`, JSON API under `/v1/studio/`.

The rules are the library's (`garagecam_core.web`), the same the runner applies: with a token,
every API call needs `Authorization: Bearer`; the page itself holds no data and asks for the
token. Without a token the studio only answers requests from this machine whose Host is a
loopback name (no DNS rebinding). Every POST must be `application/json` (a cross-site form
cannot send that without CORS). Served by a runner behind Home Assistant's ingress, ingress
requests (from the Supervisor's address, with `X-Ingress-Path`: `web.ingress_path`) need
neither: Home Assistant authenticated the user. The page uses relative URLs only, so it works
under the ingress prefix without reflecting any header.
"""

from __future__ import annotations

import asyncio
import functools
import io
import logging
import mimetypes
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler
from PIL import Image

from ..errors import ConfigError, GarageCamError
from ..web import encoding_middleware, ingress_path, loopback_refusal, token_middleware
from .state import Studio
from .training import INSTALL_HINT, TrainSettings, train_available

_LOGGER = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"
STUDIO = web.AppKey("garagecam_studio", Studio)
THUMB_SIDE = 360
_THUMBS = 600  # thumbnails kept in memory (about 20 kB each)


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


#: where the studio's pages and API live (what `guard` guards, what ingress may open)
PATHS = ("/studio/", "/v1/studio/")


def is_studio_path(path: str) -> bool:
    return path.startswith(PATHS)


def _headers(framed_by_self: bool) -> dict[str, str]:
    """Security headers; under ingress Home Assistant shows the page in an iframe of its own
    origin (the sidebar panel), so `frame-ancestors` allows that origin, and only there."""
    ancestors = "'self'" if framed_by_self else "'none'"
    return {
        "Content-Security-Policy": (
            "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; "
            f"script-src 'self'; connect-src 'self'; frame-ancestors {ancestors}; "
            "base-uri 'none'; form-action 'none'"
        ),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
    }


def guard(loopback_only: bool) -> Any:
    """Middleware: Host and client address checks (when `loopback_only`, except for ingress
    requests), JSON-only POSTs, errors as 400 JSON, security headers. The runner adds it too
    when it serves the studio."""

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not is_studio_path(request.path):
            return await handler(request)  # the runner's own routes, when it hosts the studio
        ingress = ingress_path(request) is not None
        if loopback_only and not ingress:
            refusal = loopback_refusal(request)
            if refusal is not None:
                return _error(refusal.status, refusal.message)
        if request.method == "POST" and request.content_type != "application/json":
            return _error(415, "send JSON (Content-Type: application/json)")
        try:
            response = await handler(request)
        except (ConfigError, GarageCamError) as err:
            response = _error(400, str(err))
        response.headers.update(_headers(framed_by_self=ingress))
        return response

    return guard


async def _json(request: web.Request) -> dict[str, Any]:
    try:
        data = await request.json()
    except ValueError as err:
        raise ConfigError(f"the request body is not JSON: {err}") from err
    if not isinstance(data, dict):
        raise ConfigError("the request body must be a JSON object")
    return data


def _paths(data: dict[str, Any]) -> list[str]:
    paths = data.get("paths")
    if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
        raise ConfigError('"paths" must be a list of frame paths')
    return paths


async def index(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(STATIC / "index.html")


async def state(request: web.Request) -> web.Response:
    studio = request.app[STUDIO]
    predictor = studio.predictor
    assert predictor is not None
    meta = predictor.metadata
    return web.json_response({
        "dataset": str(studio.store.root),
        "layout": studio.store.layout,
        "labels_file": str(studio.store.labels_path),
        "labels": [
            {"name": s.name, "device_class": s.device_class, "on": s.on_threshold,
             "off": s.off_threshold}
            for s in studio.specs
        ],
        "model": {"name": meta.name, "version": meta.version, "path": str(studio.model_path)},
        "frames": len(studio.store.frames),
        "confirmed": len(studio.confirmed_records()),
        "skipped_lines": studio.store.skipped_lines,
        "predictions": vars(predictor.progress),
        "teacher": {
            "configured": studio.teacher is not None,
            **(studio.teacher.config.describe() if studio.teacher else {}),
            "progress": studio.teacher_progress.to_dict(),
        },
        "train": {"available": True, "full_available": train_available(),
                  "install": INSTALL_HINT, "defaults": vars(studio.settings),
                  "plan": studio.train_plan(), "full_plan": studio.train_plan(full=True)},
        "deploy": studio.deploy_info(),
    })  # fmt: skip


async def frames(request: web.Request) -> web.Response:
    studio = request.app[STUDIO]
    return web.json_response(studio.frames(request.query.get("filter", "all")))


class _Thumbs:
    def __init__(self) -> None:
        self.items: OrderedDict[tuple[str, int, int], bytes] = OrderedDict()

    def get(self, key: tuple[str, int, int], read: Callable[[], bytes]) -> bytes:
        if key in self.items:
            self.items.move_to_end(key)
            return self.items[key]
        with Image.open(io.BytesIO(read())) as img:
            img.draft("RGB", (THUMB_SIDE, THUMB_SIDE))
            rgb = img.convert("RGB")
            rgb.thumbnail((THUMB_SIDE, THUMB_SIDE))
            out = io.BytesIO()
            rgb.save(out, format="JPEG", quality=80)
        data = out.getvalue()
        self.items[key] = data
        while len(self.items) > _THUMBS:
            self.items.popitem(last=False)
        return data


THUMBS = web.AppKey("garagecam_studio_thumbs", _Thumbs)


async def image(request: web.Request) -> web.StreamResponse:
    studio = request.app[STUDIO]
    frame = studio.store.frame(request.query.get("path", ""))
    if frame is None:  # only frames of the scan are served: no path from outside the folder
        return _error(404, "unknown frame")
    read = functools.partial(studio.store.read, frame)  # never through a symlink
    try:
        if request.query.get("size") != "thumb":
            data = await asyncio.to_thread(read)
            kind = mimetypes.guess_type(frame.path)[0] or "application/octet-stream"
            return web.Response(body=data, content_type=kind)
        data = await asyncio.to_thread(request.app[THUMBS].get, frame.key, read)
    except OSError:
        return _error(404, f"{frame.path} is gone or not a regular file: rescan")
    except (SyntaxError, ValueError, Image.DecompressionBombError) as err:
        return _error(422, f"{frame.path} cannot be shown: {err}")
    return web.Response(body=data, content_type="image/jpeg")


async def set_labels(request: web.Request) -> web.Response:
    data = await _json(request)
    updates = data.get("labels")
    if not isinstance(updates, dict) or not all(isinstance(v, dict) for v in updates.values()):
        raise ConfigError('"labels" must map frame paths to {label: 0 or 1}')
    # a write with fsync: off the event loop (the store has its own lock)
    studio = request.app[STUDIO]
    count = await asyncio.to_thread(studio.set_labels, updates)
    return web.json_response({"saved": count, "confirmed": len(studio.confirmed_records())})


async def accept(request: web.Request) -> web.Response:
    data = await _json(request)
    partial = data.get("partial", False) is True  # Enter on one card: what there is
    studio = request.app[STUDIO]
    return web.json_response(await asyncio.to_thread(studio.accept, _paths(data), partial))


async def refresh(request: web.Request) -> web.Response:
    studio = request.app[STUDIO]
    await studio.rescan()
    return web.json_response({"frames": len(studio.store.frames)})


async def agreement(request: web.Request) -> web.Response:
    return web.json_response(request.app[STUDIO].agreement())


async def teacher_run(request: web.Request) -> web.Response:
    studio = request.app[STUDIO]
    studio.start_teacher(_paths(await _json(request)))
    return web.json_response(studio.teacher_progress.to_dict())


async def train_start(request: web.Request) -> web.Response:
    studio = request.app[STUDIO]
    data = await _json(request)
    settings = TrainSettings.from_dict({**vars(studio.settings), **data})
    job = studio.start_training(settings)
    return web.json_response(job.to_dict())


async def train_status(request: web.Request) -> web.Response:
    jobs = request.app[STUDIO].jobs
    return web.json_response([job.to_dict() for job in jobs.values()])


def _job(request: web.Request) -> Any:
    job = request.app[STUDIO].jobs.get(request.match_info["run"])
    if job is None:
        raise web.HTTPNotFound(text="unknown training run")
    return job


async def train_cancel(request: web.Request) -> web.Response:
    job = _job(request)
    job.cancel()
    return web.json_response(job.to_dict())


async def run_file(request: web.Request) -> web.StreamResponse:
    job = _job(request)
    kind = request.match_info["file"]
    if kind not in ("model.pte", "model.gcam", "model.png", "model.json") or job.status != "done":
        return _error(404, "no such file for this run")
    path = job.directory / kind
    if not path.is_file():
        return _error(404, f"{kind} was not written (matplotlib missing?)")
    headers = {}
    if kind in ("model.pte", "model.gcam"):
        suffix = Path(kind).suffix
        headers["Content-Disposition"] = f'attachment; filename="garagecam-{job.id}{suffix}"'
    return web.FileResponse(path, headers=headers)


async def deploy(request: web.Request) -> web.Response:
    data = await _json(request)
    return web.json_response(await request.app[STUDIO].deploy(str(data.get("run", ""))))


async def rollback(request: web.Request) -> web.Response:
    return web.json_response(await request.app[STUDIO].rollback())


def add_routes(app: web.Application) -> None:
    """The studio's routes; also what the runner adds to its own app to serve the studio."""
    app[THUMBS] = _Thumbs()
    app.router.add_get("/", _redirect)
    app.router.add_get("/studio/", index)
    app.router.add_static("/studio/static/", STATIC)
    api = "/v1/studio/api"
    app.router.add_get(f"{api}/state", state)
    app.router.add_get(f"{api}/frames", frames)
    app.router.add_get(f"{api}/image", image)
    app.router.add_post(f"{api}/labels", set_labels)
    app.router.add_post(f"{api}/accept", accept)
    app.router.add_post(f"{api}/refresh", refresh)
    app.router.add_get(f"{api}/agreement", agreement)
    app.router.add_post(f"{api}/teacher", teacher_run)
    app.router.add_get(f"{api}/train", train_status)
    app.router.add_post(f"{api}/train", train_start)
    app.router.add_post(f"{api}/train/{{run}}/cancel", train_cancel)
    app.router.add_get(f"{api}/train/{{run}}/{{file}}", run_file)
    app.router.add_post(f"{api}/deploy", deploy)
    app.router.add_post(f"{api}/rollback", rollback)


async def _redirect(request: web.Request) -> web.StreamResponse:
    # relative: under an ingress prefix `<prefix>/` must lead to `<prefix>/studio/`
    raise web.HTTPFound("studio/")


def create_app(studio: Studio, token: str | None) -> web.Application:
    """Standalone studio app; without a token it answers only to loopback Host names."""
    app = web.Application(
        middlewares=[encoding_middleware, guard(not token), token_middleware(token)]
    )
    app[STUDIO] = studio
    add_routes(app)
    return app

"""The runner's HTTP API (aiohttp.web).

- `GET /healthz`                    200 `{"status": "ok"}` or 503 with the reasons
- `GET /metrics`                    Prometheus text format
- `POST /v1/classify?model=&roi=`   image bytes -> probabilities (Home Assistant `remote` mode),
                                    with `model_digest`, the model's metadata digest
- `GET /v1/models`                  `{name: metadata}`
- `GET /v1/cameras`                 states, probabilities, last frame time per camera
- `GET /v1/cameras/{id}/debug.jpg`  last analysed frame with ROI box and probabilities

When a token is configured every `/v1/` route needs `Authorization: Bearer <token>`
(compared in constant time), and so does `/metrics`, which carries the same door states;
`open_metrics` leaves `/metrics` open without the state and probability series. `/healthz`
stays open for probes. The rules are the library's (`garagecam_core.web`).

With the studio mounted (`/studio/`, `/v1/studio/`) and `ingress_gateway` set (the add-on:
the Supervisor's address), the studio's paths need no token for requests from that address
carrying `X-Ingress-Path` (Home Assistant's ingress authenticated the user); every other
request, and every other path (`/v1/classify` too), keeps the token.

Classify bodies held in memory at once are bounded by `max_inflight_bytes` (by default one
maximum-size body, or many small snapshots); up to `max_queued_requests` more wait before
their body is read (a waiting request costs a socket, not its image); beyond that the answer
is 503 `busy` with `Retry-After`. The engines seen here are the low-priority side of the
runner's priority gate: camera frames go first.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import io
import json
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from ..camera import Camera
from ..engine.base import AsyncEngine
from ..errors import ConfigError, EngineError, ImageError, InvalidOutputError
from ..roi import Roi
from ..studio import app as studio_app
from ..studio.state import Studio
from ..web import (
    IPAddress,
    accept_ingress,
    encoding_middleware,
    is_loopback,
    needs_token,
    no_path,
    token_middleware,
)
from .metrics import CONTENT_TYPE, RunnerMetrics
from .priority import GatedEngine

_LOGGER = logging.getLogger("garagecam.runner.http")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
HealthCheck = Callable[[], list[str]]  # reasons the runner is unhealthy; empty = healthy


@dataclass
class ApiContext:
    engines: Mapping[str, AsyncEngine]
    cameras: Mapping[str, Camera]
    metrics: RunnerMetrics
    health: HealthCheck
    token: str | None = None
    max_body_bytes: int = 20_000_000
    max_inflight_bytes: int = 20_000_000
    max_queued_requests: int = 4
    open_metrics: bool = False
    ingress_gateway: IPAddress | None = None  # the Supervisor's address, behind ingress


class BodyBudget:
    """Bytes of classify bodies held in memory at once, reserved before a body is read.

    A request reserves its Content-Length (the maximum body size when unknown) and waits,
    unread and in arrival order, until that much is free; a body larger than the whole
    budget waits until it can run alone. At most `queued` requests wait.
    """

    def __init__(self, budget: int, queued: int) -> None:
        self._budget = self._free = budget
        self._max_queued = queued
        self._waiters: deque[tuple[int, asyncio.Future[None]]] = deque()

    def full(self, size: int) -> bool:
        """True when a body of `size` bytes would have to wait and the queue is full."""
        must_wait = bool(self._waiters) or min(size, self._budget) > self._free
        return must_wait and len(self._waiters) >= self._max_queued

    @contextlib.asynccontextmanager
    async def reserve(self, size: int) -> AsyncIterator[None]:
        size = min(size, self._budget)
        if self._waiters or size > self._free:
            turn = asyncio.get_running_loop().create_future()
            self._waiters.append((size, turn))
            try:
                await turn
            except asyncio.CancelledError:
                if turn.done() and not turn.cancelled():
                    self._release(size)  # granted as the client went away: give it back
                else:
                    self._waiters.remove((size, turn))
                    self._wake()
                raise
        else:
            self._free -= size
        try:
            yield
        finally:
            self._release(size)

    def _release(self, size: int) -> None:
        self._free += size
        self._wake()

    def _wake(self) -> None:
        while self._waiters and self._waiters[0][0] <= self._free:
            size, turn = self._waiters.popleft()
            if not turn.done():
                self._free -= size
                turn.set_result(None)


CONTEXT = web.AppKey("garagecam_context", ApiContext)
BUDGET = web.AppKey("garagecam_body_budget", BodyBudget)
RETRY_AFTER_SECONDS = 1


def _error(status: int, message: str, code: str) -> web.Response:
    return _json({"error": code, "message": message}, status=status)


def _json(data: Any, status: int = 200) -> web.Response:
    """Strict JSON: NaN and infinity are not JSON (`json.dumps` would write a bare `NaN`)."""
    try:
        text = json.dumps(data, allow_nan=False)
    except ValueError:
        _LOGGER.error("Refused to answer with NaN or infinity in JSON (status %d)", status)
        text = json.dumps({"error": "invalid_number", "message": "the answer held NaN or infinity"})
        status = 500
    return web.Response(text=text, status=status, content_type="application/json")


async def healthz(request: web.Request) -> web.Response:
    problems = request.app[CONTEXT].health()
    if problems:
        return _json({"status": "unhealthy", "reasons": problems}, status=503)
    return _json({"status": "ok"})


async def metrics(request: web.Request) -> web.Response:
    context = request.app[CONTEXT]
    # Left open next to a protected API, /metrics must not tell what /v1/cameras guards.
    with_states = not (context.token and context.open_metrics)
    return web.Response(
        body=context.metrics.render(with_states=with_states).encode(),
        headers={"Content-Type": CONTENT_TYPE},
    )


async def models(request: web.Request) -> web.Response:
    engines = request.app[CONTEXT].engines
    return _json({name: engine.metadata.to_dict() for name, engine in engines.items()})


def _pick_model(context: ApiContext, name: str | None) -> tuple[str, AsyncEngine] | web.Response:
    if name is None:
        if len(context.engines) == 1:
            return next(iter(context.engines.items()))
        return _error(
            400,
            f"several models are loaded; add ?model=NAME (one of {sorted(context.engines)})",
            "model_required",
        )
    engine = context.engines.get(name)
    if engine is None:
        return _error(
            404, f"unknown model {name!r}; loaded: {sorted(context.engines)}", "unknown_model"
        )
    return name, engine


async def classify(request: web.Request) -> web.Response:
    context = request.app[CONTEXT]
    response = await _classify(request, context)
    context.metrics.classify_requests.inc(str(response.status))
    return response


async def _classify(request: web.Request, context: ApiContext) -> web.Response:
    picked = _pick_model(context, request.query.get("model"))
    if isinstance(picked, web.Response):
        return picked
    name, engine = picked
    roi = None
    if "roi" in request.query:
        try:
            roi = Roi.parse(request.query["roi"])
        except ConfigError as err:
            return _error(400, str(err), "bad_roi")
    limit = context.max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        return _error(413, f"the image is larger than {limit} bytes", "too_large")
    budget, size = request.app[BUDGET], request.content_length or limit
    if budget.full(size):
        response = _error(503, "too many classify requests at once; retry shortly", "busy")
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    async with budget.reserve(size):
        return await _guarded_classify(request, name, engine, roi, limit)


async def _guarded_classify(
    request: web.Request, name: str, engine: AsyncEngine, roi: Roi | None, limit: int
) -> web.Response:
    """`_read_and_classify`, with the body's failures as answers (and one log line per
    episode, not a traceback per client)."""
    try:
        return await _read_and_classify(request, name, engine, roi, limit)
    except web.RequestPayloadError:  # chunked framing that won't decode
        return _error(400, "the request body cannot be decoded (chunks)", "bad_body")
    except _SlowBody as err:
        EPISODES.note(str(err), request.remote)
        response = _error(408, f"{err}: send the image faster", "body_timeout")
    except ConnectionResetError:  # the client went away mid-upload: nobody to answer
        EPISODES.note("a client dropped its upload", request.remote)
        response = _error(400, "connection lost", "connection_lost")
    response.force_close()
    return response


#: a body must keep coming: no pause longer than this (seconds)...
BODY_IDLE_TIMEOUT: Final = 10.0
#: ...and, after the first `BODY_GRACE_SECONDS`, at this average rate at least (bytes/s): a
#: client trickling 20 MB at 1 KB/s would hold the body budget (every other classify) for hours
BODY_MIN_RATE: Final = 64 * 1024
BODY_GRACE_SECONDS: Final = 5.0


class _SlowBody(Exception):
    """A body that stalls or trickles (see `BODY_IDLE_TIMEOUT`, `BODY_MIN_RATE`)."""


async def _chunks(request: web.Request) -> AsyncIterator[bytes]:
    """The body's chunks as they come, under the idle timeout and the minimum rate."""
    loop = asyncio.get_running_loop()
    started, received = loop.time(), 0
    while True:
        try:
            async with asyncio.timeout(BODY_IDLE_TIMEOUT):
                chunk = await request.content.readany()
        except TimeoutError:
            raise _SlowBody(f"the body stalled for {BODY_IDLE_TIMEOUT:g} s") from None
        if not chunk:
            return
        received += len(chunk)
        elapsed = loop.time() - started
        if elapsed > BODY_GRACE_SECONDS and received < BODY_MIN_RATE * elapsed:
            raise _SlowBody(f"the body came slower than {BODY_MIN_RATE // 1024} KB/s")
        yield chunk


async def _read_body(request: web.Request, limit: int) -> bytes | None:
    """The body, or None when it is larger than `limit`.

    With a Content-Length the body is written into a BytesIO sized up front, whose
    `getvalue()` hands over its buffer as the `bytes` without copying: one copy of the
    image in memory, not a read buffer plus the bytes built from it."""
    expected = request.content_length
    if expected is None:
        chunks, size = [], 0
        async for chunk in _chunks(request):
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
        return b"".join(chunks)
    buffer = io.BytesIO()
    if expected:
        buffer.seek(expected - 1)
        buffer.write(b"\0")  # allocates the whole buffer once
        buffer.seek(0)
    async for chunk in _chunks(request):
        if buffer.tell() + len(chunk) > expected:  # more than announced: aiohttp refuses it
            return None
        buffer.write(chunk)
    buffer.truncate()  # a body shorter than announced
    return buffer.getvalue()


async def _read_and_classify(
    request: web.Request, name: str, engine: AsyncEngine, roi: Roi | None, limit: int
) -> web.Response:
    image = await _read_body(request, limit)
    if image is None:
        return _error(413, f"the image is larger than {limit} bytes", "too_large")
    if not image:
        return _error(400, "send the image bytes as the request body", "empty_body")
    try:
        if isinstance(engine, GatedEngine):
            result, metadata = await engine.classify_identified(image, roi)
        else:
            result, metadata = await engine.classify(image, roi), engine.metadata
    except ImageError as err:
        return _error(400, str(err), "bad_image")
    except InvalidOutputError as err:  # a broken model, not a busy one: retrying will not help
        _LOGGER.warning("Classify request failed in model %s: %s", name, err)
        return _error(500, str(err), "invalid_model_output")
    except EngineError as err:
        _LOGGER.warning("Classify request failed in model %s: %s", name, err)
        return _error(503, str(err), "engine_error")
    # the model's identity: a client that kept its metadata (thresholds) sees a replacement
    return _json({**result.to_dict(), "model": name, "model_digest": metadata.digest()})


def _iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).isoformat(timespec="milliseconds")


def camera_status(camera: Camera) -> dict[str, Any]:
    frame = camera.last_frame
    return {
        "id": camera.id,
        "name": camera.name,
        "model": camera.model_name,
        "available": camera.available,
        "states": {label: str(state) for label, state in camera.debouncer.states.items()},
        "probabilities": camera.debouncer.probabilities,
        "last_frame_time": _iso(frame.timestamp if frame else None),
        "inference_ms": round(frame.classification.timings.inference_ms, 3) if frame else None,
        "consecutive_failures": camera.failures,
        "last_error": camera.last_error,
        "novelty": frame.classification.novelty if frame else None,
        "needs_labels": camera.debouncer.unfamiliar,
    }


async def cameras(request: web.Request) -> web.Response:
    context = request.app[CONTEXT]
    return _json({cid: camera_status(c) for cid, c in context.cameras.items()})


async def debug_jpg(request: web.Request) -> web.Response:
    camera = request.app[CONTEXT].cameras.get(request.match_info["camera_id"])
    if camera is None:
        return _error(404, "unknown camera", "unknown_camera")
    frame = camera.last_frame
    if frame is None:
        return _error(404, "this camera has not analysed a frame yet", "no_frame")
    from ..debug_frame import render_debug_frame

    states = {label: str(state) for label, state in camera.debouncer.states.items()}
    jpeg = await asyncio.to_thread(
        render_debug_frame,
        frame.image,
        roi=camera.roi,
        probabilities=frame.classification.probabilities,
        states=states,
        title=camera.name,
        timestamp=dt.datetime.fromtimestamp(frame.timestamp).astimezone(),
    )
    return web.Response(body=jpeg, content_type="image/jpeg", headers={"Cache-Control": "no-store"})


class _OneLineBadRequests(logging.Filter):
    """aiohttp logs each malformed request (bytes no header may hold, a bad Content-Length)
    as an ERROR with a traceback that quotes the offending header line, a token maybe: the
    client got its 400; the log gets one line with the reason, nothing from the request."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, web.RequestPayloadError):  # the body, drained after the answer
            error = error.__cause__
        if isinstance(error, HttpProcessingError):
            reason = (error.message or type(error).__name__).splitlines()[0].rstrip(" :")
            record.msg, record.args = "Bad HTTP request refused (%s): %s", (error.code, reason)
            record.exc_info, record.exc_text = None, None
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


_BAD_REQUESTS = _OneLineBadRequests()


def create_app(context: ApiContext, studio: Studio | None = None) -> web.Application:
    """The API; with `studio`, also the studio's page and its API under /v1/studio/ (behind
    the same token; without a token, for loopback clients only: see the studio's guard;
    ingress requests from `context.ingress_gateway` need neither, for the studio only)."""
    server_logger = logging.getLogger("aiohttp.server")
    if _BAD_REQUESTS not in server_logger.filters:
        server_logger.addFilter(_BAD_REQUESTS)
    middlewares: list[Any] = [encoding_middleware]
    ingress_open: Callable[[str], bool] = no_path
    if studio is not None:
        middlewares.append(studio_app.guard(not context.token))
        ingress_open = studio_app.is_studio_path
    protected = functools.partial(needs_token, open_metrics=context.open_metrics)
    middlewares.append(token_middleware(context.token, protected, ingress_open))
    # client_max_size also bounds the body; our own check gives the friendlier 413 JSON.
    app = web.Application(middlewares=middlewares, client_max_size=context.max_body_bytes + 1024)
    app[CONTEXT] = context
    if context.ingress_gateway is not None:
        accept_ingress(app, context.ingress_gateway)
    if studio is not None:
        app[studio_app.STUDIO] = studio
        studio_app.add_routes(app)
    app[BUDGET] = BodyBudget(context.max_inflight_bytes, context.max_queued_requests)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/v1/models", models)
    app.router.add_post("/v1/classify", classify)
    app.router.add_get("/v1/cameras", cameras)
    app.router.add_get("/v1/cameras/{camera_id}/debug.jpg", debug_jpg)
    return app


#: aiohttp inflates a compressed body as it arrives, before any middleware or token check,
#: and (before aiohttp 3.13.3, which Home Assistant 2025.8's pin 3.12.15 predates) without a
#: bound: 1 MB of gzip became 1 GiB in memory. So the server never inflates
#: (`web.encoding_middleware` answers 415), and never reads a body its handler left unread
#: (no lingering: a refused request's body is not drained, the connection is closed).
#: An idle keep-alive connection, or one slow to send its next request head, is closed after
#: `keepalive_timeout` (aiohttp's default is an hour).
SERVER_OPTIONS: Final[dict[str, Any]] = {
    "auto_decompress": False,
    "lingering_time": 0,
    "keepalive_timeout": 15,
}
#: seconds a new connection has to send its first request head (aiohttp has no such limit:
#: 1,100 connections sending a byte now and then held the API)
HEADER_TIMEOUT: Final = 10.0
#: open connections one client address may hold; the newest beyond are closed
MAX_CONNECTIONS_PER_CLIENT: Final = 64
_SWEEP_SECONDS: Final = 1.0


class _Episodes:
    """One log line per episode of client trouble (timeouts, dropped uploads), not one per
    connection: the count of the episode before comes with the first line of the next."""

    QUIET_SECONDS = 60.0

    def __init__(self) -> None:
        self._last: float | None = None
        self._count = 0

    def note(self, what: str, client: str | None) -> None:
        now = time.monotonic()
        if self._last is not None and now - self._last < self.QUIET_SECONDS:
            self._last, self._count = now, self._count + 1
            return
        before = f" ({self._count} more in the episode before)" if self._count else ""
        _LOGGER.warning(
            "HTTP client trouble: %s (from %s); further ones are counted, not logged, until "
            "%d s pass without any%s",
            what,
            client or "an unknown address",
            self.QUIET_SECONDS,
            before,
        )
        self._last, self._count = now, 0


EPISODES = _Episodes()


class GuardedRunner(web.AppRunner):
    """An `AppRunner` that closes connections which send no request head within
    `HEADER_TIMEOUT` and a client's connections beyond `MAX_CONNECTIONS_PER_CLIENT`
    (checked every second over the server's connections; a request head seen marks one)."""

    def __init__(self, app: web.Application, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self._first_seen: dict[Any, float] = {}
        self._started: set[Any] = set()
        self._sweeper: asyncio.Task[None] | None = None
        app.middlewares.insert(0, self._mark)

    @web.middleware
    async def _mark(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        self._started.add(request.protocol)
        return await handler(request)

    async def setup(self) -> None:
        await super().setup()
        self._sweeper = asyncio.get_running_loop().create_task(self._sweep())

    async def cleanup(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        await super().cleanup()

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(_SWEEP_SECONDS)
            server = self.server
            if server is not None:
                self._check(server.connections, asyncio.get_running_loop().time())

    def _check(self, connections: list[Any], now: float) -> None:
        self._first_seen = {c: self._first_seen.get(c, now) for c in connections}
        self._started &= set(connections)
        per_client: dict[str, int] = {}
        for connection in sorted(connections, key=self._first_seen.__getitem__):
            client = _peer(connection)
            per_client[client] = per_client.get(client, 0) + 1
            if per_client[client] > MAX_CONNECTIONS_PER_CLIENT:
                EPISODES.note("too many connections from one client", client)
                connection.force_close()
            elif connection not in self._started and now - self._first_seen[connection] > (
                HEADER_TIMEOUT
            ):
                EPISODES.note(f"no request head within {HEADER_TIMEOUT:g} s", client)
                connection.force_close()


def _peer(connection: Any) -> str:
    transport = connection.transport
    peer = transport.get_extra_info("peername") if transport is not None else None
    return str(peer[0]) if isinstance(peer, tuple) and peer else "unknown"


async def start_site(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, int]:
    """Serve `app` on host:port (port 0: a free one); the runner (to clean up) and the port."""
    runner = GuardedRunner(app, access_log=None, **SERVER_OPTIONS)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    sockets = getattr(site._server, "sockets", None) or []  # the bound port is nowhere else
    return runner, int(sockets[0].getsockname()[1]) if sockets else port


class HttpServer:
    """Runs the API on host:port until stop(); port 0 picks a free port (see `.port`)."""

    def __init__(
        self, context: ApiContext, host: str, port: int, studio: Studio | None = None
    ) -> None:
        self._app = create_app(context, studio)
        self._token = context.token
        self._runner: web.AppRunner | None = None
        self._host, self._port = host, port
        self.port = port

    async def start(self) -> None:
        try:
            self._runner, self.port = await start_site(self._app, self._host, self._port)
        except OSError as err:
            raise ConfigError(
                f"cannot listen on {self._host}:{self._port} (http): {err.strerror or err}"
            ) from err
        _LOGGER.info("HTTP API listening on http://%s:%d", self._host, self.port)
        if self._token is None:
            # No token is a deliberate choice (no `http.token` key): say so, loudly off-host.
            log = _LOGGER.info if is_loopback(self._host) else _LOGGER.warning
            log(
                "HTTP API without authentication (no http.token): anyone who can reach "
                "%s:%d can use /v1/",
                self._host,
                self.port,
            )

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

"""Inference in a child process: `WorkerEngine` (parent side) and the child's main loop.

Why: a native crash in the runtime (a corrupt model) stays in the child, and a hung
inference can be killed on a timeout. With executorch's official runtime it also keeps the
GIL-holding `execute()` out of an event loop's process (the garagecam-runtime binding
releases the GIL). The parent only waits on a pipe (`poll`, GIL released) while the child
(`python -m garagecam_core.engine.worker`) runs a `LocalEngine`.

Protocol (see `protocol.py`): the child first sends `ready` (with the model metadata) or
`error` (model load failure, then it exits); then per request `classify` (header: id, roi,
and `shared`: the image's length when it was put in the shared buffer of `frames.py`;
otherwise the frame body holds the image bytes) it answers `result` or `error` (name of the
GarageCamError subclass and its message, re-raised as the same type in the parent). EOF on
its stdin ends the child.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import IO, Any

from .. import errors
from ..bundle import check_model_file
from ..errors import EngineClosedError, GarageCamError, WorkerError, WorkerTimeoutError
from ..metadata import ModelMetadata
from ..preprocess import DEFAULT_LIMITS, ImageLimits
from ..pte_runtimes import official_runtime_expected
from ..roi import Roi
from .base import Classification, ClosingEngine, Timings
from .frames import MAX_SHARED_BYTES, FrameReader, SharedFrames
from .protocol import FrameEOF, FrameTimeout, read_frame, write_frame

_LOGGER = logging.getLogger(__name__)
_CHILD_LOGGER = logging.getLogger(f"{__name__}.child")
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])
_LEVELS = {"DEBUG": logging.DEBUG, "INFO": logging.INFO, "WARNING": logging.WARNING}
_LEVELS |= {"ERROR": logging.ERROR, "CRITICAL": logging.CRITICAL}


def _error_type(name: Any) -> type[GarageCamError]:
    """The GarageCamError subclass named by the child, WorkerError for anything else."""
    found = getattr(errors, str(name), None)
    if isinstance(found, type) and issubclass(found, GarageCamError):
        return found
    return WorkerError


def _forward_stderr(stream: IO[bytes], pid: int) -> None:
    """Log the child's stderr lines (its logging, runtime noise) in the parent."""
    for raw in stream:
        line = raw.decode(errors="replace").rstrip()
        if not line:
            continue
        level_name, _, message = line.partition(" ")
        level = _LEVELS.get(level_name)
        if level is None:  # runtime noise such as "[cpuinfo_utils.cpp:...]"
            level, message = logging.DEBUG, line
        _CHILD_LOGGER.log(level, "[worker %d] %s", pid, message)
    stream.close()


def _kill(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait()


class _Child:
    """One running child process and its pipes."""

    def __init__(
        self, model_path: Path, threads: int, limits: ImageLimits, start_timeout: float
    ) -> None:
        env = dict(os.environ)
        # The child must import this very garagecam_core, not another installed copy.
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_ROOT, env.get("PYTHONPATH")) if p)
        argv = [
            sys.executable, "-m", "garagecam_core.engine.worker", "--model", str(model_path),
            "--threads", str(threads), "--max-bytes", str(limits.max_bytes),
            "--max-pixels", str(limits.max_pixels),
        ]  # fmt: skip
        # Larger images reach the child through the pipe (which also refuses too-large ones).
        self.frames = SharedFrames.create(min(limits.max_bytes, MAX_SHARED_BYTES))
        pass_fds: tuple[int, ...] = ()
        if self.frames is not None and self.frames.fd is not None:
            argv += ["--frames-fd", str(self.frames.fd)]
            pass_fds = (self.frames.fd,)
        try:
            self.proc = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
                pass_fds=pass_fds,
            )
        finally:
            if self.frames is not None:
                self.frames.close_fd()
        self._finalizer = weakref.finalize(self, _kill, self.proc)
        assert self.proc.stdin and self.proc.stdout and self.proc.stderr
        self._stdin = self.proc.stdin.fileno()
        self._stdout = self.proc.stdout.fileno()
        os.set_blocking(self._stdin, False)  # writes wait in poll() with a deadline
        self._stderr_thread = threading.Thread(
            target=_forward_stderr,
            args=(self.proc.stderr, self.proc.pid),
            name=f"garagecam-worker-{self.proc.pid}-stderr",
            daemon=True,
        )
        self._stderr_thread.start()
        try:
            header, _ = self.receive(time.monotonic() + start_timeout)
        except FrameTimeout as err:
            self.stop()
            raise WorkerTimeoutError(
                f"the inference worker did not start within {start_timeout:g} s"
            ) from err
        except FrameEOF as err:
            self.stop()
            raise WorkerError(
                f"the inference worker exited while starting ({self.exit_reason()}); "
                "see the log for its output"
            ) from err
        if header.get("type") == "error":
            self.stop()
            raise _error_type(header.get("error"))(str(header.get("message")))
        self.metadata = ModelMetadata.from_dict(header.get("metadata"))

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def exit_reason(self) -> str:
        code = self.proc.poll()
        if code is None:
            return "still running"
        if code < 0:
            with contextlib.suppress(ValueError):
                return f"killed by signal {signal.Signals(-code).name}"
        return f"exit code {code}"

    def send(self, header: dict[str, Any], body: bytes, deadline: float) -> None:
        shared = self.frames.put(body) if self.frames is not None else None
        if shared is not None:
            header, body = header | {"shared": shared}, b""
        write_frame(self._stdin, header, body, deadline)

    def receive(self, deadline: float) -> tuple[dict[str, Any], bytes]:
        try:
            return read_frame(self._stdout, deadline)
        except ValueError as err:  # garbled frame: treat like a dead child
            raise FrameEOF from err

    def stop(self, grace: float = 0.0) -> None:
        """Close stdin (the child exits on EOF), then kill after `grace` seconds; reap."""
        if self.proc.stdin and not self.proc.stdin.closed:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        if grace > 0:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(grace)
        _kill(self.proc)
        if self.proc.stdout:
            self.proc.stdout.close()
        self._stderr_thread.join(timeout=5.0)
        self._finalizer.detach()
        if self.frames is not None:
            self.frames.close()


class WorkerEngine(ClosingEngine):
    """Sync `Engine` running inference in a child process (thread-safe, one request at a time).

    The child starts eagerly in the constructor, so model load errors (as the same
    `ModelError` subclasses as `LocalEngine`) surface there; `metadata` comes from the child.
    A child that died while idle is restarted before the next request. A request whose child
    dies or does not answer within `timeout` seconds fails with `WorkerError` /
    `WorkerTimeoutError`; the child is killed and the next request starts a new one.
    """

    def __init__(
        self,
        model_path: str | Path,
        threads: int = 1,
        timeout: float = 30.0,
        limits: ImageLimits = DEFAULT_LIMITS,
        start_timeout: float = 120.0,
    ) -> None:
        self.model_path = Path(model_path)
        check_model_file(self.model_path)  # the cheap checks without starting a process
        self._threads = threads
        self._timeout = timeout
        self._limits = limits
        self._start_timeout = start_timeout
        self._lock = threading.Lock()
        self._closed = False
        self._next_id = 0
        self._child: _Child | None = self._start()
        self._metadata = self._child.metadata

    def _start(self) -> _Child:
        child = _Child(self.model_path, self._threads, self._limits, self._start_timeout)
        _LOGGER.debug("inference worker %d started for %s", child.pid, self.model_path)
        return child

    @property
    def metadata(self) -> ModelMetadata:
        return self._metadata

    @property
    def pid(self) -> int | None:
        """PID of the current child process (None between a failure and the next request)."""
        return self._child.pid if self._child else None

    def classify(self, image: bytes, roi: Roi | None = None) -> Classification:
        with self._lock:
            if self._closed:
                raise EngineClosedError("the inference engine is closed")
            child = self._child
            if child is None or not child.alive():
                if child is not None:
                    _LOGGER.warning(
                        "inference worker %d died (%s); restarting it",
                        child.pid,
                        child.exit_reason(),
                    )
                    child.stop()
                self._child = None
                child = self._child = self._start()
            self._next_id += 1
            return self._request(child, self._next_id, image, roi)

    def _request(
        self, child: _Child, request_id: int, image: bytes, roi: Roi | None
    ) -> Classification:
        start = time.perf_counter()
        deadline = time.monotonic() + self._timeout
        header = {"type": "classify", "id": request_id, "roi": roi.as_list() if roi else None}
        try:
            child.send(header, image, deadline)
            reply, _ = child.receive(deadline)
        except FrameTimeout as err:
            self._drop(child)
            raise WorkerTimeoutError(
                f"the inference worker did not answer within {self._timeout:g} s; it was "
                "stopped and will be restarted on the next request"
            ) from err
        except FrameEOF as err:
            self._drop(child)
            raise WorkerError(
                f"the inference worker died during a request ({child.exit_reason()}); it "
                "will be restarted on the next request"
            ) from err
        if reply.get("id") != request_id:
            self._drop(child)
            raise WorkerError("the inference worker answered out of turn; it was restarted")
        if reply.get("type") == "error":
            raise _error_type(reply.get("error"))(str(reply.get("message")))
        result = Classification.from_dict(reply["classification"])
        # total_ms as the caller sees it, including the trip through the pipes
        timings = asdict(result.timings) | {"total_ms": (time.perf_counter() - start) * 1000.0}
        return dataclasses.replace(result, timings=Timings(**timings))

    def _drop(self, child: _Child) -> None:
        child.stop()
        self._child = None

    def close(self) -> None:
        """Stop the child (EOF, then kill after 5 s) and reap it; safe to call twice."""
        with self._lock:
            self._closed = True
            if self._child is not None:
                self._child.stop(grace=5.0)
                self._child = None


# --- child side ----------------------------------------------------------------------------


def _error_header(err: BaseException, request_id: Any = None) -> dict[str, Any]:
    if isinstance(err, GarageCamError):
        name, message = type(err).__name__, str(err)
    else:
        name = "WorkerError"
        message = f"unexpected error in the inference worker: {type(err).__name__}: {err}"
    return {"type": "error", "id": request_id, "error": name, "message": message}


def _serve(engine: Any, proto_in: int, proto_out: int, frames: FrameReader | None) -> None:
    while True:
        try:
            header, body = read_frame(proto_in)
        except FrameEOF:
            return
        request_id = header.get("id")
        try:
            if header.get("shared") is not None:
                if frames is None:
                    raise WorkerError("request in shared memory, but no shared buffer was given")
                body = frames.get(int(header["shared"]))
            roi = Roi(*header["roi"]) if header.get("roi") else None
            result = engine.classify(body, roi)
            reply = {
                "type": "result",
                "id": request_id,
                "classification": {
                    "probabilities": result.probabilities,  # full precision, not to_dict()
                    "timings": asdict(result.timings),
                    "image_size": list(result.image_size),
                    "novelty": None if result.novelty is None else min(result.novelty, 1e6),
                },
            }
        except Exception as err:
            _LOGGER.debug("request %s failed", request_id, exc_info=True)
            reply = _error_header(err, request_id)
        write_frame(proto_out, reply)


def _skip_exporter_import() -> None:
    """Keep the ExecuTorch exporter out of the worker (about 200 MB RSS and seconds of start-up).

    executorch's pybindings import `executorch.exir._warnings` for one decorator, and that runs
    `executorch/exir/__init__.py`, which imports the whole exporter (torch._dynamo, inductor).
    The worker only runs programs, so `executorch.exir` is registered as a bare package: its
    submodules still import normally, its `__init__` never runs. Falls back to the normal
    import if the package layout is not what we expect.
    """
    import importlib.util
    import types

    if "executorch.exir" in sys.modules:
        return
    spec = importlib.util.find_spec("executorch")
    locations = list(spec.submodule_search_locations or []) if spec else []
    if not locations or not Path(locations[0], "exir", "_warnings.py").is_file():
        return
    package = types.ModuleType("executorch.exir")
    package.__path__ = [str(Path(locations[0], "exir"))]
    sys.modules["executorch.exir"] = package
    try:
        importlib.import_module("executorch.exir._warnings")
    except Exception:  # any surprise: let the real package load instead
        for name in ("executorch.exir._warnings", "executorch.exir"):
            sys.modules.pop(name, None)


def child_main(argv: Sequence[str] | None = None) -> int:
    # Keep the protocol pipe for ourselves; anything else written to fd 1 (print, the C++
    # runtime's messages) goes to stderr, which the parent logs.
    proto_out = os.dup(1)
    os.dup2(2, 1)
    proto_in = os.dup(0)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    # Ctrl+C in a terminal reaches the whole process group: the parent decides when we stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    parser = argparse.ArgumentParser(prog="python -m garagecam_core.engine.worker")
    parser.add_argument("--model", required=True)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--max-bytes", type=int, default=DEFAULT_LIMITS.max_bytes)
    parser.add_argument("--max-pixels", type=int, default=DEFAULT_LIMITS.max_pixels)
    parser.add_argument("--frames-fd", type=int, help="memfd of the shared request buffer")
    args = parser.parse_args(argv)

    try:
        if official_runtime_expected():  # the binding needs no such trick
            _skip_exporter_import()
        from .local import LocalEngine

        engine = LocalEngine(
            args.model, threads=args.threads, limits=ImageLimits(args.max_bytes, args.max_pixels)
        )
        frames = FrameReader(args.frames_fd) if args.frames_fd is not None else None
    except Exception as err:
        write_frame(proto_out, _error_header(err))
        return 1
    write_frame(
        proto_out, {"type": "ready", "pid": os.getpid(), "metadata": engine.metadata.to_dict()}
    )
    with contextlib.suppress(FrameEOF):  # the parent went away while we answered
        _serve(engine, proto_in, proto_out, frames)
    return 0


if __name__ == "__main__":
    sys.exit(child_main())

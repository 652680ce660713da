"""LocalEngine and WorkerEngine: same results, errors mapped back to the same types, and the
worker process is restarted after dying or hanging and never left behind."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import executorch  # noqa: F401
import pytest

from garagecam_core.engine.local import LocalEngine
from garagecam_core.engine.worker import WorkerEngine
from garagecam_core.errors import (
    CorruptModelError,
    EmptyImageError,
    EngineClosedError,
    ImageTooLargeError,
    InvalidImageError,
    ModelNotFoundError,
    NotAPteError,
    TruncatedImageError,
    WorkerError,
    WorkerTimeoutError,
)
from garagecam_core.preprocess import ImageLimits
from garagecam_core.roi import Roi
from tests.images import scene_jpeg, truncated
from tests.pte_files import truncated_copy

CLOSED = scene_jpeg(320, 180, door_open=False)
OPEN = scene_jpeg(320, 180, door_open=True)
ROI = Roi(0.25, 0.3, 0.5, 0.5)


def _gone(pid: int, wait: float = 10.0) -> bool:
    """True once `pid` is reaped (not our child any more and not in /proc)."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            if not Path(f"/proc/{pid}").exists():
                return True
        time.sleep(0.05)
    return False


def _dead(pid: int) -> None:
    """Block until our child `pid` has fully exited, without reaping it (WNOWAIT)."""
    os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)


@pytest.fixture(scope="module")
def local(tiny_model_path: Path) -> Iterator[LocalEngine]:
    with LocalEngine(tiny_model_path) as engine:
        yield engine


@pytest.fixture(scope="module")
def worker(tiny_model_path: Path) -> Iterator[WorkerEngine]:
    with WorkerEngine(tiny_model_path, timeout=60.0) as engine:
        yield engine


def test_local_engine_classifies_with_timings(local: LocalEngine) -> None:
    result = local.classify(CLOSED)
    assert set(result.probabilities) == {"door_open", "car_present"}
    assert all(0.0 <= p <= 1.0 for p in result.probabilities.values())
    assert result.image_size == (320, 180)
    timings = result.timings
    assert min(timings.decode_ms, timings.preprocess_ms, timings.inference_ms) > 0
    parts = timings.decode_ms + timings.preprocess_ms + timings.inference_ms
    assert timings.total_ms >= parts
    assert local.classify(OPEN).probabilities != result.probabilities
    assert local.classify(CLOSED, ROI).probabilities != result.probabilities


def test_worker_gives_the_same_results_as_local(local: LocalEngine, worker: WorkerEngine) -> None:
    assert worker.metadata == local.metadata
    for image, roi in ((CLOSED, None), (OPEN, None), (OPEN, ROI)):
        expected, got = local.classify(image, roi), worker.classify(image, roi)
        assert got.probabilities == expected.probabilities
        assert got.image_size == expected.image_size
        assert got.timings.total_ms >= got.timings.inference_ms > 0


def _maps_shared_frames(pid: int) -> bool:
    return "memfd:garagecam-frames" in Path(f"/proc/{pid}/maps").read_text()


def test_worker_images_travel_through_shared_memory(
    local: LocalEngine, worker: WorkerEngine
) -> None:
    assert worker.pid is not None and _maps_shared_frames(worker.pid)
    big = scene_jpeg(1920, 1080, door_open=True)
    # a large image, then smaller ones over its leftover bytes: each read at its own length
    for image in (big, CLOSED, big, OPEN):
        assert worker.classify(image).probabilities == local.classify(image).probabilities


def test_worker_without_shared_memory_sends_images_through_the_pipe(
    local: LocalEngine, tiny_model_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # what happens where memfd_create does not exist (macOS) or is refused
    monkeypatch.setattr("garagecam_core.engine.worker.SharedFrames.create", lambda size: None)
    with WorkerEngine(tiny_model_path) as engine:
        assert engine.pid is not None and not _maps_shared_frames(engine.pid)
        for image in (CLOSED, OPEN):
            assert engine.classify(image).probabilities == local.classify(image).probabilities


@pytest.mark.parametrize(
    ("image", "error", "message"),
    [
        (b"", EmptyImageError, "empty"),
        (truncated(CLOSED, 0.5), TruncatedImageError, "truncated"),
        (b"<html>login</html>", InvalidImageError, "HTML"),
    ],
)
def test_image_errors_are_the_same_types_in_both_engines(
    local: LocalEngine,
    worker: WorkerEngine,
    image: bytes,
    error: type[Exception],
    message: str,
) -> None:
    with pytest.raises(error, match=message) as in_process:
        local.classify(image)
    with pytest.raises(error, match=message) as in_child:
        worker.classify(image)
    assert str(in_child.value) == str(in_process.value)
    assert worker.classify(CLOSED).probabilities  # the child keeps serving after an error


def test_worker_is_thread_safe(worker: WorkerEngine) -> None:
    expected = worker.classify(OPEN).probabilities
    results: list[dict[str, float]] = []

    def work() -> None:
        for _ in range(3):
            results.append(worker.classify(OPEN).probabilities)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [expected] * 12


def test_worker_passes_image_limits(tiny_model_path: Path) -> None:
    with WorkerEngine(tiny_model_path, limits=ImageLimits(max_bytes=1000)) as engine:
        with pytest.raises(ImageTooLargeError, match="more than the limit of 1,000 bytes"):
            engine.classify(CLOSED)


def test_worker_restarts_a_child_that_died(worker: WorkerEngine) -> None:
    expected = worker.classify(CLOSED).probabilities
    old = worker.pid
    assert old is not None
    os.kill(old, signal.SIGKILL)
    _dead(old)
    assert worker.classify(CLOSED).probabilities == expected  # restarted transparently
    assert worker.pid not in (None, old)
    assert _gone(old)


def test_worker_hung_child_times_out_and_is_replaced_and_close_reaps(
    tiny_model_path: Path,
) -> None:
    engine = WorkerEngine(tiny_model_path, timeout=1.0)
    expected = engine.classify(CLOSED).probabilities
    hung = engine.pid
    assert hung is not None
    os.kill(hung, signal.SIGSTOP)
    with pytest.raises(WorkerTimeoutError, match=r"did not answer within 1 s"):
        engine.classify(CLOSED)
    assert _gone(hung)  # killed and reaped, even though it was stopped
    assert engine.classify(CLOSED).probabilities == expected
    replacement = engine.pid
    assert replacement not in (None, hung)

    engine.close()
    assert _gone(replacement)  # no child left behind, no zombie
    engine.close()  # twice is fine
    with pytest.raises(EngineClosedError, match="closed"):
        engine.classify(CLOSED)


def test_worker_reports_model_errors_at_start(tiny_model_path: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        WorkerEngine(tmp_path / "missing.pte")
    (tmp_path / "junk.pte").write_bytes(b"not a model at all")
    with pytest.raises(NotAPteError, match="not an ExecuTorch program"):
        WorkerEngine(tmp_path / "junk.pte")
    cut = truncated_copy(tiny_model_path, tmp_path / "cut.pte", keep=0.6)
    with pytest.raises(CorruptModelError, match=r"cut\.pte is truncated or corrupt"):
        WorkerEngine(cut)


def test_worker_start_failure_is_a_worker_error(
    tiny_model_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A child that cannot even import GarageCam: the parent sees it exit before "ready".
    monkeypatch.setattr("garagecam_core.engine.worker._PACKAGE_ROOT", "/nonexistent")
    monkeypatch.setattr("sys.executable", "/bin/false")
    with pytest.raises(WorkerError, match=r"exited while starting \(exit code 1\)"):
        WorkerEngine(tiny_model_path)

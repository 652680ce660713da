"""One runtime in a fresh process: import time, load time, first run, memory.

    python -m garagecam_core.bench.peers.probe KIND THREADS INPUT.npy MODEL [MODEL2]
        [--frame IMAGE METADATA.json]

INPUT.npy holds the (1, 3, H, W) float32 input in NCHW memory; each runtime gets it in its
own natural layout before the clock starts. With `--frame`, the process also does what a
pipeline does around the runtime: it imports GarageCam's preprocessing (Pillow) and makes
the input from the image with the model's metadata, so its memory compares with a worker's.
Prints one JSON line: milliseconds for the runtime's import, the model's load and the first
run; VmRSS and VmHWM (MiB) after `PROBE_FRAMES` runs (the working figure); the output
probabilities. numpy is imported
before the clock: every runtime needs it. Run by `footprint.py`; only numpy, the runtime's
package and the modules named here are imported.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float32]
#: runs before the memory is read: a runtime's buffers are allocated by the first frames,
#: so RSS after a few frames is the working figure, comparable with a worker's
PROBE_FRAMES = 20
Runner = Callable[[], Array]


def _vm(field: str) -> float:
    for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def _engine(models: list[str], threads: int, x: Array) -> tuple[Callable[[], Runner], float]:
    """GarageCam's engine call path (`load_program(...).run`), whatever runtime it uses."""
    start = time.perf_counter()
    from garagecam_core.bundle import load_program

    imported = time.perf_counter()

    def load() -> Runner:
        program = load_program(models[0], threads=threads)
        layout_x = _channels_last(x) if program.metadata.input_layout == "NHWC" else x
        return lambda: program.run(layout_x)

    return load, imported - start


def _trunk(models: list[str], threads: int, x: Array) -> tuple[Callable[[], Runner], float]:
    """GarageCam's pretrained trunk (`heads.trunk.load_trunk(...).embed`): features out."""
    start = time.perf_counter()
    from garagecam_core.heads.trunk import load_trunk

    imported = time.perf_counter()

    def load() -> Runner:
        trunk = load_trunk(models[0], threads=threads)
        layout_x = _channels_last(x) if trunk.info.input_layout == "NHWC" else x
        return lambda: trunk.embed(layout_x)

    return load, imported - start


def _channels_last(x: Array) -> Array:
    """The same logical (1, 3, H, W) tensor in channels-last memory."""
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)


def _litert(models: list[str], threads: int, x: Array) -> tuple[Callable[[], Runner], float]:
    start = time.perf_counter()
    import ai_edge_litert.interpreter  # noqa: F401  # the import being timed

    imported = time.perf_counter()
    from .programs import LiteRTProgram, nhwc

    def load() -> Runner:
        program, array = LiteRTProgram(Path(models[0]), threads), nhwc(x)
        return lambda: program.run(array)

    return load, imported - start


def _ncnn(models: list[str], threads: int, x: Array) -> tuple[Callable[[], Runner], float]:
    start = time.perf_counter()
    import ncnn  # noqa: F401  # the import being timed

    imported = time.perf_counter()
    from .programs import NcnnProgram

    def load() -> Runner:
        program, chw = NcnnProgram(Path(models[0]), Path(models[1]), threads), x[0].copy()
        return lambda: program.run(chw)

    return load, imported - start


def _onnxruntime(models: list[str], threads: int, x: Array) -> tuple[Callable[[], Runner], float]:
    start = time.perf_counter()
    import onnxruntime

    imported = time.perf_counter()

    def load() -> Runner:
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
        session = onnxruntime.InferenceSession(
            models[0], options, providers=["CPUExecutionProvider"]
        )
        feed = {session.get_inputs()[0].name: x}
        return lambda: np.asarray(session.run(None, feed)[0], dtype=np.float32).reshape(-1)

    return load, imported - start


def _binding(models: list[str], threads: int, x: Array) -> tuple[Callable[[], Runner], float]:
    """The torch-free binding (`garagecam_runtime`) called directly."""
    start = time.perf_counter()
    import garagecam_runtime

    imported = time.perf_counter()

    def load() -> Runner:
        garagecam_runtime.set_thread_count(threads)
        program = garagecam_runtime.Program.load(models[0])
        program.load_method("forward")
        spec = program.input_specs()[0]
        order = tuple(spec.dim_order) if spec is not None else ()
        array = _channels_last(x) if order == (0, 2, 3, 1) else x
        return lambda: np.asarray(program.run(array), dtype=np.float32).reshape(-1)

    return load, imported - start


KINDS: dict[str, Callable[[list[str], int, Array], tuple[Callable[[], Runner], float]]] = {
    "garagecam-engine": _engine,
    "garagecam-trunk": _trunk,
    "garagecam-runtime": _binding,
    "litert": _litert,
    "ncnn": _ncnn,
    "onnxruntime": _onnxruntime,
}


def _from_frame(image: str, metadata_json: str) -> Array:
    from garagecam_core.metadata import ModelMetadata
    from garagecam_core.preprocess import prepare

    metadata = ModelMetadata.from_json(Path(metadata_json).read_text(encoding="utf-8"))
    tensor = prepare(Path(image).read_bytes(), metadata).tensor
    return np.ascontiguousarray(tensor, dtype=np.float32)


def probe(
    kind: str, threads: int, input_path: str, models: list[str], frame: list[str] | None = None
) -> dict[str, Any]:
    x: Array = np.load(input_path)
    loader, import_s = KINDS[kind](models, threads, x)
    if frame:
        x[...] = _from_frame(*frame)  # the loaders read `x` when they load, below
    start = time.perf_counter()
    run = loader()
    loaded = time.perf_counter()
    output = run()
    done = time.perf_counter()
    first_result_at = time.time()  # wall clock: the parent knows when it started the process
    for _ in range(PROBE_FRAMES - 1):
        output = run()
    return {
        "kind": kind,
        "import_ms": round(import_s * 1000.0, 2),
        "load_ms": round((loaded - start) * 1000.0, 2),
        "first_run_ms": round((done - loaded) * 1000.0, 2),
        "first_result_at": first_result_at,
        "rss_mb": round(_vm("VmRSS"), 2),
        "peak_rss_mb": round(_vm("VmHWM"), 2),
        "output": [float(v) for v in np.asarray(output).reshape(-1)],
    }


def main(argv: list[str]) -> int:
    frame = None
    if "--frame" in argv:
        at = argv.index("--frame")
        argv, frame = argv[:at], argv[at + 1 :]
    if len(argv) < 4 or argv[0] not in KINDS or (frame is not None and len(frame) != 2):
        print(
            f"usage: probe {{{','.join(KINDS)}}} THREADS INPUT.npy MODEL [MODEL2] "
            "[--frame IMAGE METADATA.json]",
            file=sys.stderr,
        )
        return 2
    print(json.dumps(probe(argv[0], int(argv[1]), argv[2], argv[3:], frame)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

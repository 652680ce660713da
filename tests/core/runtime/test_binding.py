"""The garagecam-runtime binding: same outputs as executorch's runtime, bit for bit, and a
clear Python exception (never a crash) for every kind of bad program or input."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import garagecam_runtime as gr
import numpy as np
import pytest

from garagecam_core import student_demo_path
from garagecam_core.bundle import load_program
from garagecam_core.metadata import METADATA_METHOD
from tests.pte_files import corrupt_copy, truncated_copy

ROOT = Path(__file__).parents[3]

# Runs in a fresh process: the binding alone (no torch, no executorch package imported, so
# no exporter plugins either), inputs and outputs through .npy files.
PROBE = """
import sys
import numpy as np
import garagecam_runtime as gr
gr.set_thread_count(1)
program = gr.Program.load(sys.argv[1])
inputs = np.load(sys.argv[2])
np.save(sys.argv[3], np.stack([program.run(x[None]) for x in inputs]))
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "executorch"))
print("heavy modules:", heavy)
"""


def _inputs(shape: tuple[int, ...], count: int = 12) -> np.ndarray:
    rng = np.random.default_rng(7)
    return rng.standard_normal((count, *shape[1:]), dtype=np.float32)


@pytest.mark.parametrize("model", ["tiny_fp32", "tiny_int8", "demo"])
def test_outputs_are_bit_identical_to_the_official_runtime(
    model: str, tiny_model_path: Path, tiny_int8_model_path: Path, tmp_path: Path
) -> None:
    path = {"tiny_fp32": tiny_model_path, "tiny_int8": tiny_int8_model_path}.get(
        model, student_demo_path()
    )
    official = load_program(path, threads=1, runtime="official")
    inputs = _inputs(official.input_shape)
    np.save(tmp_path / "in.npy", inputs)
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(path), tmp_path / "in.npy", tmp_path / "out.npy"],
        capture_output=True, text=True, check=True, cwd=ROOT,
    )  # fmt: skip
    assert "heavy modules: []" in done.stdout
    got = np.load(tmp_path / "out.npy").reshape(len(inputs), -1)
    expected = np.stack([official.run(x[None]) for x in inputs])
    assert got.dtype == expected.dtype == np.float32
    # bit for bit, not approximately
    assert got.tobytes() == expected.tobytes()
    # and the core picks the binding by default, with the same result
    default = load_program(path, threads=1)
    assert default.runtime == "binding"
    assert default.run(inputs[:1]).tobytes() == expected[0].tobytes()


def test_specs_metadata_and_methods(tiny_model_path: Path) -> None:
    program = gr.Program.load(tiny_model_path)
    assert program.method_names == {"forward", METADATA_METHOD}
    (spec,) = program.input_specs()
    assert spec == gr.TensorSpec((1, 3, 64, 64), "float32", (0, 2, 3, 1))  # channels last
    assert program.output_specs() == [gr.TensorSpec((1, 2), "float32", (0, 1))]
    assert json.loads(program.string_constant(METADATA_METHOD))["labels"][0]["name"] == (
        "door_open"
    )
    from_bytes = gr.Program.from_bytes(tiny_model_path.read_bytes())
    x = _inputs(spec.sizes, 1)
    assert from_bytes.run(x).tobytes() == program.run(x).tobytes()


def test_any_memory_layout_gives_the_same_answer(tiny_model_path: Path) -> None:
    program = gr.Program.load(tiny_model_path)
    x = _inputs((1, 3, 64, 64), 1)
    expected = program.run(x)
    nhwc_view = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    sliced = np.zeros((1, 3, 128, 64), np.float32)
    sliced[:, :, ::2] = x
    for given in (nhwc_view, np.asfortranarray(x), sliced[:, :, ::2], x[:, ::-1][:, ::-1]):
        assert given.shape == x.shape
        assert program.run(given).tobytes() == expected.tobytes()


def test_threads_share_one_program(tiny_model_path: Path) -> None:
    program = gr.Program.load(tiny_model_path)
    inputs = _inputs((1, 3, 64, 64), 8)
    expected = [program.run(x[None]).tobytes() for x in inputs]
    failures: list[str] = []

    def work() -> None:
        for _ in range(5):
            for x, want in zip(inputs, expected, strict=True):
                if program.run(x[None]).tobytes() != want:
                    failures.append("mismatch")

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_thread_count() -> None:
    gr.set_thread_count(2)
    assert gr.thread_count() == 2
    gr.set_thread_count(1)
    assert gr.thread_count() == 1
    with pytest.raises(ValueError, match="at least 1"):
        gr.set_thread_count(0)


# --- bad programs ----------------------------------------------------------------------------


def _bad_programs(tiny: Path, tmp: Path) -> dict[str, Path]:
    data = tiny.read_bytes()
    rng = np.random.default_rng(3)
    cases = {
        "empty": b"",
        "header_only": data[:8],
        "random": rng.bytes(4096),
        "random_after_header": data[:8] + rng.bytes(len(data) - 8),
        "text": b"not a program\n" * 10,
    }
    paths = {}
    for name, content in cases.items():
        paths[name] = tmp / f"{name}.pte"
        paths[name].write_bytes(content)
    for keep in (0.05, 0.3, 0.6, 0.95, 0.999):
        paths[f"truncated_{keep}"] = truncated_copy(tiny, tmp / f"cut_{keep}.pte", keep=keep)
    for offset in (8, 40, 200, data.find(b"XN01") - 4, len(data) // 2, len(data) - 80):
        paths[f"flipped_{offset}"] = corrupt_copy(tiny, tmp / f"rot_{offset}.pte", offset)
    return paths


def test_bad_programs_raise_in_this_process(tiny_model_path: Path, tmp_path: Path) -> None:
    """Every broken file is refused at load, or loads (bit flips in weights are still a
    program) and then either runs or fails with a ProgramError; the process survives."""
    refused = []
    for name, path in _bad_programs(tiny_model_path, tmp_path).items():
        for load in (
            lambda p=path: gr.Program.load(p),
            lambda p=path: gr.Program.from_bytes(p.read_bytes()),
        ):
            try:
                program = load()
                program.load_method()
                program.run(_inputs((1, 3, 64, 64), 1))
            except gr.ProgramError as err:
                assert str(err)
                refused.append(name)
    for name in ("empty", "header_only", "random", "random_after_header", "text"):
        assert refused.count(name) == 2, name
    assert refused.count("truncated_0.6") == 2


def test_load_errors_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(gr.InvalidProgramError, match="is not a file"):
        gr.Program.load(tmp_path / "missing.pte")
    with pytest.raises(gr.InvalidProgramError, match="cannot be loaded as an ExecuTorch program"):
        gr.Program.from_bytes(b"")
    with pytest.raises(TypeError, match="expected bytes"):
        gr.Program.from_bytes("model.pte")  # type: ignore[arg-type]


def test_bad_inputs(tiny_model_path: Path) -> None:
    program = gr.Program.load(tiny_model_path)
    x = _inputs((1, 3, 64, 64), 1)
    with pytest.raises(gr.InputError, match="dtype float64 does not match the program's float32"):
        program.run(x.astype(np.float64))
    with pytest.raises(gr.InputError, match=r"shape \(1, 3, 32, 32\) does not match"):
        program.run(np.zeros((1, 3, 32, 32), np.float32))
    with pytest.raises(gr.InputError, match=r"shape \(3, 64, 64\) does not match"):
        program.run(x[0])
    with pytest.raises(gr.InputError, match="expected a numpy array, got list"):
        program.run(x.tolist())  # type: ignore[arg-type]
    with pytest.raises(gr.MethodNotFoundError, match="has no method 'nope'"):
        program.run(x, method="nope")
    with pytest.raises(gr.InputError, match="does not take exactly one tensor input"):
        program.run(x, method=METADATA_METHOD)
    with pytest.raises(gr.MethodNotFoundError):
        program.string_constant("missing")
    with pytest.raises(gr.ExecutionError, match=r"method .forward. failed"):
        program.string_constant("forward")
    assert issubclass(gr.InputError, ValueError)
    # the native layer refuses what the Python wrapper would have copied
    with pytest.raises(gr.InputError, match="memory layout"):
        program._native.run("forward", x)

"""Models: truncation, byte flips, randomised tails, and metadata values (NaN, 1e-30, inf,
denormals) both as JSON and patched into a real `.pte`.

A broken model must be refused when loading (`ModelError`) or answer `EngineError` for a
frame; a model that still loads must only ever give finite probabilities in 0..1. The shipped
demo program is the subject (no export needed).
"""

from __future__ import annotations

import json
import math
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from garagecam_core import student_demo_path
from garagecam_core.errors import EngineError, MetadataError, ModelError
from garagecam_core.metadata import ModelMetadata
from garagecam_core.preprocess import decode, to_tensor
from tests.core.fuzz.tally import record, verify
from tests.images import encode, scene

FRAME = encode(scene(320, 180), "JPEG", quality=85)
DEMO = student_demo_path().read_bytes()


@pytest.fixture(scope="module")
def engine_cls() -> Any:
    from garagecam_core.engine.local import LocalEngine

    return LocalEngine


def try_model(category: str, path: Path, engine_cls: Any, bad: bool, what: str) -> None:
    """Load and run `path`; `bad`: it must not load or answer (else: sane answers only)."""
    try:
        with engine_cls(path) as engine:
            result = engine.classify(FRAME)
    except (ModelError, EngineError):
        record(category, "refused")
        return
    except Exception as err:
        record(category, "crashed", f"{what}: {type(err).__name__}: {err}")
        return
    sane = all(math.isfinite(p) and 0.0 <= p <= 1.0 for p in result.probabilities.values())
    if bad or not sane:
        record(category, "accepted", f"{what}: {result.probabilities}")
    else:
        record(category, "tolerated")


def test_truncated_models(tmp_path: Path, engine_cls: Any) -> None:
    for tenth in range(1, 10):
        path = tmp_path / f"cut{tenth}.pte"
        path.write_bytes(DEMO[: len(DEMO) * tenth // 10])
        try_model("model truncated", path, engine_cls, bad=True, what=f"cut to {tenth}0 %")
    for what, data in (("empty", b""), ("not a pte", b"PK\x03\x04" + DEMO[4:200])):
        path = tmp_path / "x.pte"
        path.write_bytes(data)
        try_model("model truncated", path, engine_cls, bad=True, what=what)
    verify(minimum=11)


def test_randomised_tails_and_byte_flips(tmp_path: Path, engine_cls: Any) -> None:
    rng = random.Random(14)
    for index in range(40):
        data = bytearray(DEMO)
        if index < 10:  # the case: the last bytes randomised
            tail = rng.choice((16, 256, 4096, 65536))
            data[-tail:] = rng.randbytes(tail)
        else:
            start = rng.randrange(len(data))
            for offset in range(start, min(start + rng.choice((1, 8, 64)), len(data))):
                data[offset] ^= rng.randrange(1, 256)
        path = tmp_path / f"flip{index}.pte"
        path.write_bytes(bytes(data))
        try_model("model byte flips", path, engine_cls, bad=False, what=f"mutation {index}")
    verify(minimum=40)


@pytest.mark.parametrize(
    ("field", "old", "new"),
    [
        ("mean", b"0.485", b"NaN  "),
        ("mean", b"0.485", b"1e999"),  # JSON reads it as infinity
        ("std", b"0.229", b"1e-30"),
        ("std", b"0.229", b"5e-324"),  # a denormal
        ("std", b"0.229", b"-0.01"),
        ("std", b"0.229", b"0    "),
        ("mean", b"0.485", b"9e+99"),
        ("mean", b"0.485", b"true "),
    ],
)
def test_bad_metadata_inside_a_real_program(
    tmp_path: Path, engine_cls: Any, field: str, old: bytes, new: bytes
) -> None:
    start = DEMO.index(f'"{field}": ['.encode())
    at = DEMO.index(old, start)
    patched = DEMO[:at] + new + DEMO[at + len(old) :]  # same length: the program stays valid
    path = tmp_path / "meta.pte"
    path.write_bytes(patched)
    try_model("model metadata in .pte", path, engine_cls, bad=True, what=f"{field} {new!r}")
    verify()


_NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1e-30, 5e-324, 1e30, float("nan"), float("inf")]),
    st.booleans(),
    st.integers(-(10**20), 10**20),
    st.text(max_size=4),
    st.none(),
)


def _clearly_bad(values: list[Any]) -> bool:
    for value in values:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return True
        if not math.isfinite(value) or abs(value) > 1e6:
            return True
    return False


@settings(max_examples=80, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(
    mean=st.lists(_NUMBERS, min_size=3, max_size=3), std=st.lists(_NUMBERS, min_size=3, max_size=3)
)
def test_metadata_values(mean: list[Any], std: list[Any]) -> None:
    _metadata_values(mean, std)
    verify()


def _metadata_values(mean: list[Any], std: list[Any]) -> None:
    data = json.loads(ModelMetadata.from_json(_DEMO_META).to_json())
    data["mean"], data["std"] = mean, std
    bad = _clearly_bad(mean + std) or any(
        isinstance(s, int | float) and not isinstance(s, bool) and not 1e-6 <= s <= 1e3 for s in std
    )
    try:
        meta = ModelMetadata.from_dict(data)
        tensor = to_tensor(decode(FRAME), meta)
    except MetadataError:
        record("model metadata values", "refused")
        return
    except Exception as err:
        record("model metadata values", "crashed", f"{mean} {std}: {type(err).__name__}: {err}")
        return
    if bad or not np.isfinite(tensor).all():
        record("model metadata values", "accepted", f"{mean} {std}")
    else:
        record("model metadata values", "tolerated")


def _demo_metadata_json() -> str:
    start = DEMO.index(b'{"activation"')
    return DEMO[start : DEMO.index(b"\x00", start)].decode()


_DEMO_META = _demo_metadata_json()

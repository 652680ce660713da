"""aarch64 under qemu-user gives the x86 answers: the demo model and the trunk, through the
garagecam-runtime wheel built for aarch64, on the frames of an x86 reference computed in the
same run (scripts/test.sh: `python -m tests.arm64.outputs` on the host, then this file in the
arm64 tree with GARAGECAM_X86_REFERENCE pointing at it).

Tolerance: XNNPACK picks other kernels on aarch64 (NEON instead of AVX2/AVX-512), so the
float sums run in another order: the same answers, not the same bits. Embeddings must agree
to 1e-5 of their largest magnitude, probabilities and novelty to 1e-5 absolute (0.001
percentage points), and every label must land on the same side of 0.5. Measured here
(docs/runtime.md#aarch64): 2.7e-6 on embeddings of magnitude 3.8 (7e-7 relative), 1.2e-7 on
probabilities and novelty.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from tests.arm64.outputs import compute, unpack

EMBEDDING_RTOL = 1e-5
PROBABILITY_ATOL = 1e-5
NOVELTY_ATOL = 1e-5
Arrays = dict[str, npt.NDArray[Any]]


@pytest.fixture(scope="module")
def reference() -> Arrays:
    path = os.environ.get("GARAGECAM_X86_REFERENCE")
    if not path or not Path(path).is_file():
        pytest.fail(
            "GARAGECAM_X86_REFERENCE must name the x86 reference "
            "(python -m tests.arm64.outputs OUT.npz on the host)",
            pytrace=False,
        )
    with np.load(path) as loaded:
        return {name: loaded[name] for name in loaded.files}


@pytest.fixture(scope="module")
def here(reference: Arrays) -> Arrays:
    return compute(unpack(reference["frames"], reference["ends"]))


def test_the_reference_is_x86_and_this_is_aarch64(reference: Arrays) -> None:
    assert str(reference["arch"]) == "x86_64"
    assert platform.machine() == "aarch64"


def test_trunk_embeddings_match(reference: Arrays, here: Arrays) -> None:
    expected, got = reference["embeddings"], here["embeddings"]
    assert got.shape == expected.shape and np.isfinite(got).all()
    scale = float(np.abs(expected).max())
    diff = float(np.abs(got - expected).max())
    print(f"embeddings {got.shape}: max |aarch64 - x86| = {diff:.3g} (scale {scale:.3g})")
    assert diff <= EMBEDDING_RTOL * scale


def test_demo_model_probabilities_match(reference: Arrays, here: Arrays) -> None:
    expected, got = reference["probabilities"], here["probabilities"]
    diff = float(np.abs(got - expected).max())
    print(f"probabilities {got.shape}: max |aarch64 - x86| = {diff:.3g}")
    assert diff <= PROBABILITY_ATOL
    assert ((got > 0.5) == (expected > 0.5)).all()


def test_demo_model_novelty_matches(reference: Arrays, here: Arrays) -> None:
    expected, got = reference["novelty"], here["novelty"]
    assert np.isnan(got).tolist() == np.isnan(expected).tolist()
    known = ~np.isnan(expected)
    diff = float(np.abs(got[known] - expected[known]).max()) if known.any() else 0.0
    print(f"novelty: max |aarch64 - x86| = {diff:.3g}")
    assert diff <= NOVELTY_ATOL

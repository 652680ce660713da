"""What the aarch64 smoke set compares with x86: the demo model and the shipped trunk on a
few generated garage frames, run by the garagecam-runtime binding.

    python -m tests.arm64.outputs OUT.npz   (on x86_64: writes the frames and the reference)

The frames travel inside the reference file, so both machines decode the very same JPEG
bytes (the scene generator's own float maths is not what is being compared).
"""

from __future__ import annotations

import platform
import sys
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from garagecam_core import demo_model_path
from garagecam_core.engine.local import LocalEngine
from garagecam_core.heads.program import load_head_program
from garagecam_core.preprocess import prepare
from garagecam_core.scenes import generate_scene

#: (seed, index, door_open, car_present, size): both labels both ways, two frame sizes
FRAMES = (
    (11, 0, True, True, (1280, 720)),
    (11, 1, False, True, (1280, 720)),
    (11, 2, True, False, (640, 360)),
    (11, 3, False, False, (640, 360)),
    (12, 0, True, False, (1920, 1080)),
    (12, 1, False, True, (800, 600)),
)


def make_frames() -> list[bytes]:
    return [
        generate_scene(seed, index, sizes=(size,), door_open=door, car_present=car).jpeg
        for seed, index, door, car, size in FRAMES
    ]


def pack(frames: list[bytes]) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64]]:
    """Frames as one byte array and their end offsets (an .npz without pickles)."""
    data = np.frombuffer(b"".join(frames), np.uint8)
    return data, np.cumsum([len(f) for f in frames]).astype(np.int64)


def unpack(data: npt.NDArray[Any], ends: npt.NDArray[Any]) -> list[bytes]:
    stops = [int(end) for end in ends]
    return [data[s:e].tobytes() for s, e in zip([0, *stops[:-1]], stops, strict=True)]


def compute(frames: list[bytes]) -> dict[str, npt.NDArray[np.float32]]:
    """Probabilities and novelty of the demo model, and the trunk's embeddings, per frame."""
    engine = LocalEngine(demo_model_path(), threads=1)
    program = load_head_program(demo_model_path(), threads=1)
    if engine.runtime != "binding" or program.runtime != "binding":
        raise SystemExit(f"expected the garagecam-runtime binding, got {engine.runtime}")
    probabilities, novelty, embeddings = [], [], []
    for frame in frames:
        result = engine.classify(frame)
        probabilities.append([result.probabilities[n] for n in engine.metadata.label_names])
        novelty.append(np.nan if result.novelty is None else result.novelty)
        embeddings.append(program.trunk.embed(prepare(frame, program.metadata).tensor))
    return {
        "probabilities": np.asarray(probabilities, np.float32),
        "novelty": np.asarray(novelty, np.float32),
        "embeddings": np.asarray(embeddings, np.float32).reshape(len(frames), -1),
    }


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: python -m tests.arm64.outputs OUT.npz", file=sys.stderr)
        return 2
    frames = make_frames()
    data, ends = pack(frames)
    out = Path(sys.argv[1])
    out.parent.mkdir(parents=True, exist_ok=True)
    outputs = compute(frames)
    np.savez(
        out,
        arch=np.array(platform.machine()),
        frames=data,
        ends=ends,
        probabilities=outputs["probabilities"],
        novelty=outputs["novelty"],
        embeddings=outputs["embeddings"],
    )
    print(f"{out}: {len(frames)} frames, reference computed on {platform.machine()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

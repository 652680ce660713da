"""Cost of the JPEG completeness check in `preprocess`, side by side in one run.

    PYTHONPATH=. .venv/bin/python bench/decode_checks.py

For each frame size: the marker walk alone (`_jpeg_scans`), and `prepare` (decode with
DCT scaling to a 224x224 model input, then resize/normalise) with the check (libjpeg fed
scan by scan) and with it switched off (Pillow's own load). Best of N runs, milliseconds of
CPU time (steadier than wall time on a busy machine).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from garagecam_core import preprocess
from garagecam_core.metadata import LabelSpec, ModelMetadata
from tests.images import encode, scene

META = ModelMetadata(name="bench", input_height=224, input_width=224, labels=(LabelSpec("x"),))
RUNS = 40


def best_ms(function: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(RUNS):
        start = time.process_time()
        function()
        best = min(best, time.process_time() - start)
    return best * 1000


def side_by_side(data: bytes) -> tuple[float, float]:
    """Best `prepare` time with and without the check, runs interleaved (a busy machine
    slows both alike)."""
    original = preprocess._jpeg_scans
    best = [float("inf"), float("inf")]
    for _ in range(RUNS):
        for index, check in enumerate((original, lambda image: None)):
            preprocess._jpeg_scans = check  # type: ignore[assignment]
            try:
                start = time.process_time()
                preprocess.prepare(data, META)
                best[index] = min(best[index], time.process_time() - start)
            finally:
                preprocess._jpeg_scans = original
    return best[0] * 1000, best[1] * 1000


def main() -> None:
    print(f"{'frame':>10} {'bytes':>8} {'walk':>7} {'with':>8} {'without':>8} {'extra':>6}")
    for width, height in ((640, 360), (1920, 1080), (2560, 1440), (3840, 2160)):
        data = encode(scene(width, height), "JPEG", quality=85)
        walk = best_ms(lambda data=data: preprocess._jpeg_scans(data))
        with_check, without = side_by_side(data)
        print(
            f"{width}x{height:<5} {len(data):>8} {walk:>7.3f} {with_check:>8.2f} {without:>8.2f} "
            f"{(with_check - without) / without:>6.1%}"
        )


if __name__ == "__main__":
    main()

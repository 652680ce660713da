"""Write the suite's tiny test models for environments without torch.

    python -m tests.make_test_models DIR    # then: GARAGECAM_TEST_MODELS=DIR pytest ...

Writes DIR/tiny.pte and DIR/tiny_int8.pte exactly as the `tiny_model_path` and
`tiny_int8_model_path` fixtures export them (same code: `tests.conftest.export_tiny`).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from tests.conftest import calibration_images, export_tiny


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path)
    args = parser.parse_args(argv)
    directory: Path = args.directory
    directory.mkdir(parents=True, exist_ok=True)
    export_tiny(directory / "tiny.pte")
    with tempfile.TemporaryDirectory() as calibration:
        export_tiny(directory / "tiny_int8.pte", sorted(calibration_images(Path(calibration))))
    for name in ("tiny.pte", "tiny_int8.pte"):
        print(f"{directory / name}: {(directory / name).stat().st_size} bytes")


if __name__ == "__main__":
    main()

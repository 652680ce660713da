"""Session fixtures shared by the whole suite: real tiny ExecuTorch models.

Nothing heavy at module level (the Home Assistant suite and `import garagecam_core` checks
load this file): torch and the exporter are imported inside the fixtures, and each model is
exported once per session.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from garagecam_core.metadata import ModelMetadata, parse_label_specs
from garagecam_core.redact import SECRETS

TINY_INPUT = 64
TINY_LABELS = "door_open:garage_door,car_present:occupancy"


@pytest.fixture(autouse=True)
def _restore_root_logging() -> Iterator[None]:
    """CLI tests call `logging.basicConfig(force=True)` on pytest's captured stderr; put the
    root logger back so later tests do not log to a closed stream. The process-wide secret
    filter is put back too: a runner started in-process registers its config's secrets and
    attaches the filter, which then renders later tests' tracebacks to text (exc_info gone)
    for every handler after it, caplog's included."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    filters = {handler: list(handler.filters) for handler in handlers}
    secrets = set(SECRETS._secrets)
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for handler, kept in filters.items():
        handler.filters[:] = kept
    SECRETS._secrets.clear()
    SECRETS._secrets.update(secrets)


def tiny_metadata(name: str = "tiny") -> ModelMetadata:
    """Metadata of the tiny test model: 64x64 RGB, door_open + car_present, sigmoid."""
    return ModelMetadata(
        name=name,
        input_height=TINY_INPUT,
        input_width=TINY_INPUT,
        labels=parse_label_specs(TINY_LABELS),
        version="test",
    )


def calibration_images(directory: Path) -> list[Path]:
    """Deterministic garage scenes (door open/closed, several sizes and crops) as JPEGs,
    to calibrate int8 quantization on the kind of frames the model sees."""
    from tests.images import encode, scene

    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, (width, height) in enumerate(((640, 360), (320, 240), (200, 200), (480, 270))):
        for door_open in (False, True):
            image = scene(width, height, door_open=door_open)
            if index % 2:  # a crop shifts the layout so not every frame is the same picture
                image = image.crop((width // 8, 0, width, height - height // 8))
            path = directory / f"calib_{index}_{int(door_open)}.jpg"
            path.write_bytes(encode(image, "JPEG", quality=90))
            paths.append(path)
    return paths


#: a directory with tiny.pte / tiny_int8.pte made by `python -m tests.make_test_models DIR`:
#: environments without torch (the Python 3.14 Home Assistant harness) use these
MODELS_ENV = "GARAGECAM_TEST_MODELS"


def prebuilt_model(name: str) -> Path | None:
    """`$GARAGECAM_TEST_MODELS/<name>` when the variable is set (the file must exist)."""
    directory = os.environ.get(MODELS_ENV)
    if not directory:
        return None
    path = Path(directory) / name
    if not path.is_file():
        pytest.fail(
            f"{MODELS_ENV}={directory} has no {name}: run "
            f"`python -m tests.make_test_models {directory}` (needs torch) first",
            pytrace=False,
        )
    return path


def export_tiny(out: Path, calibration: list[Path] | None = None) -> Path:
    """Export the tiny model (fp32, or int8 calibrated on `calibration`) to `out`; needs torch."""
    from garagecam_core.export import export_model
    from tests.tiny_model import build

    if calibration is None:
        export_model(build(), tiny_metadata(), out, progress=False)
    else:
        metadata = tiny_metadata("tiny_int8")
        export_model(build(), metadata, out, int8=True, calibration=calibration, progress=False)
    return out


@pytest.fixture(scope="session")
def tiny_model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """fp32 `.pte` of `tests.tiny_model.build()` with `tiny_metadata()`."""
    if (prebuilt := prebuilt_model("tiny.pte")) is not None:
        return prebuilt
    return export_tiny(tmp_path_factory.mktemp("models") / "tiny.pte")


@pytest.fixture(scope="session")
def calibration_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("calibration")
    calibration_images(directory)
    return directory


@pytest.fixture(scope="session")
def tiny_int8_model_path(tmp_path_factory: pytest.TempPathFactory, calibration_dir: Path) -> Path:
    """int8 (XNNPACK PTQ) `.pte` of the same tiny model, calibrated on garage scenes."""
    if (prebuilt := prebuilt_model("tiny_int8.pte")) is not None:
        return prebuilt
    out = tmp_path_factory.mktemp("models") / "tiny_int8.pte"
    return export_tiny(out, sorted(calibration_dir.glob("*.jpg")))

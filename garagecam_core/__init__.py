"""GarageCam core: snapshot bytes to debounced ON/OFF states with ExecuTorch.

Importing this package is cheap: torch, executorch and other heavy dependencies are
imported lazily by the modules that need them (engines, export, training, bench).
"""

from __future__ import annotations

from pathlib import Path

__version__ = "0.1.0"

_MODELS_DIR = Path(__file__).parent / "models"


def demo_model_path() -> Path:
    """Path of the default model shipped inside the package (door_open, car_present): a head
    on the pretrained trunk, trained on generated scenes; it says "unknown" on frames unlike
    them (most real garages) until the camera is taught with a few labelled frames."""
    return _MODELS_DIR / "demo.gcam"


def student_demo_path() -> Path:
    """The student network trained on generated scenes (`.pte`, with its `.pt` weights and
    `.json` report beside it): what `garagecam train --full --init-from demo` fine-tunes."""
    return _MODELS_DIR / "demo.pte"


__all__ = ["__version__", "demo_model_path", "student_demo_path"]

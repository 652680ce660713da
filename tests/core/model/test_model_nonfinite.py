"""A model that outputs NaN/infinity is an error on every engine, never a probability."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from garagecam_core.bundle import load_program
from garagecam_core.engine.local import LocalEngine
from garagecam_core.engine.worker import WorkerEngine
from garagecam_core.errors import InvalidOutputError
from garagecam_core.export import lower_to_pte
from garagecam_core.metadata import METADATA_METHOD
from tests.conftest import tiny_metadata
from tests.images import scene_jpeg


class _Broken(nn.Module):  # type: ignore[misc]
    """door_open: log of a negative number (NaN); car_present: a normal probability."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 2, 3)

    def forward(self, x: Any) -> Any:
        features = self.conv(x).mean(dim=(2, 3))
        nan = torch.log(-torch.abs(features[:, :1]) - 1.0)
        return torch.cat([nan, torch.sigmoid(features[:, 1:])], dim=1)


@pytest.fixture(scope="module")
def nan_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    methods = {METADATA_METHOD: tiny_metadata("nan").to_json()}
    data, _ = lower_to_pte(_Broken().eval(), torch.zeros(1, 3, 64, 64), methods)
    path = tmp_path_factory.mktemp("nan") / "nan.pte"
    path.write_bytes(data)
    return path


MESSAGE = r"the model answered nan for 'door_open', not a probability"


@pytest.mark.parametrize("runtime", ["binding", "official"])
def test_program_run_is_raw(nan_model: Path, runtime: str) -> None:
    """`LoadedProgram.run` hands back what the program computed (the bench compares raw
    outputs); the engines judge it."""
    values = load_program(nan_model, runtime=runtime).run(np.zeros((1, 3, 64, 64), np.float32))
    assert np.isnan(values[0])
    assert 0.0 <= values[1] <= 1.0


def test_engines_raise_on_nan(nan_model: Path) -> None:
    image = scene_jpeg(320, 180)
    with LocalEngine(nan_model) as local, pytest.raises(InvalidOutputError, match=MESSAGE):
        local.classify(image)
    with WorkerEngine(nan_model) as worker:
        # the same error type crosses the process boundary; the worker keeps serving
        pid = worker.pid
        for _ in range(2):
            with pytest.raises(InvalidOutputError, match=MESSAGE):
                worker.classify(image)
        assert worker.pid == pid

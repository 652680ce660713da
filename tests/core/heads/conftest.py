"""A small head model trained once per session on generated scenes of one garage."""

from __future__ import annotations

from pathlib import Path

import pytest

from garagecam_core.heads import HeadTrainResult, train_head
from garagecam_core.scenes import write_dataset

#: small frames: the trunk sees 224 px anyway, and the scenes are drawn faster
SIZES = ((640, 360),)


@pytest.fixture(scope="session")
def garage_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("garage")
    write_dataset(root, seed=7, count=16, sizes=SIZES, garage=101)
    return root


@pytest.fixture(scope="session")
def trained(garage_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> HeadTrainResult:
    out = tmp_path_factory.mktemp("model") / "garage.gcam"
    return train_head(garage_dataset, out)

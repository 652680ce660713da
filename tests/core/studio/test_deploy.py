"""Atomic model swap and rollback, with real `.pte` files (the demo model and a tiny one)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from garagecam_core import demo_model_path
from garagecam_core.bundle import read_metadata
from garagecam_core.deploy import install_model, previous_path, rollback
from garagecam_core.errors import ConfigError, ModelError
from tests.pte_files import truncated_copy


@pytest.fixture
def camera_model(tmp_path: Path) -> Path:
    target = tmp_path / "models" / "garage.pte"
    target.parent.mkdir()
    shutil.copyfile(demo_model_path(), target)
    return target


def test_install_keeps_previous_and_rollback_swaps_back(
    camera_model: Path, tiny_model_path: Path
) -> None:
    demo_bytes = camera_model.read_bytes()
    done = install_model(tiny_model_path, camera_model)
    assert camera_model.read_bytes() == tiny_model_path.read_bytes()
    assert done.previous == previous_path(camera_model)
    assert previous_path(camera_model).read_bytes() == demo_bytes
    assert done.metadata.name == read_metadata(tiny_model_path).name

    back = rollback(camera_model)
    assert camera_model.read_bytes() == demo_bytes
    assert back.metadata.name == read_metadata(demo_model_path()).name
    # the rollback is itself undoable: the new model is now the "previous" one
    assert previous_path(camera_model).read_bytes() == tiny_model_path.read_bytes()
    rollback(camera_model)
    assert camera_model.read_bytes() == tiny_model_path.read_bytes()
    # no temporary files are left behind
    assert sorted(p.name for p in camera_model.parent.iterdir()) == [
        "garage.previous.pte",
        "garage.pte",
    ]


def test_corrupt_model_never_replaces_a_working_one(
    camera_model: Path, tiny_model_path: Path, tmp_path: Path
) -> None:
    before = camera_model.read_bytes()
    broken = truncated_copy(tiny_model_path, tmp_path / "broken.pte")
    with pytest.raises(ModelError):
        install_model(broken, camera_model)
    assert camera_model.read_bytes() == before
    assert not previous_path(camera_model).exists()
    assert [p.name for p in camera_model.parent.iterdir()] == ["garage.pte"]


def test_first_install_has_no_previous_and_rollback_says_so(
    tmp_path: Path, tiny_model_path: Path
) -> None:
    target = tmp_path / "new.pte"
    done = install_model(tiny_model_path, target)
    assert done.previous is None and target.read_bytes() == tiny_model_path.read_bytes()
    with pytest.raises(ConfigError, match="no previous model"):
        rollback(target)


def test_bad_targets(tmp_path: Path, tiny_model_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\.pte or \.gcam"):
        install_model(tiny_model_path, tmp_path / "model.bin")
    with pytest.raises(ConfigError, match="does not exist"):
        install_model(tiny_model_path, tmp_path / "nope" / "model.pte")
    with pytest.raises(ConfigError, match="already"):
        install_model(tiny_model_path, tiny_model_path)


def test_a_gcam_file_can_be_the_target(tmp_path: Path, tiny_model_path: Path) -> None:
    # models load by content: the deploy target may be named .gcam (a head's usual name)
    target = tmp_path / "garage.gcam"
    done = install_model(tiny_model_path, target)
    assert done.target == target and target.read_bytes() == tiny_model_path.read_bytes()

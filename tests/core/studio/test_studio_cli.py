"""`garagecam studio` refuses unsafe or incomplete command lines before serving anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from garagecam_core.cli import main


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--host", "0.0.0.0"], "set --token"),
        (["--teacher", "http://127.0.0.1:9"], "go together"),
        (["--teacher-model", "llava"], "go together"),
        (["--teacher", "http://127.0.0.1:9", "--teacher-model", "m",
          "--teacher-key-env", "GARAGECAM_TEST_UNSET_KEY"], "is not set"),
    ],
)  # fmt: skip
def test_refused(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    extra: list[str],
    message: str,
) -> None:
    monkeypatch.delenv("GARAGECAM_STUDIO_TOKEN", raising=False)
    monkeypatch.delenv("GARAGECAM_TEST_UNSET_KEY", raising=False)
    assert main(["studio", "--dataset", str(tmp_path), *extra]) == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1  # one clear line


def test_missing_dataset_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["studio", "--dataset", str(tmp_path / "nope"), "--port", "0"]) == 1
    err = capsys.readouterr().err
    assert "does not exist" in err and err.count("\n") == 1

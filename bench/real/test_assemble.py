"""Tests for bench/real/assemble.py on a throw-away git repository.

.venv/bin/python -m pytest -p no:homeassistant bench/real/test_assemble.py
"""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

HERE = Path(__file__).resolve().parent
REPO = "someone/garage-cam"
PHOTO = b"\xff\xd8\xff\xe0 not really a jpeg, but bytes are bytes \xff\xd9"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("assemble", HERE / "assemble.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # dataclasses look their module up in sys.modules while the class is being built
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


assemble = _load()


def _git(*args: str, cwd: Path) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout.strip()


def _mirror(mirrors: Path) -> str:
    """A repository in the fetch layout holding snaps/door.jpg; returns its commit."""
    work = mirrors / REPO.replace("/", "+") / "repo"
    (work / "snaps").mkdir(parents=True)
    (work / "snaps" / "door.jpg").write_bytes(PHOTO)
    _git("init", "-q", cwd=work)
    _git("add", "snaps/door.jpg", cwd=work)
    _git("commit", "-q", "-m", "a photo", cwd=work)
    return _git("rev-parse", "HEAD", cwd=work)


def _manifest(path: Path, commit: str, sha: str, file: str = "g1/door.jpg") -> Path:
    row = {
        "garage": "g1", "file": file, "repo": REPO, "commit": commit, "path": "snaps/door.jpg",
        "licence": "none", "door_open": "1", "car_present": "", "label_source": "eye",
        "sha256": sha, "width": "1", "height": "1", "notes": "",
    }  # fmt: skip
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=assemble.COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerow(row)
    return path


def _run(tmp: Path, manifest: Path, mirrors: Path) -> int:
    code: int = assemble.main(
        ["--manifest", str(manifest), "--mirrors", str(mirrors),
         "--images", str(tmp / "images"), "--out", str(tmp / "out")]
    )  # fmt: skip
    return code


def test_rebuilds_the_blob_from_a_mirror(tmp_path: Path) -> None:
    commit = _mirror(tmp_path / "mirrors")
    manifest = _manifest(tmp_path / "m.csv", commit, hashlib.sha256(PHOTO).hexdigest())

    assert _run(tmp_path, manifest, tmp_path / "mirrors") == 0
    assert (tmp_path / "out" / "g1" / "door.jpg").read_bytes() == PHOTO


def test_refuses_bytes_whose_sha256_differs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    commit = _mirror(tmp_path / "mirrors")
    manifest = _manifest(tmp_path / "m.csv", commit, "0" * 64)

    assert _run(tmp_path, manifest, tmp_path / "mirrors") == 1
    assert not (tmp_path / "out" / "g1" / "door.jpg").exists()
    assert "has other bytes" in capsys.readouterr().out


def test_reports_a_missing_mirror(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = _manifest(tmp_path / "m.csv", "a" * 40, hashlib.sha256(PHOTO).hexdigest())

    assert _run(tmp_path, manifest, tmp_path / "nowhere") == 1
    out = capsys.readouterr().out
    assert "0/1 images" in out
    assert f"MISSING g1/door.jpg: no mirror of {REPO}" in out


def test_reports_a_commit_the_mirror_lacks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _mirror(tmp_path / "mirrors")
    manifest = _manifest(tmp_path / "m.csv", "b" * 40, hashlib.sha256(PHOTO).hexdigest())

    assert _run(tmp_path, manifest, tmp_path / "mirrors") == 1
    assert "commit or blob absent" in capsys.readouterr().out


def test_uses_a_committed_copy_without_any_mirror(tmp_path: Path) -> None:
    (tmp_path / "images" / "g1").mkdir(parents=True)
    (tmp_path / "images" / "g1" / "door.jpg").write_bytes(PHOTO)
    manifest = _manifest(tmp_path / "m.csv", "c" * 40, hashlib.sha256(PHOTO).hexdigest())

    assert _run(tmp_path, manifest, tmp_path / "nowhere") == 0
    assert (tmp_path / "out" / "g1" / "door.jpg").read_bytes() == PHOTO


def test_replaces_an_output_file_with_wrong_bytes(tmp_path: Path) -> None:
    commit = _mirror(tmp_path / "mirrors")
    manifest = _manifest(tmp_path / "m.csv", commit, hashlib.sha256(PHOTO).hexdigest())
    (tmp_path / "out" / "g1").mkdir(parents=True)
    (tmp_path / "out" / "g1" / "door.jpg").write_bytes(b"stale")

    assert _run(tmp_path, manifest, tmp_path / "mirrors") == 0
    assert (tmp_path / "out" / "g1" / "door.jpg").read_bytes() == PHOTO


@pytest.mark.parametrize("file", ["g1/../../escape.jpg", "/etc/g1/door.jpg", "g2/door.jpg"])
def test_rejects_a_file_outside_its_garage(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], file: str
) -> None:
    manifest = _manifest(tmp_path / "m.csv", "d" * 40, "e" * 64, file=file)

    assert _run(tmp_path, manifest, tmp_path / "nowhere") == 2
    err = capsys.readouterr().err
    assert err.startswith("error: manifest line 2: file")
    assert err.count("\n") == 1


def test_the_committed_manifest_is_well_formed() -> None:
    rows = assemble.read_manifest(assemble.DEFAULT_MANIFEST)

    assert len(rows) == len({row.file for row in rows}) > 0

"""Put a new model in place of a camera's model atomically, keeping the previous one.

`install_model(new, target)`:
1. the new file is validated first (it loads and carries GarageCam metadata), so a corrupt
   or foreign file never replaces a working model;
2. it is copied to a temporary file beside `target` and flushed to disk;
3. the current `target` is hard-linked (or copied) to `<stem>.previous.pte`, then the
   temporary file is renamed over `target`.
At every instant `target` is a complete model (the old one or the new one). `rollback(target)`
swaps `target` and `<stem>.previous.pte` the same way, so a rollback can be undone too.

Whoever has the model open (the runner, a studio) reloads it after the call; this module only
moves files.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigError, ModelError
from .metadata import ModelMetadata

Validator = Callable[[Path], ModelMetadata]


def previous_path(target: Path) -> Path:
    return target.with_name(f"{target.stem}.previous{target.suffix}")


def _default_validator(path: Path) -> ModelMetadata:
    from .bundle import read_metadata

    return read_metadata(path)


@dataclass(frozen=True)
class Deployment:
    target: Path
    previous: Path | None  # None when there was no model at `target` before
    metadata: ModelMetadata


def _temp_beside(target: Path) -> Path:
    handle, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(handle)
    return Path(name)


def _copy_synced(source: Path, dest: Path) -> None:
    with source.open("rb") as src, dest.open("wb") as out:
        shutil.copyfileobj(src, out, 1 << 20)
        out.flush()
        os.fsync(out.fileno())


def _snapshot(source: Path, dest: Path) -> None:
    """Make `dest` a copy of `source` without ever leaving `dest` partial."""
    temp = _temp_beside(dest)
    try:
        temp.unlink()
        try:
            os.link(source, temp)  # cheap, and the inode stays intact when source is replaced
        except OSError:
            _copy_synced(source, temp)
        temp.replace(dest)
    finally:
        temp.unlink(missing_ok=True)


def install_model(new: Path, target: Path, validate: Validator = _default_validator) -> Deployment:
    """Validate `new`, keep the current `target` as `<stem>.previous.pte`, put `new` at
    `target`. Raises ModelError (bad model) or ConfigError (bad paths) and changes nothing."""
    from .bundle import MODEL_SUFFIXES

    new, target = Path(new), Path(target)
    # models load by content: a .gcam head may replace the file a config names garage.pte
    if target.suffix not in MODEL_SUFFIXES:
        raise ConfigError(f"the model to replace must be a .pte or .gcam file, got {target}")
    if not target.parent.is_dir():
        raise ConfigError(f"folder {target.parent} does not exist")
    if new.resolve() == target.resolve():
        raise ConfigError(f"{new} is already the model at {target}")
    metadata = validate(new)
    temp = _temp_beside(target)
    try:
        _copy_synced(new, temp)
        validate(temp)  # what lands at target is what was checked, byte for byte
        previous = None
        if target.exists():
            previous = previous_path(target)
            _snapshot(target, previous)
        temp.replace(target)
    finally:
        temp.unlink(missing_ok=True)
    _fsync_dir(target.parent)
    return Deployment(target, previous, metadata)


def rollback(target: Path, validate: Validator = _default_validator) -> Deployment:
    """Swap `target` and `<stem>.previous.pte` (the model before the last install)."""
    target = Path(target)
    previous = previous_path(target)
    if not previous.is_file():
        raise ConfigError(f"there is no previous model to roll back to ({previous.name})")
    try:
        metadata = validate(previous)
    except ModelError as err:
        raise ModelError(f"the previous model {previous} cannot be used: {err}") from err
    current = _temp_beside(target)
    try:
        current.unlink()
        if target.exists():
            _snapshot(target, current)
        previous.replace(target)
        if current.exists():
            current.replace(previous)
    finally:
        with contextlib.suppress(FileNotFoundError):
            current.unlink()
    _fsync_dir(target.parent)
    return Deployment(target, previous if previous.exists() else None, metadata)


def _fsync_dir(directory: Path) -> None:
    """Make the renames durable (a power cut right after must not bring the old name back)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)

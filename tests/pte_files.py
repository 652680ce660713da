"""Broken copies of a `.pte` for the bundle validation tests (no torch needed)."""

from __future__ import annotations

from pathlib import Path


def truncated_copy(source: Path, target: Path, keep: float = 0.5) -> Path:
    """The first `keep` fraction of `source` (a download or copy cut short)."""
    data = source.read_bytes()
    target.write_bytes(data[: int(len(data) * keep)])
    return target


def corrupt_copy(source: Path, target: Path, offset: int, length: int = 64) -> Path:
    """`source` with `length` bytes from `offset` flipped (bit rot inside the program)."""
    data = bytearray(source.read_bytes())
    for index in range(offset, min(offset + length, len(data))):
        data[index] ^= 0x5A
    target.write_bytes(bytes(data))
    return target

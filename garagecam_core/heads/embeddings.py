"""Embeddings of a dataset's frames, cached beside the dataset so training again is instant.

The cache is one `.npz` per trunk (named by the trunk's sha256) and region of interest in
`<dataset>/.garagecam-cache/`, keyed per frame by the sha256 of the image bytes (a renamed or
re-saved frame is recomputed, a touched one is not). A dataset folder that cannot be written
is used without a cache. Cache files are written atomically under exclusive temporary names
and read with `allow_pickle=False`; a cache that cannot be read is ignored and rebuilt.
"""

from __future__ import annotations

import hashlib
import io
import logging
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from ..dataset import write_atomic
from ..metadata import ModelMetadata
from ..preprocess import prepare
from ..roi import Roi
from .model_file import FloatArray
from .trunk import LoadedTrunk

_LOGGER = logging.getLogger(__name__)
CACHE_DIR = ".garagecam-cache"

Progress = Callable[[str, float], None]


def _cache_path(root: Path, trunk_sha: str, roi: Roi | None) -> Path:
    where = "full" if roi is None else hashlib.sha256(repr(roi).encode()).hexdigest()[:12]
    return root / CACHE_DIR / f"embeddings-{trunk_sha[:16]}-{where}.npz"


def _read_cache(path: Path, dim: int) -> dict[str, FloatArray]:
    if path.is_symlink() or not path.is_file():
        return {}
    try:
        with np.load(path, allow_pickle=False) as data:
            keys, values = data["keys"], data["embeddings"]
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as err:
        _LOGGER.warning("ignoring the unreadable embedding cache %s: %s", path.name, err)
        return {}
    if values.ndim != 2 or values.shape[1] != dim or len(keys) != len(values):
        return {}
    return {str(k): v.astype(np.float32) for k, v in zip(keys, values, strict=True)}


def _write_cache(path: Path, cache: dict[str, FloatArray]) -> None:
    buffer = io.BytesIO()
    keys = np.array(sorted(cache))
    np.savez(buffer, keys=keys, embeddings=np.stack([cache[k] for k in keys]))
    try:
        path.parent.mkdir(exist_ok=True)
        if path.parent.is_symlink():
            return
        write_atomic(path, buffer.getvalue())
    except OSError as err:
        _LOGGER.info("no embedding cache in %s (%s): training again recomputes", path.parent, err)


def embed_files(
    files: Sequence[Path],
    trunk: LoadedTrunk,
    metadata: ModelMetadata,
    *,
    cache_root: Path | None = None,
    roi: Roi | None = None,
    progress: Progress | None = None,
) -> tuple[FloatArray, int]:
    """(n, D) embeddings of `files` and how many came from the cache."""
    dim = trunk.info.embedding_size
    path = _cache_path(cache_root, trunk.sha256, roi) if cache_root is not None else None
    cache = _read_cache(path, dim) if path is not None else {}
    out = np.empty((len(files), dim), dtype=np.float32)
    hits = 0
    for index, file in enumerate(files):
        data = file.read_bytes()
        key = hashlib.sha256(data).hexdigest()
        if key in cache:
            out[index] = cache[key]
            hits += 1
        else:
            out[index] = cache[key] = trunk.embed(prepare(data, metadata, roi).tensor)
        if progress is not None:
            progress("embedding", (index + 1) / len(files))
    if path is not None and hits < len(files):
        _write_cache(path, cache)
    return out, hits

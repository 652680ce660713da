"""The `.gcam` model file: a head trained on a trunk, with everything needed to use it.

One JSON document (small, readable, diffable): the model metadata (labels, device classes,
thresholds, and the trunk's preprocessing), the trunk it was trained on (name and sha256: a
head is only valid on those exact weights), the head's weights, the familiarity model that
says when a frame is unlike the training frames, and a training summary. Float arrays are
base64 little-endian float32 with their shape. Reading validates everything and raises one
`HeadFileError` line; a file is refused before parsing when it is larger than any head.
"""

from __future__ import annotations

import base64
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import HeadFileError, MetadataError, ModelNotFoundError
from ..metadata import ModelMetadata

FORMAT = "garagecam-head"
FORMAT_VERSION = 1
SUFFIX = ".gcam"
#: far above any real head (a 1280-d head with 1024 familiarity prototypes is ~3.5 MB)
MAX_BYTES = 32 * 1024 * 1024
#: how a head file starts (its first key, as `to_json` writes it; spacing may vary)
_MAGIC = re.compile(rb'\s*\{\s*"garagecam"\s*:\s*"' + FORMAT.encode() + rb'"')

FloatArray = npt.NDArray[np.float32]


def encode_array(values: npt.NDArray[Any]) -> dict[str, Any]:
    data = np.ascontiguousarray(values, dtype="<f4")
    return {"shape": list(data.shape), "f32": base64.b64encode(data.tobytes()).decode("ascii")}


def decode_array(raw: Any, what: str, shape: tuple[int | None, ...]) -> FloatArray:
    """An array from `encode_array`'s form, checked against `shape` (None: any size)."""
    if not isinstance(raw, dict) or not isinstance(raw.get("f32"), str):
        raise HeadFileError(f"{what} must be an encoded float array")
    dims = raw.get("shape")
    if not isinstance(dims, list) or len(dims) != len(shape):
        raise HeadFileError(f"{what} must have {len(shape)} dimension(s)")
    for got, want in zip(dims, shape, strict=True):
        if not isinstance(got, int) or got < 1 or (want is not None and got != want):
            raise HeadFileError(f"{what} has shape {dims}, expected {list(shape)}")
    try:
        data = base64.b64decode(raw["f32"], validate=True)
    except ValueError as err:
        raise HeadFileError(f"{what} is not valid base64") from err
    if len(data) != 4 * math.prod(dims):
        raise HeadFileError(f"{what} holds {len(data)} bytes, not {math.prod(dims)} floats")
    values = np.frombuffer(data, dtype="<f4").reshape(dims).astype(np.float32)
    if not np.all(np.isfinite(values)):
        raise HeadFileError(f"{what} holds NaN or infinite values")
    return values


@dataclass(frozen=True)
class TrunkRef:
    name: str
    sha256: str
    embedding_size: int


@dataclass(frozen=True)
class Head:
    """Per-label logistic regression on standardised embeddings: p = sigmoid(w.(x-c)/s + b)."""

    center: FloatArray  # (D,)
    scale: FloatArray  # (D,)
    weights: FloatArray  # (L, D)
    bias: FloatArray  # (L,)

    def probabilities(self, embedding: FloatArray) -> FloatArray:
        z = self.weights @ ((embedding - self.center) / self.scale) + self.bias
        return (1.0 / (1.0 + np.exp(-np.clip(z, -60.0, 60.0)))).astype(np.float32)


@dataclass(frozen=True)
class Familiarity:
    """How close a frame is to the training frames: cosine distance to the nearest prototype
    (training embeddings), divided by a threshold calibrated on the training frames. Above 1
    the frame is unlike anything the head learned from."""

    prototypes: FloatArray  # (K, D), unit length
    threshold: float

    def novelty(self, embedding: FloatArray) -> float:
        norm = float(np.linalg.norm(embedding))
        if norm == 0.0 or not math.isfinite(norm):
            return math.inf
        similarity = float(np.max(self.prototypes @ (embedding / norm)))
        return max(0.0, 1.0 - similarity) / self.threshold


@dataclass(frozen=True)
class HeadModel:
    metadata: ModelMetadata
    trunk: TrunkRef
    head: Head
    familiarity: Familiarity
    training: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        body = {
            "garagecam": FORMAT,
            "format_version": FORMAT_VERSION,
            "metadata": self.metadata.to_dict(),
            "trunk": {
                "name": self.trunk.name,
                "sha256": self.trunk.sha256,
                "embedding_size": self.trunk.embedding_size,
            },
            "head": {
                "kind": "logistic",
                "center": encode_array(self.head.center),
                "scale": encode_array(self.head.scale),
                "weights": encode_array(self.head.weights),
                "bias": encode_array(self.head.bias),
            },
            "familiarity": {
                "kind": "nearest-cosine",
                "prototypes": encode_array(self.familiarity.prototypes),
                "threshold": self.familiarity.threshold,
            },
            "training": self.training,
        }
        return json.dumps(body, allow_nan=False)


def looks_like_head_file(head: bytes) -> bool:
    """True when the first bytes of a file are those of a `.gcam` model."""
    return _MAGIC.match(head) is not None


def _parse_trunk(raw: Any) -> TrunkRef:
    if not isinstance(raw, dict):
        raise HeadFileError("'trunk' must be an object")
    name, sha, size = raw.get("name"), raw.get("sha256"), raw.get("embedding_size")
    if not isinstance(name, str) or not isinstance(sha, str) or len(sha) != 64:
        raise HeadFileError("'trunk' needs a name and a sha256")
    if not isinstance(size, int) or not 1 <= size <= 65536:
        raise HeadFileError("'trunk.embedding_size' must be a positive integer")
    return TrunkRef(name, sha, size)


def _parse_head(raw: Any, labels: int, dim: int) -> Head:
    if not isinstance(raw, dict) or raw.get("kind") != "logistic":
        raise HeadFileError("'head' must be a logistic head")
    scale = decode_array(raw.get("scale"), "head.scale", (dim,))
    if np.any(scale <= 0):
        raise HeadFileError("head.scale must be positive")
    return Head(
        center=decode_array(raw.get("center"), "head.center", (dim,)),
        scale=scale,
        weights=decode_array(raw.get("weights"), "head.weights", (labels, dim)),
        bias=decode_array(raw.get("bias"), "head.bias", (labels,)),
    )


def _parse_familiarity(raw: Any, dim: int) -> Familiarity:
    if not isinstance(raw, dict) or raw.get("kind") != "nearest-cosine":
        raise HeadFileError("'familiarity' must be a nearest-cosine model")
    threshold = raw.get("threshold")
    if not isinstance(threshold, int | float) or not 0 < threshold <= 2:
        raise HeadFileError("familiarity.threshold must be a number in (0, 2]")
    prototypes = decode_array(raw.get("prototypes"), "familiarity.prototypes", (None, dim))
    norms = np.linalg.norm(prototypes, axis=1)
    if np.any(np.abs(norms - 1) > 1e-3):
        raise HeadFileError("familiarity.prototypes must be unit vectors")
    return Familiarity(prototypes, float(threshold))


def parse(text: bytes) -> HeadModel:
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError) as err:
        raise HeadFileError(f"not valid JSON ({err})") from err
    except RecursionError as err:  # a hostile file of deeply nested arrays
        raise HeadFileError("nested too deeply to be a head model") from err
    if not isinstance(data, dict) or data.get("garagecam") != FORMAT:
        raise HeadFileError("not a GarageCam head model")
    if data.get("format_version") != FORMAT_VERSION:
        raise HeadFileError(
            f"format version {data.get('format_version')!r} is not supported by this "
            f"GarageCam (it reads version {FORMAT_VERSION}); upgrade garagecam-core"
        )
    try:
        metadata = ModelMetadata.from_dict(data.get("metadata"))
    except MetadataError as err:
        raise HeadFileError(f"invalid metadata: {err}") from err
    if metadata.activation != "sigmoid":
        raise HeadFileError("a head model's labels are independent (activation sigmoid)")
    trunk = _parse_trunk(data.get("trunk"))
    head = _parse_head(data.get("head"), len(metadata.labels), trunk.embedding_size)
    familiarity = _parse_familiarity(data.get("familiarity"), trunk.embedding_size)
    training = data.get("training", {})
    return HeadModel(
        metadata, trunk, head, familiarity, training if isinstance(training, dict) else {}
    )


def read(path: Path) -> HeadModel:
    """Read and validate a `.gcam` file; one-line errors name the file."""
    try:
        with path.open("rb") as handle:
            text = handle.read(MAX_BYTES + 1)
    except FileNotFoundError as err:
        raise ModelNotFoundError(f"model file {path} does not exist") from err
    except OSError as err:
        raise ModelNotFoundError(f"cannot read model file {path}: {err.strerror}") from err
    if len(text) > MAX_BYTES:
        raise HeadFileError(f"{path}: larger than any GarageCam head model ({MAX_BYTES} bytes)")
    try:
        return parse(text)
    except HeadFileError as err:
        raise HeadFileError(f"{path}: {err}") from err

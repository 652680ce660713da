"""The pretrained trunk: an image in, an embedding out.

A trunk is an ExecuTorch program whose `forward` takes a (1, 3, H, W) float32 image and returns
a (1, D) float32 embedding (the pooled features of an ImageNet-pretrained network, no
classifier). Its `garagecam_metadata` JSON has `"kind": "trunk"` and says how to feed it
(size, normalisation, autocontrast), so a head trained on it (a `.gcam` file, `model_file.py`)
inherits exactly the preprocessing the trunk was exported with. The trunk is exported once
(`garagecam_core/export_trunk.py`, a build step that needs PyTorch, so an app beside `export`)
and shipped in the package; running it needs only the runtime.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import EngineError, MetadataError, ModelShapeError
from ..metadata import IMAGENET_MEAN, METADATA_METHOD, ModelMetadata, check_normalisation

TRUNK_KIND = "trunk"
TRUNK_FORMAT_VERSION = 1
MODELS_DIR = Path(__file__).resolve().parent.parent / "models"
#: the trunk every head is trained on unless told otherwise
SHIPPED_TRUNK = MODELS_DIR / "trunk-lite0.pte"


@dataclass(frozen=True)
class TrunkInfo:
    """What a trunk says about itself: how to feed it and what it returns."""

    name: str
    input_height: int
    input_width: int
    embedding_size: int
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)
    input_layout: str = "NHWC"
    autocontrast: bool = True
    #: where the weights come from and under which licence (shown by `garagecam model info`)
    weights: str = ""
    kind: str = TRUNK_KIND
    format_version: int = TRUNK_FORMAT_VERSION

    def __post_init__(self) -> None:
        if self.kind != TRUNK_KIND:
            raise MetadataError(f"not a trunk (kind {self.kind!r})")
        if self.format_version != TRUNK_FORMAT_VERSION:
            raise MetadataError(
                f"trunk format version {self.format_version} is not supported by this "
                f"GarageCam (it reads version {TRUNK_FORMAT_VERSION}); upgrade garagecam-core"
            )
        if not 1 <= self.embedding_size <= 65536:
            raise MetadataError(f"embedding_size must be 1..65536, got {self.embedding_size}")
        check_normalisation(self.mean, self.std)
        # The model metadata checks size and layout; building one validates them here too.
        self.model_metadata(({"name": "x"},), "check")

    def model_metadata(
        self, labels: tuple[dict[str, Any], ...], name: str, version: str = "1"
    ) -> ModelMetadata:
        """Metadata of a head on this trunk: the trunk's preprocessing, the head's labels."""
        return ModelMetadata.from_dict(
            {
                "name": name,
                "version": version,
                "input_height": self.input_height,
                "input_width": self.input_width,
                "labels": list(labels),
                "mean": list(self.mean),
                "std": list(self.std),
                "input_layout": self.input_layout,
                "autocontrast": self.autocontrast,
                "activation": "sigmoid",
            }
        )

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_dict(cls, data: Any) -> TrunkInfo:
        if not isinstance(data, dict) or data.get("kind") != TRUNK_KIND:
            raise MetadataError("not a GarageCam trunk")
        fields = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - fields)
        if unknown:
            raise MetadataError(f"unknown trunk metadata keys: {unknown}")
        values = dict(data)
        for key in ("mean", "std"):
            if key in values:
                values[key] = tuple(values[key])
        try:
            return cls(**values)
        except TypeError as err:
            raise MetadataError(f"malformed trunk metadata: {err}") from err


def is_trunk_metadata(text: str) -> bool:
    """True when a `garagecam_metadata` JSON string describes a trunk, not a model."""
    try:
        data = json.loads(text)
    except ValueError:
        return False
    return isinstance(data, dict) and data.get("kind") == TRUNK_KIND


_HASHES: dict[tuple[str, int, int], str] = {}
_HASH_LOCK = threading.Lock()


def file_sha256(path: Path) -> str:
    """sha256 of a file, remembered per (path, size, mtime) so a 13 MB trunk is read once."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    with _HASH_LOCK:
        if key in _HASHES:
            return _HASHES[key]
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    value = digest.hexdigest()
    with _HASH_LOCK:
        _HASHES[key] = value
    return value


class LoadedTrunk:
    """A validated trunk, ready to embed. `embed` is serialised: one inference at a time."""

    def __init__(self, path: Path, info: TrunkInfo, program: Any, runtime: str) -> None:
        self.path = path
        self.info = info
        self.runtime = runtime
        self._program = program
        self._lock = threading.Lock()
        self.input_shape = (1, 3, info.input_height, info.input_width)

    @property
    def sha256(self) -> str:
        return file_sha256(self.path)

    def embed(self, tensor: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """The (D,) embedding of one preprocessed (1, 3, H, W) image."""
        if tensor.shape != self.input_shape:
            raise EngineError(
                f"input tensor shape {tensor.shape} does not match the trunk's {self.input_shape}"
            )
        with self._lock:
            values: npt.NDArray[np.float32] = self._program.run(
                np.asarray(tensor, dtype=np.float32), self.info.input_layout
            )
        if values.shape != (self.info.embedding_size,):
            raise EngineError(
                f"{self.path.name}: the trunk returned {values.shape[0]} values, "
                f"expected {self.info.embedding_size}"
            )
        return values


def trunk_info_of(path: Path, program: Any) -> TrunkInfo:
    values = program.constants(METADATA_METHOD) if METADATA_METHOD in program.method_names else []
    if len(values) != 1 or not isinstance(values[0], str) or not is_trunk_metadata(values[0]):
        raise MetadataError(f"{path} is not a GarageCam trunk (no trunk metadata)")
    try:
        return TrunkInfo.from_dict(json.loads(values[0]))
    except MetadataError as err:
        raise MetadataError(f"{path}: invalid trunk metadata: {err}") from err


def _check_trunk_signature(path: Path, program: Any, info: TrunkInfo) -> None:
    inputs = program.input_specs("forward")
    outputs = program.output_specs("forward")
    expected_in = (1, 3, info.input_height, info.input_width)
    if len(inputs) != 1 or inputs[0] is None or inputs[0].sizes != expected_in:
        raise ModelShapeError(f"{path}: the trunk must take one {expected_in} image tensor")
    expected_out = (1, info.embedding_size)
    if len(outputs) != 1 or outputs[0] is None or outputs[0].sizes != expected_out:
        raise ModelShapeError(f"{path}: the trunk must return one {expected_out} tensor")


def load_trunk(
    path: str | Path | None = None, threads: int | None = None, runtime: str | None = None
) -> LoadedTrunk:
    """Validate and load a trunk (default: the shipped one)."""
    from ..pte_runtimes import check_pte_file, get_runtime, set_thread_count

    path = Path(path) if path is not None else SHIPPED_TRUNK
    check_pte_file(path)
    pte_runtime = get_runtime(runtime)
    if threads is not None:
        set_thread_count(threads, pte_runtime.name)
    program = pte_runtime.load(path)
    info = trunk_info_of(path, program)
    _check_trunk_signature(path, program, info)
    program.load_method("forward")
    return LoadedTrunk(path, info, program, pte_runtime.name)

"""A `.gcam` head model loaded with its trunk: what `bundle.load_program` returns for one.

It has the same surface as `bundle.LoadedProgram` (path, metadata, runtime, input_shape,
run, probabilities, evaluate), so every engine runs head models and `.pte` bundles alike.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt

from ..errors import EngineError, HeadFileError
from . import model_file
from .model_file import HeadModel
from .trunk import MODELS_DIR, LoadedTrunk, file_sha256, load_trunk


def find_trunk(model: HeadModel, path: Path) -> Path:
    """The shipped trunk a head was trained on, by sha256."""
    for candidate in sorted(MODELS_DIR.glob("trunk-*.pte")):
        if file_sha256(candidate) == model.trunk.sha256:
            return candidate
    raise HeadFileError(
        f"{path} was trained on the trunk {model.trunk.name} ({model.trunk.sha256[:12]}), "
        "which this GarageCam does not ship: train it again with 'garagecam train'"
    )


class HeadProgram:
    """Trunk + head. `run` is serialised by the trunk: one inference at a time."""

    def __init__(self, path: Path, model: HeadModel, trunk: LoadedTrunk) -> None:
        self.path = path
        self.model = model
        self.metadata = model.metadata
        self.runtime = trunk.runtime
        self.trunk = trunk
        self.input_shape = trunk.input_shape
        self.output_shape = (1, len(model.metadata.labels))

    def evaluate(
        self, tensor: npt.NDArray[np.float32]
    ) -> tuple[npt.NDArray[np.float32], float | None]:
        """(probabilities, novelty) of one preprocessed image."""
        embedding = self.trunk.embed(tensor)
        if not np.all(np.isfinite(embedding)):
            raise EngineError(f"{self.trunk.path.name}: the trunk returned NaN or infinity")
        return self.model.head.probabilities(embedding), self.model.familiarity.novelty(embedding)

    def run(self, tensor: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        return self.evaluate(tensor)[0]

    def probabilities(self, tensor: npt.NDArray[np.float32]) -> dict[str, float]:
        return self.metadata.named(self.run(tensor))


def load_head_program(
    path: Path, threads: int | None = None, runtime: str | None = None
) -> HeadProgram:
    model = model_file.read(path)
    trunk = load_trunk(find_trunk(model, path), threads=threads, runtime=runtime)
    if trunk.info.embedding_size != model.trunk.embedding_size:
        raise HeadFileError(f"{path}: the head does not fit its trunk's embedding size")
    return HeadProgram(path, model, trunk)

"""The peer runtimes' programs: load a converted model, run it on a numpy array.

Only numpy and the runtime's own package are imported here: the fresh-process probe
(`probe.py`) measures import time and memory through these classes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt


def nhwc(tensor: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """A (1, 3, H, W) tensor as the (1, H, W, 3) array LiteRT takes (a view when the
    tensor's memory is already channels-last, as preprocessing makes it for NHWC models)."""
    return np.ascontiguousarray(tensor.transpose(0, 2, 3, 1), dtype=np.float32)


class LiteRTProgram:
    """A `.tflite` program loaded in an interpreter with `threads` threads."""

    def __init__(self, path: Path, threads: int) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self._interpreter = Interpreter(model_path=str(path), num_threads=threads)
        self._interpreter.allocate_tensors()
        self._input = self._interpreter.get_input_details()[0]["index"]
        self._output = self._interpreter.get_output_details()[0]["index"]

    def run(self, array: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Probabilities for one (1, H, W, 3) float32 array."""
        self._interpreter.set_tensor(self._input, array)
        self._interpreter.invoke()
        out: npt.NDArray[np.float32] = self._interpreter.get_tensor(self._output).reshape(-1)
        return out


class NcnnProgram:
    """An ncnn network on the CPU with `threads` threads."""

    def __init__(self, param: Path, weights: Path, threads: int) -> None:
        import ncnn

        self._ncnn = ncnn
        self._net = ncnn.Net()
        self._net.opt.use_vulkan_compute = False
        self._net.opt.num_threads = threads
        if self._net.load_param(str(param)) != 0 or self._net.load_model(str(weights)) != 0:
            raise RuntimeError(f"ncnn cannot load {param.name} / {weights.name}")
        self._input = self._net.input_names()[0]
        self._output = self._net.output_names()[0]

    def run(self, chw: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Probabilities for one C-contiguous (3, H, W) float32 array.

        `ncnn.Mat(array)` wraps the array's memory without keeping it alive: the caller
        holds `chw` for the whole call.
        """
        extractor = self._net.create_extractor()
        extractor.input(self._input, self._ncnn.Mat(chw))
        code, mat = extractor.extract(self._output)
        if code != 0:
            raise RuntimeError(f"ncnn extract failed with code {code}")
        return np.array(mat, dtype=np.float32).reshape(-1)

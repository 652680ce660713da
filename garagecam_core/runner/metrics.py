"""Prometheus text exposition (format 0.0.4): counters, gauges and histograms with labels.

Small on purpose: the runner needs a dozen series, not a client library.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Seconds: a Pi 4 classifies a small model in 20-200 ms; snapshots take up to a few seconds.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

LabelValues = tuple[str, ...]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _format_labels(names: Sequence[str], values: Sequence[str], extra: str = "") -> str:
    parts = [f'{name}="{_escape(value)}"' for name, value in zip(names, values, strict=True)]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


def _format_value(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


class _Metric:
    kind = ""

    def __init__(self, name: str, help_text: str, labels: Sequence[str] = ()) -> None:
        self.name = name
        self.help = help_text
        self.label_names = tuple(labels)

    def _key(self, labels: Sequence[str]) -> LabelValues:
        if len(labels) != len(self.label_names):
            raise ValueError(f"{self.name} takes labels {self.label_names}, got {labels}")
        return tuple(str(v) for v in labels)

    def header(self) -> list[str]:
        return [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} {self.kind}"]

    def samples(self) -> list[str]:
        raise NotImplementedError


class Counter(_Metric):
    kind = "counter"

    def __init__(self, name: str, help_text: str, labels: Sequence[str] = ()) -> None:
        super().__init__(name, help_text, labels)
        self._values: dict[LabelValues, float] = {}

    def inc(self, *labels: str, amount: float = 1.0) -> None:
        key = self._key(labels)
        self._values[key] = self._values.get(key, 0.0) + amount

    def value(self, *labels: str) -> float:
        return self._values.get(self._key(labels), 0.0)

    def samples(self) -> list[str]:
        return [
            f"{self.name}{_format_labels(self.label_names, key)} {_format_value(value)}"
            for key, value in sorted(self._values.items())
        ]


class Gauge(Counter):
    kind = "gauge"

    def set(self, *labels: str, value: float) -> None:
        self._values[self._key(labels)] = value

    def remove(self, *labels: str) -> None:
        self._values.pop(self._key(labels), None)


class Histogram(_Metric):
    kind = "histogram"

    def __init__(
        self,
        name: str,
        help_text: str,
        labels: Sequence[str] = (),
        buckets: Sequence[float] = LATENCY_BUCKETS,
    ) -> None:
        super().__init__(name, help_text, labels)
        self.buckets = tuple(sorted(buckets))
        self._counts: dict[LabelValues, list[int]] = {}
        self._sums: dict[LabelValues, float] = {}

    def observe(self, *labels: str, value: float) -> None:
        key = self._key(labels)
        counts = self._counts.setdefault(key, [0] * (len(self.buckets) + 1))
        counts[bisect.bisect_left(self.buckets, value)] += 1
        self._sums[key] = self._sums.get(key, 0.0) + value

    def count(self, *labels: str) -> int:
        return sum(self._counts.get(self._key(labels), []))

    def samples(self) -> list[str]:
        lines = []
        for key, counts in sorted(self._counts.items()):
            cumulative = 0
            for bound, count in zip((*self.buckets, math.inf), counts, strict=True):
                cumulative += count
                le = f'le="{_format_value(bound)}"'
                lines.append(
                    f"{self.name}_bucket{_format_labels(self.label_names, key, le)} {cumulative}"
                )
            labels = _format_labels(self.label_names, key)
            lines.append(f"{self.name}_sum{labels} {_format_value(self._sums[key])}")
            lines.append(f"{self.name}_count{labels} {cumulative}")
        return lines


class RunnerMetrics:
    """Every series the runner exposes on /metrics."""

    def __init__(self) -> None:
        self._add_frame_series()
        self._add_service_series()
        self._add_capture_series()
        # the order of /metrics
        self._all: tuple[_Metric, ...] = (
            self.frames, self.failures, self.inference_seconds, self.end_to_end_seconds,
            self.probability, self.state, self.camera_up, self.last_frame, self.model_info,
            self.mqtt_connected, self.classify_requests, self.captured, self.capture_refused,
            self.capture_bytes, self.model_swaps, self.novelty, self.unfamiliar,
        )  # fmt: skip

    def _add_frame_series(self) -> None:
        """Per camera and label: what each frame gave."""
        self.frames = Counter(
            "garagecam_frames_total", "Frames classified successfully.", ["camera"]
        )
        self.failures = Counter(
            "garagecam_failures_total",
            "Failed attempts to get or classify a frame, by reason.",
            ["camera", "reason"],
        )
        self.inference_seconds = Histogram(
            "garagecam_inference_seconds",
            "Time to classify one frame (decode, preprocess, inference).",
            ["model"],
        )
        self.end_to_end_seconds = Histogram(
            "garagecam_end_to_end_seconds",
            "Time from requesting a snapshot to the new states being published.",
            ["camera"],
        )
        self.probability = Gauge(
            "garagecam_probability", "Last probability per label.", ["camera", "label"]
        )
        self.state = Gauge(
            "garagecam_state",
            "Debounced state per label: 1 on, 0 off, -1 unknown.",
            ["camera", "label"],
        )
        self.camera_up = Gauge(
            "garagecam_camera_available",
            "1 while the camera's frames are fresher than max_age.",
            ["camera"],
        )
        self.last_frame = Gauge(
            "garagecam_last_frame_timestamp_seconds",
            "Unix time of the last successfully classified frame.",
            ["camera"],
        )
        self.novelty = Gauge(
            "garagecam_novelty",
            "How unlike the model's training frames the last frame was (above 1: unfamiliar, "
            "the camera needs a few labelled frames). Only for head models (.gcam).",
            ["camera"],
        )
        self.unfamiliar = Counter(
            "garagecam_unfamiliar_frames_total",
            "Frames the model found unlike anything it was trained on.",
            ["camera"],
        )

    def _add_service_series(self) -> None:
        """The runner's models, MQTT connection and HTTP API."""
        self.model_info = Gauge(
            "garagecam_model_info",
            "Loaded models (value always 1).",
            ["model", "metadata_name", "version", "labels", "engine"],
        )
        self.mqtt_connected = Gauge("garagecam_mqtt_connected", "1 while connected to MQTT.")
        self.classify_requests = Counter(
            "garagecam_http_classify_requests_total",
            "POST /v1/classify requests, by HTTP status.",
            ["status"],
        )
        self.model_swaps = Counter(
            "garagecam_model_swaps_total",
            "Models replaced in the running runner (studio deploy or rollback), by result.",
            ["model", "result"],
        )

    def _add_capture_series(self) -> None:
        """Frames kept for labelling."""
        self.captured = Counter(
            "garagecam_captured_frames_total",
            "Frames kept for labelling, by reason (state_change, unsure, background).",
            ["camera", "reason"],
        )
        self.capture_refused = Counter(
            "garagecam_capture_refused_total",
            "Frames worth keeping that were not kept: full (bounds reached, all labelled), "
            "error (the folder cannot be written), busy (the previous write still running).",
            ["camera", "reason"],
        )
        self.capture_bytes = Gauge(
            "garagecam_capture_bytes", "Bytes of the frames kept for labelling.", ["camera"]
        )

    def render(self, with_states: bool = True) -> str:
        """The exposition text; without `with_states`, no per-label state or probability
        (what the API token protects on /v1/cameras, for a /metrics left open)."""
        private = (self.state, self.probability)
        lines: list[str] = []
        for metric in self._all:
            if not with_states and metric in private:
                continue
            lines += metric.header()
            lines += metric.samples()
        return "\n".join(lines) + "\n"

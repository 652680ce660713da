"""An entry's label policies, and following a model its runner replaced while it runs.

The add-on's (or any runner's) studio may replace the model an entry uses ("Use this
model"); `RemoteEngine` then reads the new metadata with the first frame the new model
classified. The entry applies the new model's thresholds (with its own per-label options
over them) from that frame on, as the runner does for its own cameras. A model with other
labels cannot be followed in place (the entities are the labels): the entry is set up again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from garagecam_core.debounce import Debouncer, LabelOverride, LabelPolicy, merge_policies
from garagecam_core.errors import GarageCamError
from garagecam_core.metadata import ModelMetadata

from .const import (
    CONF_CONFIRM_FRAMES,
    CONF_LABELS,
    CONF_OFF_THRESHOLD,
    CONF_ON_THRESHOLD,
    DEFAULT_CONFIRM_FRAMES,
)


class LabelsChanged(GarageCamError):
    """The runner's model now has other labels than the entry's entities."""


def entry_policies(metadata: ModelMetadata, options: Mapping[str, Any]) -> dict[str, LabelPolicy]:
    """The model's thresholds overridden by the entry's per-label options (the core merges
    them, as for the runner and Scrypted)."""
    labels = options.get(CONF_LABELS) or {}
    assert isinstance(labels, dict)

    def number(custom: dict[str, Any], key: str) -> float | None:
        return None if custom.get(key) is None else float(custom[key])

    # Options may still name labels of a previous model: only the current model's count.
    overrides = {
        spec.name: LabelOverride(
            on_threshold=number(custom, CONF_ON_THRESHOLD),
            off_threshold=number(custom, CONF_OFF_THRESHOLD),
            confirm_frames=None
            if custom.get(CONF_CONFIRM_FRAMES) is None
            else int(custom[CONF_CONFIRM_FRAMES]),
        )
        for spec in metadata.labels
        if isinstance(custom := labels.get(spec.name), dict)
    }
    return merge_policies(metadata, overrides, DEFAULT_CONFIRM_FRAMES)


def apply_model(
    debouncer: Debouncer, old: ModelMetadata, new: ModelMetadata, options: Mapping[str, Any]
) -> None:
    """The new model's policies on the entry's debouncer (states kept); LabelsChanged if
    its labels are not the entry's."""
    if sorted(new.label_names) != sorted(old.label_names):
        raise LabelsChanged(
            f"the runner's model now has the labels {', '.join(new.label_names)}, not "
            f"{', '.join(old.label_names)}: the entry is set up again for them"
        )
    for label, policy in entry_policies(new, options).items():
        debouncer.set_policy(label, policy)

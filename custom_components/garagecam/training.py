"""Learn from labelled frames (Local mode): a head trained on the camera's dataset folder.

The camera's dataset folder (`<config>/garagecam/dataset/<camera>/`, where `save_snapshot`
and capture write) holds frames of three kinds: labelled ones (`labels.jsonl` lines the
studio wrote, `"by": "user"`, or `save_snapshot` with `labels`, `"by": "action"`), frames
saved with the sensors' states then (lines without `by`: the model's own guesses, which
would only teach it its mistakes) and kept frames nobody labelled. Only the first kind is
learnt from: they are written, with every label of the entry's model, as a dataset of their
own in `.homeassistant-training/` beside them (the embeddings cache lives there too), and
`garagecam_core.heads.train_head` turns it into `<config>/garagecam/models/<camera>.gcam`,
in the executor. The entry then switches to that model and reloads.

Needs numpy and the garagecam-runtime binding that Local mode already uses; no PyTorch.
Remote entries train where their runtime is (the runner's studio).
"""

from __future__ import annotations

import importlib.util
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.util.hass_dict import HassKey

from garagecam_core.dataset import LABELS_FILE, DatasetFolder, LabelsFile, write_atomic
from garagecam_core.discovery import sanitize
from garagecam_core.errors import GarageCamError
from garagecam_core.metadata import LabelSpec

from .capture import dataset_dir
from .config_flow import entry_title, entry_unique_id, migrate_unique_ids
from .const import CONF_CAMERA, CONF_MODE, CONF_MODEL, DOMAIN, LOGGER, MODE_REMOTE
from .inference import models_dir
from .runtime_data import GarageCamConfigEntry

#: `by` values of labels.jsonl lines that are labels (the studio's, this integration's action)
LABELLED_BY = frozenset({"user", "action"})
TRAINING_DIR = ".homeassistant-training"
HEAD_SUFFIX = ".gcam"

_TRAINING: HassKey[set[str]] = HassKey(f"{DOMAIN}_training")


@dataclass(frozen=True)
class TrainingSet:
    """The labelled frames of a dataset folder, as a dataset `train_head` reads."""

    directory: Path
    frames: int
    #: label -> frames labelled on (1) and off (0)
    counts: dict[str, Counter[int]]
    #: fewest frames `train_head` accepts
    min_frames: int


def model_name(entry: GarageCamConfigEntry) -> str:
    """`garage.gcam` for camera.garage: one trained model per camera, like its dataset."""
    camera = str(entry.data[CONF_CAMERA]).split(".", 1)[-1]
    return f"{sanitize(camera)}{HEAD_SUFFIX}"


def _labelled_frames(folder: DatasetFolder, labels: tuple[str, ...]) -> dict[str, dict[str, int]]:
    """Image path (relative to the folder) -> 0/1 per label, for frames labelled on every
    label; the last line of a frame wins (as in the studio); frames that are no longer a
    regular file of the folder (deleted, replaced by a link) are left out."""
    frames: dict[str, dict[str, int]] = {}
    for line in folder.labels.read().lines:
        if line.by not in LABELLED_BY or line.labels is None:
            frames.pop(line.path, None)  # a later unlabelled line: no longer a label
        elif (flags := _flags(line.labels, labels)) is not None:
            frames[line.path] = flags
        else:
            frames.pop(line.path, None)  # a label missing (a sensor was unknown then)
    on_disk = {frame.path for frame in folder.frames()}
    return {path: flags for path, flags in frames.items() if path in on_disk}


def _flags(values: dict[str, Any], labels: tuple[str, ...]) -> dict[str, int] | None:
    """0/1 for every label, or None if one is missing or not 0/1 (bools are ints too)."""
    flags: dict[str, int] = {}
    for name in labels:
        value = values.get(name)
        if not isinstance(value, int) or value not in (0, 1):
            return None
        flags[name] = int(value)
    return flags


def write_training_set(dataset: Path, labels: tuple[LabelSpec, ...]) -> TrainingSet:
    """Write the labelled frames of `dataset` as `<dataset>/.homeassistant-training/`
    (blocking). Device classes come from the entry's model, so the sensors keep theirs."""
    # here, in the executor: the heads package imports numpy, Pillow and the dataset reader
    from garagecam_core.heads.train import MIN_FRAMES

    names = tuple(label.name for label in labels)
    frames = _labelled_frames(DatasetFolder(dataset), names)
    directory = dataset / TRAINING_DIR
    records = [{"path": f"../{path}", "labels": flags} for path, flags in frames.items()]
    LabelsFile(directory / LABELS_FILE).write_all(records)
    classes = {label.name: {"device_class": label.device_class} for label in labels}
    yaml_text = yaml.safe_dump({k: v for k, v in classes.items() if v["device_class"]})
    write_atomic(directory / "labels.yaml", yaml_text.encode())
    counts = {name: Counter(flags[name] for flags in frames.values()) for name in names}
    return TrainingSet(directory, len(frames), counts, MIN_FRAMES)


def _error(kind: type[HomeAssistantError], key: str, **placeholders: str) -> HomeAssistantError:
    return kind(
        translation_domain=DOMAIN, translation_key=key, translation_placeholders=placeholders
    )


def _check(entry: GarageCamConfigEntry, training: TrainingSet, dataset: Path) -> None:
    """Enough labelled frames, and both states of every label; else a one-line error."""
    if training.frames < training.min_frames:
        raise _error(
            ServiceValidationError,
            "not_enough_frames",
            title=entry.title,
            frames=str(training.frames),
            needed=str(training.min_frames),
            directory=str(dataset),
        )
    for label, counts in training.counts.items():
        if len(counts) < 2:
            state = "on" if 1 in counts else "off"
            raise _error(
                ServiceValidationError,
                "label_one_state",
                title=entry.title,
                label=label,
                state=state,
                other="off" if state == "on" else "on",
            )


def _one_line(err: Exception) -> str:
    """The core's reason on one line: a dataset error lists its problems one per line."""
    first, *rest = str(err).splitlines() or [""]
    items = "; ".join(line.strip().removeprefix("- ") for line in rest if line.strip())
    return f"{first} {items}" if items else first


def binding_installed() -> bool:
    """Whether the torch-free garagecam-runtime binding imports here. Without it the core
    would run the trunk with executorch's official runtime, which loads PyTorch (~700 MB)
    into Home Assistant's own process."""
    return importlib.util.find_spec("garagecam_runtime") is not None


def _train(data: Path, out: Path) -> dict[str, Any]:
    """In the executor: the core's head training (imports numpy and the runtime binding).
    Returns the result as action response data (JSON types only)."""
    from garagecam_core.heads import train_head

    result = train_head(data, out)
    return {
        "summary": result.summary(),
        "labels": list(result.labels),
        "frames": result.frames,
        "cached_frames": result.cached_frames,
        "seconds": round(result.seconds, 2),
        "validation": {
            label: {
                "correct": score.correct,
                "total": score.total,
                "unsure": score.unsure,
                "accuracy": score.accuracy,
            }
            for label, score in result.validation.items()
        },
    }


def _check_local(entry: GarageCamConfigEntry) -> None:
    if entry.data[CONF_MODE] == MODE_REMOTE:
        raise _error(ServiceValidationError, "training_remote", title=entry.title)


async def async_train_model(hass: HomeAssistant, entry: GarageCamConfigEntry) -> dict[str, Any]:
    """Train the camera's head and switch the entry to it (the caller reloads the entry).

    Raises ServiceValidationError (Remote entry, training running, too few labelled frames)
    or HomeAssistantError (the training failed); the entry is unchanged then.
    """
    _check_local(entry)
    running = hass.data.setdefault(_TRAINING, set())
    if entry.entry_id in running:
        raise _error(ServiceValidationError, "training_running", title=entry.title)
    running.add(entry.entry_id)
    try:
        return await _async_train(hass, entry)
    finally:
        running.discard(entry.entry_id)


async def _async_train(hass: HomeAssistant, entry: GarageCamConfigEntry) -> dict[str, Any]:
    dataset = dataset_dir(hass, entry)
    labels = entry.runtime_data.engine.metadata.labels
    try:
        training = await hass.async_add_executor_job(write_training_set, dataset, labels)
    except (OSError, GarageCamError) as err:  # GarageCamError: labels.jsonl is a link
        raise _error(
            HomeAssistantError, "training_failed", title=entry.title, error=str(err)
        ) from err
    _check(entry, training, dataset)
    if not await hass.async_add_executor_job(binding_installed):
        raise _error(HomeAssistantError, "training_needs_binding", title=entry.title)
    out = models_dir(hass) / model_name(entry)
    LOGGER.info("%s: learning from %d labelled frames", entry.title, training.frames)
    try:
        summary = await hass.async_add_executor_job(_train, training.directory, out)
    except (GarageCamError, OSError) as err:
        raise _error(
            HomeAssistantError, "training_failed", title=entry.title, error=_one_line(err)
        ) from err
    LOGGER.info("%s: %s", entry.title, summary["summary"])
    summary["path"] = str(out)
    summary["model"] = out.name
    summary["previous_model"] = entry.data[CONF_MODEL]
    return summary


async def async_learn(
    hass: HomeAssistant, entry: GarageCamConfigEntry
) -> tuple[dict[str, Any], GarageCamConfigEntry]:
    """Train, then switch the entry to the new model; returns the response data and the
    entry to reload (the caller reloads: an action waits for it, a button cannot)."""
    summary = await async_train_model(hass, entry)
    target = async_use_model(hass, entry, summary["model"])
    summary["entry"] = target.title
    return summary, target


@callback
def async_use_model(
    hass: HomeAssistant, entry: GarageCamConfigEntry, model: str
) -> GarageCamConfigEntry:
    """Switch `entry` to the local model file `model` (its title and unique ids follow, the
    entities keep their ids and history); returns the entry to reload: another entry of
    the same camera that already uses that model, if there is one."""
    camera = entry.data[CONF_CAMERA]
    unique_id = entry_unique_id(camera, model)
    if entry.unique_id == unique_id:
        return entry
    if (
        other := hass.config_entries.async_entry_for_domain_unique_id(DOMAIN, unique_id)
    ) is not None:
        return other
    migrate_unique_ids(hass, entry, unique_id)
    hass.config_entries.async_update_entry(
        entry,
        unique_id=unique_id,
        title=entry_title(hass, camera, model),
        data={**entry.data, CONF_MODEL: model},
    )
    return entry

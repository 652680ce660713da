"""Turn noisy per-frame probabilities into stable ON/OFF states.

Per label: a state machine UNKNOWN -> ON/OFF with hysteresis (switch ON only at or above the
ON threshold, OFF only at or below the OFF threshold) and confirmation (the new state must be
seen on `confirm_frames` consecutive frames). Frames between the thresholds keep the state
and break any streak. Pure and synchronous: time is passed in, nothing is scheduled.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from .errors import ConfigError, MetadataError
from .metadata import LabelSpec, ModelMetadata, check_thresholds

_LOGGER = logging.getLogger(__name__)

DEFAULT_CONFIRM_FRAMES = 2


def default_max_age(interval: float) -> float:
    """Seconds without a good frame before states become unavailable, when not configured:
    three missed polls, but never less than a minute."""
    return max(60.0, 3 * interval)


class State(StrEnum):
    UNKNOWN = "unknown"
    ON = "on"
    OFF = "off"


@dataclass(frozen=True)
class LabelPolicy:
    on_threshold: float
    off_threshold: float
    confirm_frames: int = DEFAULT_CONFIRM_FRAMES

    def __post_init__(self) -> None:
        check_thresholds("policy", self.on_threshold, self.off_threshold)
        if not isinstance(self.confirm_frames, int) or self.confirm_frames < 1:
            raise ValueError(f"confirm_frames must be an integer >= 1, got {self.confirm_frames!r}")

    @classmethod
    def from_label(
        cls, spec: LabelSpec, confirm_frames: int = DEFAULT_CONFIRM_FRAMES
    ) -> LabelPolicy:
        return cls(spec.on_threshold, spec.off_threshold, confirm_frames)


@dataclass(frozen=True)
class LabelOverride:
    """A user's per-label changes to the model's thresholds; None keeps the default."""

    on_threshold: float | None = None
    off_threshold: float | None = None
    confirm_frames: int | None = None


class PolicyError(ConfigError):
    """A per-label override the model cannot take; `label` is None for an unknown label."""

    def __init__(self, label: str | None, detail: str) -> None:
        super().__init__(detail if label is None else f"{label}: {detail}")
        self.label = label
        self.detail = detail


def merge_policies(
    metadata: ModelMetadata,
    overrides: Mapping[str, LabelOverride] | None = None,
    confirm_frames: int = DEFAULT_CONFIRM_FRAMES,
) -> dict[str, LabelPolicy]:
    """Every label's policy: the model's thresholds and the camera's confirm frames, with the
    user's per-label overrides on top (the one place front ends merge them). Raises
    PolicyError for an unknown label or an override that breaks a threshold rule."""
    overrides = overrides or {}
    unknown = sorted(set(overrides) - set(metadata.label_names))
    if unknown:
        raise PolicyError(
            None,
            f"the model {metadata.name!r} has no label {unknown[0]!r} "
            f"(its labels: {', '.join(metadata.label_names)})",
        )
    policies = {}
    for spec in metadata.labels:
        override = overrides.get(spec.name, LabelOverride())
        on = spec.on_threshold if override.on_threshold is None else override.on_threshold
        off = spec.off_threshold if override.off_threshold is None else override.off_threshold
        confirm = override.confirm_frames or confirm_frames
        try:
            policies[spec.name] = LabelPolicy(on, off, confirm)
        except (MetadataError, ValueError) as err:
            raise PolicyError(spec.name, str(err)) from err
    return policies


@dataclass(frozen=True)
class Transition:
    label: str
    old: State
    new: State
    probability: float
    timestamp: float


@dataclass
class _LabelTrack:
    policy: LabelPolicy
    state: State = State.UNKNOWN
    candidate: State | None = None
    streak: int = 0
    probability: float | None = None


class Debouncer:
    """Debounces every label of one camera.

    `update()` feeds one successful frame; `available()` says whether the states are fresh
    enough to show (`max_age` seconds since the last successful frame, None = forever).
    """

    def __init__(
        self,
        policies: Mapping[str, LabelPolicy],
        max_age: float | None = None,
        name: str = "",
    ) -> None:
        if not policies:
            raise ValueError("a debouncer needs at least one label")
        self._tracks = {label: _LabelTrack(policy) for label, policy in policies.items()}
        self.max_age = max_age
        self.name = name
        self.last_frame_time: float | None = None
        self._unfamiliar_streak = 0

    @classmethod
    def for_model(
        cls,
        metadata: ModelMetadata,
        overrides: Mapping[str, LabelPolicy] | None = None,
        confirm_frames: int = DEFAULT_CONFIRM_FRAMES,
        max_age: float | None = None,
        name: str = "",
    ) -> Debouncer:
        """Policies from the model's default thresholds, with per-label overrides."""
        overrides = overrides or {}
        unknown = sorted(set(overrides) - set(metadata.label_names))
        if unknown:
            raise ValueError(f"thresholds given for labels the model does not have: {unknown}")
        policies = {
            spec.name: overrides.get(spec.name, LabelPolicy.from_label(spec, confirm_frames))
            for spec in metadata.labels
        }
        return cls(policies, max_age=max_age, name=name)

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(self._tracks)

    def policy(self, label: str) -> LabelPolicy:
        return self._tracks[label].policy

    def set_policy(self, label: str, policy: LabelPolicy) -> None:
        """Change thresholds at run time; the current state is kept, any streak restarts."""
        track = self._tracks[label]
        track.policy = policy
        track.candidate, track.streak = None, 0

    def state(self, label: str) -> State:
        return self._tracks[label].state

    @property
    def states(self) -> dict[str, State]:
        return {label: track.state for label, track in self._tracks.items()}

    @property
    def probabilities(self) -> dict[str, float | None]:
        return {label: track.probability for label, track in self._tracks.items()}

    def restore(self, label: str, state: State) -> None:
        """Seed a label with a remembered state (e.g. after a restart) without a transition."""
        track = self._tracks[label]
        track.state, track.candidate, track.streak = state, None, 0

    def available(self, now: float, since: float | None = None) -> bool:
        """Whether the states are fresh enough to show: a good frame within `max_age` seconds
        (None: forever). `since` counts like a frame: when states began to be shown without
        one (Home Assistant shows the states it restored at start for `max_age`)."""
        times = [t for t in (self.last_frame_time, since) if t is not None]
        if not times:
            return False
        return self.max_age is None or now - max(times) <= self.max_age

    @property
    def unfamiliar(self) -> bool:
        """True while the states are UNKNOWN because the frames look unlike anything the
        model was trained on (the camera needs a few labelled frames)."""
        confirm = max(track.policy.confirm_frames for track in self._tracks.values())
        return self._unfamiliar_streak >= confirm

    def update(
        self, probabilities: Mapping[str, float], now: float, unfamiliar: bool = False
    ) -> list[Transition]:
        """Feed one frame's probabilities; returns (and logs) the transitions it caused.

        An `unfamiliar` frame (the model says it is unlike its training frames) counts as an
        observation of UNKNOWN: after `confirm_frames` of them in a row the labels go UNKNOWN,
        rather than showing a confident state the model has no ground for.
        """
        missing = [label for label in self._tracks if label not in probabilities]
        if missing:
            raise ValueError(f"frame has no probability for labels {missing}")
        self.last_frame_time = now
        self._unfamiliar_streak = self._unfamiliar_streak + 1 if unfamiliar else 0
        transitions = []
        for label, track in self._tracks.items():
            probability = float(probabilities[label])
            track.probability = probability
            new = self._step(track, probability, unfamiliar)
            if new is not None:
                transitions.append(Transition(label, track.state, new, probability, now))
                track.state = new
        for transition in transitions:
            _LOGGER.info(
                "State change: %s%s: %s -> %s (prob=%.3f)",
                f"{self.name}/" if self.name else "",
                transition.label,
                transition.old.name,
                transition.new.name,
                transition.probability,
            )
        return transitions

    @staticmethod
    def _step(track: _LabelTrack, probability: float, unfamiliar: bool = False) -> State | None:
        policy = track.policy
        if unfamiliar:
            observed: State | None = State.UNKNOWN
        elif probability >= policy.on_threshold:
            observed = State.ON
        elif probability <= policy.off_threshold:
            observed = State.OFF
        else:
            observed = None  # between the thresholds: keep the state, break the streak
        if observed is None or observed == track.state:
            track.candidate, track.streak = None, 0
            return None
        if observed == track.candidate:
            track.streak += 1
        else:
            track.candidate, track.streak = observed, 1
        if track.streak >= policy.confirm_frames:
            track.candidate, track.streak = None, 0
            return observed
        return None

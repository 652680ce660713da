"""The debouncer: hysteresis, confirmation, UNKNOWN start, availability, listeners, logging."""

from __future__ import annotations

import logging

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from garagecam_core.debounce import (
    Debouncer,
    LabelOverride,
    LabelPolicy,
    PolicyError,
    State,
    Transition,
    default_max_age,
    merge_policies,
)
from garagecam_core.errors import MetadataError
from garagecam_core.metadata import LabelSpec, ModelMetadata

ON, OFF = 0.6, 0.4


def single(confirm_frames: int = 2, max_age: float | None = None, name: str = "") -> Debouncer:
    return Debouncer({"door_open": LabelPolicy(ON, OFF, confirm_frames)}, max_age, name)


def feed(debouncer: Debouncer, probabilities: list[float], label: str = "door_open") -> list[State]:
    """Feed one frame per probability (one second apart); the state after each frame."""
    states = []
    for second, probability in enumerate(probabilities):
        debouncer.update({label: probability}, now=float(second))
        states.append(debouncer.state(label))
    return states


# --- examples ----------------------------------------------------------------------------------


def test_starts_unknown_and_unavailable() -> None:
    debouncer = single()
    assert debouncer.state("door_open") is State.UNKNOWN
    assert debouncer.states == {"door_open": State.UNKNOWN}
    assert debouncer.probabilities == {"door_open": None}
    assert not debouncer.available(now=0.0)


def test_needs_confirm_frames_consecutive_frames() -> None:
    U = State.UNKNOWN
    assert feed(single(2), [0.9, 0.9, 0.1, 0.1]) == [U, State.ON, State.ON, State.OFF]
    assert feed(single(3), [0.1, 0.1, 0.1]) == [U, U, State.OFF]
    assert feed(single(1), [0.7]) == [State.ON]


def test_a_frame_between_the_thresholds_breaks_the_streak() -> None:
    U = State.UNKNOWN
    assert feed(single(2), [0.9, 0.5, 0.9, 0.9]) == [U, U, U, State.ON]


def test_a_disagreeing_frame_restarts_the_streak() -> None:
    U = State.UNKNOWN
    assert feed(single(2), [0.9, 0.1, 0.9, 0.1, 0.1]) == [U, U, U, U, State.OFF]


def test_thresholds_are_inclusive() -> None:
    assert feed(single(1), [ON]) == [State.ON]
    assert feed(single(1), [OFF]) == [State.OFF]


def test_frames_agreeing_with_the_state_reset_a_pending_change() -> None:
    debouncer = single(2)
    feed(debouncer, [0.9, 0.9])
    assert feed(debouncer, [0.1, 0.9, 0.1]) == [State.ON] * 3


def test_max_age_makes_states_unavailable() -> None:
    debouncer = single(max_age=30.0)
    debouncer.update({"door_open": 0.9}, now=100.0)
    assert debouncer.available(now=100.0)
    assert debouncer.available(now=130.0)
    assert not debouncer.available(now=130.5)
    debouncer.update({"door_open": 0.9}, now=131.0)  # a new successful frame: fresh again
    assert debouncer.available(now=131.0)
    forever = single(max_age=None)
    forever.update({"door_open": 0.9}, now=0.0)
    assert forever.available(now=1e9)


def test_no_frame_yet_is_unavailable_unless_shown_since() -> None:
    """Home Assistant shows the states it restored at start for max_age, with no frame yet:
    `since` counts like a frame (its coordinator kept its own copy of this rule before)."""
    debouncer = single(max_age=30.0)
    assert not debouncer.available(now=100.0)
    assert debouncer.available(now=100.0, since=90.0)
    assert debouncer.available(now=120.0, since=90.0)
    assert not debouncer.available(now=120.5, since=90.0)


def test_the_later_of_the_last_frame_and_since_counts() -> None:
    debouncer = single(max_age=30.0)
    debouncer.update({"door_open": 0.9}, now=50.0)
    assert debouncer.available(now=85.0, since=60.0)  # shown since 60: fresh until 90
    assert not debouncer.available(now=85.0, since=10.0)  # the frame at 50: stale after 80
    assert single(max_age=None).available(now=1e9, since=0.0)


def test_update_returns_the_transitions_it_caused() -> None:
    debouncer = Debouncer(
        {"door_open": LabelPolicy(ON, OFF, 1), "car_present": LabelPolicy(0.7, 0.3, 1)}
    )
    assert debouncer.update({"door_open": 0.8, "car_present": 0.2}, now=5.0) == [
        Transition("door_open", State.UNKNOWN, State.ON, 0.8, 5.0),
        Transition("car_present", State.UNKNOWN, State.OFF, 0.2, 5.0),
    ]
    assert debouncer.update({"door_open": 0.1, "car_present": 0.2}, now=6.0) == [
        Transition("door_open", State.ON, State.OFF, 0.1, 6.0),
    ]
    assert debouncer.update({"door_open": 0.1, "car_present": 0.2}, now=7.0) == []
    assert debouncer.state("door_open") is State.OFF


def test_log_line_format(caplog: pytest.LogCaptureFixture) -> None:
    debouncer = Debouncer({"car_present": LabelPolicy(ON, OFF, 1)})
    with caplog.at_level(logging.INFO, logger="garagecam_core.debounce"):
        debouncer.update({"car_present": 0.1984}, now=0.0)
        debouncer.update({"car_present": 0.25}, now=1.0)  # no change, no line
    assert caplog.messages == ["State change: car_present: UNKNOWN -> OFF (prob=0.198)"]
    named = Debouncer({"car_present": LabelPolicy(ON, OFF, 1)}, name="garage")
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="garagecam_core.debounce"):
        named.update({"car_present": 0.9}, now=0.0)
    assert caplog.messages == ["State change: garage/car_present: UNKNOWN -> ON (prob=0.900)"]


def test_for_model_uses_the_models_thresholds_and_overrides() -> None:
    metadata = ModelMetadata(
        "demo", 64, 64,
        (LabelSpec("door_open", "garage_door", 0.7, 0.2), LabelSpec("car_present", "occupancy")),
    )  # fmt: skip
    override = LabelPolicy(0.9, 0.1, 4)
    debouncer = Debouncer.for_model(
        metadata, {"car_present": override}, confirm_frames=3, max_age=60.0, name="garage"
    )
    assert debouncer.labels == ("door_open", "car_present")
    assert debouncer.policy("door_open") == LabelPolicy(0.7, 0.2, 3)
    assert debouncer.policy("car_present") == override
    assert debouncer.max_age == 60.0
    with pytest.raises(ValueError, match=r"labels the model does not have: \['bike'\]"):
        Debouncer.for_model(metadata, {"bike": override})


def test_set_policy_keeps_the_state_and_restarts_the_streak() -> None:
    debouncer = single(2)
    feed(debouncer, [0.9, 0.9, 0.1])  # ON, one OFF frame pending
    debouncer.set_policy("door_open", LabelPolicy(0.8, 0.2, 2))
    assert debouncer.state("door_open") is State.ON
    assert feed(debouncer, [0.1]) == [State.ON]  # the earlier OFF frame no longer counts
    assert feed(debouncer, [0.1]) == [State.OFF]


def test_restore_seeds_a_state_without_a_transition() -> None:
    debouncer = single(2)
    debouncer.restore("door_open", State.ON)
    assert debouncer.state("door_open") is State.ON
    seen = [t for p in (0.9, 0.1, 0.1) for t in debouncer.update({"door_open": p}, now=0.0)]
    assert debouncer.state("door_open") is State.OFF
    assert [(t.old, t.new) for t in seen] == [(State.ON, State.OFF)]


def test_bad_input() -> None:
    with pytest.raises(ValueError, match=r"no probability for labels \['door_open'\]"):
        single().update({"car_present": 0.5}, now=0.0)
    with pytest.raises(ValueError, match="at least one label"):
        Debouncer({})
    with pytest.raises(ValueError, match="confirm_frames must be an integer >= 1, got 0"):
        LabelPolicy(ON, OFF, 0)
    with pytest.raises(MetadataError, match="must not be above"):
        LabelPolicy(0.3, 0.7)


# --- properties --------------------------------------------------------------------------------

thresholds = (
    st.tuples(st.floats(0.01, 0.98, allow_nan=False), st.floats(0.01, 0.98, allow_nan=False))
    .filter(lambda pair: pair[1] - pair[0] > 1e-6)
    .map(lambda pair: (pair[1], pair[0]))
)  # (on, off)
probabilities = st.floats(0.0, 1.0, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(
    thresholds=thresholds,
    confirm=st.integers(1, 4),
    start=st.sampled_from(list(State)),
    fractions=st.lists(st.floats(0.0, 1.0, exclude_min=True, exclude_max=True), max_size=50),
)
def test_no_flapping_strictly_between_the_thresholds(
    thresholds: tuple[float, float], confirm: int, start: State, fractions: list[float]
) -> None:
    on, off = thresholds
    debouncer = Debouncer({"door_open": LabelPolicy(on, off, confirm)})
    debouncer.restore("door_open", start)
    between = [off + f * (on - off) for f in fractions]
    between = [p for p in between if off < p < on]  # float rounding could land on a threshold
    for second, probability in enumerate(between):
        assert debouncer.update({"door_open": probability}, now=float(second)) == []
        assert debouncer.state("door_open") is start


def classify(probability: float, on: float, off: float) -> State | None:
    if probability >= on:
        return State.ON
    if probability <= off:
        return State.OFF
    return None


@settings(max_examples=300, deadline=None)
@given(
    thresholds=thresholds,
    confirm=st.integers(1, 4),
    sequence=st.lists(probabilities, max_size=60),
)
def test_transitions_need_confirm_frames_agreeing_frames(
    thresholds: tuple[float, float], confirm: int, sequence: list[float]
) -> None:
    on, off = thresholds
    debouncer = Debouncer({"door_open": LabelPolicy(on, off, confirm)})
    state = State.UNKNOWN
    observed: list[State | None] = []
    for second, probability in enumerate(sequence):
        observed.append(classify(probability, on, off))
        transitions = debouncer.update({"door_open": probability}, now=float(second))
        recent = observed[-confirm:]
        if transitions:
            (transition,) = transitions
            # A change follows `confirm` consecutive frames that all agree with the new state.
            assert transition.old == state != transition.new
            assert len(recent) == confirm
            assert all(o == transition.new for o in recent)
            assert transition.probability == probability
            state = transition.new
        # And conversely: `confirm` agreeing frames always leave the state there.
        if len(recent) == confirm and recent[0] is not None and all(o == recent[0] for o in recent):
            assert debouncer.state("door_open") == recent[0]
        assert debouncer.state("door_open") == state
        assert state is State.UNKNOWN or second + 1 >= confirm


def _two_labels() -> ModelMetadata:
    return ModelMetadata(
        name="m",
        input_height=8,
        input_width=8,
        labels=(LabelSpec("door_open", "door", 0.7, 0.3), LabelSpec("car_present", None, 0.6, 0.4)),
    )


def test_merge_policies_model_defaults_camera_confirm_then_overrides() -> None:
    meta = _two_labels()
    assert merge_policies(meta, confirm_frames=3) == {
        "door_open": LabelPolicy(0.7, 0.3, 3),
        "car_present": LabelPolicy(0.6, 0.4, 3),
    }
    merged = merge_policies(
        meta, {"door_open": LabelOverride(on_threshold=0.9, confirm_frames=5)}, confirm_frames=2
    )
    assert merged["door_open"] == LabelPolicy(0.9, 0.3, 5)
    assert merged["car_present"] == LabelPolicy(0.6, 0.4, 2)


def test_merge_policies_names_the_label_at_fault() -> None:
    meta = _two_labels()
    with pytest.raises(PolicyError, match="has no label 'dor_open'") as unknown:
        merge_policies(meta, {"dor_open": LabelOverride(on_threshold=0.5)})
    assert unknown.value.label is None
    # an override can break the hysteresis rule against the model's other threshold
    with pytest.raises(PolicyError, match=r"^door_open: .*must not be above") as broken:
        merge_policies(meta, {"door_open": LabelOverride(on_threshold=0.2)})
    assert broken.value.label == "door_open"
    with pytest.raises(PolicyError, match=r"^door_open: confirm_frames"):
        merge_policies(meta, confirm_frames=0)


def test_default_max_age_is_three_intervals_but_at_least_a_minute() -> None:
    assert default_max_age(5) == 60.0
    assert default_max_age(30) == 90.0

"""Unfamiliar frames turn states UNKNOWN (after confirm_frames), familiar ones bring them back."""

from __future__ import annotations

from garagecam_core.debounce import Debouncer, LabelPolicy, State
from garagecam_core.engine.base import Classification, Timings


def _debouncer(confirm: int = 2) -> Debouncer:
    return Debouncer({"door_open": LabelPolicy(0.6, 0.4, confirm)})


def test_unfamiliar_frames_make_a_known_state_unknown() -> None:
    debouncer = _debouncer()
    for t in range(2):
        debouncer.update({"door_open": 0.9}, float(t))
    assert debouncer.state("door_open") is State.ON
    first = debouncer.update({"door_open": 0.9}, 2.0, unfamiliar=True)
    assert first == [] and debouncer.state("door_open") is State.ON  # one frame is not enough
    second = debouncer.update({"door_open": 0.9}, 3.0, unfamiliar=True)
    assert [(t.old, t.new) for t in second] == [(State.ON, State.UNKNOWN)]
    assert debouncer.unfamiliar


def test_familiar_frames_bring_the_state_back() -> None:
    debouncer = _debouncer(confirm=1)
    debouncer.update({"door_open": 0.1}, 0.0, unfamiliar=True)
    assert debouncer.state("door_open") is State.UNKNOWN and debouncer.unfamiliar
    debouncer.update({"door_open": 0.1}, 1.0)
    assert debouncer.state("door_open") is State.OFF and not debouncer.unfamiliar


def test_a_single_unfamiliar_frame_breaks_a_streak() -> None:
    debouncer = _debouncer(confirm=2)
    debouncer.update({"door_open": 0.9}, 0.0)
    debouncer.update({"door_open": 0.9}, 1.0, unfamiliar=True)
    debouncer.update({"door_open": 0.9}, 2.0)
    assert debouncer.state("door_open") is State.UNKNOWN  # never two familiar ON in a row


def test_novelty_travels_through_to_dict_and_marks_unfamiliar() -> None:
    timings = Timings(1.0, 1.0, 1.0, 3.0)
    result = Classification({"door_open": 0.5}, timings, (10, 10), novelty=1.5)
    again = Classification.from_dict(result.to_dict())
    assert again.novelty == 1.5 and again.unfamiliar
    plain = Classification({"door_open": 0.5}, timings, (10, 10))
    assert "novelty" not in plain.to_dict() and not plain.unfamiliar
    black = Classification({"door_open": 0.5}, timings, (10, 10), novelty=float("inf"))
    assert Classification.from_dict(black.to_dict()).unfamiliar

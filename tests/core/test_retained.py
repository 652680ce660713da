"""The publish-on-change and replay rules shared by the runner and the Home Assistant bridge."""

from __future__ import annotations

from garagecam_core.discovery import Message
from garagecam_core.retained import (
    ON_HOMEASSISTANT_ONLINE,
    PERIODIC,
    Kind,
    RetainedMessages,
    is_online,
)

CONFIG = Message("p/binary_sensor/n/door_open/config", "{}", True)
ONLINE = Message("b/cam/availability", "online", True)
ON = Message("b/cam/door_open", "ON", True)


def test_retained_messages_go_out_only_when_they_change() -> None:
    retained = RetainedMessages()
    assert retained.changed([CONFIG], Kind.CONFIG) == [CONFIG]
    assert retained.changed([ONLINE], Kind.AVAILABILITY) == [ONLINE]
    assert retained.changed([ON], Kind.STATE) == [ON]
    assert retained.changed([ON, ONLINE], Kind.STATE) == []  # nothing new
    off = ON._replace(payload="OFF")
    assert retained.changed([off], Kind.STATE) == [off]
    assert retained.payloads()[ON.topic] == "OFF"
    event = Message("b/cam/event", "x", False)  # not retained: always sent, never replayed
    assert retained.changed([event, event], Kind.STATE) == [event, event]
    assert event.topic not in retained.payloads()


def test_replays_by_kind_in_publication_order() -> None:
    retained = RetainedMessages()
    retained.changed([CONFIG], Kind.CONFIG)
    retained.changed([ONLINE], Kind.AVAILABILITY)
    retained.changed([ON], Kind.STATE)
    assert retained.replay() == [CONFIG, ONLINE, ON]
    assert retained.replay(*PERIODIC) == [ONLINE, ON]  # no discovery every hour
    assert retained.replay(*ON_HOMEASSISTANT_ONLINE) == [CONFIG, ONLINE, ON]


def test_an_empty_payload_removes_and_is_forgotten() -> None:
    retained = RetainedMessages()
    retained.changed([CONFIG], Kind.CONFIG)
    removal = CONFIG._replace(payload="")
    assert retained.changed([removal], Kind.CONFIG) == [removal]
    assert retained.replay() == []  # never re-published after its removal
    assert retained.changed([removal], Kind.CONFIG) == [removal]  # unknown topic: sent
    assert retained.changed([CONFIG], Kind.CONFIG) == [CONFIG]  # published again: new


def test_online_status_payloads() -> None:
    assert is_online("online") and is_online(b" Online\n") and is_online(bytearray(b"online"))
    assert not is_online("offline") and not is_online(b"\xff") and not is_online("")

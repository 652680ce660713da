"""Which retained MQTT messages to send: each on change, and whole kinds again on request.

A publisher owns a set of retained topics (discovery configs, availability, states).
`RetainedMessages` remembers the last payload of each, sorted by kind, so that:

- a retained message goes out only when its payload changed (states on change, not on every
  frame);
- after a (re)connect the publisher replays every kind (a broker that lost its retained store
  is right again);
- when Home Assistant announces `online` on its status topic, configs, availability and
  states are replayed (it forgot what it had read);
- states and availability are replayed every `REPUBLISH_INTERVAL` seconds, because
  homebridge-tasmota drops accessories that stay silent for 24 hours.

One piece of decision logic for the standalone runner's paho publisher and the Home
Assistant integration's bridge (its own MQTT client). No MQTT client here, and no lock: the
caller serialises its calls.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum

from .discovery import ONLINE, Message

#: seconds between two periodic re-publications of states and availability (the runner's
#: `mqtt.republish_interval` default, the Home Assistant bridge's fixed interval)
REPUBLISH_INTERVAL = 3600.0


class Kind(Enum):
    """What a retained message is, which decides when it is re-published."""

    CONFIG = "config"  # discovery: replayed on connect and when Home Assistant comes online
    AVAILABILITY = "availability"
    STATE = "state"  # also re-published periodically (HomeKit bridges drop silent devices)


#: replayed when Home Assistant says `online` (everything it reads)
ON_HOMEASSISTANT_ONLINE = (Kind.CONFIG, Kind.AVAILABILITY, Kind.STATE)
#: replayed every REPUBLISH_INTERVAL (what a silent-device timeout looks at)
PERIODIC = (Kind.STATE, Kind.AVAILABILITY)


def is_online(payload: bytes | bytearray | str) -> bool:
    """Whether a status payload (Home Assistant's birth message) says `online`."""
    text = payload if isinstance(payload, str) else bytes(payload).decode("utf-8", "replace")
    return text.strip().lower() == ONLINE


class RetainedMessages:
    """The latest payload of every retained topic a publisher owns, in publication order."""

    def __init__(self) -> None:
        self._messages: dict[str, tuple[Message, Kind]] = {}

    def changed(self, messages: Iterable[Message], kind: Kind) -> list[Message]:
        """Remember `messages`; return those to send now: every non-retained one, and each
        retained one whose payload differs from the remembered one. An empty retained payload
        (a removal) is sent and forgets its topic."""
        send = []
        for message in messages:
            if message.retain:
                known = self._messages.get(message.topic)
                if known is not None and known[0].payload == message.payload:
                    continue  # the broker holds it already (or gets it on the next replay)
                if message.payload == "":
                    self._messages.pop(message.topic, None)
                else:
                    self._messages[message.topic] = (message, kind)
            send.append(message)
        return send

    def replay(self, *kinds: Kind) -> list[Message]:
        """The remembered messages of these kinds (all kinds when none is given)."""
        return [m for m, k in self._messages.values() if not kinds or k in kinds]

    def payloads(self) -> dict[str, str]:
        """Topic -> payload of every remembered message (what the broker should hold)."""
        return {topic: message.payload for topic, (message, _kind) in self._messages.items()}

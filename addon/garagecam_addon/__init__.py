"""The GarageCam add-on's entry point: Supervisor options and services in, a runner config out.

It reads `/data/options.json`, asks the Supervisor for the MQTT broker (`services: mqtt`) and
its own hostname, keeps the API token in `/data`, tells Home Assistant where the inference
server is (discovery), writes the runner's YAML and execs `garagecam run` on it. It imports
only the library (`garagecam_core`); the runner validates the config again and says in one
line what is wrong.
"""

from __future__ import annotations

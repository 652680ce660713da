"""The standalone runner: cameras -> engine -> debouncer -> MQTT, plus an HTTP API.

`app.Runner` wires the pieces; `garagecam run --config FILE` starts it.
"""

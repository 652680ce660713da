"""Constants of the GarageCam integration."""

from __future__ import annotations

import logging
from typing import Final

DOMAIN: Final = "garagecam"
LOGGER = logging.getLogger(__package__)

# config entry data
CONF_CAMERA: Final = "camera"
CONF_MODE: Final = "mode"
CONF_MODEL: Final = "model"
CONF_URL: Final = "url"
CONF_TOKEN: Final = "token"  # noqa: S105 - a config key, not a secret
#: the Supervisor add-on slug an entry follows (its address and token come from the add-on)
CONF_ADDON: Final = "addon"
CONF_USE_ADDON: Final = "use_addon"  # the "add-on found" step's only field
#: the entry's dataset folder, when not `<config>/garagecam/dataset/<camera>`: an add-on
#: entry of the add-on studio's model keeps its frames where the studio labels them
CONF_DATASET: Final = "dataset"

MODE_LOCAL: Final = "local"
MODE_REMOTE: Final = "remote"
DEMO_MODEL: Final = "demo"

# config entry options
CONF_SCAN_INTERVAL: Final = "scan_interval"
CONF_ROI: Final = "roi"
CONF_MAX_AGE: Final = "max_age"
CONF_LABELS: Final = "labels"
CONF_ON_THRESHOLD: Final = "on_threshold"
CONF_OFF_THRESHOLD: Final = "off_threshold"
CONF_CONFIRM_FRAMES: Final = "confirm_frames"
CONF_MQTT_ENABLED: Final = "mqtt_enabled"
CONF_MQTT_PREFIX: Final = "mqtt_prefix"
CONF_CAPTURE_ENABLED: Final = "capture_enabled"
CONF_CAPTURE_MAX_FRAMES: Final = "capture_max_frames"

DEFAULT_SCAN_INTERVAL: Final = 10
# No fixed max age: unset, it follows the core's one rule (three scan intervals, at least
# 60 s). The fixed 60 s before config entry 1.3 made an entry polling every 5 minutes go
# unavailable at its first missed poll.
OLD_DEFAULT_MAX_AGE: Final = 60
DEFAULT_CONFIRM_FRAMES: Final = 2
# Not "homeassistant": Home Assistant's own MQTT integration would show every sensor twice.
# Not "garagecam" (the default before config entry 1.2): that is the runner's base topic, so
# `garagecam/status` (the runner's availability) read as "bridges restarted" and our configs
# landed inside the runner's state tree. Not our own base topic either (`MQTT_BASE_TOPIC`).
DEFAULT_MQTT_PREFIX: Final = "garagecam-homekit"
OLD_DEFAULT_MQTT_PREFIX: Final = "garagecam"
#: Home Assistant's own discovery prefix: the bridge must not publish there
HA_DISCOVERY_PREFIX: Final = "homeassistant"
# Where the bridge publishes states; not the runner's `garagecam`, so `garagecam mqtt
# cleanup` never matches our configs and the two never read each other's topics.
MQTT_BASE_TOPIC: Final = "garagecam-ha"
#: first topic levels an MQTT prefix must not use (the runner's default base topic, ours)
RESERVED_MQTT_ROOTS: Final = frozenset({"garagecam", MQTT_BASE_TOPIC})

# directories under the Home Assistant config directory
MODELS_DIR: Final = "garagecam/models"
DATASET_DIR: Final = "garagecam/dataset"

#: the manual's steps for a camera whose frames the model does not know (Repairs links there)
UNFAMILIAR_DOCS_URL: Final = (
    "https://garagecam.github.io/garagecam/home-assistant/#learn-from-labelled-frames"
)

CAMERA_TIMEOUT: Final = 10
WORKER_TIMEOUT: Final = 30.0
RECENT_TIMINGS: Final = 20

SERVICE_CLASSIFY: Final = "classify"
SERVICE_SAVE_SNAPSHOT: Final = "save_snapshot"
SERVICE_TRAIN_MODEL: Final = "train_model"
ATTR_CONFIG_ENTRY_ID: Final = "config_entry_id"
ATTR_LABELS: Final = "labels"

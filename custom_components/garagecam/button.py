"""Button "Learn from labelled frames" (Local mode): train the camera's head and use it."""

from __future__ import annotations

from homeassistant.components.button import ButtonEntity, ButtonEntityDescription
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import CONF_MODE, MODE_REMOTE
from .entity import GarageCamEntity
from .runtime_data import GarageCamConfigEntry
from .training import async_learn

PARALLEL_UPDATES = 1

LEARN_DESCRIPTION = ButtonEntityDescription(
    key="learn", translation_key="learn", entity_category=EntityCategory.CONFIG
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: GarageCamConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    # A Remote entry trains where its runtime is (the runner's studio): no button to fail.
    if entry.data[CONF_MODE] != MODE_REMOTE:
        async_add_entities([GarageCamLearnButton(entry)])


class GarageCamLearnButton(GarageCamEntity, ButtonEntity):
    """Trains in the executor; the entry reloads with the new model afterwards."""

    def __init__(self, entry: GarageCamConfigEntry) -> None:
        super().__init__(entry, LEARN_DESCRIPTION.key)
        self.entity_description = LEARN_DESCRIPTION

    @property
    def available(self) -> bool:
        """Learning needs labelled frames, not a working camera."""
        return True

    async def async_press(self) -> None:
        _summary, target = await async_learn(self.hass, self.coordinator.config_entry)
        # not awaited: reloading unloads this button while it is being pressed
        self.hass.config_entries.async_schedule_reload(target.entry_id)

"""Image entity: an analysed frame with the region of interest and probabilities.

An image entity's state is the time of its picture, so a new picture per poll would be a new
state, and a recorder row, per poll (about 30 a minute at a 2 s interval). The picture
therefore moves on when a sensor's state changes, and otherwise when Home Assistant rotates
the entity's access token (every 5 minutes, `image.TOKEN_CHANGE_INTERVAL`): it writes a new
state then anyway, so the newer picture costs no extra row. The picture served is always the
frame the state names.
"""

from __future__ import annotations

from datetime import datetime

from homeassistant.components.image import ImageEntity, ImageEntityDescription
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import GarageCamData
from .entity import GarageCamEntity
from .runtime_data import GarageCamConfigEntry

PARALLEL_UPDATES = 0

FRAME_DESCRIPTION = ImageEntityDescription(
    key="frame", translation_key="frame", entity_category=EntityCategory.DIAGNOSTIC
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: GarageCamConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    async_add_entities([GarageCamFrameImage(entry)])


class GarageCamFrameImage(GarageCamEntity, ImageEntity):
    """Rendered lazily (in the executor) when someone looks, cached per frame."""

    _attr_content_type = "image/jpeg"

    def __init__(self, entry: GarageCamConfigEntry) -> None:
        GarageCamEntity.__init__(self, entry, FRAME_DESCRIPTION.key)
        #: the analysed frame the entity shows (its time is the entity's state)
        self._shown: GarageCamData | None = None
        self._rendered: tuple[datetime, bytes] | None = None
        ImageEntity.__init__(self, entry.runtime_data.coordinator.hass)  # shows the frame
        self.entity_description = FRAME_DESCRIPTION

    @callback
    def _update_shown(self, latest: bool) -> None:
        """Show the newest frame if `latest` or if the states changed since the shown one."""
        data = self.coordinator.data
        if data is None or data.image is None or data.last_success is None:
            return  # no frame yet, or a failed poll (it keeps the last frame)
        if latest or self._shown is None or data.states != self._shown.states:
            self._shown = data
            self._attr_image_last_updated = data.last_success

    @callback
    def _handle_coordinator_update(self) -> None:
        self._update_shown(latest=False)
        super()._handle_coordinator_update()

    @callback
    def async_update_token(self) -> None:
        """Home Assistant writes the state after each token rotation: the newest frame goes
        with it."""
        super().async_update_token()
        self._update_shown(latest=True)

    async def async_image(self) -> bytes | None:
        data = self._shown
        if data is None or data.image is None or data.last_success is None:
            return None
        if self._rendered is not None and self._rendered[0] == data.last_success:
            return self._rendered[1]
        from garagecam_core.debug_frame import render_debug_frame

        image = data.image
        states = {label: str(state) for label, state in data.states.items()}
        probabilities = data.classification.probabilities if data.classification else {}
        frame = await self.hass.async_add_executor_job(
            lambda: render_debug_frame(
                image,
                roi=self.coordinator.roi,
                probabilities=probabilities,
                states=states,
                title=self.coordinator.camera_entity_id,
            )
        )
        self._rendered = (data.last_success, frame)
        return frame

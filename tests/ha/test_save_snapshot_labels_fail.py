"""`save_snapshot` when the labels line cannot be written (issue 21, item 9): the image is
not kept without its labels, and a retry does not report an unlabelled image as saved."""

from __future__ import annotations

from pathlib import Path

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.garagecam.const import DOMAIN

from .test_runtime import _tick


async def test_save_snapshot_without_its_labels_line_keeps_no_image(
    hass: HomeAssistant,
    setup_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    config_dir: Path,
) -> None:
    await _tick(hass, freezer)
    folder = config_dir / "garagecam" / "dataset" / "garage"
    # labels.jsonl cannot be appended to (as on a full disk): a folder in its place
    await hass.async_add_executor_job(lambda: (folder / "labels.jsonl").mkdir(parents=True))
    for _attempt in range(2):  # the retry must fail the same way, not find the image "saved"
        with pytest.raises(HomeAssistantError, match="Could not save the snapshot"):
            await hass.services.async_call(
                DOMAIN,
                "save_snapshot",
                {"config_entry_id": setup_entry.entry_id},
                blocking=True,
                return_response=True,
            )
    images = await hass.async_add_executor_job(lambda: sorted(folder.glob("*.jpg")))
    assert images == []


async def test_save_snapshot_never_writes_labels_through_a_link(
    hass: HomeAssistant,
    setup_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    config_dir: Path,
    tmp_path: Path,
) -> None:
    """A link in labels.jsonl's place (planted, or a copy gone wrong) is neither appended
    to nor followed: the action fails with the reason, the link's target is unchanged."""
    await _tick(hass, freezer)
    folder = config_dir / "garagecam" / "dataset" / "garage"
    target = tmp_path / "elsewhere.jsonl"

    def plant() -> None:
        folder.mkdir(parents=True)
        target.write_bytes(b"not yours\n")
        (folder / "labels.jsonl").symlink_to(target)

    await hass.async_add_executor_job(plant)
    with pytest.raises(HomeAssistantError, match="not a regular file"):
        await hass.services.async_call(
            DOMAIN,
            "save_snapshot",
            {"config_entry_id": setup_entry.entry_id},
            blocking=True,
            return_response=True,
        )
    assert await hass.async_add_executor_job(target.read_bytes) == b"not yours\n"
    images = await hass.async_add_executor_job(lambda: sorted(folder.glob("*.jpg")))
    assert images == []

"""The fake host refuses what Scrypted refuses, so the plugin tests can fail for real."""

from __future__ import annotations

from typing import Any

import pytest
import scrypted_sdk
from scrypted_sdk import types as sdk_types

from tests.scrypted.host import FakeHost, ShapeError, check_device, check_typed_dict

GOOD_DEVICE = {"nativeId": "a", "name": "A", "type": "Sensor", "interfaces": ["EntrySensor"]}


@pytest.mark.parametrize(
    ("device", "message"),
    [
        (GOOD_DEVICE | {"type": "GarageDoorOpener"}, "is not a ScryptedDeviceType"),
        (GOOD_DEVICE | {"interfaces": ["ContactSensor"]}, "are not ScryptedInterfaces"),
        (GOOD_DEVICE | {"interfaces": [1]}, "expected str"),
        (GOOD_DEVICE | {"interfaces": "EntrySensor"}, "expected a list"),
        (GOOD_DEVICE | {"nativeid": "typo"}, "keys ['nativeid'] are not in the SDK's Device"),
        ({k: v for k, v in GOOD_DEVICE.items() if k != "name"}, "required keys ['name']"),
        (GOOD_DEVICE | {"info": {"manufacturer": 5}}, "Device.info.manufacturer"),
        (GOOD_DEVICE | {"refresh": "yes"}, "expected bool"),
    ],
)
def test_manifest_checks_follow_the_sdk_typed_dicts(device: dict[str, Any], message: str) -> None:
    check_device(GOOD_DEVICE)
    with pytest.raises(ShapeError) as caught:
        check_device(device)
    assert message in str(caught.value)


def test_setting_checks_follow_the_sdk_typed_dict() -> None:
    check_typed_dict({"key": "a", "range": [0, 1], "choices": ["x"]}, sdk_types.Setting)
    with pytest.raises(ShapeError, match="expected 2 items"):
        check_typed_dict({"key": "a", "range": [0, 1, 2]}, sdk_types.Setting)
    with pytest.raises(ShapeError, match="not in the SDK's Setting"):
        check_typed_dict({"key": "a", "hidden": True}, sdk_types.Setting)


async def test_device_state_refuses_read_only_and_unknown_properties(tmp_path: Any) -> None:
    host = FakeHost(files=tmp_path)
    host.install()
    await scrypted_sdk.deviceManager.onDeviceDiscovered(GOOD_DEVICE)
    device = scrypted_sdk.ScryptedDeviceBase("a")
    with pytest.raises(Exception, match="mixins is read only"):
        device.mixins = []
    with pytest.raises(Exception, match="interfaces is a read only"):
        device.interfaces = []
    device.entryOpen = True  # a real property: stored and emitted as an EntrySensor event
    assert host.state("a", "entryOpen") is True
    assert (host.events[-1].interface, host.events[-1].value) == ("EntrySensor", True)
    with pytest.raises(Exception, match="not a device of this plugin"):
        await scrypted_sdk.deviceManager.onDevicesChanged({"providerNativeId": "b", "devices": []})

"""Model metadata: validation, JSON round trip, CLI label parsing."""

from __future__ import annotations

import json

import pytest

from garagecam_core.errors import GarageCamError, MetadataError
from garagecam_core.metadata import LabelSpec, ModelMetadata, parse_label_specs


def _meta(**overrides: object) -> ModelMetadata:
    data: dict[str, object] = {
        "name": "demo",
        "input_height": 224,
        "input_width": 224,
        "labels": (LabelSpec("door_open", "garage_door"), LabelSpec("car_present", "occupancy")),
    }
    data.update(overrides)
    return ModelMetadata(**data)  # type: ignore[arg-type]


def test_round_trip_through_json() -> None:
    meta = _meta(
        resize_mode="letterbox",
        channel_order="BGR",
        input_layout="NHWC",
        extra={"trained_on": "scenes"},
    )
    again = ModelMetadata.from_json(meta.to_json())
    assert again == meta
    assert again.label_names == ("door_open", "car_present")
    assert again.label("car_present").device_class == "occupancy"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"labels": ()}, "at least one label"),
        ({"input_height": 0}, "input_height must be an integer from 8 to 4096"),
        ({"input_width": 224.0}, "input_width must be an integer"),
        ({"channel_order": "RGBA"}, "channel_order must be RGB or BGR"),
        ({"resize_mode": "crop"}, "resize_mode must be stretch or letterbox"),
        ({"activation": "relu"}, "activation must be sigmoid or softmax"),
        ({"std": (0.2, 0.0, 0.2)}, "std values must be positive"),
        ({"input_layout": "NCWH"}, "input_layout must be NCHW or NHWC"),
        ({"format_version": 99}, "upgrade garagecam-core"),
        (
            {"activation": "softmax", "labels": (LabelSpec("open"),)},
            "softmax model needs at least two labels",
        ),
        (
            {"labels": (LabelSpec("a"), LabelSpec("a"))},
            "label names must be unique",
        ),
    ],
)
def test_invalid_metadata_is_rejected_with_a_clear_message(
    overrides: dict[str, object], message: str
) -> None:
    with pytest.raises(MetadataError, match=message):
        _meta(**overrides)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "Door Open"}, "not a valid name"),
        ({"name": "door", "device_class": "garage"}, "unknown Home Assistant device class"),
        ({"name": "door", "on_threshold": 1.5}, "on_threshold must be between 0 and 1"),
        ({"name": "door", "on_threshold": 0.3, "off_threshold": 0.5}, "must not be above"),
    ],
)
def test_invalid_labels(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(MetadataError, match=message):
        LabelSpec(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('{"name": "x"}', "missing required keys"),
        ('{"name": "x", "input_height": 8, "input_width": 8, "labels": {}}', "must be a list"),
        ('{"name": "x", "input_height": 8, "input_width": 8, "labels": [], "bogus": 1}', "bogus"),
        (
            '{"name": "x", "input_height": 8, "input_width": 8, "labels": [{"nam": "a"}]}',
            r"labels\[0\] must be an object with a 'name'",
        ),
        (
            '{"name": "x", "input_height": 8, "input_width": 8, '
            '"labels": [{"name": "a", "colour": 1}]}',
            "unknown keys",
        ),
    ],
)
def test_malformed_json(text: str, message: str) -> None:
    with pytest.raises(MetadataError, match=message):
        ModelMetadata.from_json(text)


def test_metadata_error_is_a_garagecam_error() -> None:
    assert issubclass(MetadataError, GarageCamError)


def test_json_is_stable_and_sorted() -> None:
    text = _meta().to_json()
    assert list(json.loads(text)) == sorted(json.loads(text))


def test_parse_label_specs() -> None:
    specs = parse_label_specs("door_open:garage_door, car_present:occupancy:0.7:0.3,person")
    assert specs == (
        LabelSpec("door_open", "garage_door"),
        LabelSpec("car_present", "occupancy", 0.7, 0.3),
        LabelSpec("person", None),
    )
    with pytest.raises(MetadataError, match="cannot read label"):
        parse_label_specs("a:b:c")
    with pytest.raises(MetadataError, match="thresholds must be numbers"):
        parse_label_specs("a:door:x:y")
    with pytest.raises(MetadataError, match="no labels"):
        parse_label_specs(" , ")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("mean", (float("nan"), 0.456, 0.406), "mean values must be finite"),
        ("mean", (float("inf"), 0.456, 0.406), "mean values must be finite"),
        ("std", (1e-30, 0.224, 0.225), "would scale pixels to"),
        ("std", (5e-324, 0.224, 0.225), "would scale pixels to"),  # a denormal
        ("std", (float("nan"), 0.224, 0.225), "std values must be finite"),
        ("std", (float("inf"), 0.224, 0.225), "std values must be finite"),
        ("mean", (1e30, 0.456, 0.406), "values above 100 would flatten"),
        ("std", (7e13, 0.224, 0.225), "values above 100 would flatten"),
        ("std", (True, 0.224, 0.225), "std must be three numbers"),
    ],
)
def test_normalisation_that_would_turn_frames_into_nan_is_refused(
    field: str, value: tuple[float, ...], message: str
) -> None:
    with pytest.raises(MetadataError, match=message):
        _meta(**{field: value})


def test_nan_in_metadata_json_is_refused_with_a_clear_error() -> None:
    data = json.loads(_meta().to_json())
    data["mean"] = [float("nan"), 0.456, 0.406]
    text = json.dumps(data)  # Python writes the non-standard `NaN` token
    assert "NaN" in text
    with pytest.raises(MetadataError, match="mean values must be finite"):
        ModelMetadata.from_json(text)


def test_usual_normalisations_are_accepted() -> None:
    _meta(mean=(0.0, 0.0, 0.0), std=(1 / 255, 1 / 255, 1 / 255))  # 0..255 inputs
    _meta(mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))


def test_metadata_json_never_holds_nan() -> None:
    with pytest.raises(MetadataError, match="cannot be stored as JSON"):
        _meta(extra={"score": float("nan")}).to_json()


def test_outputs_are_named_by_label_in_label_order() -> None:
    """The one place model outputs get their labels (programs and the in-process engine)."""
    import numpy as np

    named = _meta().named(np.array([0.25, 0.75], dtype=np.float32))
    assert named == {"door_open": 0.25, "car_present": 0.75}
    assert all(type(value) is float for value in named.values())


def test_outputs_that_do_not_match_the_labels_are_refused() -> None:
    with pytest.raises(ValueError, match="zip"):
        _meta().named([0.5])

"""What the studio offers for labelling, on frames whose probabilities are given (a stand-in
for the inference worker): the order frames come in, suggestions with their source, Enter on
a frame with only some suggestions, and datasets in every layout the trainer reads."""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from garagecam_core.errors import DatasetError
from garagecam_core.metadata import LabelSpec
from garagecam_core.scenes import write_dataset
from garagecam_core.studio.state import Studio, labelling_order
from garagecam_core.studio.store import Frame

DOOR = LabelSpec("door_open", on_threshold=0.6, off_threshold=0.4)
CAR = LabelSpec("car_present", on_threshold=0.6, off_threshold=0.4)
SPECS = [DOOR, CAR]


class GivenProbabilities:
    """The predictor's `get`, answering from a table (path -> probabilities, hash)."""

    def __init__(self, table: Mapping[str, tuple[dict[str, float], int | None]]) -> None:
        self.table = table

    def get(self, frame: Frame) -> dict[str, Any] | None:
        probs, value = self.table[frame.path]
        return {"probabilities": probs, "hash": value}


def studio_on(root: Path, table: Mapping[str, tuple[dict[str, float], int | None]]) -> Studio:
    for path in table:
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        if not (root / path).exists():
            (root / path).write_bytes(b"not decoded here")
    studio = Studio(root, root / "unused.pte")
    studio.store.scan()
    studio.predictor = GivenProbabilities(table)  # type: ignore[assignment]
    studio.specs = list(SPECS)
    return studio


def far_hash(index: int) -> int:
    """Random 64-bit hashes: about 32 bits apart, never within the 4 of a near-duplicate."""
    return random.Random(index).getrandbits(64)


def test_every_state_of_every_label_comes_up_early_not_only_the_uncertain_side(
    tmp_path: Path,
) -> None:
    # the pool of the issue: 71 of 150 doors open; the model is sure of every open door and
    # unsure of the closed ones, so "most uncertain first" showed closed doors only
    table: dict[str, tuple[dict[str, float], int | None]] = {}
    for i in range(150):
        door = 0.97 - i * 0.0001 if i < 71 else 0.45 + (i % 10) * 0.005
        car = 0.2 + (i % 7) * 0.1
        table[f"f{i:03d}.jpg"] = ({"door_open": door, "car_present": car}, far_hash(i))
    studio = studio_on(tmp_path, table)
    first = [f["path"] for f in studio.frames()[:20]]
    open_doors = sum(table[p][0]["door_open"] >= 0.5 for p in first)
    cars = sum(table[p][0]["car_present"] >= 0.5 for p in first)
    # each state of each label is at least a quarter of the first 20 (was: no open door)
    assert 5 <= open_doors <= 15
    assert 5 <= cars <= 15
    assert len(set(first)) == 20
    assert len(studio.frames()) == 150


def test_near_duplicates_come_after_the_distinct_frames(tmp_path: Path) -> None:
    table: dict[str, tuple[dict[str, float], int | None]] = {
        f"f{i}.jpg": ({"door_open": 0.5 + i / 100, "car_present": 0.5}, far_hash(i))
        for i in range(6)
    }
    # a near-copy of f0, as uncertain as it and first by name: one of the two comes last
    table["a-same.jpg"] = ({"door_open": 0.5, "car_present": 0.5}, far_hash(0) ^ 0b101)
    studio = studio_on(tmp_path, table)
    order = [f["path"] for f in studio.frames()]
    assert order[-1] in ("a-same.jpg", "f0.jpg")
    assert sorted(order) == sorted(table)


def test_confirmed_frames_follow_the_frames_still_to_label(tmp_path: Path) -> None:
    table: dict[str, tuple[dict[str, float], int | None]] = {
        f"f{i}.jpg": ({"door_open": 0.5, "car_present": 0.5 + i / 100}, far_hash(i))
        for i in range(4)
    }
    studio = studio_on(tmp_path, table)
    studio.set_labels({"f0.jpg": {"door_open": 1, "car_present": 0}})
    order = [f["path"] for f in studio.frames()]
    assert order[-1] == "f0.jpg"


def test_frames_without_probabilities_come_last() -> None:
    items = [
        {"path": "b.jpg", "confirmed": False, "probabilities": None},
        {"path": "a.jpg", "confirmed": False, "probabilities": {"door_open": 0.9}},
    ]
    assert [i["path"] for i in labelling_order(items, SPECS, {})] == ["a.jpg", "b.jpg"]


def test_enter_saves_the_suggestions_a_frame_has_and_names_the_missing(tmp_path: Path) -> None:
    table: dict[str, tuple[dict[str, float], int | None]] = {
        "sure.jpg": ({"door_open": 0.9, "car_present": 0.1}, 1),
        "half.jpg": ({"door_open": 0.95, "car_present": 0.5}, 2),  # car: between OFF and ON
        "none.jpg": ({"door_open": 0.5, "car_present": 0.5}, 3),
    }
    studio = studio_on(tmp_path, table)
    half = studio.describe(studio.store.frames["half.jpg"])
    assert half["suggestion"] == {"door_open": 1}
    assert half["suggestion_from"] == {"door_open": "model"}
    assert half["missing"] == ["car_present"]

    result = studio.accept(["sure.jpg", "half.jpg", "none.jpg"], partial=True)
    assert result["accepted"] == 2 and result["complete"] == 1
    assert result["missing"] == {"half.jpg": ["car_present"],
                                 "none.jpg": ["door_open", "car_present"]}  # fmt: skip
    assert result["skipped"] == ["none.jpg"]
    assert result["confirmed"] == 1
    lines = [json.loads(x) for x in (tmp_path / "labels.jsonl").read_text().splitlines()]
    assert {x["path"]: x["labels"] for x in lines} == {
        "sure.jpg": {"door_open": 1, "car_present": 0},
        "half.jpg": {"door_open": 1},
    }
    half_frame = studio.store.frames["half.jpg"]
    assert half_frame.by == "user" and not half_frame.confirmed(studio.names)
    assert [f["path"] for f in result["frames"]] == ["sure.jpg", "half.jpg", "none.jpg"]
    # the user's own partial label is now the suggestion's source; car still missing
    again = studio.describe(half_frame)
    assert again["suggestion_from"] == {"door_open": "you"} and again["missing"] == ["car_present"]


def test_bulk_accept_without_partial_leaves_incomplete_frames_alone(tmp_path: Path) -> None:
    table: dict[str, tuple[dict[str, float], int | None]] = {
        "half.jpg": ({"door_open": 0.95, "car_present": 0.5}, 2),
    }
    studio = studio_on(tmp_path, table)
    result = studio.accept(["half.jpg"])
    assert result["accepted"] == 0 and result["skipped"] == ["half.jpg"]
    assert not (tmp_path / "labels.jsonl").exists()


def test_a_scenes_folder_opens_with_its_csv_labels_as_suggestions(tmp_path: Path) -> None:
    write_dataset(tmp_path, seed=5, count=6, sizes=((160, 90),))
    csv_before = (tmp_path / "labels.csv").read_bytes()
    rows = [line.split(",") for line in csv_before.decode().splitlines()[1:]]
    truth = {r[0]: {"door_open": int(r[1]), "car_present": int(r[2])} for r in rows}
    table = {path: ({"door_open": 0.5, "car_present": 0.5}, None) for path in truth}
    studio = studio_on(tmp_path, table)
    assert studio.store.layout == "csv"
    assert studio.store.dataset_labels() == ["door_open", "car_present"]
    first = next(iter(truth))
    described = studio.describe(studio.store.frames[first])
    assert described["suggestion"] == truth[first] and not described["confirmed"]
    assert set(described["suggestion_from"].values()) == {"file"}

    result = studio.accept(list(truth))
    assert result["accepted"] == 6 and result["confirmed"] == 6
    assert (tmp_path / "labels.csv").read_bytes() == csv_before  # never rewritten
    assert not (tmp_path / "labels.jsonl").exists()  # garagecam train refuses csv + jsonl
    saved = (tmp_path / ".studio" / "labels.jsonl").read_text().splitlines()
    assert {json.loads(x)["path"]: json.loads(x)["labels"] for x in saved} == truth
    studio.store.scan()  # the user's labels win over the csv's on the next scan
    assert all(studio.store.frames[p].by == "user" for p in truth)
    assert sorted(path for path, _ in studio.confirmed_records()) == sorted(truth)


def test_class_folders_open_as_one_hot_labels(tmp_path: Path) -> None:
    table = {f"{cls}/{i}.jpg": ({"open": 0.5, "closed": 0.5}, None)
             for cls in ("open", "closed") for i in range(2)}  # fmt: skip
    studio = studio_on(tmp_path, table)
    assert studio.store.layout == "folders"
    assert studio.store.dataset_labels() == ["closed", "open"]
    frame = studio.store.frames["open/0.jpg"]
    assert frame.labels == {"closed": 0, "open": 1} and frame.by == "file"
    assert studio.store.labels_path == tmp_path / ".studio" / "labels.jsonl"


def test_a_capture_folder_is_not_taken_for_class_folders(tmp_path: Path) -> None:
    table = {f"images/{i}.jpg": ({"door_open": 0.5, "car_present": 0.5}, None) for i in range(2)}
    table.update({f"other/{i}.jpg": ({"door_open": 0.5, "car_present": 0.5}, None)
                  for i in range(2)})  # fmt: skip
    (tmp_path / "capture.jsonl").write_text("")
    studio = studio_on(tmp_path, table)
    assert studio.store.layout == "jsonl"
    assert studio.store.labels_path == tmp_path / "labels.jsonl"


def test_csv_and_jsonl_together_are_refused_as_the_trainer_does(tmp_path: Path) -> None:
    (tmp_path / "labels.csv").write_text("path,door_open\n")
    (tmp_path / "labels.jsonl").write_text("")
    with pytest.raises(DatasetError, match="keep only one"):
        Studio(tmp_path, tmp_path / "unused.pte")

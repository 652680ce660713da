"""What the page is told about a training run: the stage (the export after the last epoch
prints nothing for a while), the comparison with its sample size, interval and unsure frames,
and `garagecam train --out` into a folder that does not exist yet."""

from __future__ import annotations

from pathlib import Path

import pytest

from garagecam_core.cli import main
from garagecam_core.studio.training import (
    EXPORTING,
    TRUST_FRAMES,
    TrainingJob,
    TrainSettings,
    compare,
    interval,
)

LINE = "INFO epoch {}/{}: train loss 0.4000, validation loss 0.5000, F1 0.800 (1.0 s)"


def job(tmp_path: Path) -> TrainingJob:
    return TrainingJob("r1", tmp_path / "r1", TrainSettings(), 20)


def test_stage_follows_the_epochs_then_says_exporting(tmp_path: Path) -> None:
    run = job(tmp_path)
    assert run.to_dict()["stage"] == "starting"
    run.take_line(LINE.format(3, 40))
    assert run.stage == "epoch 3/40" and run.epochs[-1].epoch == 3
    run.take_line(LINE.format(40, 40))
    assert run.stage == EXPORTING and "ExecuTorch" in run.to_dict()["stage"]


def test_early_stop_goes_on_to_the_export(tmp_path: Path) -> None:
    run = job(tmp_path)
    run.take_line(LINE.format(9, 40))
    run.take_line("INFO early stop at epoch 9 (best epoch 4)")
    assert run.stage == EXPORTING


def test_comparison_gives_n_of_N_interval_and_unsure_frames() -> None:
    # 13 held-out frames, as in the issue: the current model 8 right, the new one 13
    targets = [1] * 7 + [0] * 6
    new = [0.9] * 7 + [0.1] * 6
    current = [0.9] * 4 + [0.3] * 3 + [0.1] * 4 + [0.7, 0.55]
    samples = [([t, 0], [n, 0.1], [c, 0.1]) for t, n, c in zip(targets, new, current, strict=True)]
    result = compare(samples, ["door_open", "car_present"], [(0.5, 0.3), (0.5, 0.3)],
                     {"door_open": (0.5, 0.2), "car_present": (0.5, 0.2)})  # fmt: skip
    assert result["frames"] == 13 and result["too_few"] and result["trust_frames"] == TRUST_FRAMES
    door = result["labels"]["door_open"]
    assert (door["new"]["correct"], door["new"]["total"]) == (13, 13)
    assert (door["current"]["correct"], door["current"]["total"]) == (8, 13)
    assert door["current"]["accuracy"] == pytest.approx(8 / 13, abs=1e-4)
    assert door["current"]["unsure"] == 3  # 0.3, 0.3, 0.3 lie between 0.2 and 0.5
    low, high = door["new"]["interval"]
    assert low < 0.8 and high == 1.0  # 13 of 13 is no proof of 100 %


def test_enough_frames_are_not_flagged() -> None:
    samples = [([1], [0.9], [0.9])] * TRUST_FRAMES
    assert not compare(samples, ["door_open"], [(0.5, 0.3)], {})["too_few"]


def test_interval_narrows_with_more_frames() -> None:
    small, large = interval(12, 13), interval(188, 200)
    assert small is not None and large is not None
    assert small[0] <= 12 / 13 <= small[1] and large[0] <= 0.94 <= large[1]
    assert large[1] - large[0] < small[1] - small[0]
    assert interval(0, 0) is None


def test_train_out_into_a_missing_folder_is_created(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "data").mkdir()  # an empty dataset: fails at the dataset, after the folder
    out = tmp_path / "runs" / "new" / "model.pte"
    argv = ["train", "--full", "--data", str(tmp_path / "data"), "--out", str(out)]
    assert main(argv) != 0
    err = capsys.readouterr().err
    assert "does not exist" not in err and "class folder" in err
    assert out.parent.is_dir()


def test_a_frame_between_off_and_on_is_unsure_not_right() -> None:
    samples = [([1], [0.4], [0.9]), ([0], [0.35], [0.1]), ([0], [0.2], [0.1])]
    door = compare(samples, ["door_open"], [(0.5, 0.3)], {"door_open": (0.5, 0.3)})
    new = door["labels"]["door_open"]["new"]
    assert (new["correct"], new["unsure"], new["total"]) == (1, 2, 3)


def test_a_cancelled_head_run_stops_at_its_next_progress_step(tmp_path: Path) -> None:
    from garagecam_core.studio.head_training import HeadTrainingJob, _Cancelled

    run = HeadTrainingJob("h1", tmp_path / "h1", TrainSettings(), 10, status="running")
    run._progress("embedding", 0.5)
    assert run.stage == "embedding the frames with the trunk: 5/10"
    run.cancel()
    assert run.status == "cancelled"
    with pytest.raises(_Cancelled):  # the training thread ends here, before saving
        run._progress("saving", 0.0)

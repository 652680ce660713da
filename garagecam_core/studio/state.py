"""What the studio knows and does, without the web layer: frames with their model
probabilities, teacher suggestions and labels; suggestions, agreement, training and deploy."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import demo_model_path
from ..capture import hamming
from ..dataset import write_atomic
from ..deploy import Deployment, Validator, install_model, previous_path, rollback
from ..errors import ConfigError, CorruptModelError, GarageCamError
from ..metadata import LabelSpec, ModelMetadata
from .head_training import HEAD_DATA, HeadTrainingJob, compare_cross_validated
from .predictor import Predictor, file_digest
from .store import Frame, LabelStore
from .teacher import Teacher, TeacherConfig, TeacherError, UnreadableFrameError
from .training import (
    INSTALL_HINT,
    TrainingJob,
    TrainSettings,
    check_trainable,
    compare,
    demo_label_names,
    new_run_id,
    train_available,
    write_training_data,
)

_LOGGER = logging.getLogger(__name__)

FILTERS = ("all", "unlabelled", "disagree", "confirmed")


@dataclass
class TaskProgress:
    done: int = 0
    total: int = 0
    running: bool = False
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"done": self.done, "total": self.total, "running": self.running,
                "error": self.error}  # fmt: skip


def vote(p: float | None, spec: LabelSpec) -> int | None:
    """What the model says about one label: 1 at or above ON, 0 at or below OFF, else None."""
    if p is None:
        return None
    if p >= spec.on_threshold:
        return 1
    if p <= spec.off_threshold:
        return 0
    return None


class Studio:
    def __init__(
        self,
        dataset: Path,
        model: Path,
        *,
        deploy_to: Path | None = None,
        teacher: TeacherConfig | None = None,
        settings: TrainSettings | None = None,
        on_model_change: Callable[[Path], Awaitable[None]] | None = None,
        check_model: Callable[[Path], Awaitable[None]] | None = None,
        no_target: str | None = None,
    ) -> None:
        self.store = LabelStore(dataset)
        #: called with the model path after "use this model" or a rollback replaced the file
        #: (the runner swaps the camera's engine there); if it raises, the file is put back
        self.on_model_change = on_model_change
        #: called with the candidate file before anything changes; raises to refuse it (the
        #: runner checks its labels against the cameras')
        self.check_model = check_model
        #: why there is no model file to replace, when `deploy_to` is None
        self.no_target = no_target or (
            "no model file to replace: start the studio with --deploy-to FILE (.pte or .gcam) "
            "(or download the model for Home Assistant)"
        )
        self._deploying = asyncio.Lock()  # one deploy or rollback at a time
        self.model_path = Path(model)
        self.deploy_to = deploy_to
        self.teacher = Teacher(teacher) if teacher else None
        self.settings = settings or TrainSettings()
        self.predictor: Predictor | None = None
        self.teacher_progress = TaskProgress()
        self._teacher_cache: dict[str, dict[str, Any]] = {}
        self.jobs: dict[str, TrainingJob] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.specs: list[LabelSpec] = []

    # -- life cycle ----------------------------------------------------------------------

    async def start(self) -> None:
        await asyncio.to_thread(self.store.scan)
        try:
            self.store.studio_dir.mkdir(exist_ok=True)
        except OSError as err:
            raise ConfigError(
                f"cannot write {self.store.studio_dir} ({err.strerror or err}): the studio "
                "keeps its cache and training runs there; copy the dataset somewhere writable"
            ) from err
        self._teacher_cache = self._load_teacher_cache()
        await self._open_model(self.model_path)

    async def close(self) -> None:
        for job in self.jobs.values():
            job.cancel()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.predictor:
            await self.predictor.close()
        if self.teacher:
            await self.teacher.close()

    def _spawn(self, coro: Any) -> None:
        task: asyncio.Task[None] = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _open_model(self, path: Path, ready: Predictor | None = None) -> None:
        old = self.predictor
        self.predictor = ready or await Predictor.open(path, self.store.studio_dir)
        self.predictor.model_path = path
        self.model_path = path
        if old is not None and old is not self.predictor:
            await old.close()
        self.specs = self._label_specs()
        self.refresh()

    def _label_specs(self) -> list[LabelSpec]:
        assert self.predictor is not None
        by_name = {spec.name: spec for spec in self.predictor.metadata.labels}
        used = self.store.dataset_labels()
        # The model's labels, unless the dataset uses labels the model does not know (it
        # was made for another model): then the dataset's own.
        names = list(by_name) if set(used) <= set(by_name) else used
        return [by_name.get(name) or LabelSpec(name) for name in names]

    @property
    def names(self) -> list[str]:
        return [spec.name for spec in self.specs]

    def refresh(self) -> None:
        """Re-scan the folder and compute predictions of new frames in the background."""
        self._predict_new(self.store.scan())

    async def rescan(self) -> None:
        """`refresh` with the folder scan in a thread (on the event loop's behalf)."""
        self._predict_new(await asyncio.to_thread(self.store.scan))

    def _predict_new(self, frames: Mapping[str, Frame]) -> None:
        if self.predictor is not None:  # a task of the event loop: called on it
            self._spawn(self.predictor.fill(self.store.root, list(frames.values())))

    # -- frames --------------------------------------------------------------------------

    def _probabilities(self, frame: Frame) -> tuple[dict[str, float] | None, str | None]:
        entry = self.predictor.get(frame) if self.predictor else None
        if entry is None:
            return None, None
        probs = entry.get("probabilities")
        return (dict(probs), None) if isinstance(probs, dict) else (None, entry.get("error"))

    def teacher_of(self, frame: Frame) -> dict[str, Any]:
        return self._teacher_cache.get(self._teacher_key(frame), {})

    def sources(self, frame: Frame) -> dict[str, tuple[int, str]]:
        """Per label: the suggested value and who says it: the user's label ("you"), else the
        teacher's, else the file's, else the model's (when sure); labels nobody can say are
        left out."""
        probs, _ = self._probabilities(frame)
        teacher = self.teacher_of(frame)
        out: dict[str, tuple[int, str]] = {}
        for spec in self.specs:
            name = spec.name
            candidates = (
                (frame.labels.get(name) if frame.by == "user" else None, "you"),
                ((teacher.get(name) or {}).get("value"), "teacher"),
                (frame.labels.get(name) if frame.by == "file" else None, "file"),
                (vote((probs or {}).get(name), spec), "model"),
            )
            found = next(((v, who) for v, who in candidates if v is not None), None)
            if found is not None:
                out[name] = (int(found[0]), found[1])
        return out

    def suggestion(self, frame: Frame) -> dict[str, int]:
        return {name: value for name, (value, _) in self.sources(frame).items()}

    def describe(self, frame: Frame) -> dict[str, Any]:
        probs, error = self._probabilities(frame)
        votes = {s.name: vote((probs or {}).get(s.name), s) for s in self.specs}
        margin = None
        if probs:
            margin = min(
                (abs(probs[s.name] - (s.on_threshold + s.off_threshold) / 2)
                 for s in self.specs if s.name in probs),
                default=None,
            )  # fmt: skip
        confirmed = frame.confirmed(self.names)
        sources = self.sources(frame)
        teacher = self.teacher_of(frame)
        disagree = confirmed and any(
            (votes[n] is not None and votes[n] != frame.labels[n])
            or ((teacher.get(n) or {}).get("value") not in (None, frame.labels[n]))
            for n in self.names
        )
        return {
            "path": frame.path,
            "labels": frame.labels,
            "by": frame.by,
            "confirmed": confirmed,
            "probabilities": probs,
            "error": error,
            "votes": votes,
            "margin": margin,
            "teacher": teacher,
            "suggestion": {name: value for name, (value, _) in sources.items()},
            "suggestion_from": {name: who for name, (_, who) in sources.items()},
            # labels neither the user nor any suggestion gives: Enter cannot set them
            "missing": [n for n in self.names if n not in sources],
            "disagree": disagree,
            "reason": (frame.capture or {}).get("reason"),
        }

    def frames(self, which: str = "all") -> list[dict[str, Any]]:
        if which not in FILTERS:
            raise ConfigError(f"unknown filter {which!r}; one of {list(FILTERS)}")
        items = [self.describe(f) for f in self.store.frames.values()]
        if which == "unlabelled":
            items = [i for i in items if not i["confirmed"]]
        elif which == "disagree":
            items = [i for i in items if i["disagree"]]
        elif which == "confirmed":
            items = [i for i in items if i["confirmed"]]
        hashes = {f.path: self._hash(f) for f in self.store.frames.values()}
        return labelling_order(items, self.specs, hashes)

    def _hash(self, frame: Frame) -> int | None:
        entry = self.predictor.get(frame) if self.predictor else None
        value = (entry or {}).get("hash")
        return value if isinstance(value, int) else None

    def set_labels(self, updates: Mapping[str, Mapping[str, int]]) -> int:
        return self.store.set_labels(updates, self.names)

    def accept(self, paths: Sequence[str], partial: bool = False) -> dict[str, Any]:
        """Confirm the suggestion of each frame that has one for every label; with `partial`,
        also save the labels a frame has suggestions for (it stays unconfirmed, listed in
        `missing` with the labels still to set)."""
        complete: dict[str, dict[str, int]] = {}
        groups: dict[tuple[str, ...], dict[str, dict[str, int]]] = {}
        missing: dict[str, list[str]] = {}
        skipped = []
        for path in paths:
            frame = self.store.frame(path)
            if frame is None:
                raise ConfigError(f"unknown frame {path!r}")
            suggestion = self.suggestion(frame)
            if len(suggestion) == len(self.specs):
                complete[path] = suggestion
                continue
            if partial and suggestion:
                groups.setdefault(tuple(suggestion), {})[path] = suggestion
            else:
                skipped.append(path)
            missing[path] = [n for n in self.names if n not in suggestion]
        accepted = self.set_labels(complete)
        for names, updates in groups.items():  # the store writes the same labels per call
            accepted += self.store.set_labels(updates, names)
        return {
            "accepted": accepted,
            "complete": len(complete),
            "skipped": skipped,
            "missing": missing,
            "confirmed": len(self.confirmed_records()),
            "frames": [self.describe(f) for p in paths if (f := self.store.frame(p))],
        }

    def agreement(self) -> dict[str, Any]:
        """Per label: how often teacher, student (the model, when sure) and user agree."""
        result: dict[str, Any] = {}
        for spec in self.specs:
            name = spec.name
            pairs = {"student_user": [0, 0], "teacher_user": [0, 0], "teacher_student": [0, 0]}
            for frame in self.store.frames.values():
                probs, _ = self._probabilities(frame)
                student = vote((probs or {}).get(name), spec)
                teacher = (self.teacher_of(frame).get(name) or {}).get("value")
                user = frame.labels.get(name) if frame.confirmed(self.names) else None
                for key, a, b in (("student_user", student, user),
                                  ("teacher_user", teacher, user),
                                  ("teacher_student", teacher, student)):  # fmt: skip
                    if a is not None and b is not None:
                        pairs[key][0] += int(a == b)
                        pairs[key][1] += 1
            result[name] = {
                key: {"agree": agree, "total": total,
                      "rate": round(agree / total, 4) if total else None}
                for key, (agree, total) in pairs.items()
            }  # fmt: skip
        return result

    # -- teacher -------------------------------------------------------------------------

    def _teacher_key(self, frame: Frame) -> str:
        model = self.teacher.config.model if self.teacher else ""
        return f"{model}|{frame.path}|{frame.size}|{frame.mtime_ns}"

    def _teacher_cache_path(self) -> Path:
        return self.store.studio_dir / "teacher.json"

    def _load_teacher_cache(self) -> dict[str, dict[str, Any]]:
        try:
            data = json.loads(self._teacher_cache_path().read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def start_teacher(self, paths: Sequence[str]) -> None:
        if self.teacher is None:
            raise ConfigError("no teacher is configured (start the studio with --teacher)")
        if self.teacher_progress.running:
            raise ConfigError("the teacher is already labelling frames")
        frames = [f for p in paths if (f := self.store.frame(p)) is not None]
        todo = [f for f in frames if not self.teacher_of(f)]
        self.teacher_progress = TaskProgress(0, len(todo), True)
        self._spawn(self._run_teacher(todo))

    async def _run_teacher(self, frames: list[Frame]) -> None:
        assert self.teacher is not None
        progress = self.teacher_progress
        try:
            for index, frame in enumerate(frames, start=1):
                progress.done = index
                try:  # never through a link: the file may have been swapped since the scan
                    image = await asyncio.to_thread(self.store.read, frame)
                except OSError as err:
                    _LOGGER.info("teacher: skipped %s (%s)", frame.path, err)
                    continue
                try:
                    answers = await self.teacher.ask(image, self.names)
                except UnreadableFrameError as err:
                    _LOGGER.info("teacher: skipped %s (%s)", frame.path, err)
                    continue
                self._teacher_cache[self._teacher_key(frame)] = {
                    s.label: s.to_dict() for s in answers
                }
        except (TeacherError, OSError, GarageCamError) as err:
            progress.error = str(err)
            _LOGGER.warning("teacher stopped: %s", err)
        finally:
            progress.running = False
            with contextlib.suppress(OSError):
                data = json.dumps(self._teacher_cache).encode()
                await asyncio.to_thread(write_atomic, self._teacher_cache_path(), data)

    # -- training and deploy -------------------------------------------------------------

    def train_plan(self, full: bool = False) -> str:
        """What *Train* will do, said on the page before it starts."""
        if not full:
            return (
                "Train fits a small head for your labels on the pretrained trunk, in seconds "
                "and without PyTorch, and scores it on your own frames (each judged by a head "
                "trained without it)."
            )
        try:
            demo = demo_label_names()
        except (OSError, ValueError, KeyError, TypeError):
            demo = ()
        if self.settings.fine_tune and tuple(self.names) == demo:
            return (
                "Fine-tuning the network starts from the demo model's student network "
                "(demo.pte, same labels) and trains it on the frames you labelled with "
                "PyTorch, then exports a new model (minutes)."
            )
        return "Fine-tuning the network trains a new one from scratch with PyTorch (minutes)."

    def confirmed_records(self) -> list[tuple[str, dict[str, int]]]:
        return [(f.path, dict(f.labels)) for f in self.store.frames.values()
                if f.confirmed(self.names)]  # fmt: skip

    def start_training(self, settings: TrainSettings) -> TrainingJob:
        if any(job.status in ("starting", "running") for job in self.jobs.values()):
            raise ConfigError("a training run is already going")
        records = self.confirmed_records()
        check_trainable(records, self.names)
        job_id = new_run_id()
        while job_id in self.jobs:
            job_id += "x"
        directory = self.store.studio_dir / "runs" / job_id
        job: TrainingJob
        if settings.full:
            job = TrainingJob(job_id, directory, settings, len(records))
        else:
            shared = self.store.studio_dir / HEAD_DATA
            write_training_data(shared, self.store.root, records, self.specs)
            name = f"garagecam-{self.store.root.name}"
            job = HeadTrainingJob(job_id, directory, settings, len(records), train_dir=shared,
                                  name=name, records=records)  # fmt: skip
        write_training_data(job.data_dir, self.store.root, records, self.specs)
        if settings.full and not train_available():
            job.status = "unavailable"
            job.error = f"training needs the train extra: {INSTALL_HINT}"
        else:
            self._spawn(self._train(job))
        self.jobs[job_id] = job
        return job

    async def _train(self, job: TrainingJob) -> None:
        await job.run()
        if job.status == "done":
            try:
                job.comparison = await self._compare(job)
            except (OSError, ValueError, KeyError, GarageCamError) as err:
                job.comparison = {"error": str(err)}
            job.stage = "done"

    def _current_thresholds(self) -> dict[str, tuple[float, float]]:
        assert self.predictor is not None
        return {s.name: (s.on_threshold, s.off_threshold) for s in self.predictor.metadata.labels}

    def _about_current(self) -> dict[str, Any]:
        assert self.predictor is not None
        # a model trained on some of these frames (an earlier run) scores them too kindly
        shipped = self.model_path.resolve() == demo_model_path().resolve()
        return {"current_model": self.predictor.metadata.name, "current_is_shipped": shipped}

    async def _compare(self, job: TrainingJob) -> dict[str, Any]:
        if isinstance(job, HeadTrainingJob):
            return await self._compare_head(job)
        return await self._compare_full(job)

    async def _compare_head(self, job: HeadTrainingJob) -> dict[str, Any]:
        assert self.predictor is not None
        current: dict[str, dict[str, float] | None] = {}
        for path, _ in job.records:
            frame = self.store.frame(path)
            probs = await self.predictor.probabilities_of(self.store.root, frame) if frame else None
            current[path] = probs
        result = compare_cross_validated(
            job.result.validation, job.records, current, self._current_thresholds()
        )
        return {**result, **self._about_current()}

    async def _compare_full(self, job: TrainingJob) -> dict[str, Any]:
        report = await asyncio.to_thread(job.report)
        names = [label["name"] for label in report["metadata"]["labels"]]
        new_thresholds = [(label["on_threshold"], label["off_threshold"])
                          for label in report["metadata"]["labels"]]  # fmt: skip
        assert self.predictor is not None
        current = self._current_thresholds()
        samples = []
        for sample in report["validation_samples"]:
            # the training data lists absolute paths into the (resolved) dataset root
            rel = Path(sample["path"]).relative_to(self.store.root).as_posix()
            frame = self.store.frame(rel)
            probs = await self.predictor.probabilities_of(self.store.root, frame) if frame else None
            aligned = [probs.get(n, 0.0) for n in names] if probs else None
            samples.append((sample["targets"], sample["probabilities"], aligned))
        return {**compare(samples, names, new_thresholds, current), **self._about_current()}

    def deploy_info(self) -> dict[str, Any]:
        target = self.deploy_to
        return {
            "target": str(target) if target else None,
            "has_previous": bool(target and previous_path(target).is_file()),
            "model": str(self.model_path),
        }

    async def _loaded(self, path: Path) -> tuple[Predictor, Validator]:
        """Load `path` in an inference worker (the real check that it runs) and a validator
        that accepts exactly those bytes, so `deploy` never loads the model twice."""
        predictor = await Predictor.open(path, self.store.studio_dir)

        def same_bytes(candidate: Path) -> ModelMetadata:
            if file_digest(candidate) != predictor.digest:
                raise CorruptModelError(f"{candidate} changed while it was being deployed")
            return predictor.metadata

        return predictor, same_bytes

    async def deploy(self, job_id: str) -> dict[str, Any]:
        job = self.jobs.get(job_id)
        if job is None or job.status != "done":
            raise ConfigError(f"no finished training run {job_id!r}")
        target = self.deploy_to
        if target is None:
            raise ConfigError(self.no_target)
        done = await self._replace(job.model_path, lambda check: install_model(
            job.model_path, target, check))  # fmt: skip
        for other in self.jobs.values():
            other.deployed = other is job
        return {"target": str(done.target), "previous": str(done.previous or "")}

    async def rollback(self) -> dict[str, Any]:
        target = self.deploy_to
        if target is None:
            raise ConfigError("nothing to roll back: " + self.no_target)
        previous = previous_path(target)
        if not previous.is_file():
            raise ConfigError(f"there is no previous model to roll back to ({previous.name})")
        done = await self._replace(previous, lambda check: rollback(target, check))
        for job in self.jobs.values():
            job.deployed = False
        return {"target": str(done.target), "model": done.metadata.name}

    async def _replace(
        self, candidate: Path, move: Callable[[Validator], Deployment]
    ) -> Deployment:
        """Check `candidate` (the host's check, then a load in an inference worker), move it
        into place, tell the host. If the host fails after the move, the move is undone (a
        rollback swaps the files back): the file and the model the host runs stay the same."""
        async with self._deploying:
            if self.check_model is not None:
                await self.check_model(candidate)
            predictor, validate = await self._loaded(candidate)
            try:
                done = await asyncio.to_thread(move, validate)
                if self.on_model_change is not None:
                    try:
                        await self.on_model_change(done.target)
                    except BaseException:
                        if done.previous is not None:
                            await asyncio.to_thread(rollback, done.target)
                        raise
            except BaseException:
                await predictor.close()
                raise
            await self._open_model(done.target, predictor)
            return done


DUPLICATE_BITS = 4  # a frame within 4 bits of a placed one is a near-duplicate (capture's rule)
_DUPLICATE_WINDOW = 200  # placed frames a new one is compared with (bounds the cost)


def _queues(items: Sequence[dict[str, Any]], specs: Sequence[LabelSpec]) -> list[list[str]]:
    """One queue per label and predicted state (at or above the middle of the OFF/ON band,
    or below it), each most uncertain first."""
    queues = []
    for spec in specs:
        middle = (spec.on_threshold + spec.off_threshold) / 2
        for state in (True, False):
            chosen = [(abs(p - middle), i["path"]) for i in items
                      if (p := (i["probabilities"] or {}).get(spec.name)) is not None
                      and (p >= middle) == state]  # fmt: skip
            if chosen:
                queues.append([path for _, path in sorted(chosen)])
    return queues


def _interleave(
    items: Sequence[dict[str, Any]], specs: Sequence[LabelSpec], hashes: Mapping[str, int | None]
) -> list[str]:
    """Round robin over the queues, skipping frames already placed; near-duplicates of a
    placed frame wait until the end."""
    queues = [iter(q) for q in _queues(items, specs)]
    placed: set[str] = set()
    order: list[str] = []
    later: list[str] = []
    seen: list[int] = []
    while queues:
        for queue in list(queues):
            path = next((p for p in queue if p not in placed), None)
            if path is None:
                queues.remove(queue)
                continue
            placed.add(path)
            value = hashes.get(path)
            if value is not None and any(hamming(value, h) <= DUPLICATE_BITS for h in seen):
                later.append(path)
                continue
            if value is not None:
                seen.append(value)
                del seen[:-_DUPLICATE_WINDOW]
            order.append(path)
    return order + later + sorted(i["path"] for i in items if i["path"] not in placed)


def labelling_order(
    items: Sequence[dict[str, Any]], specs: Sequence[LabelSpec], hashes: Mapping[str, int | None]
) -> list[dict[str, Any]]:
    """Frames in the order worth labelling: unconfirmed before confirmed; within each, the
    most uncertain frame of each label's predicted ON side, then of its OFF side, then the
    next label's, round and round (so every state of every label comes up early, not only
    the side the model is unsure about), near-duplicates after them, then frames without
    probabilities (not computed, unreadable)."""
    by_path = {i["path"]: i for i in items}
    out: list[dict[str, Any]] = []
    for confirmed in (False, True):
        group = [i for i in items if i["confirmed"] == confirmed]
        out += [by_path[p] for p in _interleave(group, specs, hashes)]
    return out


def default_deploy_target(model: Path | None, deploy_to: Path | None) -> Path | None:
    """Where "use this model" writes: --deploy-to, else --model unless it is the demo model
    shipped inside the package (never overwritten)."""
    if deploy_to is not None:
        return deploy_to
    if model is None or model.resolve() == demo_model_path().resolve():
        return None
    return model

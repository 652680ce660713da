"""Train the student on a labelled folder, export it to `.pte` and check the export.

Pipeline: validate the dataset -> stratified split -> decode each image ONCE with the
inference decoder (JPEG DCT scaling to the model size) and keep it in memory -> every epoch,
augment at the PIL level and run the shared `preprocess.to_tensor` (one code path with
inference) -> AdamW + one-cycle LR, BCE-with-logits (multi-label) or cross-entropy
(classes) -> early stopping on validation loss, best weights kept -> thresholds from the
validation curve -> export with the activation inside the graph -> run the `.pte` on the
validation set and record that it reproduces the PyTorch metrics. The PyTorch weights are
saved next to the `.pte` (`<out>.pt`, named in the report with the network's kwargs) so
`garagecam bench` can run the same trained network in every runtime.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from PIL import Image

from .. import __version__
from ..dataset import MIN_IMAGES, Dataset, Sample, load_dataset, split
from ..errors import ConfigError, DatasetError, ImageError
from ..metadata import LabelSpec, ModelMetadata
from ..preprocess import decode, to_tensor
from ..roi import Roi
from .augment import augment
from .metrics import evaluate, suggest_thresholds, top1_accuracy

if TYPE_CHECKING:
    from ..export import ExportReport

_LOGGER = logging.getLogger(__name__)

Tensor = npt.NDArray[np.float32]
#: fewer optimiser steps than this use a constant learning rate instead of one-cycle
_MIN_ONE_CYCLE_STEPS = 10
#: a fine-tuning run with fewer validation frames keeps the starting model's thresholds:
#: one hard frame among a dozen moves the best-F1 threshold anywhere (measured: a garage
#: fine-tuned on 60 frames chose car_present ON 0.05 from 12 validation frames and got 88.5 %
#: of 200 test frames right, 96.5 % with the demo's thresholds; docs/demo-model.md)
MIN_THRESHOLD_FRAMES = 50


@dataclass(frozen=True)
class TrainOptions:
    epochs: int = 40
    input_size: int = 224
    batch_size: int = 32
    lr: float = 3e-3
    weight_decay: float = 0.05
    val_fraction: float = 0.2
    #: epochs without a better validation loss before stopping
    patience: int = 10
    seed: int = 0
    threads: int = 2
    widths: tuple[int, ...] | None = None
    #: OFF threshold = suggested ON threshold minus this
    off_margin: float = 0.2
    roi: Roi | None = None
    name: str = "garagecam-student"
    version: str = "1"
    int8: bool = False
    progress: bool = True
    min_images: int = MIN_IMAGES
    #: a `garagecam train` report (.json next to its .pt weights) whose network starts the
    #: run instead of random weights: fine-tuning
    init_from: Path | None = None

    def check(self) -> None:
        # 0 epochs only make sense from trained weights: export them with fresh thresholds
        min_epochs = 0 if self.init_from is not None else 1
        checks = (
            (self.epochs >= min_epochs, f"epochs must be at least {min_epochs}, got {self.epochs}"),
            (16 <= self.input_size <= 1024, f"input size must be 16-1024, got {self.input_size}"),
            (self.batch_size >= 2, f"batch size must be at least 2, got {self.batch_size}"),
            (self.lr > 0, f"learning rate must be positive, got {self.lr}"),
            (0 < self.val_fraction < 1, f"val fraction must be in (0, 1), got {self.val_fraction}"),
            (self.patience >= 1, f"patience must be at least 1, got {self.patience}"),
            (self.threads >= 1, f"threads must be at least 1, got {self.threads}"),
            (0 <= self.off_margin < 1, f"off margin must be in [0, 1), got {self.off_margin}"),
        )
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)


@dataclass
class EpochStats:
    epoch: int
    train_loss: float
    val_loss: float
    val_f1: float  # mean over labels at 0.5
    lr: float
    seconds: float


@dataclass
class TrainResult:
    model_path: Path
    report_path: Path
    plot_path: Path | None
    report: dict[str, Any] = field(default_factory=dict)


def _load_images(
    dataset_root: Path,
    samples: Sequence[Sample],
    metadata: ModelMetadata,
    roi: Roi | None,
    progress: bool,
) -> list[Image.Image]:
    """Decode every image once, exactly as inference does (DCT scaling to the model size)."""
    from tqdm import tqdm

    images: list[Image.Image] = []
    problems: list[str] = []
    target = (metadata.input_width, metadata.input_height)
    for sample in tqdm(samples, desc="loading", unit="img", disable=not progress, leave=False):
        try:
            images.append(
                decode(
                    sample.path.read_bytes(),
                    target_size=target,
                    roi=roi,
                    resize_mode=metadata.resize_mode,
                )
            )
        except (ImageError, OSError) as err:
            problems.append(f"  - {sample.path.relative_to(dataset_root)}: {err}")
    if problems:
        raise DatasetError(
            f"dataset {dataset_root}: {len(problems)} image(s) cannot be used:\n"
            + "\n".join(problems[:25])
        )
    return images


def _targets(samples: Sequence[Sample]) -> npt.NDArray[np.int64]:
    return np.array([s.targets for s in samples], dtype=np.int64)


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root.resolve()))
    except ValueError:
        return str(path)


def train(data: Path, out: Path, options: TrainOptions | None = None) -> TrainResult:
    """Train, export to `out` (.pte), write the `<out>.pt` state dict, the `<out>.json`
    report and the `<out>.png` curves."""
    options = options or TrainOptions()
    options.check()
    out = Path(out)
    if out.suffix != ".pte":
        raise ConfigError(f"the output model must be a .pte file, got {out}")
    if not out.parent.is_dir():
        raise ConfigError(f"output folder {out.parent} does not exist")
    clock = {"started": time.perf_counter()}

    run = _load(Path(data), options)
    clock["loaded"] = time.perf_counter()

    net, history, best_epoch, stopped_early = _fit(
        run.options, run.dataset, run.data, run.init.module if run.init is not None else None
    )
    val_probs = _predict(net, run.data.val_x, run.dataset.activation)
    suggested, thresholds_from = _thresholds(run, val_probs)
    metadata = _trained_metadata(run, suggested)
    clock["trained"] = time.perf_counter()

    export_report = _export(net, metadata, out, run.options, run.train_samples)
    weights_path = _save_weights(net, out.with_suffix(".pt"))
    pte_probs = _run_pte(out, run.data.val_x)
    clock["exported"] = time.perf_counter()

    fitted = _Fitted(
        net, history, best_epoch, stopped_early, val_probs, suggested, thresholds_from, metadata
    )
    report = _report(out, run, fitted, _Exported(export_report, weights_path, pte_probs), clock)
    from .report import plot_history, write_report

    report_path = out.with_suffix(".json")
    write_report(report, report_path)
    plot_path = plot_history(history, out.with_suffix(".png"), title=run.options.name)
    _LOGGER.info("wrote %s, %s%s", out, report_path, f", {plot_path}" if plot_path else "")
    return TrainResult(out, report_path, plot_path, report)


@dataclass
class _Run:
    """What a run trains on: the dataset, decoded once, split, and the starting network."""

    #: the caller's options (a fine-tuning run takes the widths of its starting network)
    options: TrainOptions
    dataset: Dataset
    init: _Init | None
    train_samples: list[Sample]
    val_samples: list[Sample]
    data: _TrainingData


@dataclass
class _Fitted:
    net: Any
    history: list[EpochStats]
    best_epoch: int
    stopped_early: bool
    val_probs: Tensor
    #: (on, off) per label
    suggested: list[tuple[float, float]]
    thresholds_from: str
    #: what the `.pte` says: the thresholds used (the dataset's fixed ones kept)
    metadata: ModelMetadata


@dataclass
class _Exported:
    report: ExportReport
    weights_path: Path
    pte_probs: Tensor


def _load(data: Path, options: TrainOptions) -> _Run:
    """Validate and split the dataset, decode every image once (the slow part of loading)."""
    dataset = load_dataset(data, options.min_images)
    init = _load_init(options.init_from, dataset) if options.init_from is not None else None
    if init is not None:
        options = replace(options, widths=init.widths)
    train_samples, val_samples = split(dataset, options.val_fraction, options.seed)
    base_metadata = ModelMetadata(
        name=options.name,
        version=options.version,
        input_height=options.input_size,
        input_width=options.input_size,
        labels=dataset.labels,
        activation=dataset.activation,
    )
    _LOGGER.info(
        "dataset %s: %d images (%d train, %d validation), labels %s, %s",
        dataset.root, len(dataset.samples), len(train_samples), len(val_samples),
        ", ".join(dataset.label_names), dataset.activation,
    )  # fmt: skip
    roi = options.roi
    train_images = _load_images(dataset.root, train_samples, base_metadata, roi, options.progress)
    val_images = _load_images(dataset.root, val_samples, base_metadata, roi, options.progress)
    val_x = np.concatenate([to_tensor(image, base_metadata, roi) for image in val_images])
    decoded = _TrainingData(
        base_metadata, train_images, _targets(train_samples), val_x, _targets(val_samples)
    )
    return _Run(options, dataset, init, train_samples, val_samples, decoded)


def _thresholds(run: _Run, val_probs: Tensor) -> tuple[list[tuple[float, float]], str]:
    """(on, off) per label from the validation curve, and where they came from: a fine-tuning
    run with too few validation frames keeps its starting network's thresholds."""
    val_y, names = run.data.val_y, run.dataset.label_names
    if run.init is not None and len(run.val_samples) < MIN_THRESHOLD_FRAMES:
        kept = [(label.on_threshold, label.off_threshold) for label in run.init.labels]
        source = f"{run.init.name} ({len(run.val_samples)} validation frames are too few)"
        _LOGGER.info("thresholds kept from %s", source)
        return kept, source
    suggested = [suggest_thresholds(val_probs[:, i], val_y[:, i], run.options.off_margin)
                 for i in range(len(names))]  # fmt: skip
    return suggested, "validation"


def _trained_metadata(run: _Run, suggested: list[tuple[float, float]]) -> ModelMetadata:
    """The metadata written into the `.pte`: the thresholds (except those the dataset fixes)
    and how the model was made."""
    labels = tuple(
        label if fixed else replace(label, on_threshold=on, off_threshold=off)
        for label, fixed, (on, off) in zip(
            run.dataset.labels, run.dataset.fixed_thresholds, suggested, strict=True
        )
    )
    return replace(
        run.data.metadata,
        labels=labels,
        extra={
            "trained_with": f"garagecam {__version__}",
            "architecture": "garagecam_core.train.student:StudentNet",
            "train_images": len(run.train_samples),
            **({"fine_tuned_from": run.init.name} if run.init is not None else {}),
        },
    )


def _metric_block(run: _Run, probs: Tensor, thresholds: Sequence[float]) -> dict[str, Any]:
    names, val_y = run.dataset.label_names, run.data.val_y
    block: dict[str, Any] = {
        "at_0.5": evaluate(probs, val_y, names, (0.5,) * len(names)),
        "at_on_threshold": evaluate(probs, val_y, names, tuple(thresholds)),
    }
    if run.dataset.activation == "softmax":
        block["top1_accuracy"] = round(top1_accuracy(probs, val_y), 4)
    return block


def _report(
    out: Path, run: _Run, fitted: _Fitted, exported: _Exported, clock: dict[str, float]
) -> dict[str, Any]:
    """The `<out>.json` report: what was trained on, how, and how well (PyTorch and `.pte`)."""
    from .student import DEFAULT_WIDTHS, count_parameters

    options, dataset = run.options, run.dataset
    thresholds = [label.on_threshold for label in fitted.metadata.labels]
    return {
        "model": out.name,
        "metadata": exported.report.metadata.to_dict(),  # as written into the .pte
        "options": _options_block(options),
        "dataset": {
            "root": str(dataset.root),
            "layout": dataset.layout,
            "images": len(dataset.samples),
            "train": len(run.train_samples),
            "validation": len(run.val_samples),
            "positives": dataset.positives(),
        },
        "parameters": count_parameters(fitted.net),
        # what `garagecam bench` reads to rebuild the network: StudentNet(len(labels), **kwargs)
        "state_dict": exported.weights_path.name,
        "student_kwargs": {"widths": list(options.widths or DEFAULT_WIDTHS)},
        "epochs_run": len(fitted.history),
        "best_epoch": fitted.best_epoch,
        "stopped_early": fitted.stopped_early,
        "history": [asdict(h) for h in fitted.history],
        "suggested_thresholds": {
            name: {"on": on, "off": off}
            for name, (on, off) in zip(dataset.label_names, fitted.suggested, strict=True)
        },
        "thresholds_from": fitted.thresholds_from,
        "validation_metrics": _metric_block(run, fitted.val_probs, thresholds),
        "pte_validation_metrics": _metric_block(run, exported.pte_probs, thresholds),
        "pte_max_abs_diff": float(np.max(np.abs(exported.pte_probs - fitted.val_probs))),
        "export": {
            "size_bytes": exported.report.size_bytes,
            "delegated_ops": exported.report.delegated_ops,
            "portable_ops": list(exported.report.portable_ops),
            "total_ops": exported.report.total_ops,
            "int8": options.int8,
        },
        "seconds": {
            "load": round(clock["loaded"] - clock["started"], 1),
            "train": round(clock["trained"] - clock["loaded"], 1),
            "export": round(clock["exported"] - clock["trained"], 1),
        },
        "validation_samples": [
            {
                "path": _relative(s.path, dataset.root),
                "targets": list(s.targets),
                "probabilities": [round(float(p), 6) for p in probs],
            }
            for s, probs in zip(run.val_samples, fitted.val_probs, strict=True)
        ],
    }


def _options_block(options: TrainOptions) -> dict[str, Any]:
    skipped = ("roi", "progress", "init_from")
    return {
        **{k: v for k, v in asdict(options).items() if k not in skipped},
        "roi": str(options.roi) if options.roi else None,
        "init_from": str(options.init_from) if options.init_from else None,
    }


@dataclass
class _TrainingData:
    metadata: ModelMetadata
    images: list[Image.Image]
    train_y: npt.NDArray[np.int64]
    val_x: Tensor
    val_y: npt.NDArray[np.int64]


@dataclass(frozen=True)
class _Init:
    """The trained network a fine-tuning run starts from."""

    name: str
    module: Any
    widths: tuple[int, ...]
    labels: tuple[LabelSpec, ...]


def _load_init(report_path: Path, dataset: Dataset) -> _Init:
    """Load the starting network and refuse one whose outputs are not the dataset's labels."""
    from .report import load_trained, student_widths

    trained = load_trained(report_path)
    theirs = tuple(label.name for label in trained.metadata.labels)
    if theirs != dataset.label_names or trained.metadata.activation != dataset.activation:
        raise ConfigError(
            f"cannot fine-tune {trained.metadata.name} ({report_path.name}): it predicts "
            f"{', '.join(theirs)} ({trained.metadata.activation}), the dataset has "
            f"{', '.join(dataset.label_names)} ({dataset.activation}); train from scratch "
            "(no --init-from) or relabel"
        )
    _LOGGER.info(
        "fine-tuning from %s %s (%s)", trained.metadata.name, trained.metadata.version, report_path
    )
    return _Init(
        trained.metadata.name,
        trained.module,
        student_widths(report_path),
        trained.metadata.labels,
    )


class _Fitter:
    """Network, optimiser, schedule and loss of one run; one method per phase of an epoch."""

    def __init__(
        self, options: TrainOptions, dataset: Dataset, data: _TrainingData, init: Any = None
    ) -> None:
        import torch
        from torch import nn

        from .student import DEFAULT_WIDTHS, StudentNet

        torch.manual_seed(options.seed)
        torch.set_num_threads(options.threads)
        self.options, self.data, self.names = options, data, dataset.label_names
        self.softmax = dataset.activation == "softmax"
        self.net = (
            StudentNet(len(dataset.labels), options.widths or DEFAULT_WIDTHS)
            if init is None
            else init
        )
        self.loss_fn: nn.Module = (
            nn.CrossEntropyLoss(label_smoothing=0.05) if self.softmax else nn.BCEWithLogitsLoss()
        )
        self.batch = min(options.batch_size, len(data.images))
        # The last partial batch is dropped: BatchNorm needs more than one sample.
        self.steps = max(1, len(data.images) // self.batch)
        self.optimizer = torch.optim.AdamW(
            self.net.parameters(), lr=options.lr, weight_decay=options.weight_decay
        )
        total_steps = options.epochs * self.steps
        self.schedule: Any
        if total_steps >= _MIN_ONE_CYCLE_STEPS:
            self.schedule = torch.optim.lr_scheduler.OneCycleLR(
                self.optimizer, max_lr=options.lr, total_steps=total_steps, pct_start=0.2
            )
        else:  # OneCycleLR divides by zero when a phase has no step: smoke-test-sized runs
            self.schedule = torch.optim.lr_scheduler.ConstantLR(self.optimizer, factor=1.0)

    def _loss(self, logits: Any, targets: npt.NDArray[np.int64]) -> Any:
        import torch

        if self.softmax:
            return self.loss_fn(logits, torch.from_numpy(targets.argmax(axis=1)))
        return self.loss_fn(logits, torch.from_numpy(targets.astype(np.float32)))

    def train_epoch(self, rng: np.random.Generator) -> float:
        """One pass over fresh augmentations of the cached images; returns the mean loss."""
        import torch

        self.net.train()
        order = rng.permutation(len(self.data.images))
        total = 0.0
        for step in range(self.steps):
            index = order[step * self.batch : (step + 1) * self.batch]
            x = np.concatenate(
                [
                    to_tensor(augment(self.data.images[i], rng), self.data.metadata,
                              self.options.roi)
                    for i in index
                ]
            )  # fmt: skip
            loss = self._loss(self.net(torch.from_numpy(x)), self.data.train_y[index])
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
            self.schedule.step()
            total += float(loss.item())
        return total / self.steps

    def validate(self) -> tuple[float, float]:
        """Validation loss and mean F1 at 0.5."""
        import torch

        self.net.eval()
        with torch.no_grad():
            x = torch.from_numpy(self.data.val_x)
            logits = torch.cat([self.net(chunk) for chunk in torch.split(x, 64)])
            val_loss = float(self._loss(logits, self.data.val_y).item())
        probs = _activate(logits, self.softmax)
        per_label = evaluate(probs, self.data.val_y, self.names, (0.5,) * len(self.names))
        return val_loss, float(np.mean([m["f1"] for m in per_label.values()]))


def _fit(
    options: TrainOptions, dataset: Dataset, data: _TrainingData, init: Any = None
) -> tuple[Any, list[EpochStats], int, bool]:
    """Train with early stopping on validation loss; returns the best network (eval mode).
    `init`: a trained network to start from (0 epochs return it unchanged)."""
    from tqdm import tqdm

    fitter = _Fitter(options, dataset, data, init)
    rng = np.random.default_rng(options.seed)
    history: list[EpochStats] = []
    best_loss, best_epoch = math.inf, 0
    best_state = copy.deepcopy(fitter.net.state_dict())
    stopped_early = False
    bar = tqdm(range(1, options.epochs + 1), desc="training", unit="epoch",
               disable=not options.progress)  # fmt: skip
    for epoch in bar:
        start = time.perf_counter()
        train_loss = fitter.train_epoch(rng)
        val_loss, mean_f1 = fitter.validate()
        stats = EpochStats(
            epoch, train_loss, val_loss, mean_f1, fitter.schedule.get_last_lr()[0],
            time.perf_counter() - start,
        )  # fmt: skip
        history.append(stats)
        bar.set_postfix(loss=f"{train_loss:.3f}", val_loss=f"{val_loss:.3f}", f1=f"{mean_f1:.3f}")
        # Without a progress bar (logs, CI), one line per epoch keeps the run observable.
        _LOGGER.log(
            logging.DEBUG if options.progress else logging.INFO,
            "epoch %d/%d: train loss %.4f, validation loss %.4f, F1 %.3f (%.1f s)",
            epoch, options.epochs, train_loss, val_loss, mean_f1, stats.seconds,
        )  # fmt: skip
        if val_loss < best_loss - 1e-4:
            best_loss, best_epoch = val_loss, epoch
            best_state = copy.deepcopy(fitter.net.state_dict())
        elif epoch - best_epoch >= options.patience:
            stopped_early = True
            _LOGGER.info("early stop at epoch %d (best epoch %d)", epoch, best_epoch)
            break
    bar.close()
    fitter.net.load_state_dict(best_state)
    fitter.net.eval()
    return fitter.net, history, best_epoch, stopped_early


def _activate(logits: Any, softmax: bool) -> Tensor:
    import torch

    out = torch.softmax(logits, dim=1) if softmax else torch.sigmoid(logits)
    result: Tensor = out.numpy().astype(np.float32)
    return result


def _predict(net: Any, x: Tensor, activation: str) -> Tensor:
    import torch

    with torch.no_grad():
        logits = torch.cat([net(chunk) for chunk in torch.split(torch.from_numpy(x), 64)])
    return _activate(logits, activation == "softmax")


def _export(
    net: Any, metadata: ModelMetadata, out: Path, options: TrainOptions, samples: Sequence[Sample]
) -> ExportReport:
    from ..export import export_model

    calibration = [s.path for s in samples[:64]] if options.int8 else None
    return export_model(
        net, metadata, out, int8=options.int8, calibration=calibration,
        progress=options.progress,
    )  # fmt: skip


def _save_weights(net: Any, path: Path) -> Path:
    import torch

    torch.save(net.state_dict(), path)
    return path


def _run_pte(path: Path, x: Tensor) -> Tensor:
    from ..bundle import load_program

    program = load_program(path)
    return np.stack([program.run(x[i : i + 1]) for i in range(len(x))]).astype(np.float32)

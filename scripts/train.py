#!/usr/bin/env python
"""Train a network on MNIST and drawn digits, calibrate it, and export it to the weights format.

    python scripts/train.py --run-dir runs/base    # the shipped weights' base (then docs/training.md's finish)
    python scripts/train.py --arch small --epochs 1 --drawn 0 --finish-epochs 0   # a quick run, runs/small/

Everything a run writes goes to its run folder (``--run-dir``, default ``runs/<arch>``): the
checkpoint, the drawn training pool (cached, reused by later runs with the same settings and the same
code making it) and the weights. Only ``--export PATH`` copies the weights elsewhere; nothing overwrites the shipped
``weights/default.npz`` unless asked to.

The training set is MNIST's training split plus drawn digits and non-digits generated from it
(``scripts/drawn_sets.py``: canvases, pen-stroke redraws, letters, shapes, scribbles, and the number
reader's candidate parts of generated numbers); non-digits are an 11th class. A validation split of
the same kinds, held out from the training digits, chooses the best epoch (of the main run, then
of the ``--finish-epochs`` of light augmentation that end it), fits the confidence
temperature and the "not a digit" threshold; the test set is only used once, for the final report.
Ctrl-C checkpoints and exports the best weights so far; ``--resume`` continues from the checkpoint.
Same seed and data give the same weights.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from model import architectures, calibration, data, load, manual_seed, save
from model.allocator import keep_freed_memory
from model.augment import LIGHT, Augment
from model.batching import DataGenerator
from model.calibration import Floor, split_refusal
from model.distill import soft_targets, teacher_probabilities
from model.ema import ExponentialMovingAverage
from model.layers.loss import softmax
from model.metrics import accuracy, classification_report, confusion_matrix, format_confusion_matrix
from model.normalize import to_network_input
from model.optim import OPTIMIZERS, SGD, Optimizer
from model.parameter import Parameter
from model.schedules import SCHEDULES, Schedule
from model.second_look import look_again
from model.sequential import Sequential
from model.serialization import load_sequential
from model.training import Trainer, TrainState, evaluate
from scripts import drawn_sets

# Per-architecture defaults: the small network learns fastest with smaller batches and a higher rate.
LABELS = [str(d) for d in range(10)] + ["not a digit"]
RECIPES: dict[str, dict[str, float | int]] = {
    "small": {"batch_size": 64, "lr": 3e-3},
    "default": {"batch_size": 128, "lr": 2e-3},
    "deep": {"batch_size": 128, "lr": 2e-3},
}


class _HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """The module docstring as written, and every option's default."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=_HelpFormatter)
    p.add_argument("--arch", choices=sorted(architectures.ARCHITECTURES), default="default")
    p.add_argument("--epochs", type=int, default=30,
                   help="epochs of the main run; the finish then adds --finish-epochs more, numbered from 1")
    p.add_argument("--batch-size", type=int, default=None, help="default: the architecture's recipe")
    p.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default="adamw")
    p.add_argument("--lr", type=float, default=None, help="peak learning rate (default: the recipe's)")
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--momentum", type=float, default=0.9, help="SGD only")
    p.add_argument("--schedule", choices=SCHEDULES, default="cosine")
    p.add_argument("--warmup-epochs", type=float, default=1.0, help="cosine warm-up (at most 1/5 of the run)")
    p.add_argument("--augment", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--finish-epochs", type=int, default=3,
                   help="then this many epochs of light augmentation, from the best weights (0: off)")
    p.add_argument("--finish-lr", type=float, default=3e-4, help="their peak rate, cosine to zero")
    p.add_argument("--binarize", type=float, default=0.0,
                   help="share of training images given hard edges (thresholded), e.g. 0.15")
    p.add_argument("--ema", type=float, default=0.0,
                   help="ship a moving average of the weights with this decay per step, e.g. 0.9998 (0: off)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--val-size", type=int, default=5000, help="training digits held out for validation")
    p.add_argument("--patience", type=int, default=0, help="stop after N epochs without improvement (0: off)")
    p.add_argument("--data", type=Path, default=None, help=f"MNIST .npz or IDX folder (else ${data.ENV_VAR})")
    p.add_argument("--no-verify", action="store_true", help="skip the SHA-256 check (your own data)")
    p.add_argument("--download", action="store_true", help=f"fetch {data.DOWNLOAD_URL} if no data is found")
    p.add_argument("--drawn", type=int, default=20000, help="drawn canvases, pen redraws and non-digits, each")
    p.add_argument(
        "--number-parts", type=int, default=20000,
        help="candidate parts of generated numbers, as /predict/number's reader cuts them (training only)",
    )
    p.add_argument("--hand", type=int, default=0, help="digits drawn as people draw with a pen (lifts, open loops)")
    p.add_argument("--scribbles", type=int, default=0, help="scribbles (loose, dense, open, closed), not digits")
    p.add_argument("--coarse", type=int, default=0, help="digits as coarse scans show them (7-16 px, enlarged again)")
    p.add_argument(
        "--init-weights", type=Path, default=None,
        help="start from these weights (.npz) instead of at random, e.g. with --epochs 0 to run only the finish",
    )
    p.add_argument(
        "--distill", type=Path, nargs="+", default=[],
        help="teacher weights (.npz): train towards their mean softmax too (knowledge distillation)",
    )
    p.add_argument("--distill-weight", type=float, default=0.5, help="the teachers' share of each target")
    p.add_argument("--pool-workers", type=int, default=None,
                   help="processes making the drawn pool (default: one a core, at most 2; same pool either way)")
    p.add_argument("--run-dir", type=Path, default=None, help="default: runs/<arch>")
    p.add_argument("--export", type=Path, default=None, help="also copy the weights here (e.g. weights/default.npz)")
    p.add_argument("--resume", action="store_true", help="continue from the checkpoint")
    p.add_argument("--limit", type=int, default=0, help="train on the first N digits only (smoke runs)")
    args = p.parse_args(argv)
    args.run_dir = args.run_dir or Path("runs") / args.arch
    for key, value in RECIPES[args.arch].items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


def make_optimizer(args: argparse.Namespace, params: list[Parameter]) -> Optimizer:
    if args.optimizer == "sgd":
        return SGD(params, lr=args.lr, momentum=args.momentum, nesterov=True, weight_decay=args.weight_decay)
    return OPTIMIZERS[args.optimizer](params, lr=args.lr, weight_decay=args.weight_decay)


def drawn_data(
    args: argparse.Namespace, x: np.ndarray, y: np.ndarray, count: int, seed: int, name: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Drawn digits and non-digits made from ``x, y`` (``count`` of each kind), cached in the run folder:
    images, labels and kinds."""
    if count <= 0:
        return np.zeros((0, 28, 28), np.uint8), np.zeros(0, np.int64), np.zeros(0, str)
    parts = args.number_parts if name == "pool" else 0
    hand = hand_counts(args, name == "pool")
    version = drawn_sets.pool_version()  # the code that made it: a stale pool is not reused
    extra = "".join(f"-{k}{n}" for k, n in hand.items() if n)
    parts_tag = f"-parts{parts}" if parts else ""
    cache = args.run_dir / f"{name}-{count}{parts_tag}{extra}-seed{seed}-n{len(x)}-{version}.npz"
    if cache.exists():
        with np.load(cache) as f:
            return f["x"], f["y"], f["kind"]
    started = time.time()
    counts = {**dict.fromkeys(drawn_sets.KINDS, count), drawn_sets.NUMBER_PART: parts, **hand}
    xs, ys, kinds = drawn_sets.training_pool(x, y, counts, seed, args.pool_workers)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, x=xs, y=ys, kind=kinds)
    print(f"{name}: {len(xs)} drawn samples in {time.time() - started:.0f}s -> {cache}")
    return xs, ys, kinds


def hand_counts(args: argparse.Namespace, pool: bool) -> dict[str, int]:
    """How many hand-pen digits, scribbles (``drawn_sets.HAND_KINDS``) and coarse scans the training
    ``pool`` or the validation set (at most 1,000 of each, as the other kinds) holds."""
    counts = {"hand": args.hand, "scribble": args.scribbles, drawn_sets.COARSE: args.coarse}
    return counts if pool else {k: min(n, 1000) for k, n in counts.items()}


def start_from(net: Sequential, path: Path | None) -> None:
    """Load ``--init-weights`` into the freshly built ``net`` (same architecture and classes)."""
    if path is None:
        return
    trained, _ = load_sequential(path)
    net.load_state_dict(trained.state_dict())
    print(f"starting from {path}")


def finish(
    args: argparse.Namespace, net: Sequential, x_fit: np.ndarray, y_fit: np.ndarray,
    val: tuple[np.ndarray, np.ndarray], progress: Callable[..., Any] | None,
) -> TrainState | None:
    """The last ``--finish-epochs``: the same training images under light augmentation (``augment.LIGHT``:
    half the ranges), from the best weights, a fresh optimizer at ``--finish-lr`` decaying to zero
    (cosine); the best validation epoch is kept. The main run warps every image widely, but the
    service's digits come centred and upright: the finish fits the network closer to those
    (docs/journal has what it changed).
    """
    if args.finish_epochs <= 0:
        return None
    batches = DataGenerator(x_fit, y_fit, args.batch_size, shuffle=True, seed=args.seed + 100)
    total = len(batches) * args.finish_epochs
    optimizer = OPTIMIZERS["adamw"](net.parameters(), lr=args.finish_lr, weight_decay=args.weight_decay)
    trainer = Trainer(
        net, optimizer, Schedule("cosine", args.finish_lr, total), batches, val,
        augment=dataclasses.replace(LIGHT, binarize_prob=args.binarize),
        seed=args.seed + 100, checkpoint=args.run_dir / "finish-checkpoint.npz", progress=progress,
    )
    if args.resume and trainer.load_checkpoint():
        print(f"resumed the finish after epoch {trainer.state.epoch}")
    print(f"finish: {args.finish_epochs} epochs of light augmentation at {args.finish_lr:g}")
    return trainer.fit(args.finish_epochs)


def calibrate(
    net: Sequential, val: dict[str, tuple[np.ndarray, np.ndarray]], budgets: dict[str, float] | None = None,
    base: dict[str, float] | None = None, min_errors: int = 0, floor: Floor | None = None,
    slack: float = calibration.SLACK,
) -> dict[str, float]:
    """Fit the temperature on the held-out digits and choose the refusal threshold on held-out
    digits and non-digits (``val[kind] = (images, labels)``; a kind all "not a digit" is a non-digit
    kind); ``budgets[kind]``: the share of each digit kind the threshold may refuse (default
    ``REFUSAL_BUDGETS``). With ``base`` (a calibration, as fine-tuning passes it): its temperature is
    kept when the held-out digits hold fewer than ``min_errors`` misread ones (on digits read without
    error the fit runs to its lower bound, every answer certain), and its threshold when there are no
    held-out non-digits to choose one on. ``floor``: the share of held-out non-digits the threshold
    refuses at least, and the digit kinds whose budgets give way to it; ``slack``: the share of them
    the threshold may give up for the digits' margin (both :func:`calibration.choose_threshold`)."""
    logits = {k: net.eval().logits(to_network_input(x)) for k, (x, _) in val.items()}
    negative_kinds = [k for k in val if (val[k][1] == drawn_sets.NOT_DIGIT).all() and len(val[k][1])]
    digit_kinds = [k for k in val if k not in negative_kinds]
    temperature, kept = _temperature(logits, val, digit_kinds, base, min_errors)
    reject = {k: softmax(logits[k] / temperature)[:, drawn_sets.NOT_DIGIT] for k in val}
    threshold = _threshold(reject, digit_kinds, negative_kinds, budgets, base, floor, slack)
    result = {"temperature": round(temperature, 4), "reject_threshold": _round_up(threshold)}
    if kept is not None:
        result["temperature_kept"] = kept  # held-out digits misread: too few to fit a temperature
    for k in val:
        result[f"val_refused_{k}"] = round(float(np.mean(reject[k] >= threshold)), 4)
    return result


def _round_up(threshold: float) -> float:
    """``threshold`` to 4 decimals, rounded up: a threshold rounded down would refuse digits the budgets
    kept (refusal is ``p >= t``)."""
    return min(math.ceil(threshold * 1e4) / 1e4, 1.0)


def _threshold(
    reject: dict[str, np.ndarray], digit_kinds: list[str], negative_kinds: list[str],
    budgets: dict[str, float] | None, base: dict[str, float] | None, floor: Floor | None = None,
    slack: float = calibration.SLACK,
) -> float:
    """The refusal threshold chosen on the held-out kinds' "not a digit" probabilities (the digit kinds
    with a budget), or ``base``'s when there are no held-out non-digits to choose one on."""
    if base is not None and not negative_kinds:
        return float(base["reject_threshold"])
    negatives = np.concatenate([reject[k] for k in negative_kinds]) if negative_kinds else np.zeros(0)
    budgets = budgets or REFUSAL_BUDGETS
    share, yielding = floor if floor is not None else (None, ())
    digits = {k: reject[k] for k in digit_kinds if k in budgets}
    return calibration.choose_threshold(digits, negatives, budgets, slack, floor=share, yielding=yielding)


def _temperature(
    logits: dict[str, np.ndarray], val: dict[str, tuple[np.ndarray, np.ndarray]], digit_kinds: list[str],
    base: dict[str, float] | None, min_errors: int,
) -> tuple[float, int | None]:
    """The temperature fitted on the held-out digits and ``None``; or ``base``'s and the count of misread
    digits, when there are fewer than ``min_errors`` of them."""
    all_logits = np.concatenate([logits[k] for k in digit_kinds])
    all_labels = np.concatenate([val[k][1] for k in digit_kinds])
    errors = int(np.sum(all_logits.argmax(axis=1) != all_labels))
    if base is not None and errors < min_errors:
        return float(base["temperature"]), errors
    return calibration.fit_temperature(all_logits, all_labels), None


# Shares of held-out digits the threshold may refuse: a quarter of the service's targets (1 % canvases,
# 2 % pen strokes) or less. The threshold settles at these budgets' edge once scribbles are among the
# held-out non-digits, and writers we did not generate (blurred scans) sit beyond that edge: the
# margin is theirs. Coarse scans have no budget: they sit close to the non-digits, and a budget for
# them lifts the threshold until scribbles pass; they are fitted for the temperature and reported.
REFUSAL_BUDGETS = {"mnist": 0.001, "canvas": 0.003, "pen": 0.005, "hand": 0.005}


def _plain(value: object) -> object:
    """An argument as the weights metadata stores it (paths as strings)."""
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return str(value) if isinstance(value, Path) else value


@dataclasses.dataclass
class TrainingSets:
    """What a run trains and validates on: MNIST's training split plus drawn samples, and the held-out
    validation digits of each kind (``val``: kind -> images, labels)."""

    x_fit: np.ndarray
    y_fit: np.ndarray  # (N,) labels, or (N, K) soft targets with --distill
    train_size: int  # MNIST digits of x_fit
    drawn_size: int  # drawn samples of x_fit
    val: dict[str, tuple[np.ndarray, np.ndarray]]
    val_all: tuple[np.ndarray, np.ndarray]  # every validation image and label, MNIST's first
    num_classes: int  # 11 when the drawn pool holds non-digits


@dataclasses.dataclass
class TestReport:
    """The test set read once, as the service reads it (unsure digits get a second look)."""

    accuracy: float  # the closest digit, as /predict's "digit"
    refusals_wrong: float  # a refused digit counts as wrong
    loss: float
    confusion: np.ndarray


def load_mnist(args: argparse.Namespace) -> data.MNIST:
    """Full MNIST from ``--data`` or where the README says, downloaded first with ``--download``."""
    if args.download and args.data is None:
        try:
            data.resolve_path(None)
        except data.DatasetError:
            args.data = data.download()
    return data.load_mnist(args.data, verify=not args.no_verify)


def training_sets(args: argparse.Namespace, mnist: data.MNIST) -> TrainingSets:
    """The training split plus the drawn pool, and the validation sets (see the module)."""
    x_train, y_train = mnist.x_train, mnist.y_train
    if args.limit:
        x_train, y_train = x_train[: args.limit], y_train[: args.limit]
    x_tr, y_tr, x_val, y_val = data.train_val_split(x_train, y_train, args.val_size, args.seed)
    drawn_x, drawn_y, _ = drawn_data(args, x_tr, y_tr, args.drawn, args.seed, "pool")
    val_x, val_y, val_kind = drawn_data(args, x_val, y_val, min(args.drawn, 1000), args.seed + 7, "val")
    val = {"mnist": (x_val, y_val)}
    kinds = (*drawn_sets.KINDS, *drawn_sets.HAND_KINDS, drawn_sets.COARSE)
    val.update({k: (val_x[val_kind == k], val_y[val_kind == k]) for k in kinds if (val_kind == k).any()})
    x_fit, y_fit = np.concatenate([x_tr, drawn_x]), np.concatenate([y_tr, drawn_y])
    if args.distill:
        started = time.time()
        teachers = [load(path) for path in args.distill]
        y_fit = soft_targets(teacher_probabilities(teachers, x_fit), y_fit, args.distill_weight)
        print(f"{len(teachers)} teachers read {len(x_fit)} training images in {time.time() - started:.0f}s")
    num_classes = 11 if (drawn_y == drawn_sets.NOT_DIGIT).any() else 10
    val_all = (np.concatenate([x_val, val_x]), np.concatenate([y_val, val_y]))
    return TrainingSets(x_fit, y_fit, len(x_tr), len(drawn_x), val, val_all, num_classes)


def progress_bar() -> Callable[..., Any] | None:
    """tqdm when the train extra is installed; None (plain output) otherwise."""
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm


def main_trainer(args: argparse.Namespace, sets: TrainingSets, net: Sequential) -> Trainer:
    """The main run's trainer: ``--epochs`` under the full augmentation, checkpointed in the run folder."""
    batches = DataGenerator(sets.x_fit, sets.y_fit, args.batch_size, shuffle=True, seed=args.seed)
    total = len(batches) * args.epochs
    schedule = Schedule(
        args.schedule, args.lr, total,
        warmup_steps=min(int(args.warmup_epochs * len(batches)), total // 5),
        step_size=max(total // 3, 1),
    )
    trainer = Trainer(
        net, make_optimizer(args, net.parameters()), schedule, batches, sets.val_all,
        augment=Augment(binarize_prob=args.binarize) if args.augment else None, seed=args.seed,
        patience=args.patience, checkpoint=args.run_dir / "checkpoint.npz", progress=progress_bar(),
        ema=ExponentialMovingAverage(net, args.ema) if args.ema else None,
    )
    if args.resume and trainer.load_checkpoint():
        print(f"resumed from {args.run_dir / 'checkpoint.npz'} after epoch {trainer.state.epoch}")
    return trainer


def test_report(net: Sequential, mnist: data.MNIST, calib: dict[str, float]) -> TestReport:
    """The test set read once with the calibration, printed and returned."""
    def read(images: np.ndarray) -> np.ndarray:  # (N, 28, 28) -> (N, K) calibrated probabilities
        return softmax(net.eval().logits(to_network_input(images)) / calib["temperature"])

    probs, is_digit = split_refusal(look_again(read, mnist.x_test, read(mnist.x_test)), calib.get("reject_threshold"))
    y_pred = probs.argmax(axis=1)
    test_loss, _ = evaluate(net, mnist.x_test, mnist.y_test)
    report = TestReport(
        accuracy(mnist.y_test, y_pred),
        float(np.mean(is_digit & (y_pred == mnist.y_test))),
        test_loss,
        confusion_matrix(mnist.y_test, y_pred),
    )
    print(classification_report(mnist.y_test, y_pred))
    print(format_confusion_matrix(report.confusion))
    return report


def write_weights(
    args: argparse.Namespace, argv: list[str] | None, net: Sequential, sets: TrainingSets,
    runs: tuple[TrainState, TrainState | None], calib: dict[str, float], report: TestReport, wall: float,
) -> Path:
    """The weights and their metadata in the run folder (and at ``--export``); the weights' path."""
    state, finished = runs
    out = args.run_dir / f"{args.arch}.npz"
    meta = save(
        net, out,
        labels=LABELS[: sets.num_classes],
        calibration=calib,
        training={**{k: _plain(v) for k, v in vars(args).items()}, "train_size": sets.train_size,
                  "drawn_size": sets.drawn_size, "val_size": len(sets.val["mnist"][0]),
                  "drawn_val_size": len(sets.val_all[0]) - len(sets.val["mnist"][0]),
                  "best_epoch": state.best_epoch, "epochs_run": state.epoch,
                  "finish_best_epoch": finished.best_epoch if finished else None,
                  "wall_seconds": wall, "command": "python scripts/train.py " + " ".join(argv or sys.argv[1:])},
        history=[vars(h) for h in state.history + (finished.history if finished else [])],
        val_accuracy=(finished or state).best_val_accuracy,  # of the weights shipped
        test_accuracy=report.accuracy,
        test_accuracy_refusals_wrong=report.refusals_wrong,
        test_loss=report.loss,
        confusion_matrix=report.confusion,
        **({"base": _base_record(args.init_weights)} if args.init_weights else {}),
    )
    print(f"wrote {out} ({meta['parameters']:,} parameters, sha256 {meta['sha256'][:12]}...)")
    if args.export:
        args.export.parent.mkdir(parents=True, exist_ok=True)
        for suffix in (".npz", ".json"):
            shutil.copyfile(out.with_suffix(suffix), args.export.with_suffix(suffix))
        print(f"exported to {args.export}")
    return out


def _base_record(path: Path) -> dict[str, Any]:
    """What weights trained from others (``--init-weights``) keep of them: their hash, date, recipe,
    history, calibration and own base, so the metadata still says how the whole was trained."""
    meta = load(path, self_check=False).metadata
    return {k: meta[k] for k in ("sha256", "created", "calibration", "training", "history", "base") if k in meta}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    keep_freed_memory()
    try:
        mnist = load_mnist(args)
    except data.DatasetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    sets = training_sets(args, mnist)
    manual_seed(args.seed)
    net = architectures.build(args.arch, sets.num_classes)
    start_from(net, args.init_weights)
    trainer = main_trainer(args, sets, net)
    print(
        f"{args.arch}: {net.num_parameters():,} parameters, {sets.num_classes} classes; {sets.train_size} MNIST + "
        f"{sets.drawn_size} drawn training samples, {len(trainer.val_data[0])} validation"
    )
    started = time.time()
    state = trainer.fit(args.epochs)
    # without augmentation there is nothing to finish; after Ctrl-C, the best weights so far are the result
    finishing = args.augment and not trainer.interrupted
    finished = finish(args, net, sets.x_fit, sets.y_fit, trainer.val_data, progress_bar()) if finishing else None
    wall = round(time.time() - started, 1)
    calib = calibrate(net, sets.val) if sets.num_classes == 11 else {"temperature": 1.0}
    print("calibration:", calib)
    report = test_report(net, mnist, calib)
    finish_note = f", then {finished.best_epoch} of {args.finish_epochs} finishing" if finished else ""
    print(f"test accuracy {report.accuracy:.4%}, {report.refusals_wrong:.4%} counting refusals as wrong "
          f"(best validation epoch {state.best_epoch}{finish_note})")
    write_weights(args, argv, net, sets, (state, finished), calib, report, wall)
    return 0


if __name__ == "__main__":
    sys.exit(main())

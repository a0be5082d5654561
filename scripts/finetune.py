#!/usr/bin/env python
"""Fine-tune the shipped network on your own folder of labelled images, and export weights the service serves.

    python scripts/finetune.py my-digits/ --export mine.npz
    DIGITS_WEIGHTS=mine.npz digits-serve

The folder holds one subfolder per digit, ``my-digits/0/`` ... ``my-digits/9/`` (PNG, JPEG, WebP, GIF,
BMP or TIFF), and optionally ``my-digits/not_digit/`` for things the service should refuse. Every image
goes through the service's own preprocessing. ``--hold-out`` of each class is kept aside to measure the
network before and after and to recalibrate its confidence (temperature) and its refusal threshold
(which refuses at most 1 % of your held-out digits, unless more are needed to refuse the held-out
non-digits as the base network does); the rest is trained on, lightly augmented, mixed with images the
network already reads so that it keeps reading them (``--keep``: MNIST and drawn digits when MNIST is
found, else font digits and generated non-digits with the base network's own answers as targets). Starts
from the shipped weights (``--from`` names others). Writes ``mine.npz`` and ``mine.json`` (the base
weights, the folder, the counts per class, held-out accuracy before and after, ``"fine_tuned": true``);
nothing else.

Bad folders change nothing: a missing or empty folder, or a subfolder that is not 0-9 or not_digit, is
an error; unreadable or blank images are listed and skipped (``--strict``: refused); classes with fewer
than ``--min-per-class`` images are a warning with the counts; ``--export`` over the shipped weights is
refused unless ``--force``.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):  # one BLAS thread: a shared machine
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from model import WeightsError, data, load, load_sequential, manual_seed, save  # noqa: E402
from model.augment import LIGHT  # noqa: E402
from model.batching import DataGenerator  # noqa: E402
from model.calibration import NOT_DIGIT, Floor  # noqa: E402
from model.finetune import Mix, keep_targets, mix, one_hot_targets, right, service_readings, stratified_split, trainable  # noqa: E402,E501
from model.inference import InferenceNetwork  # noqa: E402
from model.optim import OPTIMIZERS  # noqa: E402
from model.recipe.folders import CLASS_FOLDERS, FolderError, LabelledImages, read_folder  # noqa: E402
from model.schedules import Schedule  # noqa: E402
from model.sequential import Sequential  # noqa: E402
from model.serialization import DEFAULT_WEIGHTS, resolve  # noqa: E402
from model.training import Trainer  # noqa: E402
from scripts import finetune_data  # noqa: E402
from scripts.train import LABELS, REFUSAL_BUDGETS, calibrate  # noqa: E402

USER_BUDGET = 0.01  # share of the held-out user digits the new threshold may refuse, but at least one:
# with a few dozen held out, the one least like a digit would otherwise set the threshold alone
# The held-out non-digits refused may fall this share below the base network's (the floor), and the
# threshold gives up no more of them for the digits' margin: the bound a fine-tune keeps.
NON_DIGIT_SLACK = 0.003
MIN_ERRORS = 10  # held-out digits misread needed to refit the temperature (else the base's is kept)


class RefusedError(Exception):
    """The run stops before writing anything; the message says why and what to do."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("folder", type=Path, help="DIR/0/ ... DIR/9/ (and DIR/not_digit/) of images")
    p.add_argument("--export", type=Path, required=True, help="the weights to write (.npz, and .json beside it)")
    p.add_argument("--from", dest="base", type=Path, default=None, help="weights to start from (default: shipped)")
    p.add_argument("--force", action="store_true", help="allow --export over the shipped weights/default.npz")
    p.add_argument("--strict", action="store_true", help="refuse a folder with unreadable or blank images")
    p.add_argument("--min-per-class", type=int, default=20, help="warn about digits with fewer images")
    p.add_argument("--hold-out", type=float, default=0.2, help="share of each class held out for validation")
    p.add_argument("--keep", choices=finetune_data.KEEPS, default="auto", help="what else to train on (module doc)")
    p.add_argument("--data", type=Path, default=None, help=f"MNIST .npz or IDX folder (else ${data.ENV_VAR})")
    p.add_argument("--mnist-digits", type=int, default=12000, help="MNIST training digits to mix in (--keep mnist)")
    p.add_argument("--drawn", type=int, default=1500, help="drawn canvases, pen redraws, non-digits each (mnist)")
    p.add_argument("--pen", type=int, default=3000, help="more pen redraws in the kept pool (mnist)")
    p.add_argument("--replay", type=int, default=3000, help="font digits to mix in (--keep replay)")
    p.add_argument("--distill", type=float, default=0.5,
                   help="share of the base's answers in kept targets (none where it errs)")
    p.add_argument("--freeze", type=int, default=0, help="convolutional blocks left as they are (0-3)")
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--epoch-size", type=int, default=4096, help="images per epoch")
    p.add_argument("--user-share", type=float, default=0.15, help="share of each epoch that is your images")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=3e-4, help="peak learning rate (cosine to zero)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cache-dir", type=Path, default=Path("runs") / "finetune", help="generated pools, reused")
    return p.parse_args(argv)


def check_export(args: argparse.Namespace) -> None:
    """Refuse an export path that is not ``.npz``, or the shipped weights without ``--force``."""
    if args.export.suffix != ".npz":
        raise RefusedError(f"--export {args.export}: the weights file must end in .npz (its .json goes beside it)")
    if args.export.resolve() == DEFAULT_WEIGHTS.resolve() and not args.force:
        raise RefusedError(f"--export {args.export} would overwrite the shipped weights: choose another path, "
                      "or add --force if you really mean to replace them")


def read_images(args: argparse.Namespace) -> LabelledImages:
    """The folder, its problems listed; raises :class:`RefusedError` per ``--strict``."""
    try:
        found = read_folder(args.folder)
    except FolderError as exc:
        raise RefusedError(str(exc)) from None
    if found.problems:
        print(f"{len(found.problems)} files could not be used:")
        for problem in found.problems:
            print(f"  {problem}")
        if args.strict:
            raise RefusedError("--strict: fix or remove the files above, or leave out --strict to skip them")
        print("  (skipped; --strict refuses them instead)")
    print(f"{found.folder}: {len(found.labels)} images, per class {found.counts()}")
    few = found.few(args.min_per_class)
    if few:
        print(f"warning: fewer than {args.min_per_class} images for digit(s) {few}; a few dozen per digit read "
              "much better, and a digit with none keeps only what the network knew")
    return found


def readings_report(net: InferenceNetwork, x: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """Accuracy as the service reads (refusals wrong for digits, right for not_digit), overall and per class."""
    ok = right(service_readings(net, x), y)
    per = {CLASS_FOLDERS[k]: round(float(ok[y == k].mean()), 4) for k in np.unique(y)}
    return {"accuracy": round(float(ok.mean()), 4) if len(ok) else None, "images": len(y), "per_class": per}


def train(
    args: argparse.Namespace, net: Sequential, base: InferenceNetwork, user: tuple[np.ndarray, np.ndarray],
    keep: finetune_data.KeepSet, val: tuple[np.ndarray, np.ndarray],
) -> None:
    """Fine-tune ``net`` in place on ``user`` mixed with ``keep`` (see the module doc)."""
    classes = len(base.metadata.get("labels", LABELS))
    user_t = (user[0], one_hot_targets(user[1], classes))
    keep_t = (keep.x, keep_targets(base, keep.x, keep.y, classes, args.distill))
    x_fit, y_fit = mix(user_t, keep_t, Mix(args.epoch_size, args.user_share), args.seed)
    batches = DataGenerator(x_fit, y_fit, args.batch_size, shuffle=True, seed=args.seed)
    total = len(batches) * args.epochs
    optimizer = OPTIMIZERS["adamw"](trainable(net, args.freeze), lr=args.lr, weight_decay=1e-4)
    schedule = Schedule("cosine", args.lr, total, warmup_steps=min(len(batches) // 4, total // 5))
    trainer = Trainer(net, optimizer, schedule, batches, val, augment=LIGHT, seed=args.seed, progress=progress_bar())
    print(f"training: {args.epochs} epochs of {len(x_fit)} images ({args.user_share:.0%} yours, the rest "
          f"{keep.name}), batch {args.batch_size}, peak rate {args.lr:g}, {args.freeze} blocks frozen")
    trainer.fit(args.epochs)


def progress_bar() -> Callable[..., Any] | None:
    """tqdm when installed (the dev and train extras), else None: the trainer prints a line per epoch."""
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm  # type: ignore[no-any-return]


def validation(
    held: tuple[np.ndarray, np.ndarray], keep: finetune_data.KeepSet
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Held-out sets by kind: your digits (``yours``), your not_digit images with the kept non-digits."""
    x, y = held
    sets = {k: v for k, v in keep.val.items() if k != "not-digit" and len(v[0])}
    if (y < 10).any():
        sets["yours"] = (x[y < 10], y[y < 10])
    neg = [(x[y == 10], y[y == 10]), keep.val.get("not-digit", finetune_data.EMPTY)]
    if sum(len(n[0]) for n in neg):
        sets["not-digit"] = (np.concatenate([n[0] for n in neg]), np.concatenate([n[1] for n in neg]))
    return sets


def refusal_budgets(val_sets: dict[str, tuple[np.ndarray, np.ndarray]]) -> dict[str, float]:
    """The share of each held-out digit kind the new threshold may refuse: ``REFUSAL_BUDGETS``, and
    ``USER_BUDGET`` of the user's digits (and of the font digits) but at least one image of theirs."""
    yours = max(USER_BUDGET, 1 / len(val_sets["yours"][1])) if len(val_sets.get("yours", ((), ()))[1]) else USER_BUDGET
    return {**REFUSAL_BUDGETS, "yours": yours, "font": USER_BUDGET}


def refusal_floor(base: InferenceNetwork, val_sets: dict[str, tuple[np.ndarray, np.ndarray]]) -> Floor | None:
    """The share of the held-out non-digits the fine-tuned threshold must refuse: what the base network
    refuses (one pass, its calibrated "not a digit" probability against its threshold, as the new
    threshold is chosen), less ``NON_DIGIT_SLACK``; your digits' budget (and the font digits') gives
    way to it. None when no kept digit kind holds the threshold from below (only your digits would pay)
    or when the held-out non-digits are too few to measure ``NON_DIGIT_SLACK``."""
    negatives = val_sets.get("not-digit", finetune_data.EMPTY)[0]
    firm_kinds = set(val_sets) & set(REFUSAL_BUDGETS)
    if not firm_kinds or len(negatives) * NON_DIGIT_SLACK < 1 or base.reject_threshold is None:
        return None
    refused = float(np.mean(base.predict(negatives)[:, NOT_DIGIT] >= base.reject_threshold))
    return max(refused - NON_DIGIT_SLACK, 0.0), ("yours", "font")


def mnist_test(net: InferenceNetwork, keep: finetune_data.KeepSet) -> dict[str, float]:
    """MNIST test accuracy as ``scripts/train.py`` records it, when the keep set brought MNIST."""
    if keep.test is None:
        return {}
    x, y = keep.test
    probs, is_digit = net.classify(x)
    pred = probs.argmax(axis=1)
    closest, strict = float(np.mean(pred == y)), float(np.mean(is_digit & (pred == y)))
    print(f"MNIST test: {closest:.2%}, {strict:.2%} counting refusals as wrong")
    return {"test_accuracy": closest, "test_accuracy_refusals_wrong": strict}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.time()
    try:
        check_export(args)
        found = read_images(args)
        net, meta = load_sequential(args.base)
        base = load(args.base)
        if (found.labels == 10).any() and len(meta.get("labels", [])) < 11:
            raise RefusedError(f"{resolve(args.base)} has no 'not a digit' output: remove {args.folder}/not_digit/")
        sizes = {"mnist": args.mnist_digits, "drawn": args.drawn, "pen": args.pen, "replay": args.replay}
        keep = finetune_data.choose(args.keep, args.data, sizes, args.seed, args.cache_dir)
    except (RefusedError, WeightsError, data.DatasetError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    fit_idx, held_idx = stratified_split(found.labels, args.hold_out, args.seed)
    held = (found.images[held_idx], found.labels[held_idx])
    val_sets = validation(held, keep)
    before = readings_report(base, *held)
    kept_before = {k: readings_report(base, *v)["accuracy"] for k, v in keep.val.items()}
    print(f"held out {len(held_idx)} of your images; the base network reads {before['accuracy']:.2%} of them")
    manual_seed(args.seed)
    val = (np.concatenate([v[0] for v in val_sets.values()]), np.concatenate([v[1] for v in val_sets.values()]))
    train(args, net, base, (found.images[fit_idx], found.labels[fit_idx]), keep, val)
    budgets = refusal_budgets(val_sets)
    base_calibration = {"temperature": base.temperature, "reject_threshold": base.reject_threshold or 1.0}
    calib = calibrate(net, val_sets, budgets, base=base_calibration, min_errors=MIN_ERRORS,
                      floor=refusal_floor(base, val_sets), slack=NON_DIGIT_SLACK)
    if calib.get("val_refused_yours", 0.0) > round(budgets["yours"], 4):  # as calibrate rounds the share
        print(f"note: the threshold refuses {calib['val_refused_yours']:.1%} of your held-out images (budget "
              f"{budgets['yours']:.1%}) so that the held-out non-digits are refused as the base network refuses them")
    tuned = InferenceNetwork.from_sequential(net, {**meta, "calibration": calib})
    after = readings_report(tuned, *held)
    kept_after = {k: readings_report(tuned, *v)["accuracy"] for k, v in keep.val.items()}
    wall = round(time.time() - started, 1)
    print(f"your held-out images: {before['accuracy']:.2%} -> {after['accuracy']:.2%}; kept sets {kept_before} -> "
          f"{kept_after}; calibration {calib}; {wall:.0f}s")
    written = save(
        net, args.export, labels=LABELS[: len(meta.get("labels", LABELS))], calibration=calib, fine_tuned=True,
        base={"name": meta.get("name"), "sha256": meta.get("sha256"), "path": str(resolve(args.base))},
        fine_tuning={
            "folder": str(args.folder.resolve()), "counts": found.counts(), "skipped": [str(p) for p in found.problems],
            "held_out": {"images": len(held_idx), "before": before, "after": after},
            "kept": {"set": keep.name, "images": len(keep.x), "before": kept_before, "after": kept_after},
            "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
            "wall_seconds": wall, "command": "python scripts/finetune.py " + " ".join(argv or sys.argv[1:]),
        },
        **mnist_test(tuned, keep),
    )
    print(f"wrote {args.export} and {args.export.with_suffix('.json').name} (sha256 {written['sha256'][:12]}...); "
          f"serve them with DIGITS_WEIGHTS={args.export} digits-serve")
    return 0


if __name__ == "__main__":
    sys.exit(main())

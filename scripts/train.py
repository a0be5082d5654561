#!/usr/bin/env python
"""Train a network on MNIST and export it to the weights format.

    python scripts/train.py                               # the shipped default model
    python scripts/train.py --arch seed --epochs 1 --out weights/seed.npz

A validation split held out from the training set chooses the best epoch and stops early; the test set
is only used once, for the final report. Ctrl-C checkpoints and exports the best weights so far;
``--resume`` continues from the checkpoint. Same seed and data give the same weights.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from model import architectures, data, manual_seed, save  # noqa: E402
from model.allocator import keep_freed_memory  # noqa: E402
from model.augment import Augment  # noqa: E402
from model.batching import DataGenerator  # noqa: E402
from model.metrics import classification_report, confusion_matrix, format_confusion_matrix  # noqa: E402
from model.normalize import to_network_input  # noqa: E402
from model.optim import OPTIMIZERS, SGD, Optimizer  # noqa: E402
from model.parameter import Parameter  # noqa: E402
from model.schedules import SCHEDULES, Schedule  # noqa: E402
from model.training import Trainer, evaluate  # noqa: E402

# Per-architecture defaults: the small seed network learns fastest with smaller batches and a higher
# rate (97.9% after one epoch, against 97.1% with the default network's recipe).
RECIPES: dict[str, dict[str, float | int]] = {
    "seed": {"batch_size": 64, "lr": 3e-3},
    "default": {"batch_size": 128, "lr": 2e-3},
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arch", choices=sorted(architectures.ARCHITECTURES), default="default")
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--batch-size", type=int, default=None, help="default: the architecture's recipe")
    p.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default="adamw")
    p.add_argument("--lr", type=float, default=None, help="peak learning rate (default: the recipe's)")
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--momentum", type=float, default=0.9, help="SGD only")
    p.add_argument("--schedule", choices=SCHEDULES, default="cosine")
    p.add_argument("--warmup-epochs", type=float, default=1.0, help="cosine warm-up (at most 1/5 of the run)")
    p.add_argument("--augment", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--val-size", type=int, default=5000, help="training digits held out for validation")
    p.add_argument("--patience", type=int, default=0, help="stop after N epochs without improvement (0: off)")
    p.add_argument("--data", type=Path, default=None, help=f"MNIST .npz or IDX folder (else ${data.ENV_VAR})")
    p.add_argument("--no-verify", action="store_true", help="skip the SHA-256 check (your own data)")
    p.add_argument("--download", action="store_true", help=f"fetch {data.DOWNLOAD_URL} if no data is found")
    p.add_argument("--out", type=Path, default=Path("weights/default.npz"))
    p.add_argument("--checkpoint", type=Path, default=None, help="default: <out>.ckpt.npz")
    p.add_argument("--resume", action="store_true", help="continue from the checkpoint")
    p.add_argument("--limit", type=int, default=0, help="train on the first N digits only (smoke runs)")
    args = p.parse_args(argv)
    for key, value in RECIPES[args.arch].items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


def make_optimizer(args: argparse.Namespace, params: list[Parameter]) -> Optimizer:
    if args.optimizer == "sgd":
        return SGD(params, lr=args.lr, momentum=args.momentum, nesterov=True, weight_decay=args.weight_decay)
    return OPTIMIZERS[args.optimizer](params, lr=args.lr, weight_decay=args.weight_decay)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    keep_freed_memory()
    try:
        if args.download and args.data is None:
            try:
                data.resolve_path(None)
            except data.DatasetError:
                args.data = data.download()
        mnist = data.load_mnist(args.data, verify=not args.no_verify)
    except data.DatasetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    x_train, y_train = mnist.x_train, mnist.y_train
    if args.limit:
        x_train, y_train = x_train[: args.limit], y_train[: args.limit]
    x_tr, y_tr, x_val, y_val = data.train_val_split(x_train, y_train, args.val_size, args.seed)

    manual_seed(args.seed)
    net = architectures.build(args.arch)
    batches = DataGenerator(x_tr, y_tr, args.batch_size, shuffle=True, seed=args.seed)
    optimizer = make_optimizer(args, net.parameters())
    total = len(batches) * args.epochs
    schedule = Schedule(
        args.schedule, args.lr, total,
        warmup_steps=min(int(args.warmup_epochs * len(batches)), total // 5),
        step_size=max(total // 3, 1),
    )
    checkpoint = args.checkpoint or args.out.with_suffix(".ckpt.npz")
    try:
        from tqdm import tqdm
        progress = tqdm
    except ImportError:  # the train extra is not installed: plain output
        progress = None
    trainer = Trainer(
        net, optimizer, schedule, batches, (x_val, y_val),
        augment=Augment() if args.augment else None, seed=args.seed,
        patience=args.patience, checkpoint=checkpoint, progress=progress,
    )
    if args.resume and trainer.load_checkpoint():
        print(f"resumed from {checkpoint} after epoch {trainer.state.epoch}")
    print(f"{args.arch}: {net.num_parameters():,} parameters; {len(x_tr)} train, {len(x_val)} validation digits")
    started = time.time()
    state = trainer.fit(args.epochs)

    probs = net.predict(to_network_input(mnist.x_test))
    y_pred = probs.argmax(axis=1)
    test_loss, test_acc = evaluate(net, mnist.x_test, mnist.y_test)
    cm = confusion_matrix(mnist.y_test, y_pred)
    print(classification_report(mnist.y_test, y_pred))
    print(format_confusion_matrix(cm))
    print(f"test accuracy {test_acc:.4%} (best validation epoch {state.best_epoch})")
    config = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    meta = save(
        net, args.out,
        training={**config, "train_size": len(x_tr), "val_size": len(x_val), "best_epoch": state.best_epoch,
                  "epochs_run": state.epoch, "wall_seconds": round(time.time() - started, 1)},
        history=[vars(h) for h in state.history],
        val_accuracy=state.best_val_accuracy,
        test_accuracy=test_acc,
        test_loss=test_loss,
        confusion_matrix=cm,
    )
    print(f"wrote {args.out} ({meta['parameters']:,} parameters, sha256 {meta['sha256'][:12]}...)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

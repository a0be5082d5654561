"""The training loop: epochs of mini-batches, validation, early stopping, checkpoints and history."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .augment import Augment
from .batching import DataGenerator
from .ema import ExponentialMovingAverage
from .metrics import accuracy
from .normalize import to_network_input, to_unit
from .optim import Optimizer
from .schedules import Schedule
from .sequential import Sequential


@dataclass
class EpochRecord:
    epoch: int
    seconds: float  # wall-clock time of the epoch's training pass
    lr: float  # learning rate at the end of the epoch
    train_loss: float
    train_accuracy: float
    val_loss: float
    val_accuracy: float


@dataclass
class TrainState:
    """Everything a checkpoint holds besides the arrays."""

    epoch: int = 0
    step: int = 0
    best_epoch: int = 0
    best_val_accuracy: float = -1.0
    best_val_loss: float = float("inf")
    history: list[EpochRecord] = field(default_factory=list)


def evaluate(net: Sequential, x: np.ndarray, y: np.ndarray, batch_size: int = 1000) -> tuple[float, float]:
    """Mean loss and accuracy of ``net`` in eval mode on uint8 images ``(N, 28, 28)``."""
    probs = net.predict(x, batch_size)
    loss = float(-np.mean(np.log(np.maximum(probs[np.arange(len(y)), y], 1e-12))))
    return loss, accuracy(y, probs.argmax(axis=1))


class Trainer:
    """Runs :meth:`fit`; ``progress`` wraps the batch iterator (tqdm in the CLI, plain in tests).
    With ``ema``, validation, the best weights and the result are the moving average's weights."""

    def __init__(
        self,
        net: Sequential,
        optimizer: Optimizer,
        schedule: Schedule,
        train_data: DataGenerator,
        val_data: tuple[np.ndarray, np.ndarray],
        augment: Augment | None = None,
        seed: int = 0,
        patience: int = 0,
        checkpoint: Path | None = None,
        progress: Callable[..., Any] | None = None,
        ema: ExponentialMovingAverage | None = None,
    ) -> None:
        self.net, self.optimizer, self.schedule = net, optimizer, schedule
        self.train_data, self.val_data = train_data, val_data
        self.augment, self.patience, self.checkpoint, self.ema = augment, patience, checkpoint, ema
        self.aug_rng = np.random.default_rng(seed + 1)
        self.progress = progress or (lambda it, **_: it)
        self.state = TrainState()
        self.best_weights: dict[str, np.ndarray] = {k: v.copy() for k, v in net.state_dict().items()}
        self.interrupted = False  # the last fit() was stopped by Ctrl-C

    # -- one epoch ------------------------------------------------------------------------------------
    def train_epoch(self) -> tuple[float, float, float]:
        """Returns ``(mean loss, accuracy, seconds)`` over the epoch's batches."""
        net = self.net.train()
        total_loss, correct, seen = 0.0, 0, 0
        start = time.perf_counter()
        bar = self.progress(self.train_data, desc=f"epoch {self.state.epoch + 1}", unit="batch")
        for xb, yb in bar:
            if self.augment is not None:
                x = to_network_input(self.augment(to_unit(xb)[:, None], self.aug_rng))
            else:
                x = to_network_input(xb)
            labels = yb.astype(np.int64) if yb.ndim == 1 else yb  # (N, K) soft targets: distillation
            self.optimizer.lr = self.schedule(self.state.step)
            net.zero_grad()
            logits = net.logits(x)
            loss = net.loss(logits, labels)
            net.backward()
            self.optimizer.step()
            if self.ema is not None:
                self.ema.update(net)
            self.state.step += 1
            n = len(yb)
            total_loss += loss * n
            correct += int((logits.argmax(axis=1) == (labels if labels.ndim == 1 else labels.argmax(axis=1))).sum())
            seen += n
            if hasattr(bar, "set_postfix") and self.state.step % 20 == 0:
                rate = seen / (time.perf_counter() - start)
                bar.set_postfix(loss=f"{total_loss / seen:.4f}", acc=f"{correct / seen:.4f}", img_s=f"{rate:.0f}")
        return total_loss / max(seen, 1), correct / max(seen, 1), time.perf_counter() - start

    # -- the loop -------------------------------------------------------------------------------------
    def fit(self, epochs: int, log: Callable[[str], None] = print) -> TrainState:
        """Train until ``epochs`` or early stop; on Ctrl-C, checkpoint and return what was reached."""
        self.interrupted = False
        try:
            while self.state.epoch < epochs:
                train_loss, train_acc, seconds = self.train_epoch()
                val_loss, val_acc = self.validate()
                self.state.epoch += 1
                record = EpochRecord(
                    self.state.epoch, round(seconds, 3), self.optimizer.lr,
                    train_loss, train_acc, val_loss, val_acc,
                )
                self.state.history.append(record)
                improved = self._track_best(record)
                log(
                    f"epoch {record.epoch}: {seconds:.1f}s train loss {train_loss:.4f} acc {train_acc:.4f} | "
                    f"val loss {val_loss:.4f} acc {val_acc:.4f}{' *' if improved else ''}"
                )
                self.save_checkpoint()
                if self.patience and self.state.epoch - self.state.best_epoch >= self.patience:
                    log(f"early stop: no validation improvement for {self.patience} epochs")
                    break
        except KeyboardInterrupt:
            log(f"interrupted during epoch {self.state.epoch + 1}; keeping the best weights so far")
            self.interrupted = True
            self.save_checkpoint()
        self.net.load_state_dict(self.best_weights)
        return self.state

    def validate(self) -> tuple[float, float]:
        """Validation loss and accuracy of the weights :meth:`fit` would return (the average, with EMA)."""
        if self.ema is None:
            return evaluate(self.net, *self.val_data)
        live = {k: v.copy() for k, v in self.net.state_dict().items()}
        self.net.load_state_dict(self.ema.average)
        try:
            return evaluate(self.net, *self.val_data)
        finally:
            self.net.load_state_dict(live)

    def _track_best(self, r: EpochRecord) -> bool:
        s = self.state
        better = r.val_accuracy > s.best_val_accuracy or (
            r.val_accuracy == s.best_val_accuracy and r.val_loss < s.best_val_loss
        )
        if better:
            s.best_epoch, s.best_val_accuracy, s.best_val_loss = r.epoch, r.val_accuracy, r.val_loss
            weights = self.net.state_dict() if self.ema is None else self.ema.average
            self.best_weights = {k: v.copy() for k, v in weights.items()}
        return better

    # -- checkpoints ----------------------------------------------------------------------------------
    def save_checkpoint(self) -> None:
        """``<checkpoint>.npz``: weights, best weights, optimizer state; ``.json``: loop state."""
        if self.checkpoint is None:
            return
        arrays = {f"net.{k}": v for k, v in self.net.state_dict().items()}
        arrays.update({f"best.{k}": v for k, v in self.best_weights.items()})
        arrays.update({f"optim.{k}": v for k, v in self.optimizer.state_dict().items()})
        if self.ema is not None:
            arrays.update({f"ema.{k}": v for k, v in self.ema.average.items()})
        self.checkpoint.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.checkpoint.with_suffix(".part.npz")
        np.savez(tmp, **arrays)  # type: ignore[arg-type]
        tmp.replace(self.checkpoint.with_suffix(".npz"))
        meta = {
            "state": {**asdict(self.state), "history": [asdict(h) for h in self.state.history]},
            "data_rng": self.train_data.state_dict(),
            "aug_rng": self.aug_rng.bit_generator.state,
            "ema_updates": None if self.ema is None else self.ema.updates,
        }
        self.checkpoint.with_suffix(".json").write_text(json.dumps(meta))

    def load_checkpoint(self) -> bool:
        """Resume from the checkpoint if it exists; returns whether it did."""
        if self.checkpoint is None or not self.checkpoint.with_suffix(".npz").exists():
            return False
        with np.load(self.checkpoint.with_suffix(".npz"), allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
        meta = json.loads(self.checkpoint.with_suffix(".json").read_text())
        self.net.load_state_dict({k[4:]: v for k, v in arrays.items() if k.startswith("net.")})
        self.best_weights = {k[5:]: v for k, v in arrays.items() if k.startswith("best.")}
        self.optimizer.load_state_dict({k[6:]: v for k, v in arrays.items() if k.startswith("optim.")})
        if self.ema is not None:
            if meta.get("ema_updates") is None:
                raise ValueError(f"{self.checkpoint} was saved without a moving average: resume without --ema")
            self.ema.load_state_dict({k[4:]: v for k, v in arrays.items() if k.startswith("ema.")},
                                     meta["ema_updates"])
        st = meta["state"]
        st["history"] = [EpochRecord(**h) for h in st["history"]]
        self.state = TrainState(**st)
        self.train_data.load_state_dict(meta["data_rng"])
        self.aug_rng.bit_generator.state = meta["aug_rng"]
        return True

"""Learning-rate schedules as functions of the optimizer step (0-based) over a known total."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Schedule:
    """``lr(step)`` for ``0 <= step < total_steps``.

    kinds: ``constant``; ``step`` (multiply by ``gamma`` every ``step_size`` steps); ``cosine`` (linear
    warm-up over ``warmup_steps`` then cosine decay to ``min_lr``); ``onecycle`` (Smith's one-cycle:
    cosine rise from ``max_lr/25`` over the first ``pct_start`` of training, then cosine fall to
    ``max_lr/1e4``).
    """

    kind: str
    max_lr: float
    total_steps: int
    warmup_steps: int = 0
    step_size: int = 1
    gamma: float = 0.1
    min_lr: float = 0.0
    pct_start: float = 0.25

    def __call__(self, step: int) -> float:
        if self.kind == "constant":
            return self.max_lr
        if self.kind == "step":
            return self.max_lr * self.gamma ** (step // max(self.step_size, 1))
        if self.kind == "cosine":
            if step < self.warmup_steps:
                return self.max_lr * (step + 1) / self.warmup_steps
            span = max(self.total_steps - self.warmup_steps, 1)
            progress = min((step - self.warmup_steps) / span, 1.0)
            return self.min_lr + 0.5 * (self.max_lr - self.min_lr) * (1 + math.cos(math.pi * progress))
        if self.kind == "onecycle":
            rise = max(int(self.pct_start * self.total_steps), 1)
            start, end = self.max_lr / 25, self.max_lr / 1e4
            if step < rise:
                return _cos_interp(start, self.max_lr, step / rise)
            return _cos_interp(self.max_lr, end, min((step - rise) / max(self.total_steps - rise, 1), 1.0))
        raise ValueError(f"unknown schedule {self.kind!r}; choose from {SCHEDULES}")


def _cos_interp(a: float, b: float, t: float) -> float:
    """Cosine interpolation from ``a`` (t=0) to ``b`` (t=1)."""
    return b + (a - b) * 0.5 * (1 + math.cos(math.pi * t))


SCHEDULES = ("constant", "step", "cosine", "onecycle")

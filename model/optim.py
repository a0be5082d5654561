"""Optimizers over lists of :class:`Parameter`: SGD (momentum, Nesterov), Adam and AdamW.

Each keeps its state per parameter, updates in place, and reads its learning rate from ``self.lr``
so that a schedule can set it before every step.
"""

from __future__ import annotations

import math

import numpy as np

from .parameter import Parameter


class Optimizer:
    def __init__(self, params: list[Parameter], lr: float, weight_decay: float = 0.0) -> None:
        if lr <= 0:
            raise ValueError(f"learning rate must be positive, got {lr}")
        self.params = list(params)
        self.lr = lr
        self.weight_decay = weight_decay
        self.step_count = 0

    def zero_grad(self) -> None:
        for p in self.params:
            p.zero_grad()

    def step(self) -> None:
        self.step_count += 1
        for i, p in enumerate(self.params):
            self.update(i, p)

    def update(self, i: int, p: Parameter) -> None:
        raise NotImplementedError

    def decays(self, p: Parameter) -> bool:
        """Weight decay applies to weight matrices and kernels, not to biases or BatchNorm scales."""
        return self.weight_decay > 0 and p.data.ndim > 1

    def state_dict(self) -> dict[str, np.ndarray]:
        return {"step_count": np.asarray(self.step_count)}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        self.step_count = int(state["step_count"])


class SGD(Optimizer):
    """``SGD(params, lr, momentum=0, nesterov=False, weight_decay=0)``, PyTorch's update rule."""

    def __init__(
        self,
        params: list[Parameter],
        lr: float = 0.01,
        momentum: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, lr, weight_decay)
        if nesterov and momentum <= 0:
            raise ValueError("Nesterov momentum needs momentum > 0")
        self.momentum, self.nesterov = momentum, nesterov
        self.velocity = [np.zeros_like(p.data) for p in self.params]

    def update(self, i: int, p: Parameter) -> None:
        g = p.grad + self.weight_decay * p.data if self.decays(p) else p.grad
        if self.momentum:
            v = self.velocity[i]
            v *= self.momentum
            v += g
            g = g + self.momentum * v if self.nesterov else v
        p.data -= self.lr * g

    def state_dict(self) -> dict[str, np.ndarray]:
        state = super().state_dict()
        state.update({f"velocity.{i}": v for i, v in enumerate(self.velocity)})
        return state

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        super().load_state_dict(state)
        self.velocity = [state[f"velocity.{i}"].copy() for i in range(len(self.params))]


class Adam(Optimizer):
    """``Adam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0)``; decay as L2 on the grad."""

    decoupled = False
    default_weight_decay = 0.0

    def __init__(
        self,
        params: list[Parameter],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float | None = None,
    ) -> None:
        """``weight_decay`` None: the class's default (0 for Adam, 1e-2 for AdamW, as in PyTorch)."""
        super().__init__(params, lr, self.default_weight_decay if weight_decay is None else weight_decay)
        self.betas, self.eps = betas, eps
        self.m = [np.zeros_like(p.data) for p in self.params]
        self.v = [np.zeros_like(p.data) for p in self.params]

    def update(self, i: int, p: Parameter) -> None:
        b1, b2 = self.betas
        g = p.grad
        if self.decays(p):
            if self.decoupled:
                p.data *= 1 - self.lr * self.weight_decay
            else:
                g = g + self.weight_decay * p.data
        m, v = self.m[i], self.v[i]
        m *= b1
        m += (1 - b1) * g
        v *= b2
        v += (1 - b2) * (g * g)
        t = self.step_count
        # Python floats keep the arithmetic in the parameters' float32 (NumPy scalars would upcast).
        denom = np.sqrt(v) * (1 / math.sqrt(1 - b2**t)) + self.eps  # PyTorch's placement of eps
        p.data -= (self.lr / (1 - b1**t)) * m / denom

    def state_dict(self) -> dict[str, np.ndarray]:
        state = super().state_dict()
        state.update({f"m.{i}": a for i, a in enumerate(self.m)})
        state.update({f"v.{i}": a for i, a in enumerate(self.v)})
        return state

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        super().load_state_dict(state)
        self.m = [state[f"m.{i}"].copy() for i in range(len(self.params))]
        self.v = [state[f"v.{i}"].copy() for i in range(len(self.params))]


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): ``w -= lr * wd * w`` before the step;
    ``weight_decay`` defaults to 1e-2."""

    decoupled = True
    default_weight_decay = 1e-2


OPTIMIZERS: dict[str, type[Optimizer]] = {"sgd": SGD, "adam": Adam, "adamw": AdamW}

"""The ``small`` architecture in PyTorch: the yardstick for the NumPy library (``bench`` extra)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


def torch_small() -> nn.Sequential:
    """Layer for layer the NumPy ``small`` network (the loss is applied outside)."""
    return nn.Sequential(
        nn.Conv2d(1, 8, kernel_size=3, stride=1, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2, 2),
        nn.BatchNorm2d(8),
        nn.Dropout(0.25),
        nn.Flatten(),
        nn.Linear(8 * 14 * 14, 128),
        nn.ReLU(),
        nn.Linear(128, 10),
    )


def from_numpy_state(net: nn.Sequential, state: dict) -> nn.Sequential:
    """Copy a NumPy ``small`` state_dict (same names: ``0.weight``, ``3.running_mean``...) into ``net``."""
    own = net.state_dict()
    loaded = {k: torch.from_numpy(np.array(state[k])).to(v.dtype) if k in state else v for k, v in own.items()}
    net.load_state_dict(loaded)
    return net

"""The shipped network in PyTorch, rebuilt op for op from ``network.json`` and ``network.npz``.

``benchmarks.peers.check`` writes those two files from ``model.load().ops`` (BatchNorm already folded, pooling
before ReLU); this module maps each op to its PyTorch layer and ends, like
``InferenceNetwork.predict``, with ``softmax(logits * (1 / temperature))``. Runs in the peers' torch
environments only.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from torch import nn


class Network(nn.Module):
    """``(N, 1, 28, 28)`` standardised float32 -> ``(N, K)`` calibrated probabilities."""

    def __init__(self, layers: list[nn.Module], temperature: float) -> None:
        super().__init__()
        self.layers = nn.Sequential(*layers)
        # The same float32 factor as InferenceNetwork.predict: logits * float32(1 / T).
        self.register_buffer("scale", torch.tensor(np.float32(1 / temperature)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.layers(x) * self.scale, dim=1)


def _layer(op: dict, arrays: dict[str, np.ndarray]) -> nn.Module:
    kind = op["type"]
    if kind == "conv":
        w, b = arrays[op["weight"]], arrays[op["bias"]]
        f, c, kh, kw = w.shape
        conv = nn.Conv2d(c, f, (kh, kw), stride=op["stride"], padding=op["padding"])
        conv.weight.data = torch.from_numpy(np.ascontiguousarray(w, np.float32))
        conv.bias.data = torch.from_numpy(np.ascontiguousarray(b, np.float32))
        return conv
    if kind == "linear":
        w, b = arrays[op["weight"]], arrays[op["bias"]]
        linear = nn.Linear(w.shape[1], w.shape[0])
        linear.weight.data = torch.from_numpy(np.ascontiguousarray(w, np.float32))
        linear.bias.data = torch.from_numpy(np.ascontiguousarray(b, np.float32))
        return linear
    if kind == "maxpool":
        return nn.MaxPool2d(op["kernel_size"], op["stride"])
    if kind == "relu":
        return nn.ReLU()
    if kind == "flatten":
        return nn.Flatten()
    raise ValueError(f"no PyTorch layer for op {op!r}")


def load(directory: Path) -> Network:
    """The exported network, in eval mode."""
    spec = json.loads((directory / "network.json").read_text())
    with np.load(directory / "network.npz") as f:
        arrays = {k: f[k] for k in f.files}
    return Network([_layer(op, arrays) for op in spec["ops"]], spec["temperature"]).eval()

#!/usr/bin/env python
"""One training epoch of the ``small`` architecture (no augmentation, batch 64, Adam 1e-3) in the NumPy
library and in PyTorch on the same machine, same data, same thread count. Prints seconds per epoch.

    python benchmarks/bench_training.py [--data PATH] [--epochs 1]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from model import Adam, DataGenerator, architectures, data, keep_freed_memory, manual_seed  # noqa: E402
from model.normalize import to_network_input  # noqa: E402


def numpy_epoch(x: np.ndarray, y: np.ndarray, batch: int) -> float:
    manual_seed(0)
    net = architectures.build("small").train()
    opt = Adam(net.parameters(), lr=1e-3)
    start = time.perf_counter()
    for xb, yb in DataGenerator(x, y, batch, seed=0):
        net.zero_grad()
        net.forward(to_network_input(xb), yb.astype(np.int64))
        net.backward()
        opt.step()
    return time.perf_counter() - start


def torch_epoch(x: np.ndarray, y: np.ndarray, batch: int) -> float:
    import torch

    from benchmarks.torch_small import torch_small

    torch.manual_seed(0)
    net = torch_small().train()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    start = time.perf_counter()
    for xb, yb in DataGenerator(x, y, batch, seed=0):  # same batching and normalization work
        inputs = torch.from_numpy(to_network_input(xb))
        opt.zero_grad()
        loss = loss_fn(net(inputs), torch.from_numpy(yb.astype(np.int64)))
        loss.backward()
        opt.step()
    return time.perf_counter() - start


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--data", type=Path, default=None)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--repeats", type=int, default=2, help="best of N epochs for each library")
    args = p.parse_args()
    keep_freed_memory()  # for both libraries: they share this process
    mnist = data.load_mnist(args.data)
    x, y = mnist.x_train, mnist.y_train
    ours = min(numpy_epoch(x, y, args.batch_size) for _ in range(args.repeats))
    print(f"numpy  small epoch (60,000 digits, batch {args.batch_size}): {ours:6.2f} s")
    try:
        theirs = min(torch_epoch(x, y, args.batch_size) for _ in range(args.repeats))
    except ImportError:
        print("pytorch not installed (pip install -e '.[bench]'): no comparison")
        return
    import torch

    print(f"torch  small epoch (60,000 digits, batch {args.batch_size}): {theirs:6.2f} s "
          f"(torch {torch.__version__}, {torch.get_num_threads()} threads)")
    print(f"ratio numpy / torch: {ours / theirs:.2f}x (target <= 1.5x)")


if __name__ == "__main__":
    main()

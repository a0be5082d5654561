#!/usr/bin/env python
"""The choices inside the NumPy layers that comments in ``model/`` point to, timed here (the machine
is shared and noisy: run it twice and compare within one run):

- ``im2col`` on a single-channel batch: one strided copy per kernel offset (what the library does
  below 4 channels) against the general window gather;
- ``column_sums`` (a matrix-vector product) against ``sum(axis=0)`` on tall activation matrices;
- a training step of the ``small`` network with glibc's default allocator thresholds and with
  ``keep_freed_memory()`` (each in its own process: the setting is process-wide).

Prints medians in milliseconds. ``python benchmarks/bench_kernels.py [--repeats 200]``
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from model import architectures, manual_seed  # noqa: E402
from model.allocator import keep_freed_memory  # noqa: E402
from model.im2col import gather_by_offset, gather_by_window, to_nhwc  # noqa: E402
from model.normalize import to_network_input  # noqa: E402
from model.reductions import column_sums  # noqa: E402


def median_ms(fn: Callable[[], object], repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def row(label: str, ms: float) -> None:
    print(f"{label:62s} {ms:8.3f} ms")


def bench_im2col(repeats: int) -> None:
    x = np.random.default_rng(0).random((64, 1, 28, 28), dtype=np.float32)
    xp = to_nhwc(x, 1)
    assert np.array_equal(gather_by_offset(xp, 3, 3, 1), gather_by_window(xp, 3, 3, 1))
    gathers: dict[str, Callable[[np.ndarray, int, int, int], np.ndarray]] = {
        "per kernel offset": gather_by_offset,
        "window gather": gather_by_window,
    }
    for name, gather in gathers.items():
        row(f"im2col, 64 digits x 1 channel, 3x3 kernel, {name}", median_ms(partial(gather, xp, 3, 3, 1), repeats))


def bench_column_sums(repeats: int) -> None:
    rows = np.random.default_rng(0).random((64 * 28 * 28, 32), dtype=np.float32)
    row("column sums of (50176, 32), matrix-vector product", median_ms(lambda: column_sums(rows), repeats))
    row("column sums of (50176, 32), sum(axis=0)", median_ms(lambda: rows.sum(axis=0), repeats))


def training_step_ms(repeats: int) -> float:
    """Median time of one 64-digit training step (forward, backward, no optimizer) of ``small``."""
    manual_seed(0)
    net = architectures.build("small").train()
    rng = np.random.default_rng(0)
    x = to_network_input(rng.integers(0, 256, (64, 28, 28), dtype=np.uint8))
    y = rng.integers(0, 10, 64)

    def step() -> None:
        net.zero_grad()
        net.forward(x, y)
        net.backward()

    return median_ms(step, repeats)


def bench_allocator(repeats: int) -> None:
    for keep in (False, True):
        cmd = [sys.executable, __file__, "--step", "--repeats", str(repeats)] + ["--keep-freed-memory"] * keep
        ms = float(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
        row(f"training step of small, 64 digits, {'keep_freed_memory()' if keep else 'glibc defaults'}", ms)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=200)
    p.add_argument("--step", action="store_true", help=argparse.SUPPRESS)  # one process of bench_allocator
    p.add_argument("--keep-freed-memory", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.step:
        if args.keep_freed_memory:
            keep_freed_memory()
        print(training_step_ms(args.repeats))
        return
    bench_im2col(args.repeats)
    bench_column_sums(args.repeats)
    bench_allocator(max(args.repeats // 4, 10))


if __name__ == "__main__":
    main()

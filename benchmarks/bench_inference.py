#!/usr/bin/env python
"""Inference of the ``small`` architecture: the NumPy inference path vs PyTorch eval mode.

Prints batch-1 latency (median and p99 over many calls, microseconds) and batch-256 throughput
(digits per second), both from uint8 28x28 input to probabilities, same weights in both.

    python benchmarks/bench_inference.py [--weights PATH]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from model import InferenceNetwork, architectures, keep_freed_memory, load_sequential, manual_seed  # noqa: E402
from model.normalize import to_network_input  # noqa: E402


def latencies_us(fn: Callable[[], object], n: int) -> list[float]:
    for _ in range(50):
        fn()
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1e6)
    return out


def throughput(fn: Callable[[], object], batch: int, seconds: float = 2.0) -> float:
    fn()
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        fn()
        done += batch
    return done / (time.perf_counter() - start)


def report(name: str, fn1: Callable[[], object], fn256: Callable[[], object], n: int) -> tuple[float, float]:
    lat = sorted(latencies_us(fn1, n))
    med, p99 = statistics.median(lat), lat[int(0.99 * len(lat))]
    rate = throughput(fn256, 256)
    print(f"{name:6s} batch-1 latency median {med:7.1f} us  p99 {p99:7.1f} us | batch-256 {rate:9.0f} digits/s")
    return med, rate


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--weights", type=Path, default=None, help="a small-architecture weights file (else random)")
    p.add_argument("--n", type=int, default=3000)
    args = p.parse_args()
    keep_freed_memory()  # for both libraries: they share this process
    if args.weights:
        net, meta = load_sequential(args.weights)
    else:
        manual_seed(0)
        net, meta = architectures.build("small").eval(), {}
    ours = InferenceNetwork.from_sequential(net, meta)
    rng = np.random.default_rng(0)
    x1 = rng.integers(0, 256, (1, 28, 28), dtype=np.uint8)
    x256 = rng.integers(0, 256, (256, 28, 28), dtype=np.uint8)
    med_np, rate_np = report("numpy", lambda: ours.predict(x1), lambda: ours.predict(x256), args.n)
    try:
        import torch

        from benchmarks.torch_small import from_numpy_state, torch_small
    except ImportError:
        print("pytorch not installed (pip install -e '.[bench]'): no comparison")
        return
    tnet = from_numpy_state(torch_small(), net.state_dict()).eval()

    def torch_predict(x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return torch.softmax(tnet(torch.from_numpy(to_network_input(x))), dim=1).numpy()

    np.testing.assert_allclose(torch_predict(x256), ours.predict(x256), atol=1e-4)  # same network
    med_t, rate_t = report("torch", lambda: torch_predict(x1), lambda: torch_predict(x256), args.n)
    print(f"batch-1 latency numpy/torch: {med_np / med_t:.2f}x (target <= 1.0x); "
          f"batch-256 throughput numpy/torch: {rate_np / rate_t:.2f}x (target >= 0.7x)")


if __name__ == "__main__":
    main()

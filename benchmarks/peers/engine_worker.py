"""The peer engines of ``bench_inference.py``: onnxruntime and PyTorch timed in their own environment.

Run by ``bench_inference.py`` in the peers' virtual environment (never imported by ``model/`` or
``app/``), with this repository on ``PYTHONPATH``::

    python -m benchmarks.peers.engine_worker DIR

``DIR`` holds ``network.json`` / ``network.npz`` (``bench_peers.dump_network``: the NumPy ops, BatchNorm
folded) and ``digits.npz`` (``x``: uint8 ``(N, 28, 28)`` digits, ``p``: ``model.load().predict(x)``).
The worker rebuilds the network in PyTorch (``benchmarks.peers.torch_net``), exports it to
``DIR/network.onnx`` and opens it in onnxruntime, both with one thread, then prints one JSON line: each
engine's largest probability difference from NumPy's over ``x`` (in one batch and one digit at a time).

It then answers requests on stdin, one per line, ``ENGINE BATCH CALLS`` (``ort`` or ``torch``), with one
JSON line: the ``CALLS`` call times in microseconds (``wall`` and this thread's ``cpu`` time), each from
uint8 digits to probabilities (the same ``to_network_input`` as the NumPy path, then the engine), on
the first ``BATCH`` digits of ``x``.
The parent pins this process to its own CPU and waits while it runs, so blocks alternate.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from benchmarks.peers.common import Shipped, network_input, shipped

Engine = Callable[[np.ndarray], np.ndarray]


def torch_engine(directory: Path) -> tuple[Engine, str]:
    """PyTorch eval mode, ``inference_mode``, one thread; also writes ``network.onnx`` (opset 17)."""
    import torch

    from benchmarks.peers.torch_net import load

    torch.set_num_threads(1)
    net = load(directory)
    example = torch.from_numpy(np.zeros((1, 1, 28, 28), np.float32))
    torch.onnx.export(
        net,
        (example,),
        str(directory / "network.onnx"),
        input_names=["x"],
        output_names=["probabilities"],
        dynamic_axes={"x": {0: "n"}, "probabilities": {0: "n"}},
        opset_version=17,
        dynamo=False,
    )

    def run(x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return net(torch.from_numpy(x)).numpy()

    return run, f"torch {torch.__version__}"


def ort_engine(directory: Path) -> tuple[Engine, str]:
    """onnxruntime's CPU provider, ``intra_op_num_threads = inter_op_num_threads = 1``."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(directory / "network.onnx"), options, providers=["CPUExecutionProvider"])

    def run(x: np.ndarray) -> np.ndarray:
        return np.asarray(session.run(None, {"x": x})[0])

    return run, f"onnxruntime {ort.__version__}"


def check(run: Engine, x: np.ndarray, expected: np.ndarray) -> float:
    """Largest ``|p - expected|`` in one batch and one digit at a time."""
    single = np.concatenate([run(x[i : i + 1]) for i in range(len(x))])
    return float(max(np.abs(run(x) - expected).max(), np.abs(single - expected).max()))


def call_times(run: Engine, digits: np.ndarray, calls: int, net: Shipped) -> dict[str, list[float]]:
    """Microseconds per call of ``run(network_input(digits))``: wall-clock and this thread's CPU time."""
    wall, cpu = [], []
    for _ in range(calls):
        start, start_cpu = time.perf_counter_ns(), time.thread_time_ns()
        run(network_input(digits, net))
        cpu.append((time.thread_time_ns() - start_cpu) / 1e3)
        wall.append((time.perf_counter_ns() - start) / 1e3)
    return {"wall": wall, "cpu": cpu}


def main() -> None:
    directory = Path(sys.argv[1])
    net = shipped(directory)
    with np.load(directory / "digits.npz") as f:
        digits, expected = f["x"], f["p"]
    x = network_input(digits, net)
    engines: dict[str, Engine] = {}
    report: dict[str, object] = {}
    for name, make in (("torch", torch_engine), ("ort", ort_engine)):  # torch first: it writes network.onnx
        run, version = make(directory)
        engines[name] = run
        report[name] = {"version": version, "max_abs_diff": check(run, x, expected)}
    print(json.dumps(report), flush=True)
    for line in sys.stdin:
        name, batch, calls = line.split()
        times = call_times(engines[name], digits[: int(batch)], int(calls), net)
        print(json.dumps(times), flush=True)


if __name__ == "__main__":
    main()

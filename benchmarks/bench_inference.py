#!/usr/bin/env python
"""The forward pass of the shipped network: the compiled NumPy path against onnxruntime and PyTorch.

    python benchmarks/bench_inference.py                 # 9 blocks per engine and batch size
    python benchmarks/bench_inference.py --blocks 3      # a quick look
    python benchmarks/bench_inference.py --no-peers      # ours only (no peer environment needed)

Same weights everywhere: ``model.load()``'s ops are written out (``check.dump_network``), rebuilt in
PyTorch and exported to ONNX in a peer environment (``benchmarks/peers/engine_worker.py``, built once
under ``~/.cache/numpy-digits-bench/venvs/inference-peers`` with onnxruntime, onnx and torch 2.13.0;
neither is ever imported by ``model/`` or ``app/``), and both engines are checked against
``model.load().predict`` on the 1,000 sample digits.

Timed: one call = uint8 ``(B, 28, 28)`` digits -> probabilities (``to_network_input`` then the engine;
``predict`` for ours), at batch 1 and 16, one thread everywhere (OMP/OPENBLAS/MKL_NUM_THREADS=1,
onnxruntime ``intra_op_num_threads=1``, ``torch.set_num_threads(1)``). This process and the worker are
pinned to one CPU (``--cpu``, ``taskset``) and run in alternating blocks (ours, onnxruntime, PyTorch,
the plain NumPy ops as they ran before the compiler, then again), so that a neighbour's load falls
on all engines alike; the figures are medians over all calls, the ratios medians over blocks. Then a
per-step table of the compiled path (median CPU microseconds, GFLOP/s, share).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # before NumPy loads its BLAS

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import IO, Any  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import model  # noqa: E402
from benchmarks.bench_peers import DEFAULT_CACHE  # noqa: E402
from benchmarks.peers import build, check, payloads, servers  # noqa: E402
from model.layers.loss import softmax  # noqa: E402
from model.normalize import to_network_input  # noqa: E402

BATCHES = (1, 16)
PEERS = servers.Server(
    "inference-peers",
    "onnxruntime and PyTorch for bench_inference.py",
    "onnxruntime 1 thread; PyTorch 2.13.0 1 thread, inference_mode",
    (servers.TORCH, "onnx", "onnxruntime", *servers._pinned_versions()),
    lambda venv, port: [],
)
Times = dict[str, list[float]]  # "wall" and "cpu" (the calling thread's CPU time): microseconds per call
Timer = Callable[[int, int], Times]  # (batch, calls) -> call times
CLOCKS = ("wall", "cpu")


class Worker:
    """The peer engines in their own environment, answering ``ENGINE BATCH CALLS`` with call times."""

    def __init__(self, venv: Path, directory: Path, cpu: int) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        cmd = ["taskset", "-c", str(cpu), str(venv / "bin" / "python"), "-m", "benchmarks.peers.engine_worker"]
        self.proc = subprocess.Popen(
            [*cmd, str(directory)], cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        self.checks: dict[str, Any] = json.loads(self._line())

    def _line(self) -> str:
        out: IO[str] | None = self.proc.stdout
        line = out.readline() if out else ""
        if not line:
            raise SystemExit(f"engine worker stopped (exit {self.proc.wait()})")
        return line

    def timer(self, engine: str) -> Timer:
        def run(batch: int, calls: int) -> Times:
            assert self.proc.stdin is not None
            self.proc.stdin.write(f"{engine} {batch} {calls}\n")
            self.proc.stdin.flush()
            times: Times = json.loads(self._line())
            return times

        return run

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait(timeout=30)


def local_timer(fn: Callable[[np.ndarray], object], digits: np.ndarray) -> Timer:
    def run(batch: int, calls: int) -> Times:
        x, wall, cpu = digits[:batch], [], []
        for _ in range(calls):
            start, start_cpu = time.perf_counter_ns(), time.thread_time_ns()
            fn(x)
            cpu.append((time.thread_time_ns() - start_cpu) / 1e3)
            wall.append((time.perf_counter_ns() - start) / 1e3)
        return {"wall": wall, "cpu": cpu}

    return run


def plain_predict(net: model.InferenceNetwork) -> Callable[[np.ndarray], np.ndarray]:
    """The inference path as it was before the compiler: the NCHW ops one by one."""

    def run(images: np.ndarray) -> np.ndarray:
        x = to_network_input(images, net.mean, net.std)
        for op in net.ops:
            x = op(x)
        return softmax(x * np.float32(1 / net.temperature))

    return run


def alternate(timers: dict[str, Timer], batch: int, blocks: int, calls: int) -> dict[str, list[Times]]:
    """``blocks`` rounds of ``calls`` calls per engine, engines in turn; a warm-up block first."""
    for t in timers.values():
        t(batch, max(5, calls // 4))
    times: dict[str, list[Times]] = {name: [] for name in timers}
    for _ in range(blocks):
        for name, t in timers.items():
            times[name].append(t(batch, calls))
    return times


def summarize(times: dict[str, list[Times]], batch: int, clock: str) -> dict[str, dict[str, float]]:
    """Per engine, on ``clock``: median microseconds per call and per digit, and its ratio to each other
    engine (the median over blocks of the blocks' median ratios)."""
    med = {name: [statistics.median(b[clock]) for b in blocks] for name, blocks in times.items()}
    out: dict[str, dict[str, float]] = {}
    for name, blocks in times.items():
        every = statistics.median(t for b in blocks for t in b[clock])
        row = {"us_per_call": every, "us_per_digit": every / batch}
        for other in times:
            if other != name:
                row[f"vs_{other}"] = statistics.median(a / b for a, b in zip(med[name], med[other], strict=True))
        out[name] = row
    return out


def step_table(net: model.InferenceNetwork, digits: np.ndarray, batch: int, calls: int) -> list[dict[str, Any]]:
    """Median CPU microseconds of each compiled step at ``batch`` (``Program.run_chunk``'s observer reads
    this thread's CPU clock after each step, or each pass of it; a neighbour's time slices are not
    counted). A step's passes are summed."""
    program = net.program
    assert program is not None, "the shipped network compiles"
    x = to_network_input(digits[:batch], net.mean, net.std)
    out = np.empty(program.steps[-1].out_shape(batch), np.float32)
    marks: list[tuple[int, int]] = []
    per: list[list[float]] = [[] for _ in program.steps]
    for _ in range(calls):
        marks.clear()
        start = time.thread_time_ns()
        program.run_chunk(x, out, lambda i: marks.append((i, time.thread_time_ns())))
        spent = [0.0] * len(program.steps)
        for (_, a), (i, b) in zip([(-1, start), *marks], marks, strict=False):
            spent[i] += (b - a) / 1e3
        for i, us in enumerate(spent):
            per[i].append(us)
    rows = []
    total = sum(statistics.median(p) for p in per)
    for step, p in zip(program.steps, per, strict=True):
        us = statistics.median(p)
        rows.append({"step": step.name, "us": us, "gflops": step.flops(batch) / us / 1e3, "share": us / total})
    return rows


def print_results(results: dict[str, Any]) -> None:
    for batch in BATCHES:
        summary = results["batches"][str(batch)]
        print(f"\nbatch {batch}: median µs per digit, wall-clock [CPU time]; ratios: median over blocks")
        for name, row in summary["wall"].items():
            cpu = summary["cpu"][name]
            ratios = ", ".join(f"{k[3:]} {v:.2f}x [{cpu[k]:.2f}x]" for k, v in row.items() if k.startswith("vs_"))
            print(f"  {name:12s} {row['us_per_digit']:8.1f} [{cpu['us_per_digit']:8.1f}] µs/digit   vs {ratios}")
        print(f"  per step of ours at batch {batch} (CPU time; GFLOP/s of the direct convolution's operations):")
        for r in results["steps"][str(batch)]:
            print(f"    {r['step']:40s} {r['us']:8.1f} µs  {r['gflops']:5.1f} GFLOP/s  {100 * r['share']:4.1f} %")
    targets = results.get("targets")
    if targets:
        verdict = {True: "met", False: "missed"}
        met = (f"{k} {v['value']:.2f}x (<= {v['target']}x: {verdict[v['met']]})" for k, v in targets.items())
        print("\ntargets, wall-clock: " + "; ".join(met))


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--blocks", type=int, default=9, help="alternating blocks per engine and batch size")
    p.add_argument("--calls", type=int, default=200, help="calls per block at batch 1 (batch 16: a tenth)")
    p.add_argument("--cpu", type=int, default=max(os.sched_getaffinity(0)), help="the CPU everything runs on")
    p.add_argument("--no-peers", action="store_true", help="skip onnxruntime and PyTorch")
    p.add_argument("--no-plain", action="store_true", help="skip the plain (pre-compiler) NumPy ops")
    p.add_argument("--venv-dir", type=Path, default=DEFAULT_CACHE / "venvs")
    p.add_argument("--out", type=Path, default=None, help="write the results as JSON")
    return p.parse_args()


def main() -> None:
    args = parse_args()
    os.sched_setaffinity(0, {args.cpu})
    model.keep_freed_memory()
    net = model.load()
    with np.load(payloads.SAMPLE) as f:
        digits = f["x"]
    timers: dict[str, Timer] = {"ours": local_timer(net.predict, digits)}
    worker = None
    results: dict[str, Any] = {"cpu": args.cpu, "blocks": args.blocks, "batches": {}, "steps": {}}
    if not args.no_peers:
        directory = DEFAULT_CACHE / "inference-export"
        check.dump_network(directory)
        np.savez(directory / "digits.npz", x=digits, p=net.predict(digits))
        worker = Worker(build.ensure_venv(args.venv_dir, PEERS), directory, args.cpu)
        results["checks"] = worker.checks
        checks = (f"{v['version']} max |p - ours| {v['max_abs_diff']:.1e}" for v in worker.checks.values())
        print("same network, 1,000 sample digits: " + "; ".join(checks))
        timers.update(onnxruntime=worker.timer("ort"), torch=worker.timer("torch"))
    if not args.no_plain:
        timers["numpy-plain"] = local_timer(plain_predict(net), digits)
    try:
        for batch in BATCHES:
            calls = args.calls if batch == 1 else max(5, args.calls // 10)
            times = alternate(timers, batch, args.blocks, calls)
            results["batches"][str(batch)] = {clock: summarize(times, batch, clock) for clock in CLOCKS}
            results["steps"][str(batch)] = step_table(net, digits, batch, calls * args.blocks)
    finally:
        if worker:
            worker.close()
    if worker:
        b1, b16 = (results["batches"][str(b)]["wall"]["ours"]["vs_onnxruntime"] for b in BATCHES)
        results["targets"] = {
            "batch 1 vs onnxruntime": {"value": b1, "target": 1.3, "met": b1 <= 1.3},
            "batch 16 per digit vs onnxruntime": {"value": b16, "target": 1.0, "met": b16 <= 1.0},
        }
    print_results(results)
    if args.out:
        args.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()

#!/usr/bin/env python
"""Service benchmark: POST /predict with a raw 28x28 PNG, wrk at 16 connections, one uvicorn worker
(asyncio + h11, no access log) on 127.0.0.1, against two yardsticks on the same stack:

- ``torch``: the same endpoint (our app, same preprocessing) with the ``small`` network run by PyTorch;
- ``decode``: an endpoint that only decodes the PNG and returns a constant (the stack's ceiling).

More targets split our cost: ``free``, our app with a network that costs nothing; ``inline-free``, the
same with preprocessing run on the event loop instead of the worker thread; ``preprocess``, the
decode-only endpoint plus the service's preprocessing. No network can beat ``free``, and no service with
this preprocessing can beat ``preprocess``: their ratios bound what any model could reach.

Also measures cold start (process start to first 200 from /predict), idle RSS and RSS after
``--requests`` requests. Needs wrk (``apt-get install wrk``) and, for the torch yardstick, the ``bench``
extra.

    python benchmarks/bench_service.py                  # all three, 15 s each
    python benchmarks/bench_service.py --only ours --duration 30s
    python benchmarks/bench_service.py --cpus 0         # each server pinned to CPU 0 (see benchmarks/README.md)
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
LUA = ROOT / "benchmarks" / "http" / "predict.lua"
TARGETS = {
    "ours": "app.main:app",
    "torch": "benchmarks.baseline_apps:torch_app",
    "decode": "benchmarks.baseline_apps:decode_only_app",
    "preprocess": "benchmarks.baseline_apps:preprocess_only_app",
    "free": "benchmarks.baseline_apps:free_network_app",
    "inline-free": "benchmarks.baseline_apps:inline_free_network_app",
}
DEFAULT_TARGETS = ("ours", "torch", "decode")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def post_png(url: str, body: bytes) -> int:
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "image/png"})
    with urllib.request.urlopen(req, timeout=5) as r:
        return int(r.status)


def start(target: str, port: int, body: bytes, cpus: str | None = None) -> tuple[subprocess.Popen[bytes], float]:
    """Start uvicorn (under ``taskset -c cpus`` if given); returns the process and seconds from spawn to
    the first 200 from /predict."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "uvicorn", target, "--host", "127.0.0.1", "--port", str(port),
           "--loop", "asyncio", "--http", "h11", "--no-access-log", "--log-level", "warning", "--workers", "1"]
    if cpus:
        cmd = ["taskset", "-c", cpus, *cmd]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env)
    url = f"http://127.0.0.1:{port}/predict"
    while True:
        try:
            if post_png(url, body) == 200:
                return proc, time.perf_counter() - t0
        except OSError:
            pass
        if proc.poll() is not None or time.perf_counter() - t0 > 60:
            raise RuntimeError(f"{target} did not start")
        time.sleep(0.01)


def wrk(url: str, png: Path, duration: str, connections: int = 16) -> dict[str, float]:
    env = {**os.environ, "PNG": str(png)}
    cmd = ["wrk", "-t", "2", "-c", str(connections), "-d", duration, "--latency", "-s", str(LUA), url]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    m = re.search(r"RESULT (.*)", out)
    if not m:
        raise RuntimeError(f"no RESULT line from wrk:\n{out}")
    return {k: float(v) for k, v in (kv.split("=") for kv in m.group(1).split())}


def measure(name: str, png: Path, body: bytes, duration: str, requests: int, cpus: str | None) -> dict[str, float]:
    port = free_port()
    proc, cold = start(TARGETS[name], port, body, cpus)
    try:
        time.sleep(0.5)
        idle = rss_mib(proc.pid)
        url = f"http://127.0.0.1:{port}/predict"
        wrk(url, png, "2s")  # warm-up
        result = wrk(url, png, duration)
        before = rss_mib(proc.pid)
        for _ in range(requests):
            post_png(url, body)
        after = rss_mib(proc.pid)
    finally:
        proc.terminate()
        proc.wait(10)
    result.update(cold_start_s=cold, idle_rss_mib=idle, rss_before_mib=before, rss_after_mib=after)
    print(f"{name:11s} {result['req_per_s']:8.0f} req/s  p50 {result['p50_ms']:6.2f} ms  p99 {result['p99_ms']:6.2f} ms"
          f"  errors {int(result['socket_errors'] + result['non_2xx'])}  cold start {cold:.2f} s"
          f"  idle RSS {idle:.0f} MiB  RSS {before:.0f} -> {after:.0f} MiB over {requests} more requests",
          flush=True)
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", choices=sorted(TARGETS), action="append")
    p.add_argument("--duration", default="15s")
    p.add_argument("--requests", type=int, default=10_000, help="sequential requests for the RSS check")
    p.add_argument("--cpus", help="pin each server to these CPUs with taskset, e.g. 0 (wrk stays unpinned)")
    args = p.parse_args()
    with np.load(ROOT / "tests" / "data" / "mnist_test_sample.npz") as f:
        digit = f["x"][0]
    with tempfile.TemporaryDirectory() as tmp:
        png = Path(tmp) / "digit.png"
        Image.fromarray(digit).save(png)
        body = png.read_bytes()
        names = args.only or DEFAULT_TARGETS
        results = {n: measure(n, png, body, args.duration, args.requests, args.cpus) for n in names}
    rate = {name: r["req_per_s"] for name, r in results.items()}
    for name in ("ours", "free", "preprocess"):  # the free network and the bare recipe bound any model's ratios
        if name in rate and {"torch", "decode"} <= rate.keys():
            print(f"{name} / torch small: {rate[name] / rate['torch']:.2f}x (target >= 1.5x); "
                  f"{name} / decode-only: {rate[name] / rate['decode']:.2f}x (target >= 0.8x)")


if __name__ == "__main__":
    main()

#!/usr/bin/env python
"""What ``POST /explain`` costs next to ``POST /predict``, by the server's own time (``Server-Timing``).

    python benchmarks/bench_explain.py                  # 200 of each, alternating, one uvicorn
    taskset -c 0 python benchmarks/bench_explain.py --server-cpu 1   # client and server on cores of their own

One 280x280 transparent PNG (the draw-pad's canvas: a sample digit traced with an 18 px round pen) is
sent to both endpoints over one keep-alive connection, alternately, so that a busy machine slows both
alike. Prints the median and 90th percentile of each endpoint's ``Server-Timing`` and the ratio of the
medians (the issue's bound: at most 4), and the explainer's own time in process beside the network's.
"""

from __future__ import annotations

import argparse
import http.client
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.settings import configure_blas_threads  # noqa: E402

configure_blas_threads()  # as the service: before NumPy does any work

from model import keep_freed_memory, load  # noqa: E402
from model.generators import canvas as cv  # noqa: E402
from model.generators.pen import pen_redraw  # noqa: E402
from model.recipe import preprocess  # noqa: E402

SAMPLE = ROOT / "tests" / "data" / "mnist_test_sample.npz"
PATHS = ("/predict", "/explain")


def canvas(index: int = 0) -> bytes:
    """Sample digit ``index`` traced on a 280x280 transparent canvas, as PNG bytes."""
    with np.load(SAMPLE) as f:
        digit = f["x"][index]
    ink = pen_redraw(digit, (280, 280), (30.0, 20.0, 230.0), 18.0)
    return cv.encode(cv.compose(ink, cv.STYLES[2]), "PNG")


def summary(ms: list[float]) -> str:
    ordered = sorted(ms)
    return f"median {statistics.median(ordered):.2f} ms, p90 {ordered[int(0.9 * (len(ordered) - 1))]:.2f} ms"


def wait_ready(port: int, timeout: float = 60.0) -> http.client.HTTPConnection:
    deadline = time.time() + timeout
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("GET", "/ready")
            answer = conn.getresponse()
            answer.read()
            if answer.status == 200:
                return conn
        except OSError:
            pass
        if time.time() > deadline:
            raise RuntimeError(f"the server did not become ready in {timeout:.0f} s")
        time.sleep(0.2)


def server_times(data: bytes, runs: int, port: int, server_cpu: int | None) -> dict[str, list[float]]:
    """Each path's ``Server-Timing`` durations in ms over ``runs`` alternating requests (after 10 each
    to warm up)."""
    pin = ["taskset", "-c", str(server_cpu)] if server_cpu is not None else []
    server = subprocess.Popen(
        [*pin, sys.executable, "-c", "from app.cli import main; main()", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
    )
    try:
        conn = wait_ready(port)
        times: dict[str, list[float]] = {path: [] for path in PATHS}
        for i in range(runs + 10):
            for path in PATHS:
                conn.request("POST", path, body=data, headers={"Content-Type": "image/png"})
                answer = conn.getresponse()
                answer.read()
                if answer.status != 200:
                    raise RuntimeError(f"{path} answered {answer.status}")
                if i >= 10:
                    times[path].append(float(answer.getheader("server-timing", "app;dur=nan").split("dur=")[1]))
        return times
    finally:
        server.terminate()
        server.wait(10)


def in_process(data: bytes, runs: int) -> dict[str, list[float]]:
    """The network's reading and the explainer's work on the preprocessed digit, in ms (freed memory kept
    for reuse, as the service keeps it)."""
    keep_freed_memory()
    net = load()
    digit = preprocess(data)[None]
    work = {"classify": lambda: net.classify(digit), "explain": lambda: net.explain(digit)}
    times: dict[str, list[float]] = {name: [] for name in work}
    for i in range(runs + 10):
        for name, fn in work.items():
            t = time.perf_counter()
            fn()
            if i >= 10:
                times[name].append((time.perf_counter() - t) * 1000)
    return times


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=200)
    p.add_argument("--port", type=int, default=8767)
    p.add_argument("--server-cpu", type=int, help="pin the server to this core (taskset)")
    args = p.parse_args(argv)
    data = canvas()
    local = in_process(data, args.runs)
    print(f"in process: classify {summary(local['classify'])}; explain {summary(local['explain'])}")
    times = server_times(data, args.runs, args.port, args.server_cpu)
    for path in PATHS:
        print(f"POST {path:9s} Server-Timing {summary(times[path])} ({args.runs} runs, 280x280 PNG canvas)")
    ratio = statistics.median(times["/explain"]) / statistics.median(times["/predict"])
    print(f"ratio of the medians /explain / /predict: {ratio:.2f} (bound: 4)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

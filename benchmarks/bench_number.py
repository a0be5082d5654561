#!/usr/bin/env python
"""How long ``POST /predict/number`` takes on a 4-digit 800x300 canvas, as the draw-pad sends it.

    python benchmarks/bench_number.py                  # in process: decode + segmentation + network
    python benchmarks/bench_number.py --http           # also through a real uvicorn on 127.0.0.1
    python benchmarks/bench_number.py --step 110       # the four digits touching: cut into slices
    python benchmarks/bench_number.py --style black-on-white --format JPEG   # an opaque canvas

The canvas is a transparent PNG (by default) with four MNIST test digits (from the sample under
tests/data) traced with a round pen, the way the draw-pad exports strokes. Prints the median and 90th percentile of
``read_number`` (the server's work for the request) and, with ``--http``, of whole requests over one
keep-alive connection and of the server's own time for them (its ``Server-Timing`` header). Pin it
for steadier numbers on a busy machine, the client and the server on cores of their own:
``taskset -c 0 python benchmarks/bench_number.py --http --server-cpu 1`` (the in-process figure then
comes from core 0).
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
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from model import load  # noqa: E402
from model.generators import canvas as cv  # noqa: E402
from model.generators.pen import pen_redraw  # noqa: E402
from model.recipe.number_reader import read_number
from model.steps import run  # noqa: E402

SAMPLE = Path(__file__).resolve().parents[1] / "tests" / "data" / "mnist_test_sample.npz"


def four_digit_canvas(
    start: int = 0, step: int = 180, style: str = "black-on-transparent", fmt: str = "PNG"
) -> tuple[bytes, str]:
    """An 800x300 canvas (``style``: one of ``model.generators.canvas.STYLES``, in ``fmt``) with four sample
    digits traced by a 14 px round pen, their 240 px fields ``step`` px apart (180: spaced; 110:
    touching, cut into slices), and their labels."""
    with np.load(SAMPLE) as f:
        x, y = f["x"][start : start + 4], f["y"][start : start + 4]
    ink = np.zeros((300, 800), np.uint8)
    for i, digit in enumerate(x):
        part = pen_redraw(digit, (800, 300), (40 + i * step, 30, 240), width=14)
        ink = np.maximum(ink, np.asarray(part))
    chosen = next(s for s in cv.STYLES if s.name == style)
    return cv.encode(cv.compose(Image.fromarray(ink), chosen), fmt), "".join(map(str, y))


def percentiles(samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    return f"median {statistics.median(ms):.2f} ms, p90 {ms[int(0.9 * (len(ms) - 1))]:.2f} ms ({len(ms)} runs)"


def in_process(data: bytes, runs: int) -> list[float]:
    net = load()
    for _ in range(5):
        run(read_number(data, net.reject_threshold), net.predict)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        run(read_number(data, net.reject_threshold), net.predict)
        times.append(time.perf_counter() - t)
    return times


def over_http(
    data: bytes, runs: int, port: int = 8765, server_cpu: int | None = None
) -> tuple[list[float], list[float]]:
    """Whole requests over one keep-alive connection: the client's times and the server's own (its
    ``Server-Timing`` header), in seconds. ``server_cpu``: pin the server to that core (``taskset``)."""
    pin = ["taskset", "-c", str(server_cpu)] if server_cpu is not None else []
    server = subprocess.Popen(
        [*pin, sys.executable, "-c", "from app.cli import main; main()", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=Path(__file__).resolve().parents[1],
    )
    try:
        deadline = time.time() + 30
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                conn.request("GET", "/ready")
                ready = conn.getresponse()
                ready.read()
                if ready.status == 200:
                    break
            except OSError:
                pass
            if time.time() > deadline:
                raise RuntimeError("the server did not become ready in 30 s")
            time.sleep(0.2)
        headers = {"Content-Type": "image/png"}
        times, server_times = [], []
        for i in range(runs + 5):
            t = time.perf_counter()
            conn.request("POST", "/predict/number", body=data, headers=headers)
            answer = conn.getresponse()
            answer.read()
            if i >= 5:
                times.append(time.perf_counter() - t)
                server_times.append(float(answer.getheader("server-timing", "app;dur=nan").split("dur=")[1]) / 1000)
        return times, server_times
    finally:
        server.terminate()
        server.wait(10)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=200)
    p.add_argument("--http", action="store_true", help="also time whole requests to a real uvicorn")
    p.add_argument("--step", type=int, default=180, help="px between digits (110: touching)")
    p.add_argument("--start", type=int, default=0, help="first of the four sample digits")
    p.add_argument("--style", default="black-on-transparent", choices=[s.name for s in cv.STYLES])
    p.add_argument("--format", default="PNG", choices=["PNG", "JPEG", "WEBP"])
    p.add_argument("--server-cpu", type=int, help="with --http: pin the server to this core (taskset)")
    args = p.parse_args(argv)
    data, number = four_digit_canvas(args.start, args.step, args.style, args.format)
    net = load()
    got = run(read_number(data, net.reject_threshold), net.predict).number
    print(f"canvas: 800x300 {args.style} {args.format}, {len(data):,} bytes, digits {number}, read as {got}")
    print(f"read_number (server work):   {percentiles(in_process(data, args.runs))}")
    if args.http:
        client, server = over_http(data, args.runs, server_cpu=args.server_cpu)
        print(f"POST /predict/number (HTTP): {percentiles(client)}")
        print(f"  its Server-Timing:          {percentiles(server)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

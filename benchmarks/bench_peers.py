#!/usr/bin/env python
"""Peer benchmark (issue 12, "Performance: the new targets"): this service against the stacks people
would pick instead, all serving the same shipped network with the same preprocessing.

    .venv/bin/python benchmarks/bench_peers.py --quick       # smoke test: 1 round, short runs (~6 min once built)
    .venv/bin/python benchmarks/bench_peers.py               # 7 rounds of 5 s runs (~20 min once built)
    .venv/bin/python benchmarks/bench_peers.py --only ours,fastapi-ort,decode-only --out peers.json

The servers (``benchmarks/peers/``), each in its own virtual environment that this script builds with
``python3 -m venv`` + pip under ``--venv-dir`` (default ``~/.cache/numpy-digits-bench/venvs/<peer>``,
reused while its requirement list is unchanged; the first build takes a few minutes):

- ``ours``: the service as the README starts it, ``digits-serve --port P`` (the ``digits-serve`` beside
  this Python, default settings), with this repository first on ``PYTHONPATH``;
- ``fastapi-ort``: FastAPI + onnxruntime, inference inline in the endpoint, uvicorn with uvloop + httptools;
- ``fastapi-torch``: the same with PyTorch 2.13.0 (one thread, ``inference_mode``);
- ``litserve``: LitServe with its defaults (one inference worker, no batching), PyTorch;
- ``bentoml``: BentoML with adaptive batching (``@bentoml.api(batchable=True)``), one worker, PyTorch;
- ``ours-free``: this service with its network swapped for one that costs nothing
  (``benchmarks.baseline_apps:free_network_app``): no network, however fast, takes the service past it;
- ``decode-only``: the ceiling: FastAPI on uvloop + httptools that only decodes the upload with Pillow.

The same network everywhere: ``model.load().ops`` are written to ``network.json`` / ``network.npz`` in
the cache, rebuilt in PyTorch and exported to ONNX there (``benchmarks/peers/export.py``), and every
engine is checked against ``model.load().predict`` on the 1,000 MNIST test digits of the sample and on
64 preprocessed canvases, in one batch and one digit at a time; the largest probability difference is
printed. An engine passes within 5e-7, or else (unless ``--strict-export``) when the difference is
float32 rounding: when the engine is within max(5e-7, twice NumPy's own error) of the exact result,
the same ops evaluated in float64. Any other difference, or any closest digit or ``is_digit`` that
differs, stops the script. (Every float32 engine, NumPy's included, is some 4-7e-7 from the exact
result on a few undecided digits, so two of them can differ by ~1e-6 there.) The same
preprocessing everywhere: ``model.recipe.preprocess``, imported from this repository. Before
measuring, every peer's answer to both payloads is compared with ours.

The same request everywhere: ``POST /predict``, multipart/form-data, one field ``file``
(``benchmarks/http/multipart.lua``), with two payloads: a 28x28 PNG of MNIST test digit #0 (white on
black, as ``bench_http.sh`` sends) and a 280x280 transparent canvas like the draw-pad's (anti-aliased
dark round-pen strokes 0.07 of the canvas height wide, as ``app/static/app.js`` paints them, tracing
test digit #1 off-centre; seeded, so the same bytes every run; both written to the cache).

What it measures, with every server up at once, each server's process tree pinned to CPU 0
(``taskset -c 0``) and the load generator to CPU 1 (``taskset -c 1 wrk -t1``):

- per round (``--rounds``, servers in a new random order each round): for each server and payload a
  warm-up (``--warmup`` s at 16 connections), then requests/s at 1 connection and at 16 (``--duration``
  s each), p99 at 16, and the server's CPU time per request at 16; ratios against ours are taken within
  each round and reported as the median over rounds (min-max beside it);
- cold start: spawn to the first 200 from ``/predict``, median of ``--cold-starts`` starts;
- idle RSS (summed over the process tree; PSS beside it for servers of several processes) after start
  and a few requests; RSS before and after ``--rss-requests`` more requests (28x28 PNGs at 16
  connections) at the end: flat or not;
- open loop (``--open-loop``, default ours and fastapi-ort): a fixed ``--open-loop-rate`` of 28x28 PNGs for
  ``--open-loop-seconds`` after a 1 s warm-up, from a Python generator on CPU 1 over keep-alive
  connections (Debian has no wrk2), latency counted from each request's scheduled send time (no
  coordinated omission); p50, p99, max, errors, and the generator's own send lag.

It prints one markdown table per payload, the ceiling ratios and the issue's targets marked met or
missed, and writes everything as JSON with ``--out``. The machine is shared and noisy: compare
servers within one run, not across runs. Needs wrk (Debian: ``apt-get install wrk``), taskset,
``python3`` with venv, and two CPUs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import http.client
import importlib.metadata
import json
import math
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
LUA = ROOT / "benchmarks" / "http" / "multipart.lua"
SAMPLE = ROOT / "tests" / "data" / "mnist_test_sample.npz"
DEFAULT_CACHE = Path.home() / ".cache" / "numpy-digits-bench"
TORCH = "torch==2.13.0"  # a CPU wheel pip finds on this machine; any other spec may fetch the CUDA build
TOLERANCE = 5e-7  # the bound on |probability - model.load().predict| of an exported engine
EXPORT_RULE = (
    "every closest digit and is_digit equal, and max |p - model.load().predict| <= 5e-7, or (unless "
    "--strict-export) the engine within max(5e-7, 2x NumPy's own error) of the exact float64 result"
)
ANSWER_TOLERANCE = 2e-6  # answers are rounded to 6 decimals, so two engines within 5e-7 may differ by 1e-6
FLAT_MIB = 4.0  # RSS growth over --rss-requests that still counts as flat
PEN_WIDTH = 0.07  # app/static/app.js LINE_WIDTH: the draw-pad's stroke width, a fraction of the canvas height
DRAW_PAD_INK = (17, 17, 17)  # app/static/app.js INK = "#111111", on a transparent canvas
PAYLOADS = ("28x28", "canvas")
BOUNDARY = "----benchpeers7MA4YWxkTrZu0gW"
MIB = 1024 * 1024


@dataclass(frozen=True)
class Server:
    name: str
    label: str  # the table's first column
    engine: str  # what runs the network, and how requests are batched
    requirements: tuple[str, ...]  # pip requirements of its own environment; () = the project's environment
    command: Callable[[Path, int], list[str]]  # (environment, port) -> the command line, cwd = ROOT


def _uvicorn(target: str) -> Callable[[Path, int], list[str]]:
    def command(venv: Path, port: int) -> list[str]:
        return [
            str(venv / "bin" / "uvicorn"),
            target,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--no-access-log",
            "--log-level",
            "warning",
        ]

    return command


def _digits_serve(venv: Path, port: int) -> list[str]:
    exe = Path(sys.executable).parent / "digits-serve"
    found = str(exe) if exe.exists() else shutil.which("digits-serve")
    if not found:
        raise SystemExit("digits-serve not found beside this Python nor on PATH: pip install -e . first")
    return [found, "--port", str(port)]


def _pinned_versions() -> tuple[str, ...]:
    """NumPy and Pillow at the project environment's versions, so the preprocessing is the same code."""
    return tuple(f"{p}=={importlib.metadata.version(p)}" for p in ("numpy", "pillow"))


WEB = ("fastapi", "uvicorn[standard]", "python-multipart")
SERVERS: dict[str, Server] = {
    s.name: s
    for s in (
        Server("ours", "this service (digits-serve, README defaults)", "NumPy (the service's own)", (), _digits_serve),
        Server(
            "fastapi-ort",
            "FastAPI + onnxruntime, inline, uvloop + httptools",
            "onnxruntime, 1 thread, batch 1",
            (*WEB, "onnxruntime", *_pinned_versions()),
            _uvicorn("benchmarks.peers.fastapi_ort:app"),
        ),
        Server(
            "fastapi-torch",
            "FastAPI + PyTorch, inline, uvloop + httptools",
            "PyTorch 2.13.0, 1 thread, inference_mode, batch 1",
            (*WEB, TORCH, "onnx", *_pinned_versions()),
            _uvicorn("benchmarks.peers.fastapi_torch:app"),
        ),
        Server(
            "litserve",
            "LitServe (defaults: 1 worker, no batching), PyTorch",
            "PyTorch 2.13.0, 1 thread; LitServe default max_batch_size=1",
            ("litserve", TORCH, "python-multipart", *_pinned_versions()),
            lambda venv, port: [str(venv / "bin" / "python"), "-m", "benchmarks.peers.litserve_app", str(port)],
        ),
        Server(
            "bentoml",
            "BentoML, adaptive batching, 1 worker, PyTorch",
            "PyTorch 2.13.0, 1 thread; batchable=True (max_batch_size=100, max_latency_ms=60000)",
            ("bentoml", TORCH, *_pinned_versions()),
            lambda venv, port: [
                str(venv / "bin" / "bentoml"),
                "serve",
                "benchmarks.peers.bentoml_service:Digits",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--working-dir",
                str(ROOT),
            ],
        ),
        Server(
            "ours-free",
            "this service with a network that costs nothing (its stack's bound)",
            "none: every digit is a 3 (benchmarks.baseline_apps.FreeNetwork)",
            (),
            lambda venv, port: [
                str(venv / "bin" / "python"),
                "-m",
                "uvicorn",
                "benchmarks.baseline_apps:free_network_app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--http",
                "app.nodelay:GuardedProtocol",
                "--no-access-log",
                "--log-level",
                "warning",
            ],
        ),
        Server(
            "decode-only",
            "decode-only endpoint (the ceiling), uvloop + httptools",
            "none: Pillow decode only",
            (*WEB, _pinned_versions()[1]),
            _uvicorn("benchmarks.peers.decode_only:app"),
        ),
    )
}
PEERS = ("fastapi-ort", "fastapi-torch", "litserve", "bentoml")  # the targets' "every peer"
TORCH_SERVERS = ("fastapi-torch", "litserve", "bentoml")


# ---- environments -------------------------------------------------------------------------------


def ensure_venv(root: Path, server: Server) -> Path:
    """The server's environment: built once, rebuilt when its requirement list changes."""
    if not server.requirements:
        return Path(sys.executable).parent.parent
    venv = root / server.name
    marker = venv / ".bench-requirements"
    python = subprocess.run(["python3", "--version"], capture_output=True, text=True, check=True).stdout.strip()
    wanted = "\n".join([python, *server.requirements]) + "\n"
    if marker.exists() and marker.read_text() == wanted:
        return venv
    print(f"building {venv} ({', '.join(server.requirements)}); a few minutes the first time", flush=True)
    shutil.rmtree(venv, ignore_errors=True)
    venv.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["python3", "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    log = venv / "pip.log"
    with log.open("w") as out:
        done = subprocess.run([*pip, *server.requirements], stdout=out, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        raise SystemExit(f"pip install for {server.name} failed; see {log}")
    freeze = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "freeze"], capture_output=True, text=True)
    (venv / ".bench-freeze").write_text(freeze.stdout)
    marker.write_text(wanted)
    return venv


def key_versions(venv: Path) -> dict[str, str]:
    """Versions of the packages that matter, from the environment's ``pip freeze`` (or this Python's)."""
    names = (
        "fastapi",
        "starlette",
        "uvicorn",
        "uvloop",
        "httptools",
        "onnxruntime",
        "torch",
        "litserve",
        "bentoml",
        "numpy",
        "pillow",
    )
    freeze = venv / ".bench-freeze"
    if freeze.exists():
        pins = dict(line.split("==", 1) for line in freeze.read_text().splitlines() if "==" in line)
        return {n: pins[n] for n in names if n in pins}
    out = {}
    for n in names:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            out[n] = importlib.metadata.version(n)
    return out


# ---- the network, exported and checked ----------------------------------------------------------


def dump_network(directory: Path) -> dict[str, Any]:
    """``model.load()``'s compiled ops -> ``network.json`` + ``network.npz``; returns the spec."""
    import model
    from model.layers.activation import ReLUOp
    from model.layers.conv import ConvOp
    from model.layers.flatten import FlattenOp
    from model.layers.linear import LinearOp
    from model.layers.pooling import MaxPoolOp

    net = model.load()
    ops: list[dict[str, Any]] = []
    arrays: dict[str, Any] = {}  # (Any: numpy's savez stub types **kwds as its allow_pickle flag)
    for i, op in enumerate(net.ops):
        if isinstance(op, ConvOp):
            arrays[f"w{i}"], arrays[f"b{i}"] = op.weight, op.bias
            ops.append({"type": "conv", "weight": f"w{i}", "bias": f"b{i}", "stride": op.stride, "padding": op.padding})
        elif isinstance(op, LinearOp):
            arrays[f"w{i}"], arrays[f"b{i}"] = op.weight, op.bias
            ops.append({"type": "linear", "weight": f"w{i}", "bias": f"b{i}"})
        elif isinstance(op, MaxPoolOp):
            ops.append({"type": "maxpool", "kernel_size": op.kernel_size, "stride": op.stride})
        elif isinstance(op, ReLUOp):
            ops.append({"type": "relu"})
        elif isinstance(op, FlattenOp):
            ops.append({"type": "flatten"})
        else:
            raise SystemExit(f"bench_peers cannot export {type(op).__name__} yet: teach dump_network and torch_net")
    spec = {
        "ops": ops,
        "temperature": net.temperature,
        "reject_threshold": net.reject_threshold,
        "mean": net.mean,
        "std": net.std,
        "labels": net.metadata.get("labels"),
        "weights_sha256": net.metadata.get("sha256"),
    }
    directory.mkdir(parents=True, exist_ok=True)
    np.savez(directory / "network.npz", **arrays)
    (directory / "network.json").write_text(json.dumps(spec, indent=1))
    return spec


def reference_canvases(digits: np.ndarray, n: int, seed: int = 12) -> list[bytes]:
    """``n`` canvases of the sample digits as people send them: pen strokes or enlarged pixels, on a
    transparent or white canvas of 128-512 px, off-centre; PNG bytes."""
    from model.generators import canvas as cv
    from model.generators.pen import pen_redraw
    from model.normalize import DIGIT_BOX, INPUT_SIZE

    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        side = int(rng.integers(128, 513))
        size = (side, side)
        box = cv.random_box(rng, size, (0.35, 0.85))
        digit = digits[i % len(digits)]
        if i % 2:
            ink = pen_redraw(digit, size, box, rng.uniform(0.06, 0.16) * box[2] * DIGIT_BOX / INPUT_SIZE)
        else:
            ink = cv.paste_pixels(size, digit, box)
        style = cv.STYLES[2] if i % 3 else cv.STYLES[0]  # black on transparent, or black on white
        out.append(cv.encode(cv.compose(ink, style), "PNG"))
    return out


def exact_probabilities(digits: np.ndarray) -> np.ndarray:
    """The shipped network's ops evaluated in float64 (same float32 weights): the exact result that
    every float32 engine, NumPy's included, approximates."""
    import model
    from model.layers.loss import softmax
    from model.normalize import to_network_input

    net = model.load()
    x = to_network_input(digits, net.mean, net.std).astype(np.float64)
    for op in net.ops:
        x = op(x)
    return softmax(x * float(np.float32(1 / net.temperature)))


def export_and_check(cache: Path, venvs: dict[str, Path], ort: bool, strict: bool) -> dict[str, Any]:
    """Export the network from our weights, check PyTorch (in every torch environment) and onnxruntime
    against ``model.load().predict``; stop unless every engine passes (see EXPORT_RULE)."""
    import model
    from model.recipe import preprocess

    directory = cache / "export"
    spec = dump_network(directory)
    with np.load(SAMPLE) as f:
        mnist = f["x"]
    canvases = np.stack([preprocess(data) for data in reference_canvases(mnist[500:], 64)])
    digits = np.concatenate([mnist, canvases])
    net = model.load()
    probabilities = net.predict(digits)
    _, is_digit = net.classify(digits)
    exact = exact_probabilities(digits)
    floor = float(np.abs(probabilities - exact).max())  # NumPy's own float32 rounding on this set
    bound = max(TOLERANCE, 2 * floor)
    kind = np.r_[np.zeros(len(mnist), np.int8), np.ones(len(canvases), np.int8)]
    np.savez(
        directory / "reference.npz",
        digits=digits,
        probabilities=probabilities,
        exact=exact,
        is_digit=is_digit,
        kind=kind,
    )
    print(
        f"export: {len(digits)} reference images ({len(mnist)} MNIST test digits, {len(canvases)} preprocessed "
        f"canvases); model.load().predict is {floor:.2e} from the exact (float64) result",
        flush=True,
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "BENCH_EXPORT_DIR": str(directory)}
    env.pop("PYTHONHOME", None)
    checks: dict[str, Any] = {}
    order = [n for n in TORCH_SERVERS if n in venvs]
    order.sort(key=lambda n: n != "fastapi-torch")  # fastapi-torch's environment writes network.onnx
    jobs = [(f"torch ({n})", venvs[n], ["torch", "--write-onnx"] if n == "fastapi-torch" else ["torch"]) for n in order]
    if ort:
        jobs.append(("onnxruntime (fastapi-ort)", venvs["fastapi-ort"], ["onnx"]))
    for name, venv, engine in jobs:
        cmd = [str(venv / "bin" / "python"), "-m", "benchmarks.peers.export", engine[0], str(directory), *engine[1:]]
        done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"export check {name} failed:\n{done.stderr[-4000:]}")
        report = json.loads(done.stdout.strip().splitlines()[-1])
        within = report["max_abs_diff"] <= TOLERANCE
        rounding = report["max_abs_diff_from_exact"] <= bound
        agree = report["is_digit_equal"] and report["argmax_equal"]
        ok = agree and (within or (rounding and not strict))
        report.update(within_tolerance=within, within_float32_rounding=rounding, passed=ok)
        checks[name] = report
        verdict = (
            "ok: within 5e-7"
            if within and agree
            else f"ok: {report['images_over_tolerance']} image(s) over 5e-7 (worst: top probabilities "
            f"{report['worst_image_top_probabilities']}), float32 rounding: {report['max_abs_diff_from_exact']:.2e} "
            f"from the exact result (bound {bound:.2e})"
            if ok
            else "FAILED"
        )
        print(
            f"export check {name}: max |p - model.load().predict| = {report['max_abs_diff']:.2e} "
            f"(MNIST {report['mnist_max_abs_diff_batch']:.2e} batch / {report['mnist_max_abs_diff_single']:.2e} "
            f"one at a time; canvases {report['canvas_max_abs_diff_batch']:.2e} / "
            f"{report['canvas_max_abs_diff_single']:.2e}); {verdict}",
            flush=True,
        )
        if not ok:
            raise SystemExit(
                f"{name}: the exported network does not match model.load().predict ({EXPORT_RULE}): {report}"
            )
    return {
        "directory": str(directory),
        "weights_sha256": spec["weights_sha256"],
        "numpy_max_abs_diff_from_exact": floor,
        "rule": EXPORT_RULE,
        "tolerance": TOLERANCE,
        "float32_bound": bound,
        "strict": strict,
        "checks": checks,
    }


# ---- payloads -----------------------------------------------------------------------------------


def make_payloads(directory: Path) -> dict[str, Path]:
    """The 28x28 PNG and the draw-pad canvas PNG, deterministic, written to ``directory``.

    The canvas is drawn the way the draw-pad's ``paint()`` does: dark ink, round pen 0.07 of the canvas
    height wide, anti-aliased (drawn 4x larger, then area-averaged), on a transparent canvas whose empty
    pixels are (0, 0, 0, 0) as a browser's ``canvas.toDataURL('image/png')`` leaves them.
    """
    from model.generators import canvas as cv
    from model.generators.pen import pen_redraw

    directory.mkdir(parents=True, exist_ok=True)
    with np.load(SAMPLE) as f:
        x = f["x"]
    small = directory / "digit-28x28.png"
    Image.fromarray(x[0], mode="L").save(small)  # test digit #0 (a 7), as bench_http.sh sends it
    side, up = 280, 4
    rng = np.random.default_rng(2026)
    box = cv.random_box(rng, (side, side), (0.45, 0.6))  # the digit's ink 45-60 % of the height, off-centre
    big = pen_redraw(x[1], (side * up, side * up), (box[0] * up, box[1] * up, box[2] * up), PEN_WIDTH * side * up)
    alpha = np.asarray(big.resize((side, side), Image.Resampling.BOX))  # test digit #1 (a 2), anti-aliased
    rgba = np.zeros((side, side, 4), np.uint8)
    rgba[alpha > 0, :3] = DRAW_PAD_INK
    rgba[..., 3] = alpha
    canvas = directory / "canvas-280x280.png"
    canvas.write_bytes(cv.encode(Image.fromarray(rgba, "RGBA"), "PNG"))
    return {"28x28": small, "canvas": canvas}


def multipart(data: bytes) -> bytes:
    """The body ``multipart.lua`` sends (same boundary and headers)."""
    return (
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="digit.png"\r\n'
            "Content-Type: image/png\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )


def post(port: int, body: bytes, timeout: float = 10.0) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("POST", "/predict", body, {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"})
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


# ---- processes ----------------------------------------------------------------------------------


def tree(pid: int) -> list[int]:
    """``pid`` and all its descendants."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def memory_mib(pid: int) -> dict[str, float]:
    """RSS and PSS summed over the process tree, MiB (PSS shares forked pages among the processes)."""
    rss = pss = 0
    for p in tree(pid):
        with contextlib.suppress(OSError, ValueError):
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith("Rss:"):
                    rss += int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1])
    return {"rss": rss / 1024, "pss": pss / 1024}


def cpu_seconds(pid: int) -> float:
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for p in tree(pid):
        with contextlib.suppress(OSError):
            stat = Path(f"/proc/{p}/stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / tick


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Running:
    server: Server
    venv: Path
    port: int
    proc: subprocess.Popen[bytes]
    log: Path
    cold_starts: list[float] = field(default_factory=list)


def server_env(server: Server, export: Path) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "BENCH_EXPORT_DIR": str(export)}
    for variable in ("PYTHONHOME", "VIRTUAL_ENV"):
        env.pop(variable, None)
    if server.name != "ours":  # ours keeps its own defaults (DIGITS_THREADS=1 sets these itself)
        env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return env


def start(server: Server, venv: Path, cpu: str, export: Path, logs: Path, ready_body: bytes) -> Running:
    """Spawn the server pinned to ``cpu``; return once ``/predict`` has answered 200, timing the cold start."""
    port = free_port()
    cmd = ["taskset", "-c", cpu, *server.command(venv, port)]
    log = logs / f"{server.name}.log"
    logs.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env=server_env(server, export), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    running = Running(server, venv, port, proc, log)
    while True:
        with contextlib.suppress(OSError, http.client.HTTPException):
            if post(port, ready_body, timeout=30)[0] == 200:
                running.cold_starts.append(time.perf_counter() - t0)
                return running
        if proc.poll() is not None or time.perf_counter() - t0 > 180:
            stop(running)
            tail = log.read_text(errors="replace")[-3000:]
            raise SystemExit(f"{server.name} did not answer 200 on /predict (exit {proc.returncode}); {log}:\n{tail}")
        time.sleep(0.01)


def stop(running: Running) -> None:
    """End the server's whole process group (it was started in a session of its own)."""
    for sig, wait in ((signal.SIGTERM, 15.0), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(running.proc.pid, sig)
        try:
            running.proc.wait(wait)
            break
        except subprocess.TimeoutExpired:
            continue
    with contextlib.suppress(ProcessLookupError):  # forked workers that outlived their parent
        os.killpg(running.proc.pid, signal.SIGKILL)


# ---- load ---------------------------------------------------------------------------------------


def wrk(port: int, payload: Path, connections: int, seconds: int, cpu: str) -> dict[str, float]:
    env = {**os.environ, "PNG": str(payload)}
    cmd = [
        "taskset",
        "-c",
        cpu,
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{seconds}s",
        "--latency",
        "-s",
        str(LUA),
        f"http://127.0.0.1:{port}/predict",
    ]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    m = re.search(r"RESULT (.*)", out)
    if not m:
        raise RuntimeError(f"no RESULT line from wrk:\n{out}")
    return {k: float(v) for k, v in (kv.split("=") for kv in m.group(1).split())}


def measure(running: Running, payload: Path, connections: int, seconds: int, cpu: str) -> dict[str, float]:
    c0 = cpu_seconds(running.proc.pid)
    result = wrk(running.port, payload, connections, seconds, cpu)
    used = cpu_seconds(running.proc.pid) - c0
    result["cpu_ms_per_request"] = 1000 * used / result["requests"] if result["requests"] else float("nan")
    result["errors"] = result["socket_errors"] + result["non_2xx"]
    return result


async def _open_loop(port: int, request: bytes, rate: float, seconds: float, warmup: float) -> dict[str, Any]:
    clock = time.perf_counter  # not loop.time(): uvloop's clock ticks in whole milliseconds
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    latencies: list[float] = []
    lags: list[float] = []
    errors: Counter[str] = Counter()
    opened = 0

    async def connect() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        nonlocal opened
        opened += 1
        return await asyncio.open_connection("127.0.0.1", port)

    async def one(scheduled: float, counted: bool) -> None:
        conn = None
        try:
            conn = idle.pop() if idle else await connect()
            reader, writer = conn
            if counted:
                lags.append(clock() - scheduled)
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            m = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
            if not m:
                raise ValueError("no Content-Length")
            await reader.readexactly(int(m.group(1)))
            elapsed = clock() - scheduled
            if status != 200:
                errors[f"HTTP {status}"] += counted
            elif counted:
                latencies.append(elapsed)
            if re.search(rb"(?i)\r\nconnection:\s*close", head):
                writer.close()
            else:
                idle.append(conn)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
            errors[type(exc).__name__] += counted
            if conn is not None:
                conn[1].close()

    for _ in range(8):
        idle.append(await connect())
    n_warm, n = int(rate * warmup), int(rate * (warmup + seconds))
    start = clock() + 0.05
    tasks = []
    for i in range(n):
        scheduled = start + i / rate
        delay = scheduled - clock()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(scheduled, i >= n_warm)))
    _, pending = await asyncio.wait(tasks, timeout=30)
    for task in pending:
        task.cancel()
    if pending:
        errors["no answer within 30 s"] += len(pending)
    for _, writer in idle:
        writer.close()
    lat = np.array(latencies) * 1000
    lag = np.array(lags) * 1000
    pct = lambda a, q: float(np.percentile(a, q)) if len(a) else float("nan")
    return {
        "rate": rate,
        "seconds": seconds,
        "sent": n - n_warm,
        "answered": len(latencies),
        "errors": dict(errors),
        "error_count": int(sum(errors.values())),
        "connections_opened": opened,
        "p50_ms": pct(lat, 50),
        "p90_ms": pct(lat, 90),
        "p99_ms": pct(lat, 99),
        "p999_ms": pct(lat, 99.9),
        "max_ms": float(lat.max()) if len(lat) else float("nan"),
        "send_lag_p50_ms": pct(lag, 50),
        "send_lag_p99_ms": pct(lag, 99),
    }


def open_loop(port: int, payload: Path, rate: float, seconds: float, warmup: float = 1.0) -> dict[str, Any]:
    """A fixed ``rate`` of requests, latency from each one's scheduled send time (see ``_open_loop``)."""
    body = multipart(payload.read_bytes())
    request = (
        f"POST /predict HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    coro = _open_loop(port, request, rate, seconds, warmup)
    gc.disable()  # a collection in the generator would delay sends, and count as the server's latency
    try:
        import uvloop

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            return runner.run(coro)
    except ImportError:
        return asyncio.run(coro)
    finally:
        gc.enable()


# ---- report -------------------------------------------------------------------------------------


def median(values: Sequence[float]) -> float:
    values = [v for v in values if v == v]
    return float(statistics.median(values)) if values else float("nan")


def spread(values: Sequence[float]) -> dict[str, float]:
    values = [v for v in values if v == v]
    if not values:
        return {"median": float("nan"), "min": float("nan"), "max": float("nan")}
    return {"median": median(values), "min": min(values), "max": max(values)}


def summarize(rounds: list[dict[str, dict[str, dict[str, dict[str, float]]]]], names: list[str]) -> dict[str, Any]:
    """Medians over rounds per server and payload; ratios against ours taken within each round."""
    out: dict[str, Any] = {}
    for name in names:
        out[name] = {}
        for payload in PAYLOADS:
            runs = [r[name][payload] for r in rounds if name in r]
            s: dict[str, Any] = {
                "rps_1": median([x["c1"]["req_per_s"] for x in runs]),
                "rps_16": median([x["c16"]["req_per_s"] for x in runs]),
                "p99_ms_16": median([x["c16"]["p99_ms"] for x in runs]),
                "p99_ms_1": median([x["c1"]["p99_ms"] for x in runs]),
                "cpu_ms_per_request_16": median([x["c16"]["cpu_ms_per_request"] for x in runs]),
                "errors": int(sum(x["c1"]["errors"] + x["c16"]["errors"] for x in runs)),
            }
            if "ours" in names:
                ours = [r["ours"][payload] for r in rounds]
                s["peer_over_ours_16"] = spread(
                    [x["c16"]["req_per_s"] / o["c16"]["req_per_s"] for x, o in zip(runs, ours, strict=True)]
                )
                s["ours_over_peer_16"] = spread(
                    [o["c16"]["req_per_s"] / x["c16"]["req_per_s"] for x, o in zip(runs, ours, strict=True)]
                )
                s["ours_over_peer_1"] = spread(
                    [o["c1"]["req_per_s"] / x["c1"]["req_per_s"] for x, o in zip(runs, ours, strict=True)]
                )
            out[name][payload] = s
    return out


def fmt(v: float, digits: int = 0) -> str:
    return "-" if v != v else f"{v:,.{digits}f}"


def ratio(s: dict[str, float]) -> str:
    if s["median"] != s["median"]:
        return "-"
    if abs(s["max"] - s["min"]) < 0.005:
        return f"{s['median']:.2f}"
    return f"{s['median']:.2f} ({s['min']:.2f}-{s['max']:.2f})"


def memory(e: dict[str, Any]) -> str:
    """Idle RSS summed over the process tree; with PSS beside it when the server runs several processes
    (forked processes share pages, which the RSS sum counts once per process)."""
    if e["processes"] == 1:
        return f"{fmt(e['idle_rss_mib'])} MiB"
    return f"{fmt(e['idle_rss_mib'])} MiB (PSS {fmt(e['idle_pss_mib'])}, {e['processes']} processes)"


def table(payload: str, summary: dict[str, Any], extra: dict[str, dict[str, Any]], names: list[str]) -> str:
    lines = [
        "| server | 1 conn req/s | 16 conn req/s | p99 @16 | ×ours @16 | idle RSS | cold start | CPU ms/req @16 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name in names:
        s, e = summary[name][payload], extra[name]
        times = "1" if name == "ours" else ratio(s["peer_over_ours_16"]) if "peer_over_ours_16" in s else "-"
        lines.append(
            f"| {SERVERS[name].label} | {fmt(s['rps_1'])} | {fmt(s['rps_16'])} | {fmt(s['p99_ms_16'], 1)} ms | "
            f"{times} | {memory(e)} | {fmt(e['cold_start_s'], 2)} s | "
            f"{fmt(s['cpu_ms_per_request_16'], 2)} |"
        )
    return "\n".join(lines)


def targets(
    summary: dict[str, Any], extra: dict[str, dict[str, Any]], loops: dict[str, Any], names: list[str]
) -> list[dict[str, Any]]:
    """The issue's targets for ours, each with the measured value and met (True/False) or None (not measured)."""
    out: list[dict[str, Any]] = []

    def add(what: str, value: str, met: bool | None) -> None:
        out.append({"target": what, "value": value, "met": met})

    if "ours" not in names:
        return out
    peers = [p for p in PEERS if p in names]
    for payload in PAYLOADS:
        worst = [(summary[p][payload]["ours_over_peer_16"]["median"], p) for p in peers]
        if worst:
            r, p = min(worst)
            value = f"{r:.2f}x (lowest: {p})"
            if "ours-free" in names:  # ours / peer over ours / ours-free = ours-free / peer
                bound = r / summary["ours-free"][payload]["ours_over_peer_16"]["median"]
                value += f"; with a network that costs nothing {bound:.2f}x"
            add(f">= 1.5x every peer at 16 connections, {payload}", value, r >= 1.5)
        else:
            add(f">= 1.5x every peer at 16 connections, {payload}", "no peer run", None)
    for payload, bound in (("canvas", 0.7), ("28x28", 0.5)):
        if "decode-only" in names:
            r = summary["decode-only"][payload]["ours_over_peer_16"]["median"]
            add(f">= {bound}x the decode-only ceiling, {payload}", f"{r:.2f}x", r >= bound)
        else:
            add(f">= {bound}x the decode-only ceiling, {payload}", "decode-only not run", None)
    for payload in PAYLOADS:
        if "fastapi-ort" in names:
            r = summary["fastapi-ort"][payload]["ours_over_peer_1"]["median"]
            add(f">= the onnxruntime endpoint at 1 connection, {payload}", f"{r:.2f}x", r >= 1.0)
        else:
            add(f">= the onnxruntime endpoint at 1 connection, {payload}", "fastapi-ort not run", None)
    if "ours" in loops:
        o = loops["ours"]
        add(
            f"open loop {o['rate']:g} req/s 28x28: p99 <= 10 ms",
            f"p99 {o['p99_ms']:.1f} ms, max {o['max_ms']:.1f} ms, {o['error_count']} errors",
            o["p99_ms"] <= 10 and o["error_count"] == 0,
        )
    else:
        add("open loop 300 req/s 28x28: p99 <= 10 ms", "not run", None)
    e = extra["ours"]
    add("cold start <= 1.0 s", f"{e['cold_start_s']:.2f} s", e["cold_start_s"] <= 1.0)
    add("idle RSS <= 90 MiB", f"{e['idle_rss_mib']:.0f} MiB", e["idle_rss_mib"] <= 90)
    if e.get("rss_after_mib") is not None:
        growth = e["rss_after_mib"] - e["rss_before_mib"]
        add(
            f"RSS flat over {e['rss_requests']:,} requests (growth <= {FLAT_MIB:g} MiB)",
            f"{e['rss_before_mib']:.0f} -> {e['rss_after_mib']:.0f} MiB",
            growth <= FLAT_MIB,
        )
    return out


# ---- main ---------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", help=f"comma-separated servers (default all: {','.join(SERVERS)})")
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--duration", type=int, default=5, help="seconds of each measurement (default 5)")
    p.add_argument("--warmup", type=int, default=1, help="seconds of warm-up before each server+payload (1)")
    p.add_argument("--cold-starts", type=int, default=3, help="starts per server for the cold-start median (3)")
    p.add_argument("--rss-requests", type=int, default=10_000, help="requests of the RSS check (10,000)")
    p.add_argument("--open-loop", default="ours,fastapi-ort", help="servers for the open-loop run ('' for none)")
    p.add_argument("--open-loop-rate", type=float, default=300.0)
    p.add_argument("--open-loop-seconds", type=float, default=10.0)
    p.add_argument(
        "--quick",
        action="store_true",
        help="smoke test: 1 round of 3 s runs, 1 cold start, 2,000 RSS requests, 5 s open loop",
    )
    p.add_argument("--server-cpu", default="0", help="CPU list the servers are pinned to (taskset -c; 0)")
    p.add_argument("--client-cpu", default="1", help="CPU list of wrk, the open-loop generator and this script (1)")
    p.add_argument("--venv-dir", type=Path, default=DEFAULT_CACHE / "venvs", help="where the peer environments live")
    p.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE, help="exported network, payloads, server logs")
    p.add_argument(
        "--strict-export",
        action="store_true",
        help="fail when any exported engine differs from model.load().predict by more than 5e-7, even by float32 "
        "rounding (without it, such an engine passes when it is as close to the exact float64 result as NumPy)",
    )
    p.add_argument("--seed", type=int, help="seed of the visiting order (default: random, printed)")
    p.add_argument("--out", type=Path, help="write all results as JSON here")
    args = p.parse_args(argv)
    args.cold_starts = max(1, args.cold_starts)
    if args.quick:
        args.rounds, args.duration, args.cold_starts = 1, 3, 1
        args.rss_requests, args.open_loop_seconds = 2_000, 5.0
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    names = [n.strip() for n in args.only.split(",")] if args.only else list(SERVERS)
    unknown = set(names) - set(SERVERS)
    if unknown:
        raise SystemExit(f"unknown servers {sorted(unknown)}; choose from {', '.join(SERVERS)}")
    names = [n for n in SERVERS if n in names]  # the table's order
    for tool in ("wrk", "taskset"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} not found (Debian: apt-get install {'wrk' if tool == 'wrk' else 'util-linux'})")
    cache: Path = args.cache_dir
    seed = args.seed if args.seed is not None else random.randrange(2**32)
    rng = random.Random(seed)

    # Environments: the servers', plus fastapi-torch's for the export when any network peer runs.
    needed = [n for n in names if n != "ours"]
    network_peers = [n for n in names if n in PEERS]
    if network_peers and "fastapi-torch" not in needed:
        needed.append("fastapi-torch")
    if "fastapi-ort" in names and "fastapi-torch" not in needed:
        needed.append("fastapi-torch")
    venvs = {n: ensure_venv(args.venv_dir, SERVERS[n]) for n in needed}
    venvs["ours"] = ensure_venv(args.venv_dir, SERVERS["ours"])
    export = export_and_check(cache, venvs, "fastapi-ort" in names, args.strict_export) if network_peers else {}
    export_dir = cache / "export"
    export_dir.mkdir(parents=True, exist_ok=True)
    payloads = make_payloads(cache / "payloads")
    bodies = {k: multipart(p.read_bytes()) for k, p in payloads.items()}
    print(
        f"payloads: {payloads['28x28']} ({payloads['28x28'].stat().st_size} B), {payloads['canvas']} "
        f"({payloads['canvas'].stat().st_size} B); servers on CPU {args.server_cpu}, load on CPU {args.client_cpu}; "
        f"seed {seed}; load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    os.sched_setaffinity(0, {int(c) for c in args.client_cpu.split(",")})

    running: dict[str, Running] = {}
    try:
        # Start everything (the cold-start trials one server at a time), and leave it all running.
        for name in rng.sample(names, len(names)):
            trials: list[float] = []
            for i in range(args.cold_starts):
                r = start(SERVERS[name], venvs[name], args.server_cpu, export_dir, cache / "logs", bodies["28x28"])
                trials += r.cold_starts
                if i < args.cold_starts - 1:
                    stop(r)
                    time.sleep(0.5)
            r.cold_starts = trials
            running[name] = r
            print(f"started {name:13s} port {r.port}: cold start {', '.join(f'{t:.2f}' for t in trials)} s", flush=True)

        # Same answers as ours, and idle memory after a few requests.
        answers: dict[str, dict[str, Any]] = {}
        extra: dict[str, dict[str, Any]] = {}
        for name in names:
            r = running[name]
            answers[name] = {}
            for payload, body in bodies.items():
                status, data = post(r.port, body)
                if status != 200:
                    raise SystemExit(f"{name} answered {status} to the {payload} payload: {data[:300]!r}")
                answer = json.loads(data)
                answers[name][payload] = answer[0] if isinstance(answer, list) else answer  # BentoML's batch of one
                for _ in range(9):
                    post(r.port, body)
        for name in names:
            if name in ("ours", "ours-free", "decode-only") or "ours" not in names:
                continue
            for payload in PAYLOADS:
                a, o = answers[name][payload], answers["ours"][payload]
                diff = float(np.abs(np.array(a["probabilities"]) - np.array(o["probabilities"])).max())
                same = a["digit"] == o["digit"] and a["is_digit"] == o["is_digit"] and diff <= ANSWER_TOLERANCE
                print(
                    f"answer check {name:13s} {payload:6s}: digit {a['digit']} is_digit {a['is_digit']}, "
                    f"max |p - ours| {diff:.1e} {'ok' if same else 'DIFFERENT'}",
                    flush=True,
                )
                if not same:
                    raise SystemExit(f"{name} answers the {payload} payload differently from ours: {a} vs {o}")
        if "ours" in names:
            print(
                f"ours reads: 28x28 -> {answers['ours']['28x28']['digit']}, canvas -> "
                f"{answers['ours']['canvas']['digit']} (is_digit {answers['ours']['canvas']['is_digit']})"
            )
        time.sleep(1.0)
        for name in names:
            r = running[name]
            mem = memory_mib(r.proc.pid)
            extra[name] = {
                "cold_start_s": median(r.cold_starts),
                "cold_starts_s": r.cold_starts,
                "idle_rss_mib": mem["rss"],
                "idle_pss_mib": mem["pss"],
                "processes": len(tree(r.proc.pid)),
            }

        # Rounds: every server and payload, servers in a new random order each round.
        rounds: list[dict[str, dict[str, dict[str, dict[str, float]]]]] = []
        for k in range(args.rounds):
            result: dict[str, dict[str, dict[str, dict[str, float]]]] = {}
            order = rng.sample(names, len(names))
            for name in order:
                r = running[name]
                result[name] = {}
                for payload in rng.sample(PAYLOADS, len(PAYLOADS)):
                    path = payloads[payload]
                    wrk(r.port, path, 16, args.warmup, args.client_cpu)
                    c1 = measure(r, path, 1, args.duration, args.client_cpu)
                    c16 = measure(r, path, 16, args.duration, args.client_cpu)
                    result[name][payload] = {"c1": c1, "c16": c16}
                    bad = c1["errors"] + c16["errors"]
                    print(
                        f"round {k + 1}/{args.rounds} {name:13s} {payload:6s} 1 conn {c1['req_per_s']:7.0f} req/s  "
                        f"16 conn {c16['req_per_s']:7.0f} req/s p99 {c16['p99_ms']:6.1f} ms  "
                        f"{c16['cpu_ms_per_request']:.2f} CPU ms/req{f'  ERRORS {bad:.0f}' if bad else ''}",
                        flush=True,
                    )
            rounds.append(result)

        # Memory over many more requests, after the rounds (wrk runs for a time, so runs sized from the
        # rate just measured follow each other until the count is reached).
        for name in names:
            r = running[name]
            time.sleep(0.5)
            before = memory_mib(r.proc.pid)["rss"]
            sent = errors = 0
            rate = median([x[name]["28x28"]["c16"]["req_per_s"] for x in rounds]) if rounds else 100.0
            while sent < args.rss_requests:
                seconds = min(600, math.ceil(1.1 * (args.rss_requests - sent) / max(rate, 1.0)))
                done = wrk(r.port, payloads["28x28"], 16, seconds, args.client_cpu)
                sent += int(done["requests"])
                errors += int(done["socket_errors"] + done["non_2xx"])
                rate = max(done["req_per_s"], 1.0)
            time.sleep(1.0)
            after = memory_mib(r.proc.pid)["rss"]
            extra[name].update(rss_before_mib=before, rss_after_mib=after, rss_requests=sent, rss_errors=errors)
            print(f"RSS {name:13s} {before:6.0f} -> {after:6.0f} MiB over {sent:,} requests", flush=True)

        # Open loop.
        loops: dict[str, Any] = {}
        for name in [n.strip() for n in args.open_loop.split(",") if n.strip()]:
            if name not in running:
                continue
            o = open_loop(running[name].port, payloads["28x28"], args.open_loop_rate, args.open_loop_seconds)
            loops[name] = o
            print(
                f"open loop {name:13s} {o['rate']:g} req/s for {o['seconds']:g} s: p50 {o['p50_ms']:.2f} ms  "
                f"p99 {o['p99_ms']:.2f} ms  p99.9 {o['p999_ms']:.2f} ms  max {o['max_ms']:.1f} ms  "
                f"errors {o['error_count']} {o['errors'] or ''} (generator send lag p99 "
                f"{o['send_lag_p99_ms']:.2f} ms, {o['connections_opened']} connections)",
                flush=True,
            )
    finally:
        for r in running.values():
            stop(r)

    summary = summarize(rounds, names)
    print(
        f"\n{args.rounds} round(s) of {args.duration:g} s per measurement; medians over rounds, ratios within "
        f"rounds (min-max over rounds in brackets); server on CPU {args.server_cpu}, wrk on CPU {args.client_cpu}; "
        f"load average now {os.getloadavg()[0]:.2f}."
    )
    for payload, title in (("28x28", "28x28 PNG (MNIST test digit #0)"), ("canvas", "280x280 transparent canvas PNG")):
        print(f"\n### {title}\n")
        print(table(payload, summary, extra, names))
    print(
        f"\nRSS before -> after {args.rss_requests:,}+ more 28x28 requests at 16 connections: "
        + ", ".join(f"{n} {extra[n]['rss_before_mib']:.0f} -> {extra[n]['rss_after_mib']:.0f} MiB" for n in names)
    )
    if "ours" in names and "decode-only" in names:
        print(
            "\nceiling ratios (ours / decode-only at 16 connections): "
            + ", ".join(f"{p} {ratio(summary['decode-only'][p]['ours_over_peer_16'])}" for p in ("canvas", "28x28"))
        )
    checks = targets(summary, extra, loops, names)
    if checks:
        print("\ntargets (issue 12):")
        for c in checks:
            mark = {True: "met", False: "MISSED", None: "not measured"}[c["met"]]
            print(f"- {c['target']}: {c['value']} -> {mark}")
    if args.out:
        result_json = {
            "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()} | {"seed": seed},
            "machine": {"cpus": os.cpu_count(), "load_average_end": os.getloadavg()},
            "servers": {
                n: {
                    "label": SERVERS[n].label,
                    "engine": SERVERS[n].engine,
                    "venv": str(venvs[n]),
                    "versions": key_versions(venvs[n]),
                    "command": SERVERS[n].command(venvs[n], 0),
                }
                for n in names
            },
            "export": export,
            "payloads": {k: {"path": str(p), "bytes": p.stat().st_size} for k, p in payloads.items()},
            "answers": answers,
            "rounds": rounds,
            "summary": summary,
            "memory_and_start": extra,
            "open_loop": loops,
            "targets": checks,
        }
        args.out.write_text(json.dumps(result_json, indent=1))
        print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()

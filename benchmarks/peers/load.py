"""The load: closed-loop runs with wrk, and an open loop at a fixed rate from Python.

wrk runs pinned to the client CPU (``taskset -c CPU wrk -t1``) with ``benchmarks/http/upload.lua``
(multipart or raw body, as ``UPLOAD`` says), which prints one ``RESULT`` line (requests, req/s,
p50/p90/p99/max in ms, socket errors, non-2xx).

The open loop sends a fixed rate of requests over keep-alive connections (Debian has no wrk2) and
counts each request's latency from its scheduled send time, so a stalled server is not hidden by a
client that waits for it (no coordinated omission); it reports the generator's own send lag too.
"""

from __future__ import annotations

import asyncio
import gc
import os
import re
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.peers.payloads import BOUNDARY, multipart
from benchmarks.peers.processes import Running, cpu_seconds
from benchmarks.peers.servers import ROOT

LUA = ROOT / "benchmarks" / "http" / "upload.lua"
OPEN_LOOP_CONNECTIONS = 8  # connections opened before the first scheduled send
ANSWER_WAIT = 30.0  # seconds the open loop waits for its last answers
KEEP_IDLE = 4.0  # seconds a connection may sit unused and be reused: under uvicorn's 5 s keep-alive timeout


def wrk(
    port: int, payload: Path, connections: int, seconds: int, cpu: str, upload: str = "multipart"
) -> dict[str, float]:
    """One wrk run against ``/predict``, the image ``payload`` sent as ``upload``: its RESULT line as numbers."""
    env = {**os.environ, "PNG": str(payload), "UPLOAD": upload}
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


def measure(
    running: Running, payload: Path, connections: int, seconds: int, cpu: str, upload: str = "multipart"
) -> dict[str, float]:
    """A wrk run plus the server's CPU time per request and its errors (socket errors + non-2xx)."""
    c0 = cpu_seconds(running.proc.pid)
    result = wrk(running.port, payload, connections, seconds, cpu, upload)
    used = cpu_seconds(running.proc.pid) - c0
    result["cpu_ms_per_request"] = 1000 * used / result["requests"] if result["requests"] else float("nan")
    result["errors"] = result["socket_errors"] + result["non_2xx"]
    return result


def _percentile(a: np.ndarray, q: float) -> float:
    return float(np.percentile(a, q)) if len(a) else float("nan")


class _OpenLoop:
    """One open-loop run's connections and tallies (latencies and send lags in seconds)."""

    def __init__(self, port: int, request: bytes) -> None:
        self.port, self.request = port, request
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []  # and when last used
        self.latencies: list[float] = []
        self.lags: list[float] = []
        self.errors: Counter[str] = Counter()
        self.opened = 0

    async def connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        self.opened += 1
        return await asyncio.open_connection("127.0.0.1", self.port)

    async def take(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """The most recently used idle connection, as an HTTP client's pool gives it; connections idle
        longer than :data:`KEEP_IDLE` are closed first (the server may have timed them out, and a
        request written to such a connection meets its close: a client's pool expires them too)."""
        now = time.perf_counter()
        while self.idle:
            reader, writer, used = self.idle.pop()
            if now - used <= KEEP_IDLE:
                return reader, writer
            writer.close()
        return await self.connect()

    async def one(self, scheduled: float, counted: bool) -> None:
        clock = time.perf_counter  # not loop.time(): uvloop's clock ticks in whole milliseconds
        conn = None
        try:
            conn = await self.take()
            reader, writer = conn
            if counted:
                self.lags.append(clock() - scheduled)
            writer.write(self.request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            m = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
            if not m:
                raise ValueError("no Content-Length")
            await reader.readexactly(int(m.group(1)))
            elapsed = clock() - scheduled
            if status != 200:
                self.errors[f"HTTP {status}"] += counted
            elif counted:
                self.latencies.append(elapsed)
            if re.search(rb"(?i)\r\nconnection:\s*close", head):
                writer.close()
            else:
                self.idle.append((reader, writer, clock()))
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
            self.errors[type(exc).__name__] += counted
            if conn is not None:
                conn[1].close()

    async def run(self, rate: float, seconds: float, warmup: float) -> dict[str, Any]:
        clock = time.perf_counter
        for _ in range(OPEN_LOOP_CONNECTIONS):
            self.idle.append((*await self.connect(), clock()))
        n_warm, n = int(rate * warmup), int(rate * (warmup + seconds))
        start = clock() + 0.05
        tasks = []
        for i in range(n):
            scheduled = start + i / rate
            delay = scheduled - clock()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(self.one(scheduled, i >= n_warm)))
        _, pending = await asyncio.wait(tasks, timeout=ANSWER_WAIT)
        for task in pending:
            task.cancel()
        if pending:
            self.errors["no answer within 30 s"] += len(pending)
        for _, writer, _ in self.idle:
            writer.close()
        return self.summary(rate, seconds, n - n_warm)

    def summary(self, rate: float, seconds: float, sent: int) -> dict[str, Any]:
        lat = np.array(self.latencies) * 1000
        lag = np.array(self.lags) * 1000
        return {
            "rate": rate,
            "seconds": seconds,
            "sent": sent,
            "answered": len(self.latencies),
            "errors": dict(self.errors),
            "error_count": int(sum(self.errors.values())),
            "connections_opened": self.opened,
            "p50_ms": _percentile(lat, 50),
            "p90_ms": _percentile(lat, 90),
            "p99_ms": _percentile(lat, 99),
            "p999_ms": _percentile(lat, 99.9),
            "max_ms": float(lat.max()) if len(lat) else float("nan"),
            "send_lag_p50_ms": _percentile(lag, 50),
            "send_lag_p99_ms": _percentile(lag, 99),
        }


def open_loop(port: int, payload: Path, rate: float, seconds: float, warmup: float = 1.0) -> dict[str, Any]:
    """A fixed ``rate`` of requests for ``seconds`` after ``warmup`` s, latency from each one's scheduled
    send time; p50, p90, p99, p99.9 and max in ms, errors, and the generator's send lag."""
    body = multipart(payload.read_bytes())
    request = (
        f"POST /predict HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    coro = _OpenLoop(port, request).run(rate, seconds, warmup)
    gc.disable()  # a collection in the generator would delay sends, and count as the server's latency
    try:
        import uvloop

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            return runner.run(coro)
    except ImportError:
        return asyncio.run(coro)
    finally:
        gc.enable()

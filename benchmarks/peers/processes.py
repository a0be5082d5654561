"""Server processes: started pinned to a CPU (``taskset``), timed to their first answer, measured
(RSS, PSS and CPU time summed over the process tree, from ``/proc``) and stopped as a group.

Each server runs in a session of its own, so stopping it ends its forked workers too. Every server but
ours gets ``OMP_NUM_THREADS=1`` and friends: the server is pinned to one CPU (ours sets these itself).
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.peers.payloads import post
from benchmarks.peers.servers import Server

START_TIMEOUT = 180.0  # seconds a server may take to answer its first /predict


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
    """User + system CPU time of the process tree, seconds."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for p in tree(pid):
        with contextlib.suppress(OSError):
            stat = Path(f"/proc/{p}/stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / tick


def free_port() -> int:
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
    env = {**os.environ, "PYTHONPATH": str(server.root), "BENCH_EXPORT_DIR": str(export)}
    for variable in ("PYTHONHOME", "VIRTUAL_ENV"):
        env.pop(variable, None)
    if not server.own_threads:  # ours keeps its own defaults (DIGITS_THREADS=1 sets these itself)
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
            cmd,
            cwd=server.root,
            env=server_env(server, export),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    running = Running(server, venv, port, proc, log)
    while True:
        with contextlib.suppress(OSError, http.client.HTTPException):
            if post(port, ready_body, timeout=30)[0] == 200:
                running.cold_starts.append(time.perf_counter() - t0)
                return running
        if proc.poll() is not None or time.perf_counter() - t0 > START_TIMEOUT:
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

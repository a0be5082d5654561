"""Stopping uvicorn's supervisor with a non-zero status when a worker cannot start.

uvicorn's supervisor (``--workers N``) stops when a worker fails to start, but exits 0, which
orchestrators read as a deliberate stop (docs/upstream.md). A worker that cannot start signals its
supervisor here; ``digits-serve`` handles that signal (:mod:`app.cli`), and plain uvicorn dies of it.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys

SUPERVISORS = (b"uvicorn", b"app.cli", b"digits-serve")  # parents whose workers we are


def child_pids(pid: int) -> list[int]:
    """The child processes of ``pid`` (Linux ``/proc``; empty elsewhere)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(c) for c in f.read().split()]
    except OSError:
        return []


def stop_supervisor() -> bool:
    """In a worker of ``uvicorn --workers N`` that cannot start: stop the other workers (SIGTERM), then
    the supervisor with SIGALRM, whose default action ends it with a non-zero status (142 in a shell).

    uvicorn 0.54's supervisor stops when a worker fails to start, but exits 0, which orchestrators read
    as a deliberate stop. No-op (False) outside such a worker, and where ``/proc`` is missing. Inside a
    container where the supervisor is PID 1 the kernel ignores the signal: the image runs
    :mod:`app.cli`, which checks the weights before any worker starts.
    """
    if multiprocessing.parent_process() is None or not sys.platform.startswith("linux"):
        return False
    parent = os.getppid()
    try:
        with open(f"/proc/{parent}/cmdline", "rb") as f:
            cmdline = f.read()
    except OSError:
        return False
    if not any(name in cmdline for name in SUPERVISORS):
        return False
    for sibling in child_pids(parent):
        if sibling != os.getpid():
            os.kill(sibling, signal.SIGTERM)
    os.kill(parent, signal.SIGALRM)
    return True

"""Costly uploads decoded in a child process, so that their CPU time never holds the server's GIL, and
a job that outlives its request is stopped with the child.

Pillow releases the GIL inside most decoders, but not everywhere, and the NumPy work on a megapixel
image takes it back between operations: a thread decoding large images would hold up everybody's
small ones. A child process has its own interpreter; the server's thread only waits for its answer.

The child runs one job at a time (:class:`~model.steps.Decode` steps: module-level functions of the
recipe, pickled by name), trims its heap after each, and dies with the server. A job whose request is
gone (cancelled by its deadline or its client) or that runs past its budget is not waited for: the
child is killed and the next job starts a fresh one. A child that dies during a job blames that job's
upload (:class:`DecoderCrashedError`); the next upload always gets a live child.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import multiprocessing
import os
import signal
import sys
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any, Final, TypeVar

from model.recipe import CorruptImageError

from .memory import release_free_memory

T = TypeVar("T")
PR_SET_PDEATHSIG: Final = 1  # prctl option: the signal a process gets when its parent dies
POLL: Final = 0.05  # seconds between checks that the job's request still waits


class DecoderCrashedError(CorruptImageError):
    """The decoder process died on this upload."""


class AbandonedError(Exception):
    """The job's request is gone: the child was stopped."""


class DecodeTimeoutError(CorruptImageError):
    """The upload took longer than the decoding budget: the child was stopped."""


def _child_main(conn: Connection, server: int) -> None:
    """In the child: die with the server, leave Ctrl+C to it, then run jobs until the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != server:  # the server died before the signal was asked for
        os._exit(0)
    while True:
        try:
            fn, args = conn.recv()
        except (EOFError, OSError):
            return
        try:
            answer: tuple[bool, Any] = (True, fn(*args))
        except Exception as exc:
            answer = (False, exc)
        finally:
            release_free_memory()
        try:
            conn.send(answer)
        except Exception as exc:  # an unpicklable result or exception: say so instead
            conn.send((False, RuntimeError(f"{type(exc).__name__}: {exc}")))


class DecoderProcess:
    """One child process, started on first use and whenever the last one died or was stopped. Its
    process is tied to the thread that starts it (``PR_SET_PDEATHSIG``): call it from one thread that
    lives as long as the decoder."""

    def __init__(self) -> None:
        self._process: BaseProcess | None = None
        self._conn: Connection | None = None
        self.restarts = 0  # children stopped or found dead

    def call(self, fn: Callable[..., T], *args: Any, gone: Callable[[], bool] = lambda: False,
             budget: float = float("inf")) -> T:
        """``fn(*args)`` in the child; its exceptions are raised here. The child is stopped, raising
        :class:`AbandonedError`, when ``gone()`` turns true first, or :class:`DecodeTimeoutError` when
        ``budget`` seconds pass first; :class:`DecoderCrashedError` when the child dies on it."""
        conn = self._connection()
        conn.send((fn, args))
        deadline = time.monotonic() + budget
        while not conn.poll(POLL):
            if gone():
                self.stop()
                raise AbandonedError("the decoder was stopped: nobody waits for this job any more")
            if time.monotonic() > deadline:
                self.stop()
                raise DecodeTimeoutError(f"the image took over {budget:g} s to decode: send a smaller or simpler image")
            if self._process is None or not self._process.is_alive():
                self.stop()
                raise DecoderCrashedError("the image crashed the decoder: it is corrupt or built to attack decoders")
        try:
            ok, value = conn.recv()
        except (EOFError, OSError):
            self.stop()
            raise DecoderCrashedError(
                "the image crashed the decoder: it is corrupt or built to attack decoders"
            ) from None
        if ok:
            result: T = value
            return result
        raise value

    def warm(self) -> None:
        """Start a child now if one ran before and none runs now: after a child was stopped, the next
        costly upload never waits for a new one to import NumPy and Pillow. (The first child starts with
        the first costly upload: a server that never gets one never holds a child's memory.) A child
        that cannot start now is started by the next job instead."""
        if self._process is not None or self.restarts == 0:
            return
        try:
            self._connection()
        except Exception:
            self.stop()

    def _connection(self) -> Connection:
        """The live child's pipe, starting a child if there is none."""
        if self._process is not None and not self._process.is_alive():
            self.stop()
        if self._process is None or self._conn is None:
            context = multiprocessing.get_context("spawn")  # a fresh interpreter: no fork of a threaded server
            ours, theirs = context.Pipe()
            self._process = context.Process(target=_child_main, args=(theirs, os.getpid()), daemon=True,
                                             name="digits-decoder")
            self._process.start()
            theirs.close()
            self._conn = ours
        return self._conn

    @property
    def pid(self) -> int | None:
        """The running child's process id (None before the first job and after a stop)."""
        return self._process.pid if self._process is not None else None

    def stop(self) -> None:
        """Kill the child (if any) and forget it; the next job starts a fresh one."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._process is not None:
            with contextlib.suppress(AssertionError, ValueError):  # never started, or already closed
                if self._process.is_alive():
                    self._process.kill()
                self._process.join(1.0)
            self._process = None
            self.restarts += 1

    close = stop

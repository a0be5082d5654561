"""Decoding costly images in a child process, so that their CPU time never holds the server's GIL.

Pillow releases the GIL inside most decoders, but not everywhere (lossless WebP), and the numpy work on a
megapixel image takes it back between operations: a thread decoding 2048x2048 images held up normal
requests by hundreds of times their own latency (``benchmarks/bench_hostile.py`` measures a normal
request beside such loads, ``--rev`` before and after a change). A separate process has its own
interpreter; the server's threads only wait for its answer.

The child imports only :mod:`model.recipe` (numpy and Pillow), hands back the ``(28, 28)`` uint8
digit (and its PNG when asked), trims its heap after each image (bench_hostile.py prints the peak of each)
and, if a decoder crashes it, is replaced (the image is a 422: :class:`DecoderCrashedError`).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

import numpy as np

from model.recipe import CorruptImageError, preprocess, to_png

T = TypeVar("T")
PR_SET_PDEATHSIG = 1  # prctl option: the signal a process gets when its parent dies


def release_free_memory() -> bool:
    """Hand the heap's free pages back to the system (glibc ``malloc_trim``); False where unavailable.

    The service keeps freed memory for reuse (:func:`model.allocator.keep_freed_memory`), which is
    right for the network's activations but kept a burst of 8 MB bodies resident for good.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.malloc_trim(0))
    except (OSError, AttributeError):
        return False


def _init_child(server: int) -> None:
    """In the child: die with the server (Linux ``PR_SET_PDEATHSIG``), even if it is killed, so no
    orphan keeps its port's or its pipes' descriptors; leave Ctrl+C to the server. If the server (pid
    ``server``) died while this process was starting, before the signal was asked for, exit now."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != server:
        os._exit(0)


class DecoderCrashedError(CorruptImageError):
    """The decoder process died on this image."""


def decode(data: bytes, max_pixels: int, debug: bool) -> tuple[np.ndarray, bytes | None]:
    """In the child: ``data`` -> the ``(28, 28)`` uint8 digit, and its PNG when ``debug``."""
    digit = preprocess(data, max_pixels)
    return digit, to_png(digit) if debug else None


def _trimmed(fn: Callable[..., T], *args: Any) -> T:
    """In the child: ``fn(*args)``, then the heap's free pages back to the system."""
    try:
        return fn(*args)
    finally:
        release_free_memory()


class DecoderProcess:
    """One child process, started on first use, replaced if it dies. Its process is tied to the thread
    that starts it (``PR_SET_PDEATHSIG``): start it from a thread that lives as long as the decoder."""

    def __init__(self) -> None:
        self._pool: ProcessPoolExecutor | None = None

    def start(self) -> None:
        """Start the child if it is not running (importing numpy and Pillow costs CPU time: it is started
        by the first costly image, so a server that never gets one never pays for it)."""
        if self._pool is None:
            context = multiprocessing.get_context("spawn")  # a fresh interpreter: no fork of a threaded server
            self._pool = ProcessPoolExecutor(1, mp_context=context, initializer=_init_child, initargs=(os.getpid(),))
            self._pool.submit(release_free_memory)

    def run(self, data: bytes, max_pixels: int, debug: bool) -> tuple[np.ndarray, bytes | None]:
        """Decode in the child (blocking this thread, not the GIL); image errors are raised as in
        :func:`~model.recipe.preprocess`."""
        return self.call(decode, data, max_pixels, debug)

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` in the child (``fn`` is pickled by name: a module-level function), which then
        trims its heap; its exceptions are raised here."""
        self.start()
        assert self._pool is not None
        try:
            return self._pool.submit(_trimmed, fn, *args).result()
        except BrokenProcessPool:
            self.close()
            raise DecoderCrashedError(
                "the image crashed the decoder: it is corrupt or built to attack decoders"
            ) from None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

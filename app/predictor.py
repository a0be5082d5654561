"""Decode, preprocess and classify off the event loop, micro-batching concurrent requests.

Requests put their image bytes on a queue and await a future. A worker thread takes whatever is
queued (up to ``max_batch`` images), decodes and preprocesses each one, runs the network once on all
of them, and settles the futures with one callback per event loop. Under load many requests share one
``predict`` call and one thread hand-off; an idle service answers a lone request at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from .preprocessing import DEFAULT_MAX_PIXELS, ImageError, preprocess, to_png


class Network(Protocol):
    """What the predictor needs of a model (``model.InferenceNetwork`` fits)."""

    @property
    def metadata(self) -> dict[str, Any]:
        """The weights metadata (name, sha256, architecture...)."""
        ...

    def predict(self, images: np.ndarray) -> np.ndarray:
        """``(N, 28, 28)`` uint8, white on black -> ``(N, 10)`` float32 probabilities."""
        ...


@dataclass(frozen=True)
class Outcome:
    """The answer for one image: probabilities, or the reason there are none."""

    probabilities: np.ndarray | None = None  # (10,) float32, summing to 1
    seen_png: bytes | None = None  # with debug: PNG of the (28, 28) input the network saw
    error: ImageError | None = None


@dataclass
class _Job:
    data: bytes
    debug: bool
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Outcome]
    digit: np.ndarray | None = field(default=None)  # (28, 28) uint8 once preprocessed
    outcome: Outcome | Exception | None = None


_STOP = object()


class Predictor:
    """Thread-backed, micro-batching front of a :class:`Network`; start it, then ``await predict()``."""

    def __init__(
        self,
        net: Network,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        max_batch: int = 64,
        threads: int = 1,
        on_batch: Callable[[int], None] | None = None,
        version: str = "",
    ) -> None:
        """``max_batch``: most images per network call; ``on_batch(n)`` is told each call's size (from
        the worker thread); ``version`` names the model in answers."""
        self.net = net
        self.version = version or str(net.metadata.get("name", "model"))
        self.max_pixels = max_pixels
        self.max_batch = max_batch
        self.on_batch = on_batch
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._work, name=f"predictor-{i}", daemon=True) for i in range(threads)
        ]

    @property
    def alive(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    def start(self) -> None:
        """Start the worker threads after one warm-up call of the network."""
        self.net.predict(np.zeros((1, 28, 28), np.uint8))
        for t in self._threads:
            t.start()

    def close(self, timeout: float = 5.0) -> None:
        """Stop the worker threads once the queue is drained."""
        for _ in self._threads:
            self._queue.put(_STOP)
        for t in self._threads:
            if t.is_alive():
                t.join(timeout)

    async def predict(self, data: bytes, debug: bool = False) -> Outcome:
        """Classify one encoded image; image problems come back as ``Outcome.error``."""
        loop = asyncio.get_running_loop()
        job = _Job(data, debug, loop, loop.create_future())
        self._queue.put(job)
        return await job.future

    async def predict_many(self, images: Sequence[bytes], debug: bool = False) -> list[Outcome]:
        """Classify several images (batched together by the worker), in order."""
        return list(await asyncio.gather(*(self.predict(data, debug) for data in images)))

    def _work(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            jobs = [first]
            stop = False
            while len(jobs) < self.max_batch:
                try:
                    job = self._queue.get_nowait()
                except queue.Empty:
                    break
                if job is _STOP:
                    stop = True
                    break
                jobs.append(job)
            self._run(jobs)
            if stop:
                return

    def _run(self, jobs: list[_Job]) -> None:
        """Preprocess each job, classify the good ones in one call, settle every future."""
        try:
            for job in jobs:
                self._prepare(job)
            ready = [job for job in jobs if job.digit is not None]
            if ready:
                probabilities = self.net.predict(np.stack([job.digit for job in ready]))  # type: ignore[misc]
                if self.on_batch is not None:
                    self.on_batch(len(ready))
                for job, p in zip(ready, probabilities, strict=True):
                    png = to_png(job.digit) if job.debug and job.digit is not None else None
                    job.outcome = Outcome(probabilities=p, seen_png=png)
        except Exception as exc:  # a bug: every unsettled request gets it (500), the worker lives on
            for job in jobs:
                if job.outcome is None:
                    job.outcome = exc
        _settle(jobs)

    def _prepare(self, job: _Job) -> None:
        try:
            job.digit = preprocess(job.data, self.max_pixels)
        except ImageError as exc:
            job.outcome = Outcome(error=exc)
        except Exception as exc:
            job.outcome = exc


def _settle(jobs: list[_Job]) -> None:
    """Hand each job's outcome to its event loop: one thread-safe callback per loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[_Job]] = {}
    for job in jobs:
        by_loop.setdefault(job.loop, []).append(job)
    for loop, group in by_loop.items():
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody is waiting any more
            loop.call_soon_threadsafe(_resolve, group)


def _resolve(jobs: list[_Job]) -> None:
    for job in jobs:
        if job.future.done():  # the client went away and the request was cancelled
            continue
        if isinstance(job.outcome, Exception):
            job.future.set_exception(job.outcome)
        else:
            job.future.set_result(job.outcome or Outcome())

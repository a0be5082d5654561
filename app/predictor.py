"""Decode, preprocess and classify off the event loop, micro-batching concurrent requests.

Two worker threads form a pipeline. Requests put their image bytes on the first queue and await a
future; the *prepare* thread decodes and preprocesses one image at a time and passes the 28x28 digit
on; the *infer* thread takes every digit waiting (up to ``max_batch``), runs the network once on all of
them and settles their futures with one callback per event loop. While the network runs (NumPy's
matrix products release the GIL) the next images are being prepared, so batches grow with the load
by themselves: no timer, no added latency for a lone request.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
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
    digit: np.ndarray | None = None  # (28, 28) uint8 once prepared
    seen_png: bytes | None = None
    outcome: Outcome | Exception | None = None


_STOP = object()


class Predictor:
    """Thread-backed, micro-batching front of a :class:`Network`: ``start()``, then ``await predict()``."""

    def __init__(
        self,
        net: Network,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        max_batch: int = 64,
        on_batch: Callable[[int], None] | None = None,
        version: str = "",
    ) -> None:
        """``max_batch``: most images per network call; ``on_batch(n)`` is told each call's size (from
        the infer thread); ``version`` names the model in answers."""
        self.net = net
        self.max_pixels = max_pixels
        self.max_batch = max_batch
        self.on_batch = on_batch
        self.version = version or str(net.metadata.get("name", "model"))
        self._to_prepare: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._to_infer: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._prepare_loop, name="predictor-prepare", daemon=True),
            threading.Thread(target=self._infer_loop, name="predictor-infer", daemon=True),
        ]

    @property
    def alive(self) -> bool:
        return all(t.is_alive() for t in self._threads)

    def start(self) -> None:
        """Start the worker threads after one warm-up call of the network."""
        self.net.predict(np.zeros((1, 28, 28), np.uint8))
        for t in self._threads:
            t.start()

    def close(self, timeout: float = 5.0) -> None:
        """Stop the worker threads once the queued images are answered."""
        self._to_prepare.put(_STOP)  # the prepare thread passes it on to the infer thread
        for t in self._threads:
            if t.is_alive():
                t.join(timeout)

    async def predict(self, data: bytes, debug: bool = False) -> Outcome:
        """Classify one encoded image; image problems come back as ``Outcome.error``."""
        loop = asyncio.get_running_loop()
        job = _Job(data, debug, loop, loop.create_future())
        self._to_prepare.put(job)
        return await job.future

    async def predict_many(self, images: Sequence[bytes], debug: bool = False) -> list[Outcome]:
        """Classify several images (batched together by the infer thread), in order."""
        return list(await asyncio.gather(*(self.predict(data, debug) for data in images)))

    def _prepare_loop(self) -> None:
        while (job := self._to_prepare.get()) is not _STOP:
            try:
                job.digit = preprocess(job.data, self.max_pixels)
                job.seen_png = to_png(job.digit) if job.debug else None
            except ImageError as exc:
                job.outcome = Outcome(error=exc)
            except Exception as exc:  # a bug: this request gets a 500, the thread lives on
                job.outcome = exc
            if job.outcome is None:
                self._to_infer.put(job)
            else:
                _settle([job])
        self._to_infer.put(_STOP)

    def _infer_loop(self) -> None:
        while (first := self._to_infer.get()) is not _STOP:
            jobs = [first]
            stop = False
            while len(jobs) < self.max_batch:
                try:
                    job = self._to_infer.get_nowait()
                except queue.Empty:
                    break
                if job is _STOP:
                    stop = True
                    break
                jobs.append(job)
            self._infer(jobs)
            if stop:
                return

    def _infer(self, jobs: list[_Job]) -> None:
        """Classify prepared jobs in one network call and settle them."""
        try:
            probabilities = self.net.predict(np.stack([job.digit for job in jobs]))  # type: ignore[misc]
            for job, p in zip(jobs, probabilities, strict=True):
                job.outcome = Outcome(probabilities=p, seen_png=job.seen_png)
            if self.on_batch is not None:
                self.on_batch(len(jobs))
        except Exception as exc:  # a bug: these requests get a 500, the thread lives on
            for job in jobs:
                job.outcome = exc
        _settle(jobs)


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

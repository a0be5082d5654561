"""Decode, preprocess and classify off the event loop, micro-batching concurrent requests.

One worker thread does the CPU work. Requests put their image bytes on a queue and await a future; the
worker takes every job waiting (up to ``max_batch``), decodes and preprocesses each one, runs the network
once on all the digits and settles the futures with one callback per event loop. While it works, new
requests queue up behind it, so batches grow with the load by themselves: no timer, no added latency
for a lone request. One thread rather than a decode thread feeding an inference thread: each hand-off
between Python threads costs a GIL switch and a wake-up, and on 2 cores the pipeline measured no faster.
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

from model.calibration import split_refusal

from .preprocessing import DEFAULT_MAX_PIXELS, ImageError, preprocess, to_png


class Network(Protocol):
    """What the predictor needs of a model (``model.InferenceNetwork`` fits)."""

    @property
    def metadata(self) -> dict[str, Any]:
        """The weights metadata (name, sha256, architecture...)."""
        ...

    def predict(self, images: np.ndarray) -> np.ndarray:
        """``(N, 28, 28)`` uint8, white on black -> ``(N, K)`` float32 probabilities; K = 11 when the
        last output is "not a digit" (refused from ``metadata["calibration"]["reject_threshold"]``)."""
        ...


@dataclass(frozen=True)
class Outcome:
    """The answer for one image: probabilities, or the reason there are none."""

    probabilities: np.ndarray | None = None  # (10,) float32, summing to 1: the closest digit
    is_digit: bool = True  # False: the network refuses the image as not a digit
    seen_png: bytes | None = None  # with debug: PNG of the (28, 28) input the network saw
    error: ImageError | None = None
    bug: Exception | None = None  # predict_many only: a bug of ours hit this image (predict raises it)


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
        the worker thread); ``version`` names the model in answers."""
        self.net = net
        self.max_pixels = max_pixels
        self.max_batch = max_batch
        self.on_batch = on_batch
        self.version = version or str(net.metadata.get("name", "model"))
        self.reject_threshold: float | None = net.metadata.get("calibration", {}).get("reject_threshold")
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._work_loop, name="predictor", daemon=True)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def start(self) -> None:
        """Start the worker thread after one warm-up call of the network."""
        self.net.predict(np.zeros((1, 28, 28), np.uint8))
        self._thread.start()

    def close(self, timeout: float = 5.0) -> None:
        """Stop the worker thread once the queued images are answered."""
        self._queue.put(_STOP)
        if self._thread.is_alive():
            self._thread.join(timeout)

    async def predict(self, data: bytes, debug: bool = False) -> Outcome:
        """Classify one encoded image; image problems come back as ``Outcome.error``."""
        loop = asyncio.get_running_loop()
        job = _Job(data, debug, loop, loop.create_future())
        self._queue.put(job)
        return await job.future

    async def predict_many(self, images: Sequence[bytes], debug: bool = False) -> list[Outcome]:
        """Classify several images (batched together by the worker), in order. A bug that hits one
        image comes back as that image's ``Outcome.bug`` instead of failing the others."""
        results = await asyncio.gather(*(self.predict(data, debug) for data in images), return_exceptions=True)
        return [self._as_outcome(r) for r in results]

    @staticmethod
    def _as_outcome(result: Outcome | BaseException) -> Outcome:
        if isinstance(result, Outcome):
            return result
        if isinstance(result, Exception):
            return Outcome(bug=result)
        raise result  # cancellation and the like are not per-image problems

    def _work_loop(self) -> None:
        while (first := self._queue.get()) is not _STOP:
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
            self._infer([job for job in jobs if self._prepare(job)])
            _settle(jobs)
            if stop:
                return

    def _prepare(self, job: _Job) -> bool:
        """Decode and preprocess one job's image; False (with ``job.outcome`` set) if it failed."""
        try:
            job.digit = preprocess(job.data, self.max_pixels)
            job.seen_png = to_png(job.digit) if job.debug else None
            return True
        except ImageError as exc:
            job.outcome = Outcome(error=exc)
        except Exception as exc:  # a bug: this request gets a 500, the thread lives on
            job.outcome = exc
        return False

    def _infer(self, jobs: list[_Job]) -> None:
        """Classify prepared jobs in one network call (their outcomes are set, not yet settled)."""
        if not jobs:
            return
        try:
            scores = self.net.predict(np.stack([job.digit for job in jobs]))  # type: ignore[misc]
            probabilities, is_digit = split_refusal(scores, self.reject_threshold)
            for job, p, ok in zip(jobs, probabilities, is_digit, strict=True):
                job.outcome = Outcome(probabilities=p, is_digit=bool(ok), seen_png=job.seen_png)
            if self.on_batch is not None:
                self.on_batch(len(jobs))
        except Exception as exc:  # a bug: these requests get a 500, the thread lives on
            for job in jobs:
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

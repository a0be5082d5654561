"""Decode, preprocess and classify off the event loop: micro-batched, and fair between requests.

Two threads per worker process:

- the **predictor** thread takes cheap images (the bound below), decodes and preprocesses them one at
  a time, and runs the network once on every digit ready, for up to ``max_batch`` images or
  ``BATCH_WINDOW`` seconds of collecting, whichever comes first. Batches grow with the load by
  themselves: no timer, no added latency for a lone request;
- the **costly** thread hands the images whose cost (:func:`~model.recipe.decode_cost`, read
  from the header before any pixel is decoded) is over ``COSTLY_PIXELS`` to a decoder process
  (:mod:`app.decoder_process`), one at a time, and their digits to the predictor thread for its next
  batch. A 4 MP image then uses the second core without holding this process's GIL, so everybody's
  28x28 digits do not wait for it.

Which image next: each request (a ``predict`` or a whole ``predict_many``) counts the pixels decoded
for it so far, and the next image comes from the request with the least (the oldest on ties). A new
request starts at zero, so it goes before the 2nd to 64th images of a batch that came earlier: big
batches are split and cheap requests interleave. The cheap lane's wait is then about one cheap image,
plus one network call.

**The idle lane.** A small image (at most ``INLINE_PIXELS``, e.g. the draw-pad's 280x280 canvas)
that comes alone while the predictor thread has nothing to do is read on the event loop, in one call
(about 0.3 ms for a 28x28 PNG, 1.2 ms for a canvas): a lone request does not pay the two thread
hand-offs, about a third of its latency. "Alone": no other request reached :meth:`Predictor.predict`
in the same turn of the event loop. Under load, requests come together or find the thread busy, and
go to it, where they share network calls (a batch of 16 costs a third less per digit than 16 calls).
A number on a canvas (``/predict/number``, at most ``INLINE_NUMBER_PIXELS`` and ``INLINE_SPANS``
candidate digits) takes the idle lane too: about 6 ms of the loop for four digits on 800x300, where
the worker thread and the predictor's hand-offs added about 0.4 ms to it.

Work for a request that is gone is dropped: a cancelled future (the client disconnected, or the
request passed its deadline; see :mod:`app.limits`) is skipped before its image is decoded. Over
``max_pending`` waiting images a new request is refused at once (:class:`~app.errors.ServiceBusyError`).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Protocol, TypeVar

import numpy as np
from PIL import Image

from model.calibration import split_refusal
from model.explain import Explanation
from model.normalize import INPUT_SIZE
from model.recipe import (
    DEFAULT_MAX_PIXELS,
    ImageError,
    check_size,
    decode_cost,
    load_pixels,
    preprocess_image,
    read_header,
    to_png,
    webp_size,
)
from model.second_look import look_again

from .decoder_process import DecoderProcess
from .errors import NotExplainableError, ServiceBusyError
from .settings import Settings

COSTLY_PIXELS: Final = 512 * 1024  # decode cost over this goes to the decoder process
INLINE_PIXELS: Final = 320 * 320  # the idle lane takes images up to this decode cost
INLINE_NUMBER_PIXELS: Final = 1024 * 400  # and numbers on canvases up to this decode cost...
INLINE_SPANS: Final = 24  # ...with at most this many candidate digits (about 0.3 ms each)
BATCH_WINDOW: Final = 0.004  # seconds: a batch stops taking more images after this much collecting
MAX_PENDING: Final = 4096  # images waiting in the queues; more is a 503
T = TypeVar("T")


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


@dataclass(eq=False)
class _Request:
    """The jobs of one call, and the decoding cost served to it so far (pixels)."""

    seq: int
    cheap: deque[_Job] = field(default_factory=deque)  # not yet read, or read and cheap
    costly: deque[_Job] = field(default_factory=deque)  # read, and over COSTLY_PIXELS
    served: int = 0


@dataclass(eq=False)
class _Job:
    data: bytes
    debug: bool
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]
    request: _Request | None = None
    image: Image.Image | None = None  # the header, once read
    cost: int = 0
    digits: np.ndarray | None = None  # (k, 28, 28) uint8 once prepared (k = 1 for an image)
    seen_png: bytes | None = None
    raw: bool = False  # predict_digits: the outcome is the network's raw (k, K) scores
    call: tuple[Callable[..., Any], tuple[Any, ...]] | None = None  # run_decoder: fn and its extra args
    explain: tuple[int | None] | None = None  # explain: (target,); the outcome is an Explanation
    outcome: Any = None  # Outcome, raw scores, a call's result, or the Exception of a bug

    @property
    def gone(self) -> bool:
        """Nobody waits for this job any more (its request was cancelled)."""
        return self.future.cancelled()


class _Queues:
    """Pending jobs by request and lane, and digits ready for the network; one lock for all."""

    def __init__(self, max_pending: int) -> None:
        self.lock = threading.Condition()
        self.requests: list[_Request] = []
        self.ready: deque[_Job] = deque()  # prepared (by the costly thread, or predict_digits)
        self.pending = 0  # jobs not yet prepared
        self.max_pending = max_pending
        self.costly_busy = False
        self.closed = False
        self._seq = itertools.count()

    def put(self, jobs: Sequence[_Job], costly: bool = False) -> None:
        """Queue the jobs of one request: prepared ones straight for the network, the rest in the cheap
        lane (read there first), or in the costly lane when ``costly``."""
        with self.lock:
            if self.pending + len(jobs) > self.max_pending:
                raise ServiceBusyError(
                    f"the service has {self.pending} images waiting; retry in a second", retry_after=1
                )
            request = _Request(next(self._seq))
            lane = request.costly if costly else request.cheap
            for job in jobs:
                job.request = request
                (self.ready if job.digits is not None else lane).append(job)
            self.pending += len(lane)
            if lane:
                self.requests.append(request)
            self.lock.notify_all()

    def _least_served(self, lane: str) -> _Request | None:
        best: _Request | None = None
        for r in self.requests:
            if getattr(r, lane) and (best is None or (r.served, r.seq) < (best.served, best.seq)):
                best = r
        return best

    def _pop(self, request: _Request, lane: str) -> _Job:
        job: _Job = getattr(request, lane).popleft()
        if not request.cheap and not request.costly:
            self.requests.remove(request)
        return job

    def next_cheap(self, block: bool) -> _Job | None:
        """A ready job, else the next cheap (or unread) job in fair order; None if there is none (or,
        blocking, once closed and drained)."""
        with self.lock:
            while True:
                if self.ready:
                    return self.ready.popleft()
                request = self._least_served("cheap")
                if request is not None:
                    self.pending -= 1
                    return self._pop(request, "cheap")
                if not block or (self.closed and not self.costly_busy and self._least_served("costly") is None):
                    return None
                self.lock.wait()

    def next_costly(self) -> _Job | None:
        """The next costly job in fair order; None once closed and drained."""
        with self.lock:
            self.costly_busy = False
            self.lock.notify_all()
            while (request := self._least_served("costly")) is None:
                if self.closed:
                    return None
                self.lock.wait()
            self.costly_busy = True
            self.pending -= 1
            return self._pop(request, "costly")

    def defer(self, job: _Job) -> None:
        """Move a read job whose cost is over ``COSTLY_PIXELS`` to the costly lane."""
        assert job.request is not None
        with self.lock:
            if not job.request.cheap and not job.request.costly:
                self.requests.append(job.request)
            job.request.costly.append(job)
            self.pending += 1
            self.lock.notify_all()

    def charge(self, job: _Job) -> None:
        """Count a decoded job's cost against its request."""
        if job.request is not None:
            with self.lock:
                job.request.served += job.cost

    def put_ready(self, job: _Job) -> None:
        with self.lock:
            self.ready.append(job)
            self.lock.notify_all()

    def close(self) -> None:
        with self.lock:
            self.closed = True
            self.lock.notify_all()


class Predictor:
    """Thread-backed, micro-batching, fair front of a :class:`Network`: ``start()``, then ``await
    predict()``."""

    def __init__(
        self,
        net: Network,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        max_batch: int = Settings().max_batch,
        on_batch: Callable[[int], None] | None = None,
        version: str = "",
        max_pending: int = MAX_PENDING,
    ) -> None:
        """``max_pixels``: the full-decode pixel limit (see :func:`~model.recipe.read_header`);
        ``max_batch``: most images per network call; ``on_batch(n)`` is told each call's size (from the
        predictor thread); ``version`` names the model in answers; ``max_pending``: images that may
        wait before new requests get a 503."""
        self.net = net
        self.max_pixels = max_pixels
        self.max_batch = max_batch
        self.on_batch = on_batch
        self.version = version or str(net.metadata.get("name", "model"))
        self.reject_threshold: float | None = net.metadata.get("calibration", {}).get("reject_threshold")
        self.dropped = 0  # jobs skipped because nobody waited for them any more
        self.inline = 0  # network calls in the idle lane: one per /predict image, one per round of a number
        self._busy = False  # the predictor thread is preparing or running a batch
        self._arriving = 0  # requests in their turn of the loop before choosing a lane
        self._queues = _Queues(max_pending)
        self._thread = threading.Thread(target=self._predict_loop, name="predictor", daemon=True)
        self._costly = threading.Thread(target=self._costly_loop, name="predictor-costly", daemon=True)
        self._decoder = DecoderProcess()

    @property
    def pending(self) -> int:
        """Images waiting to be decoded."""
        return self._queues.pending

    @property
    def alive(self) -> bool:
        return self._thread.is_alive() and self._costly.is_alive()

    def start(self) -> None:
        """Start the threads after one warm-up call of the network."""
        self.net.predict(np.zeros((1, INPUT_SIZE, INPUT_SIZE), np.uint8))
        self._thread.start()
        self._costly.start()

    def close(self, timeout: float = 5.0) -> None:
        """Stop the threads once the queued images are answered."""
        self._queues.close()
        for thread in (self._thread, self._costly):
            if thread.is_alive():
                thread.join(timeout)

    async def predict(self, data: bytes, debug: bool = False) -> Outcome:
        """Classify one encoded image; image problems come back as ``Outcome.error``."""
        if await self.alone():
            here = self._predict_here(data, debug)
            if here is not None:
                return here
        job = self._job(data, debug)
        self._queues.put([job])
        outcome: Outcome = await job.future
        return outcome

    async def predict_many(self, images: Sequence[bytes], debug: bool = False) -> list[Outcome]:
        """Classify several images as one request (fair to the others: see the module), in order. A
        bug that hits one image comes back as that image's ``Outcome.bug`` instead of failing the
        others."""
        jobs = [self._job(data, debug) for data in images]
        self._queues.put(jobs)
        results = await asyncio.gather(*(job.future for job in jobs), return_exceptions=True)
        return [self._as_outcome(r) for r in results]

    async def predict_digits(self, digits: np.ndarray) -> np.ndarray:
        """Run the network on ``(k, 28, 28)`` uint8 digits, white on black, already preprocessed (in
        the predictor's next batch): the raw ``(k, K)`` float32 scores of ``Network.predict``."""
        if digits.ndim != 3 or digits.shape[1:] != (INPUT_SIZE, INPUT_SIZE) or digits.dtype != np.uint8:
            raise ValueError(f"expected (k, 28, 28) uint8 digits, got {digits.shape} {digits.dtype}")
        job = self._job(b"", False)
        job.digits, job.raw = digits, True
        self._queues.put([job])
        scores: np.ndarray = await job.future
        return scores

    async def run_decoder(self, fn: Callable[..., T], data: bytes, *args: Any) -> T:
        """``fn(data, *args)`` in the decoder process, queued with the costly images (one at a time per
        worker, in fair order; dropped if the request is cancelled first): for other work on an
        uploaded image, e.g. finding the digits of a whole number. ``fn`` must be a module-level
        function (it is pickled by name); its exceptions (an ``ImageError``...) are raised here."""
        job = self._job(data, False)
        job.call = (fn, args)
        job.cost = COSTLY_PIXELS + 1
        self._queues.put([job], costly=True)
        result: T = await job.future
        return result

    async def explain(self, data: bytes, target: int | None) -> Explanation:
        """Look inside the network for one encoded image (``target``: the digit to look for, default the
        digit read): decoded and preprocessed as for :meth:`predict` (the same limits, lanes and fair
        order), then explained in the predictor thread as a batch of its own. Image problems raise
        their :class:`~model.recipe.ImageError`; a network without ``explain`` is a 501."""
        if not callable(getattr(self.net, "explain", None)):
            raise NotExplainableError(f"the loaded model ({self.version}) cannot explain its readings")
        job = self._job(data, False)
        job.explain = (target,)
        self._queues.put([job])
        result = await job.future
        if isinstance(result, Outcome):  # the image could not be read
            assert result.error is not None
            raise result.error
        explanation: Explanation = result
        return explanation

    async def alone(self) -> bool:
        """May the caller do its request's short work on the event loop (the idle lane)? True when the
        predictor thread is idle and no other request reached this point in the same turn of the loop
        (checked after one turn)."""
        if not self._idle():
            return False
        self._arriving += 1
        try:
            await asyncio.sleep(0)  # one turn of the loop: requests that came with this one get here too
        finally:
            self._arriving -= 1
        return self._arriving == 0 and self._idle()

    def scores_here(self, digits: np.ndarray) -> np.ndarray:
        """``predict_digits`` in this thread, for the idle lane (after :meth:`alone`)."""
        scores = self.net.predict(digits)
        self.inline += 1
        if self.on_batch is not None:
            self.on_batch(len(digits))
        return scores

    def _idle(self) -> bool:
        """Nothing queued and the predictor thread waiting (read without the lock: a stale answer only
        picks the other lane)."""
        return not self._busy and self._queues.pending == 0 and not self._queues.ready and self.alive

    def _predict_here(self, data: bytes, debug: bool) -> Outcome | None:
        """The idle lane: the whole prediction in this thread, or None if the image is not small."""
        try:
            if self._webp_cost(data) > INLINE_PIXELS:
                return None
            image = read_header(data, self.max_pixels)
            if decode_cost(image) > INLINE_PIXELS:
                return None
            self.inline += 1
            digit = preprocess_image(load_pixels(image))
        except ImageError as exc:
            return Outcome(error=exc)
        scores = look_again(self.net.predict, digit[None], self.net.predict(digit[None]))
        probabilities, is_digit = split_refusal(scores, self.reject_threshold)
        if self.on_batch is not None:
            self.on_batch(1)
        return Outcome(probabilities[0], bool(is_digit[0]), to_png(digit) if debug else None)

    @staticmethod
    def _job(data: bytes, debug: bool) -> _Job:
        loop = asyncio.get_running_loop()
        return _Job(data, debug, loop, loop.create_future())

    @staticmethod
    def _as_outcome(result: Outcome | BaseException) -> Outcome:
        if isinstance(result, Outcome):
            return result
        if isinstance(result, Exception):
            return Outcome(bug=result)
        raise result  # cancellation and the like are not per-image problems

    # ---- the predictor thread ------------------------------------------------------------------------

    def _predict_loop(self) -> None:
        while (job := self._queues.next_cheap(block=True)) is not None:
            self._busy = True
            batch: list[_Job] = []
            finished: list[_Job] = []
            started = time.perf_counter()
            while job is not None:
                if self._admit(job, batch, finished) >= self.max_batch:
                    break
                if time.perf_counter() - started > BATCH_WINDOW:
                    break
                job = self._queues.next_cheap(block=False)
            self._infer(batch)
            self._busy = False  # before the answers go out: a request they let in finds the thread idle
            _settle(batch + finished)

    def _admit(self, job: _Job, batch: list[_Job], finished: list[_Job]) -> int:
        """Put ``job`` in ``batch`` once its digit is ready, in ``finished`` if it failed; drop it if
        nobody waits for it; send it to the costly thread if its header says so. Returns the number
        of digits in ``batch``."""
        if job.digits is None and job.gone:
            self.dropped += 1
        elif job.digits is None:
            try:
                job.cost = self._webp_cost(job.data)
                if job.cost <= COSTLY_PIXELS:
                    job.image = read_header(job.data, self.max_pixels)
                    job.cost = decode_cost(job.image)
            except Exception as exc:
                job.outcome = _failure(exc)
                finished.append(job)
                return _count(batch)
            if job.cost > COSTLY_PIXELS:
                job.image = None  # the decoder process reads the bytes again
                self._queues.defer(job)
            elif self._prepare(job):
                batch.append(job)
            else:
                finished.append(job)
        else:
            batch.append(job)
        return _count(batch)

    def _webp_cost(self, data: bytes) -> int:
        """A WebP's pixels from its header bytes (checked against the limit): Pillow's opener would
        allocate the whole canvas here. 0 for the other formats."""
        size = webp_size(data)
        if size is None:
            return 0
        check_size("WEBP", size, self.max_pixels)
        return size[0] * size[1]

    def _prepare(self, job: _Job) -> bool:
        """Decode and preprocess a read job's image; False (with ``job.outcome`` set) if it failed."""
        assert job.image is not None
        try:
            digit = preprocess_image(load_pixels(job.image))
            job.digits = digit[None]
            job.seen_png = to_png(digit) if job.debug else None
            return True
        except Exception as exc:
            job.outcome = _failure(exc)
            return False
        finally:
            job.image = None  # the decoded pixels go now, not when the answer does
            self._queues.charge(job)

    def _infer(self, jobs: list[_Job]) -> None:
        """Classify prepared jobs in one network call (their outcomes are set, not yet settled)."""
        if any(job.explain is not None for job in jobs):
            self._explain([job for job in jobs if job.explain is not None])
            jobs = [job for job in jobs if job.explain is None]
        if not jobs:
            return
        try:
            digits = [job.digits for job in jobs if job.digits is not None]
            batch = np.concatenate(digits) if len(digits) > 1 else digits[0]
            scores = self._second_look(jobs, batch, self.net.predict(batch))
            probabilities, is_digit = split_refusal(scores, self.reject_threshold)
            start = 0
            for job in jobs:
                k = len(job.digits)  # type: ignore[arg-type]
                if job.raw:
                    job.outcome = scores[start : start + k]
                else:
                    job.outcome = Outcome(
                        probabilities=probabilities[start], is_digit=bool(is_digit[start]), seen_png=job.seen_png
                    )
                start += k
            if self.on_batch is not None:
                self.on_batch(start)
        except Exception as exc:  # a bug: these requests get a 500, the thread lives on
            for job in jobs:
                job.outcome = exc

    def _explain(self, jobs: list[_Job]) -> None:
        """Explain each prepared ``explain`` job's digit (an :class:`Explanation` as its outcome)."""
        for job in jobs:
            assert job.explain is not None
            try:
                job.outcome = self.net.explain(job.digits, *job.explain)  # type: ignore[attr-defined]
            except Exception as exc:  # a bug: this request gets a 500, the thread lives on
                job.outcome = exc

    def _second_look(self, jobs: list[_Job], batch: np.ndarray, scores: np.ndarray) -> np.ndarray:
        """``scores`` with the unsure images' rows looked at again (:func:`model.second_look.look_again`);
        the candidate digits of numbers (raw jobs) are left as read: the number reader looks again only at
        the digits it chooses (``number_reader.choosing``)."""
        sizes = [0 if job.digits is None else len(job.digits) for job in jobs]
        starts = np.cumsum([0, *sizes[:-1]])
        whole = np.array([start for start, job in zip(starts, jobs, strict=True) if not job.raw], np.intp)
        if len(whole) == 0:
            return scores
        scores = np.array(scores, copy=True)
        scores[whole] = look_again(self.net.predict, batch[whole], scores[whole])
        return scores

    # ---- the costly thread ---------------------------------------------------------------------------

    def _costly_loop(self) -> None:
        try:
            while (job := self._queues.next_costly()) is not None:
                job.image = None  # the child reads the bytes again: the header is cheap
                if job.gone:
                    self.dropped += 1
                    continue
                try:
                    if job.call is not None:
                        job.outcome = self._decoder.call(job.call[0], job.data, *job.call[1])
                    else:
                        digit, job.seen_png = self._decoder.run(job.data, self.max_pixels, job.debug)
                        job.digits = digit[None]
                except Exception as exc:
                    job.outcome = exc if job.call is not None else _failure(exc)
                self._queues.charge(job)
                if job.digits is not None:
                    self._queues.put_ready(job)
                else:
                    _settle([job])
        finally:
            self._decoder.close()


def _count(batch: list[_Job]) -> int:
    """Digits in ``batch`` (one per image; ``predict_digits`` jobs may hold several)."""
    return sum(len(job.digits) for job in batch if job.digits is not None)


def _failure(exc: Exception) -> Outcome | Exception:
    """An image problem is the client's (``Outcome.error``); anything else is a bug of ours (a 500)."""
    return Outcome(error=exc) if isinstance(exc, ImageError) else exc


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
            job.future.set_result(job.outcome if job.outcome is not None else Outcome())

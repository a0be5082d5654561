"""One road from a request to the network: readings run as programs, fairly, with their digits batched.

A reading is a program (:mod:`model.steps`): a generator that asks for the network on some digits
(:class:`~model.steps.Classify`) or for a job on its upload (:class:`~model.steps.Decode`). The
scheduler runs every program of the worker on one thread, the **predictor** thread:

- it advances the program that has been served least (below), one step at a time;
- a cheap upload's job runs right there; a costly one's (over ``COSTLY_PIXELS`` by its header, or
  over ``COSTLY_BYTES``) goes to the decoder process (:mod:`app.decoder_process`), one at a time in
  the same fair order, so a megapixel photo uses the other core and never holds this process's GIL;
- the digits every program asks for are read in one network call, up to ``max_batch`` digits or
  ``BATCH_WINDOW`` seconds of collecting, whichever comes first: batches grow with the load by
  themselves, with no timer and no added latency for a lone request.

**Fair.** Each request (one ``/predict``, a whole ``/predict/batch``, one number) has an account of
the seconds of work done for it (:mod:`app.fairness`); the next step is always the least-served
request's, so a number's candidate digits take their turn like any other digits.

**Bounded.** Every step is bounded by its input (the recipe caps pixels, atoms and candidates); a
request that is gone (its client left, or its deadline passed: :mod:`app.limits`) is dropped before its
next step, and its costly job stopped with its child process. Over ``max_pending`` readings in flight a
new request is a 503. Nothing here runs on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np

from model.recipe import DEFAULT_MAX_PIXELS, ImageError, upload_cost
from model.steps import Classify, Decode, Done, Program, Step, advance

from .decoder_process import DecoderProcess
from .errors import ServiceBusyError
from .fairness import Account, FairQueue
from .memory import HEAVY_SECONDS, release_free_memory
from .network import Network

COSTLY_PIXELS: Final = 512 * 1024  # decode cost over this goes to the decoder process
COSTLY_BYTES: Final = 1024 * 1024  # and uploads this large, whatever their header says
BATCH_WINDOW: Final = 0.004  # seconds: a batch stops taking more digits after this much collecting
MAX_PENDING: Final = 4096  # readings in flight; more is a 503


@dataclass(eq=False)
class Task:
    """One program in flight, and what to send it next (a step's result, or its exception)."""

    program: Program[Any]
    account: Account
    future: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop
    value: Any = None
    error: BaseException | None = None
    heavy: bool = False  # it took a costly job or a long step: the heap is trimmed after it

    @property
    def gone(self) -> bool:
        """Nobody waits for this task's answer any more."""
        return self.future.done()


class Scheduler:
    """The predictor thread and the decoder process behind ``await scheduler.submit(...)``."""

    def __init__(
        self,
        net: Network,
        max_batch: int,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        max_pending: int = MAX_PENDING,
        decode_budget: float = float("inf"),
        on_batch: Callable[[int], None] | None = None,
        batch_window: float = BATCH_WINDOW,
    ) -> None:
        """``max_batch``: most digits per network call (a program asking for more gets them in one);
        ``max_pixels``: the pixel limit headers are read against; ``decode_budget``: seconds a costly
        job may take before its child is stopped; ``on_batch(n)`` is told each network call's size;
        ``batch_window``: seconds a batch collects digits at most."""
        self.net = net
        self.max_batch = max_batch
        self.max_pixels = max_pixels
        self.max_pending = max_pending
        self.decode_budget = decode_budget
        self.on_batch = on_batch
        self.batch_window = batch_window
        self.dropped = 0  # programs stopped because nobody waited for them any more
        self.pending = 0  # programs in flight
        self.decoder = DecoderProcess()
        self._lock = threading.Lock()
        self._has_work = threading.Condition(self._lock)  # the predictor thread waits on it
        self._has_costly = threading.Condition(self._lock)  # the decoder thread waits on it
        self._runnable = FairQueue()
        self._costly = FairQueue()
        self._closed = False
        self._heavy = False
        self._seq = itertools.count()
        self._thread = threading.Thread(target=self._predict_loop, name="predictor", daemon=True)
        self._decoder_thread = threading.Thread(target=self._decoder_loop, name="decoder", daemon=True)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive() and self._decoder_thread.is_alive()

    def start(self) -> None:
        """Start the threads after one warm-up call of the network."""
        self.net.predict(np.zeros((1, 28, 28), np.uint8))
        self._thread.start()
        self._decoder_thread.start()

    def close(self, timeout: float = 5.0) -> None:
        """Stop the threads once the programs in flight are answered."""
        with self._lock:
            self._closed = True
            self._has_work.notify_all()
            self._has_costly.notify_all()
        for thread in (self._thread, self._decoder_thread):
            if thread.is_alive():
                thread.join(timeout)

    def submit(self, programs: Sequence[Program[Any]]) -> list[asyncio.Future[Any]]:
        """Queue ``programs`` as one request (one account); their futures, on the running loop. A
        503 past ``max_pending``. Call from the event loop."""
        loop = asyncio.get_running_loop()
        with self._lock:
            if self.pending + len(programs) > self.max_pending:
                raise ServiceBusyError(
                    f"the service has {self.pending} readings waiting; retry in a second", retry_after=1
                )
            account = Account(next(self._seq))
            tasks = [Task(p, account, loop.create_future(), loop) for p in programs]
            for task in tasks:
                self._runnable.push(account, task)
            self.pending += len(tasks)
            self._has_work.notify()
        return [task.future for task in tasks]

    # ---- the predictor thread --------------------------------------------------------------------

    def _predict_loop(self) -> None:
        while self._wait_for_work():
            batch, finished = self._collect()
            self._classify(batch)
            self._finish(finished)
            _settle(finished)
        self._trim_if_heavy()

    def _wait_for_work(self) -> bool:
        """Block until a program can advance; False once closed and everything is answered. A quiet
        worker after heavy work gives its free heap back first."""
        with self._lock:
            while not len(self._runnable):
                if self._closed and self.pending == 0:
                    return False
                if self._heavy:
                    self._lock.release()
                    try:
                        self._trim_if_heavy()
                    finally:
                        self._lock.acquire()
                    continue
                self._has_work.wait()
            return True

    def _trim_if_heavy(self) -> None:
        if self._heavy:
            self._heavy = False
            release_free_memory()

    def _collect(self) -> tuple[list[tuple[Task, np.ndarray]], list[Task]]:
        """Advance programs in fair order until ``max_batch`` digits wait for the network, the batch
        window passes, or nothing can advance: the digits asked for, and the programs finished."""
        batch: list[tuple[Task, np.ndarray]] = []
        finished: list[Task] = []
        count, started = 0, time.perf_counter()
        while count < self.max_batch and time.perf_counter() - started < self.batch_window:
            with self._lock:
                task = self._runnable.pop()
            if task is None:
                break
            step = self._step(task)
            if isinstance(step, Classify):
                batch.append((task, step.digits))
                count += len(step.digits)
            elif isinstance(step, Decode):
                self._route(task, step)
            else:
                finished.append(task)  # done, failed or dropped
        return batch, finished

    def _step(self, task: Task) -> Step | None:
        """The task's next step, its work charged to its account; None once it is done (its result or
        exception set), dropped or failed."""
        if task.gone:
            task.program.close()
            self.dropped += 1
            return None
        began = time.thread_time()
        try:
            step = advance(task.program, task.value, task.error)
        except Exception as exc:  # the reading failed: an ImageError is the client's, anything else a bug
            task.value, task.error = None, exc
            return None
        finally:
            self._charge(task, time.thread_time() - began)
        if isinstance(step, Done):
            task.value, task.error = step.value, None
            return None
        return step

    def _route(self, task: Task, step: Decode[Any]) -> None:
        """Run a cheap job now, charged to its request; queue a costly one for the decoder process."""
        if self._is_costly(step):
            task.heavy = True
            with self._lock:
                self._costly.push(task.account, (task, step))
                self._has_costly.notify()
            return
        began = time.thread_time()
        try:
            task.value, task.error = step(), None
        except Exception as exc:
            task.value, task.error = None, exc
        self._charge(task, time.thread_time() - began)
        self._requeue(task)

    def _is_costly(self, step: Decode[Any]) -> bool:
        """Is the job's upload over ``COSTLY_BYTES``, or its decode over ``COSTLY_PIXELS`` by its header?
        A header that cannot be read is cheap: the job itself then says what is wrong."""
        if len(step.data) > COSTLY_BYTES:
            return True
        try:
            return upload_cost(step.data, self.max_pixels) > COSTLY_PIXELS
        except ImageError:
            return False

    def _classify(self, batch: list[tuple[Task, np.ndarray]]) -> None:
        """One network call for every digit of ``batch``; each task is sent its rows (or the bug)."""
        if not batch:
            return
        digits = [d for _, d in batch]
        try:
            scores = self.net.predict(np.concatenate(digits) if len(digits) > 1 else digits[0])
        except Exception as exc:  # a bug: these requests get a 500, the thread lives on
            for task, _ in batch:
                task.value, task.error = None, exc
        else:
            if self.on_batch is not None:
                self.on_batch(len(scores))
            start = 0
            for task, d in batch:
                task.value, task.error = scores[start : start + len(d)], None
                start += len(d)
        for task, _ in batch:
            self._requeue(task)

    def _requeue(self, task: Task, wake: bool = False) -> None:
        """Make ``task`` runnable again; ``wake`` the predictor thread when called from another thread."""
        with self._lock:
            self._runnable.push(task.account, task)
            if wake:
                self._has_work.notify()

    def _charge(self, task: Task, seconds: float) -> None:
        """Count ``seconds`` of work (CPU time of this process's steps, wall time of a child's job)."""
        task.account.served += seconds
        if seconds >= HEAVY_SECONDS:
            task.heavy = True

    # ---- the decoder thread: waits for the child process, runs no reading itself ------------------

    def _decoder_loop(self) -> None:
        try:
            while (item := self._next_costly()) is not None:
                task, step = item
                if task.gone:
                    self._requeue(task, wake=True)  # the predictor thread drops it
                    continue
                began = time.perf_counter()
                try:
                    value = self.decoder.call(
                        step.fn, step.data, *step.args, gone=task.future.done, budget=self.decode_budget
                    )
                    task.value, task.error = value, None
                except Exception as exc:  # an ImageError, a crash, or AbandonedError (the task is gone)
                    task.value, task.error = None, exc
                self._charge(task, time.perf_counter() - began)
                self._requeue(task, wake=True)
        finally:
            self.decoder.close()

    def _next_costly(self) -> tuple[Task, Decode[Any]] | None:
        """The next costly job in fair order (None once closed and answered), a child started first."""
        self.decoder.warm()
        with self._lock:
            while not len(self._costly):
                if self._closed and self.pending == 0:
                    return None
                self._has_costly.wait()
            item: tuple[Task, Decode[Any]] | None = self._costly.pop()
            return item

    def _finish(self, tasks: list[Task]) -> None:
        """Count ``tasks`` as answered; heavy ones have the heap trimmed once the worker is quiet."""
        if not tasks:
            return
        with self._lock:
            self.pending -= len(tasks)
            if any(t.heavy for t in tasks):
                self._heavy = True
            if self._closed and self.pending == 0:  # the threads may stop
                self._has_work.notify_all()
                self._has_costly.notify_all()


def _settle(tasks: list[Task]) -> None:
    """Hand each finished task's result to its event loop: one thread-safe callback per loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[Task]] = {}
    for task in tasks:
        by_loop.setdefault(task.loop, []).append(task)
    for loop, group in by_loop.items():
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody is waiting any more
            loop.call_soon_threadsafe(_resolve, group)


def _resolve(tasks: list[Task]) -> None:
    for task in tasks:
        if task.future.done():  # the client went away and the request was cancelled
            continue
        if task.error is not None:
            task.future.set_exception(task.error)
        else:
            task.future.set_result(task.value)

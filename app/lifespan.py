"""Start-up and shut-down: load the weights once, run the predictor, and fail start-up cleanly.

A missing, corrupt, empty or non-finite weights file stops start-up with one line naming the file and
the reason, not a traceback: :class:`CleanStartupMiddleware` trims the failure message of a
:class:`StartupError`. Under ``uvicorn --workers N`` the failing worker also stops the supervisor with a
non-zero status (:func:`stop_supervisor`), which uvicorn itself would let exit 0.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from model import WeightsError, keep_freed_memory, load

from .errors import StartupError
from .limits import ByteBudget
from .metrics import Metrics
from .predictor import Network, Predictor
from .schemas import model_version
from .settings import Settings

logger = logging.getLogger("app")
Loader = Callable[[Path | None], Network]
_serving = 0  # lifespans of this process between start-up and shut-down (several in tests)


def freeze_start_up_objects() -> None:
    """Move every object made so far out of the garbage collector's reach (``gc.freeze()``).

    Without this, each full collection rescans the modules, routes and schemas of start-up, and under
    load those pauses set the p99 latency (``benchmarks/bench_service.py`` prints it). No
    ``gc.collect()`` first: it would lengthen start-up to free a few hundred objects.
    """
    global _serving
    gc.freeze()
    _serving += 1


def thaw_start_up_objects() -> None:
    """Undo :func:`freeze_start_up_objects` once the last app of the process has shut down."""
    global _serving
    _serving -= 1
    if _serving == 0:
        gc.unfreeze()


def load_network(path: Path | None) -> Network:
    """The weights at ``path`` (None: the shipped ``weights/default.npz``) as an inference network."""
    try:
        return load(path)
    except WeightsError as exc:
        raise StartupError(f"cannot start: {exc} (set DIGITS_WEIGHTS to a valid weights file)") from None


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


def make_lifespan(loader: Loader) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """The app's lifespan: load with ``loader`` once, freeze the start-up objects, serve, stop the
    predictor's thread on exit."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings: Settings = app.state.settings
        metrics: Metrics = app.state.metrics
        keep_freed_memory()  # batches reuse their activation memory instead of page-faulting it in
        try:
            net = loader(settings.weights)
        except StartupError:
            stop_supervisor()
            raise
        version = model_version(net.metadata)
        predictor = Predictor(net, settings, on_batch=metrics.batch_size.observe, version=version)
        predictor.start()
        metrics.registry.register(ServingCollector(predictor, budget_of(app)))
        metrics.set_model(
            {"name": net.metadata.get("name", ""), "version": version, "sha256": net.metadata.get("sha256", "")}
        )
        app.state.predictor = predictor
        logger.info("model %s loaded from %s", version, settings.weights or "the shipped weights")
        freeze_start_up_objects()
        try:
            yield
        finally:
            app.state.predictor = None
            predictor.close()
            thaw_start_up_objects()

    return lifespan


def budget_of(app: FastAPI) -> ByteBudget | None:
    """The byte budget of ``app``'s :class:`~app.limits.LimitsMiddleware` (None without one)."""
    for middleware in app.user_middleware:
        budget = middleware.kwargs.get("budget")
        if isinstance(budget, ByteBudget):
            return budget
    return None


class ServingCollector(Collector):
    """Prometheus metrics of the serving core, read when scraped: images dropped because their client
    had gone, images waiting, request body bytes held."""

    def __init__(self, predictor: Predictor, budget: ByteBudget | None) -> None:
        self.predictor = predictor
        self.budget = budget

    def collect(self) -> Iterator[Metric]:
        yield CounterMetricFamily(
            "digits_dropped_images", "Images not decoded because their request was cancelled (client gone, "
            "deadline).", value=self.predictor.dropped
        )
        yield GaugeMetricFamily("digits_pending_images", "Images waiting to be decoded.", value=self.predictor.pending)
        if self.budget is not None:
            yield GaugeMetricFamily(
                "digits_buffered_body_bytes", "Request body bytes reserved by requests in flight.",
                value=self.budget.held,
            )


class CleanStartupMiddleware:
    """Pure ASGI: report a start-up failure caused by :class:`StartupError` as its message alone."""

    prefix = f"{StartupError.__module__}.{StartupError.__qualname__}: "

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return

        async def send_trimmed(message: Message) -> None:
            if message["type"] == "lifespan.startup.failed":
                lines = str(message.get("message", "")).strip().splitlines()
                if lines and lines[-1].startswith(self.prefix):
                    message = {**message, "message": lines[-1][len(self.prefix) :]}
            await send(message)

        await self.app(scope, receive, send_trimmed)

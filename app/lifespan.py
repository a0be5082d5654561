"""The app's lifespan: load the weights once, run the predictor, and stop it on shut-down."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from model import keep_freed_memory

from .errors import StartupError
from .limits import ByteBudget
from .memory import freeze_start_up_objects, thaw_start_up_objects
from .metrics import Metrics, ServingCollector
from .network import Network
from .predictor import Predictor
from .schemas import model_version
from .settings import Settings
from .supervisor import stop_supervisor

logger = logging.getLogger("app")
Loader = Callable[[Path | None], Network]


def make_lifespan(
    loader: Loader, settings: Settings, metrics: Metrics, budget: ByteBudget
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """The app's lifespan: load with ``loader`` once, freeze the start-up objects, serve, stop the
    predictor on exit. ``budget``: the limits middleware's, reported in the metrics."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        keep_freed_memory()  # batches reuse their activation memory instead of page-faulting it in
        try:
            net = loader(settings.weights)
        except StartupError:
            stop_supervisor()
            raise
        version = model_version(net.metadata)
        predictor = Predictor(net, settings, on_batch=metrics.batch_size.observe, version=version)
        predictor.start()
        metrics.registry.register(ServingCollector(predictor, budget))
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

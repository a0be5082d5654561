"""FastAPI dependencies: the settings, metrics and loaded model of the running app.

All ``async def``: they only read ``app.state``, and a plain ``def`` dependency would cost a
thread-pool round trip on every request."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from .errors import NotReadyError
from .metrics import Metrics
from .predictor import Predictor
from .settings import Settings


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_metrics(request: Request) -> Metrics:
    metrics: Metrics = request.app.state.metrics
    return metrics


async def get_predictor(request: Request) -> Predictor:
    """The loaded model's predictor; 503 until the lifespan has loaded the weights."""
    predictor: Predictor | None = getattr(request.app.state, "predictor", None)
    if predictor is None or not predictor.alive:
        raise NotReadyError("the model is not loaded yet; retry shortly (GET /ready says when)")
    return predictor


SettingsDep = Annotated[Settings, Depends(get_settings)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
PredictorDep = Annotated[Predictor, Depends(get_predictor)]

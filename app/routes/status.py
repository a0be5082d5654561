"""Service status: ``GET /health``, ``GET /ready``, ``GET /model``, ``GET /metrics``."""

from __future__ import annotations

from fastapi import APIRouter, Response

from ..dependencies import MetricsDep, PredictorDep
from ..openapi import error_responses
from ..schemas import Health, ModelInfo, Ready

router = APIRouter(tags=["service"])


@router.get("/health", response_model=Health, summary="Liveness")
async def health() -> Health:
    """The process is up and answering (whether or not the model is loaded)."""
    return Health(status="ok")


@router.get("/ready", response_model=Ready, responses=error_responses(503), summary="Readiness")
async def ready(predictor: PredictorDep) -> Ready:
    """200 once the weights are loaded and the predictor runs; 503 before."""
    return Ready(status="ready", model=predictor.version)


@router.get("/model", response_model=ModelInfo, responses=error_responses(503), summary="The loaded model")
async def model_info(predictor: PredictorDep) -> ModelInfo:
    """Name, version, architecture, parameter count, test accuracy, weights SHA-256, expected input."""
    return ModelInfo.from_metadata(predictor.metadata)


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text exposition."}},
    summary="Prometheus metrics",
)
async def metrics(metrics: MetricsDep) -> Response:
    """Requests and latency by route and status, predictions by digit, rejected images by reason,
    inference batch sizes, model info, process statistics."""
    return Response(metrics.render(), media_type=metrics.content_type)

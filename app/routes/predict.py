"""``POST /predict`` and ``POST /predict/batch``."""

from __future__ import annotations

import base64
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from ..dependencies import MetricsDep, PredictorDep, SettingsDep
from ..errors import INTERNAL_ERROR, image_error_status, logger
from ..metrics import Metrics
from ..openapi import batch_body, error_responses, single_image_body
from ..predictor import Outcome
from ..preprocessing import ImageError
from ..schemas import BatchResponse, Prediction
from ..uploads import read_batch, read_single

router = APIRouter(tags=["predict"])

DebugQuery = Annotated[
    bool, Query(description="Also return the 28x28 image the network saw (base64 PNG data URL).")
]


@router.post(
    "/predict",
    response_model=Prediction,
    response_model_exclude_none=True,
    responses=error_responses(400, 413, 415, 422, 503),
    openapi_extra=single_image_body(),
    summary="Read the digit in one image",
)
async def predict(
    request: Request, predictor: PredictorDep, metrics: MetricsDep, debug: DebugQuery = False
) -> JSONResponse:
    """One image, sent as multipart (`file`), as the raw body (`image/*`), or as JSON (`image`: base64
    or a data URL). PNG, JPEG, WebP, GIF, BMP or TIFF; dark on light, light on dark, or strokes on a
    transparent background. An image with no ink is a 422 "no digit found", never a guess."""
    upload = await read_single(request)
    outcome = await predictor.predict(upload.image, debug or upload.debug)
    if outcome.error is not None:
        metrics.count_rejection(type(outcome.error).__name__)
        raise outcome.error
    return JSONResponse(_prediction(outcome, predictor.version, metrics))


@router.post(
    "/predict/batch",
    response_model=BatchResponse,
    response_model_exclude_none=True,
    responses=error_responses(400, 413, 415, 422, 503),
    openapi_extra=batch_body(),
    summary="Read the digits in several images",
)
async def predict_batch(
    request: Request,
    predictor: PredictorDep,
    metrics: MetricsDep,
    settings: SettingsDep,
    debug: DebugQuery = False,
) -> JSONResponse:
    """Several images as multipart (`files`, repeated) or JSON (`images`: a list of base64 strings or
    data URLs). The answer lists one entry per image in order: a prediction, or `{"error", "status"}`
    for an image that could not be read (the others are still answered). At most DIGITS_MAX_BATCH
    images (64 by default): more is a 413."""
    upload = await read_batch(request, settings.max_batch)
    images = [item for item in upload.items if isinstance(item, bytes)]
    outcomes = iter(await predictor.predict_many(images, debug or upload.debug))
    entries: list[dict[str, Any]] = []
    for item in upload.items:
        if not isinstance(item, bytes):
            entries.append({"error": item.detail, "status": item.status_code})
            continue
        outcome = next(outcomes)
        if outcome.bug is not None:
            logger.error("unexpected error on image %d of a batch", len(entries), exc_info=outcome.bug)
            metrics.count_rejection("InternalError")
            entries.append({"error": INTERNAL_ERROR, "status": 500})
        elif outcome.error is not None:
            metrics.count_rejection(type(outcome.error).__name__)
            entries.append(_item_error(outcome.error))
        else:
            entries.append(_prediction(outcome, predictor.version, metrics))
    return JSONResponse({"predictions": entries})


def _prediction(outcome: Outcome, version: str, metrics: Metrics) -> dict[str, Any]:
    """The JSON of a :class:`Prediction` (built directly: no validation on the hot path)."""
    assert outcome.probabilities is not None
    p = np.round(outcome.probabilities.astype(np.float64), 6)
    digit = int(p.argmax())
    metrics.count_prediction(digit if outcome.is_digit else None)
    body: dict[str, Any] = {
        "digit": digit,
        "confidence": float(p[digit]),
        "probabilities": p.tolist(),
        "is_digit": outcome.is_digit,
        "model": version,
    }
    if outcome.seen_png is not None:
        body["debug_image"] = "data:image/png;base64," + base64.b64encode(outcome.seen_png).decode("ascii")
    return body


def _item_error(exc: ImageError) -> dict[str, Any]:
    return {"error": str(exc), "status": image_error_status(exc)}

"""``POST /predict``, ``POST /predict/batch`` and ``POST /predict/number``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from model.recipe import ImageError
from model.recipe.digit_reader import Reading
from model.recipe.number_tuning import TUNING

from .. import answers
from ..dependencies import MetricsDep, PredictorDep, SettingsDep
from ..errors import INTERNAL_ERROR, logger
from ..metrics import Metrics
from ..openapi import batch_body, error_responses, single_image_body
from ..schemas import BatchResponse, NumberResponse, Prediction
from ..uploads import read_batch, read_single

router = APIRouter(tags=["predict"])

DebugQuery = Annotated[bool, Query(description="Also return the 28x28 image the network saw (base64 PNG data URL).")]


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
    reading = await predictor.predict(upload.image)
    return JSONResponse(answers.prediction(reading, debug or upload.debug, predictor.version, metrics))


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
    readings = iter(await predictor.predict_many(images))
    entries = [
        {"error": item.detail, "status": item.status_code}
        if not isinstance(item, bytes)
        else _batch_entry(next(readings), debug or upload.debug, predictor.version, metrics)
        for item in upload.items
    ]
    return JSONResponse({"predictions": entries})


@router.post(
    "/predict/number",
    response_model=NumberResponse,
    response_model_exclude_none=True,
    responses=error_responses(400, 413, 415, 422, 503),
    openapi_extra=single_image_body(),
    summary="Read a whole number written left to right in one image",
    description=(
        "One image holding one or more digits written left to right, sent as for `/predict`. Each part is read "
        "through the same MNIST recipe as `/predict`; which strokes make one digit is decided by what the network "
        'reads best. `number` is null when any part is not a digit (that part says `"is_digit": false`); each '
        f"part's `box` is in the uploaded image's pixels. A blank image is a 422; so are more than "
        f"{TUNING.max_digits} parts."
    ),
)
async def predict_number(
    request: Request, predictor: PredictorDep, metrics: MetricsDep, debug: DebugQuery = False
) -> JSONResponse:
    upload = await read_single(request)
    reading = await predictor.read_number(upload.image)
    return JSONResponse(answers.number(reading, debug or upload.debug, predictor.version, metrics))


def _batch_entry(reading: Reading | Exception, debug: bool, version: str, metrics: Metrics) -> dict[str, Any]:
    """A batch's entry for one image: its prediction, its error, or a bug's 500."""
    if isinstance(reading, ImageError):
        metrics.count_rejection(type(reading).__name__)
        return answers.item_error(reading)
    if isinstance(reading, Exception):
        logger.error("unexpected error on an image of a batch", exc_info=reading)
        metrics.count_rejection("InternalError")
        return {"error": INTERNAL_ERROR, "status": 500}
    return answers.prediction(reading, debug, version, metrics)

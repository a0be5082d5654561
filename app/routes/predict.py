"""``POST /predict``, ``POST /predict/batch`` and ``POST /predict/number``."""

from __future__ import annotations

import base64
import contextlib
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from model.recipe import ImageError, decode_cost, read_header, to_png
from model.recipe.errors import TooManyPartsError
from model.recipe.number_reader import (
    MAX_DIGITS,
    DigitReading,
    advance,
    better_reading,
    candidates,
    choosing,
    find_parts,
    reading,
    run_reading,
    to_recut,
)

from ..dependencies import MetricsDep, PredictorDep, SettingsDep
from ..errors import INTERNAL_ERROR, image_error_status, logger
from ..metrics import Metrics
from ..openapi import batch_body, error_responses, single_image_body
from ..predictor import COSTLY_PIXELS, INLINE_NUMBER_PIXELS, INLINE_SPANS, Outcome, Predictor
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
        f"part's `box` is in the uploaded image's pixels. A blank image is a 422; so are more than {MAX_DIGITS} parts."
    ),
)
async def predict_number(
    request: Request, predictor: PredictorDep, metrics: MetricsDep, debug: DebugQuery = False
) -> JSONResponse:
    upload = await read_single(request)
    try:
        readings = await _read_number(predictor, upload.image)
    except ImageError as exc:
        metrics.count_rejection(type(exc).__name__)
        raise
    if recut := to_recut(readings):
        with contextlib.suppress(TooManyPartsError):  # finer cuts, too many parts: the first reading stands
            second = await _read_number(predictor, upload.image, recut)
            readings = better_reading(readings, second)
            metrics.count_second_reading(readings is second)
    digits = [_number_digit(r, debug or upload.debug, metrics) for r in readings]
    number = "".join(str(d["digit"]) for d in digits) if all(d["is_digit"] for d in digits) else None
    return JSONResponse({"number": number, "digits": digits, "model": predictor.version})


async def _read_number(
    predictor: Predictor, image: bytes, recut: frozenset[int] = frozenset()
) -> list[DigitReading]:
    """The number's digits: its candidate digits found in a worker thread for a canvas-sized image, in
    the predictor's decoder process for a costly one (by its header, checked first: 413 past the pixel
    limit) in fair turn with every other costly image; then read in the predictor's batches, fairly,
    in the rounds of :func:`~model.recipe.number_reader.reading`. A canvas that comes alone to an idle predictor
    is read on the event loop (the predictor's idle lane) when it has few enough candidate digits."""
    cost = decode_cost(read_header(image, predictor.max_pixels))
    threshold = predictor.reject_threshold
    if cost > COSTLY_PIXELS:
        found = await predictor.run_decoder(candidates, image, predictor.max_pixels, recut)
        steps = choosing(found, threshold)
    elif cost <= INLINE_NUMBER_PIXELS and await predictor.alone():
        parts = find_parts(image, predictor.max_pixels, recut)
        if len(parts.spans) <= INLINE_SPANS:
            return run_reading(reading(parts, threshold), predictor.scores_here)
        steps = reading(parts, threshold)
    else:
        parts = await run_in_threadpool(find_parts, image, predictor.max_pixels, recut)
        steps = reading(parts, threshold)
    step = await run_in_threadpool(advance, steps)
    while isinstance(step, np.ndarray):
        step = await run_in_threadpool(advance, steps, await predictor.predict_digits(step))
    return step


def _number_digit(reading: DigitReading, debug: bool, metrics: Metrics) -> dict[str, Any]:
    """The JSON of one :class:`NumberDigit`."""
    png = to_png(reading.image) if debug else None
    return {**_reading(reading.probabilities, reading.is_digit, png, metrics), "box": list(reading.box)}


def _prediction(outcome: Outcome, version: str, metrics: Metrics) -> dict[str, Any]:
    """The JSON of a :class:`Prediction` (built directly: no validation on the hot path)."""
    assert outcome.probabilities is not None
    return {**_reading(outcome.probabilities, outcome.is_digit, outcome.seen_png, metrics), "model": version}


def _reading(probabilities: np.ndarray, is_digit: bool, seen_png: bytes | None, metrics: Metrics) -> dict[str, Any]:
    """What the network read in one image, counted in the metrics: digit, confidence, probabilities,
    is_digit and, with debug, the 28x28 image it saw as a data URL."""
    p = np.round(probabilities.astype(np.float64), 6)
    digit = int(p.argmax())
    metrics.count_prediction(digit if is_digit else None)
    body: dict[str, Any] = {
        "digit": digit,
        "confidence": float(p[digit]),
        "probabilities": p.tolist(),
        "is_digit": is_digit,
    }
    if seen_png is not None:
        body["debug_image"] = "data:image/png;base64," + base64.b64encode(seen_png).decode("ascii")
    return body


def _item_error(exc: ImageError) -> dict[str, Any]:
    return {"error": str(exc), "status": image_error_status(exc)}

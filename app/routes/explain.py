"""``POST /explain``: look inside the network for one image."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from model.recipe import ImageError

from ..dependencies import MetricsDep, PredictorDep
from ..inside import explanation_json
from ..openapi import error_responses, single_image_body
from ..schemas import Explanation
from ..uploads import read_single

router = APIRouter(tags=["explain"])

TargetQuery = Annotated[
    int | None,
    Query(ge=0, le=9, description="The digit to look for, 0-9 (default: the digit read): ask why not a 4."),
]


@router.post(
    "/explain",
    response_model=Explanation,
    responses=error_responses(400, 413, 415, 422, 501, 503),
    openapi_extra=single_image_body(),
    summary="Look inside the network: each layer's feature maps, and where it looked for a digit",
)
async def explain(
    request: Request, predictor: PredictorDep, metrics: MetricsDep, target: TargetQuery = None
) -> JSONResponse:
    """One image, sent as for `/predict` (multipart `file`, the raw body, or JSON `image`). The answer is
    `/predict`'s reading, plus the 28x28 `input` the network saw, the `heatmap` of where it looked for
    `target`, and each layer's feature maps as a PNG. It costs a forward and a backward pass of the network:
    it is queued and bounded like `/predict`, as one image."""
    upload = await read_single(request)
    try:
        explanation = await predictor.explain(upload.image, target)
    except ImageError as exc:
        metrics.count_rejection(type(exc).__name__)
        raise
    return JSONResponse(explanation_json(explanation, predictor.version))

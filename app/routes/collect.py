"""``GET /collect`` and ``POST /collect?digit=D``: labelled drawings saved for fine-tuning, when the
operator turns it on (``DIGITS_COLLECT_DIR``); storage in :mod:`app.collector`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from .. import collector
from ..dependencies import SettingsDep
from ..errors import InsufficientStorageError, NotFoundError, UnprocessableError
from ..openapi import WITH_BODY, error_responses, single_image_body
from ..schemas import Collected, CollectStatus
from ..settings import Settings
from ..uploads import read_single

router = APIRouter(tags=["collect"])
OFF = (
    "collecting drawings is off on this server: the operator turns it on with DIGITS_COLLECT_DIR=<folder>; "
    "until then, keep your images in a folder DIR/<digit>/*.png for scripts/finetune.py"
)
LabelQuery = Annotated[str, Query(description='The right answer: a digit "0" to "9", or "not_digit".')]


def _folder(settings: Settings) -> Path:
    if settings.collect_dir is None:
        raise NotFoundError(OFF)
    return settings.collect_dir


@router.get("/collect", response_model=CollectStatus, summary="Whether drawings can be collected here")
async def collect_status(settings: SettingsDep) -> CollectStatus:
    """`enabled` is true when the operator set DIGITS_COLLECT_DIR; the draw-pad offers a download otherwise."""
    return CollectStatus(enabled=settings.collect_dir is not None, labels=list(collector.LABELS))


@router.post(
    "/collect",
    response_model=Collected,
    status_code=201,
    responses=error_responses(*WITH_BODY, 404, 507),
    openapi_extra=single_image_body(),
    summary="Save a drawing with its right label, for fine-tuning",
)
async def collect(request: Request, settings: SettingsDep, digit: LabelQuery) -> JSONResponse:
    """One image, sent as for `/predict`, saved as a PNG under `<digit>/<UTC time>-<random>.png` in the
    collect folder (the layout `scripts/finetune.py` reads). 404 when collecting is off; 507 when the
    folder has reached DIGITS_COLLECT_MAX_BYTES."""
    folder = _folder(settings)
    if digit not in collector.LABELS:
        raise UnprocessableError(f"digit={digit[:20]!r} is not a label: send digit=0 to digit=9, or digit=not_digit")
    upload = await read_single(request)
    try:  # an ImageError is answered 413 or 422 with the recipe's message (app.errors)
        saved = await run_in_threadpool(_store, folder, digit, upload.image, settings)
    except collector.FolderFullError as exc:
        raise InsufficientStorageError(
            f"the collect folder holds {exc.used} bytes and this image needs {exc.size} more, over the cap of "
            f"{exc.cap} bytes (DIGITS_COLLECT_MAX_BYTES): the operator moves the images away or raises the cap"
        ) from None
    return JSONResponse(Collected(path=saved.as_posix(), digit=digit).model_dump(), status_code=201)


def _store(folder: Path, digit: str, image: bytes, settings: Settings) -> Path:
    png = collector.to_png(image, settings.max_image_pixels)
    return collector.save(folder, digit, png, settings.collect_max_bytes)


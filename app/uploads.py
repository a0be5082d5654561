"""Getting image bytes out of a request: raw image bodies, multipart uploads and JSON (base64 or data
URLs). Bodies are read raw (no framework body parsing), under the cap of :mod:`app.limits`."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from starlette.requests import Request

from model.recipe import FORMAT_NAMES, MEDIA_TYPES

from .errors import BadRequestError, PayloadTooLargeError, UnprocessableError, UnsupportedMediaTypeError
from .json_body import parse_json
from .multipart import MultipartError, TooManyFilesError, read_parts
from .schemas import BatchRequest, PredictRequest

IMAGE_TYPES = (*MEDIA_TYPES, "application/octet-stream")
MULTIPART = "multipart/form-data"
JSON = "application/json"
SINGLE_FIELD = "file"
BATCH_FIELD = "files"
MAX_FORM_FIELDS = 8  # non-file multipart fields tolerated (and ignored) beside the images
ACCEPTED_SINGLE = (
    f"send one {FORMAT_NAMES} image as multipart/form-data in the field '{SINGLE_FIELD}' "
    "(curl -F file=@digit.png), as the raw body with its image/* Content-Type "
    "(curl --data-binary @digit.png -H 'Content-Type: image/png'), or as JSON "
    '{"image": "<base64 or data:image/png;base64,... URL>"}'
)
ACCEPTED_BATCH = (
    f"send {FORMAT_NAMES} images as multipart/form-data, each in a field '{BATCH_FIELD}' "
    "(curl -F files=@a.png -F files=@b.png), or as JSON "
    '{"images": ["<base64 or data URL>", ...]}'
)


@dataclass(frozen=True)
class Upload:
    """The encoded image of a request, and whether its JSON body asked for debug output."""

    image: bytes
    debug: bool = False


@dataclass(frozen=True)
class BatchUpload:
    """The encoded images of a batch in order; an item that is not even bytes is its error instead."""

    items: list[bytes | UnprocessableError]
    debug: bool = False


def media_type(request: Request) -> str:
    """The request's Content-Type without parameters, lower-case ('' if absent)."""
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


async def read_single(request: Request) -> Upload:
    """The one image of a ``POST /predict`` request."""
    kind = media_type(request)
    if kind in IMAGE_TYPES:
        return Upload(await _read_body(request, ACCEPTED_SINGLE))
    if kind == MULTIPART:
        parts = await _read_multipart(request, SINGLE_FIELD, max_files=1, accepted=ACCEPTED_SINGLE)
        if not parts[0]:
            raise UnprocessableError(f"the uploaded file is empty: {ACCEPTED_SINGLE}")
        return Upload(parts[0])
    if _is_json(kind):
        body = parse_json(await _read_body(request, ACCEPTED_SINGLE), PredictRequest, ACCEPTED_SINGLE)
        return Upload(decode_image_string(body.image), body.debug)
    raise _unsupported(kind, ACCEPTED_SINGLE)


async def read_batch(request: Request, max_batch: int) -> BatchUpload:
    """The images of a ``POST /predict/batch`` request; more than ``max_batch`` is a 413."""
    kind = media_type(request)
    if kind == MULTIPART:
        parts = await _read_multipart(request, BATCH_FIELD, max_batch, ACCEPTED_BATCH)
        return BatchUpload([p or UnprocessableError("the uploaded file is empty") for p in parts])
    if _is_json(kind):
        batch = parse_json(await _read_body(request, ACCEPTED_BATCH), BatchRequest, ACCEPTED_BATCH, max_batch)
        if len(batch.images) > max_batch:
            raise _too_many(len(batch.images), max_batch)
        return BatchUpload([_decode_or_error(s) for s in batch.images], batch.debug)
    raise _unsupported(kind, ACCEPTED_BATCH)


def _is_json(kind: str) -> bool:
    return kind == JSON or (kind.startswith("application/") and kind.endswith("+json"))


def _unsupported(kind: str, accepted: str) -> UnsupportedMediaTypeError:
    what = f"Content-Type {kind}" if kind else "a request without Content-Type"
    return UnsupportedMediaTypeError(f"{what} is not accepted: {accepted}")


def _too_many(count: int | str, max_batch: int) -> PayloadTooLargeError:
    return PayloadTooLargeError(
        f"batch of {count} images is over the limit of {max_batch} per request (DIGITS_MAX_BATCH); "
        "split it into several requests"
    )


async def _read_body(request: Request, accepted: str) -> bytes:
    body = await request.body()
    if not body:
        raise BadRequestError(f"empty body: {accepted}")
    return body


async def _read_multipart(request: Request, field: str, max_files: int, accepted: str) -> list[bytes]:
    """The contents of every file part named ``field`` (at most ``max_files`` file parts in all)."""
    try:
        parts = await read_parts(request.headers.get("content-type", ""), request.stream(), max_files, MAX_FORM_FIELDS)
    except TooManyFilesError:
        if max_files == 1:
            raise UnprocessableError(f"more than one file: {accepted}; use /predict/batch for several") from None
        raise _too_many(f"more than {max_files}", max_files) from None
    except MultipartError as exc:
        raise BadRequestError(f"invalid multipart body ({exc}): {accepted}") from None
    named = [p for p in parts if p.name == field]
    if not named:
        raise UnprocessableError(f"no file in the multipart field '{field}': {accepted}")
    if any(p.data is None for p in named):
        raise UnprocessableError(f"the multipart field '{field}' must be a file upload, not text: {accepted}")
    return [bytes(p.data) for p in named if p.data is not None]


def decode_image_string(text: str) -> bytes:
    """Plain base64 or a ``data:[<type>];base64,<data>`` URL -> the encoded image bytes.

    Raises :class:`UnprocessableError` saying what is wrong with the string.
    """
    payload = text.strip()
    if payload[:5].lower() == "data:":
        header, comma, payload = payload.partition(",")
        params = [p.strip().lower() for p in header[5:].split(";")]
        if not comma or "base64" not in params[1:]:
            raise UnprocessableError("data URL must be base64-encoded: data:image/png;base64,<data>")
        if params[0] and params[0] not in IMAGE_TYPES:
            raise UnprocessableError(f"data URL of type {params[0]} is not an accepted image type ({FORMAT_NAMES})")
    payload = "".join(payload.split())  # tolerate line breaks (MIME-style base64)
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise UnprocessableError(
            "image string is not valid base64: send standard base64 (A-Z, a-z, 0-9, +, /, = padding) "
            "or a data URL data:image/png;base64,<data>"
        ) from None
    if not data:
        raise UnprocessableError("image string is empty: send the image as base64 or a data URL")
    return data


def _decode_or_error(text: str) -> bytes | UnprocessableError:
    try:
        return decode_image_string(text)
    except UnprocessableError as exc:
        return exc

"""OpenAPI descriptions of what the endpoints read by hand: request bodies in their three media types,
and the error answers."""

from __future__ import annotations

from typing import Any

from model.recipe import IMAGE_FORMATS

from .multipart import MAX_BOUNDARY
from .protocol.header_cap import MAX_HEADER_BYTES
from .schemas import BatchRequest, ErrorResponse, PredictRequest
from .settings import Settings

DEFAULT_MAX_BATCH = Settings.max_batch  # the declared default, for the docs
RAW_IMAGE_TYPES = tuple(kinds[0] for _, kinds in IMAGE_FORMATS.values())  # each format's usual media type
_BINARY = {"type": "string", "format": "binary"}


def _raw_images() -> dict[str, Any]:
    return {kind: {"schema": {**_BINARY, "contentMediaType": kind}} for kind in RAW_IMAGE_TYPES}


def single_image_body() -> dict[str, Any]:
    """``openapi_extra`` for ``POST /predict``: multipart ``file``, a raw image, or JSON."""
    return {
        "requestBody": {
            "required": True,
            "description": "One image: a multipart upload, the raw image, or JSON with base64 / a data URL.",
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"file": {**_BINARY, "description": "The image file."}},
                        "required": ["file"],
                    }
                },
                **_raw_images(),
                "application/json": {"schema": PredictRequest.model_json_schema()},
            },
        }
    }


def batch_body() -> dict[str, Any]:
    """``openapi_extra`` for ``POST /predict/batch``: multipart ``files`` (repeated) or JSON."""
    return {
        "requestBody": {
            "required": True,
            "description": f"Up to DIGITS_MAX_BATCH images ({DEFAULT_MAX_BATCH} by default); more is a 413.",
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "files": {"type": "array", "items": _BINARY, "minItems": 1},
                        },
                        "required": ["files"],
                    }
                },
                "application/json": {"schema": BatchRequest.model_json_schema()},
            },
        }
    }


ERROR_MEANINGS = {
    400: "Empty body, invalid JSON or an invalid multipart body (no boundary, one over "
    f"{MAX_BOUNDARY} characters, broken framing).",
    408: "The body did not arrive within DIGITS_BODY_TIMEOUT seconds.",
    413: "Body over DIGITS_MAX_UPLOAD_BYTES, image over DIGITS_MAX_IMAGE_PIXELS, or batch over DIGITS_MAX_BATCH.",
    404: "Collecting drawings is off on this server (DIGITS_COLLECT_DIR is not set).",
    415: "Content-Type not accepted.",
    422: "Not an image in an accepted format, corrupt or truncated, more blocks or marks than a real image "
    "has, invalid base64, JSON of the wrong shape, or no digit found.",
    431: f"Request line and headers over {MAX_HEADER_BYTES} bytes.",
    499: "The client disconnected before the answer: counted in the metrics, never sent.",
    500: "A bug in the service, not in the request.",
    501: "The loaded model cannot explain its readings (not the library's own network).",
    503: "Not ready yet (the model is loading), or busy: too many open connections (DIGITS_MAX_CONNECTIONS) "
    "or bodies in memory (DIGITS_MAX_BUFFERED_BYTES); retry after Retry-After.",
    504: "No answer within DIGITS_REQUEST_TIMEOUT seconds.",
    507: "The collect folder is full (DIGITS_COLLECT_MAX_BYTES).",
}
ANY_REQUEST = (431, 500, 503, 504)  # statuses any request may get, whatever its endpoint
WITH_BODY = (400, 408, 413, 415, 422, 499)  # and those of a request whose body is read


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` entries for the given error statuses, all with the :class:`ErrorResponse` shape."""
    return {s: {"model": ErrorResponse, "description": ERROR_MEANINGS[s]} for s in statuses}

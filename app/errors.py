"""Errors as JSON: every error answer is ``{"detail": "<what was wrong and what is accepted>"}``.

Client mistakes map to 4xx here (never 500); a 500 means a bug in the service and says only that.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from model.recipe import ImageError, ImageTooLargeError

logger = logging.getLogger("app")


class ApiError(Exception):
    """A client mistake with its HTTP status; ``detail`` says what was wrong and what is accepted."""

    status_code = 400

    def __init__(self, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = headers


class BadRequestError(ApiError):
    status_code = 400


class PayloadTooLargeError(ApiError):
    status_code = 413


class UnsupportedMediaTypeError(ApiError):
    status_code = 415


class UnprocessableError(ApiError):
    status_code = 422


class NotExplainableError(ApiError):
    """The loaded model has no way to explain its readings (a network other than the library's own)."""

    status_code = 501


class NotFoundError(ApiError):
    status_code = 404


class InsufficientStorageError(ApiError):
    """The server has no room left for what the request would store (a configured cap)."""

    status_code = 507


class NotReadyError(ApiError):
    status_code = 503


class ServiceBusyError(ApiError):
    """Over an admission bound (waiting images, buffered bytes, connections): retry after a while."""

    status_code = 503

    def __init__(self, detail: str, retry_after: int = 1, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail, {"Retry-After": str(retry_after), **(headers or {})})


class BodyTimeoutError(ApiError):
    """The request body did not arrive in time (a slow or stalled client)."""

    status_code = 408


class StartupError(RuntimeError):
    """The service cannot start (e.g. missing or corrupt weights); the message says which file and why."""


def image_error_status(exc: ImageError) -> int:
    """413 for images over the pixel limit, 422 for everything else an image can get wrong."""
    return 413 if isinstance(exc, ImageTooLargeError) else 422


def error_response(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


async def api_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.status_code, exc.detail, exc.headers)


async def image_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ImageError)
    return error_response(image_error_status(exc), str(exc))


SHOWN_PATH = 80  # characters of a request path repeated in an error (an 8 KB path is not echoed)


def shown_path(path: str) -> str:
    """``path`` for an error message: cut to ``SHOWN_PATH`` characters, marked when cut."""
    return path if len(path) <= SHOWN_PATH else f"{path[:SHOWN_PATH]}... ({len(path)} characters)"


async def http_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """Starlette/FastAPI HTTP errors (404, 405...) with a detail that points at what exists."""
    assert isinstance(exc, StarletteHTTPException)
    detail = str(exc.detail)
    path = shown_path(request.url.path)
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"no such path: {path}; the API is described at /docs"
    elif exc.status_code == 405:
        detail = f"method {shown_path(request.method)} is not allowed on {path}; see /docs"
    return error_response(exc.status_code, detail, dict(exc.headers) if exc.headers else None)


async def validation_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """Bad query parameters: one readable sentence, plus FastAPI's structured list under ``errors``."""
    assert isinstance(exc, RequestValidationError)
    problems = "; ".join(
        f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', 'invalid')}" for e in exc.errors()
    )
    return JSONResponse(
        {"detail": f"invalid request: {problems}", "errors": jsonable_encoder(exc.errors())},
        status_code=422,
    )


async def client_disconnect_handler(request: Request, exc: Exception) -> Response:
    """The client went away mid-request: nobody to answer; 499 (nginx's "client closed request") is
    only for the metrics."""
    logger.debug("client disconnected during %s %s", request.method, request.url.path)
    return Response(status_code=499)


INTERNAL_ERROR = "internal error: this is a bug in the service, not in your request"


async def unexpected_error_handler(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, INTERNAL_ERROR)


def install_error_handlers(app: FastAPI) -> None:
    """Register every handler on ``app``."""
    app.add_exception_handler(ApiError, api_error_handler)
    app.add_exception_handler(ImageError, image_error_handler)
    app.add_exception_handler(StarletteHTTPException, http_error_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_exception_handler(ClientDisconnect, client_disconnect_handler)
    app.add_exception_handler(Exception, unexpected_error_handler)

"""The FastAPI application: ``uvicorn app.main:app`` serves the committed weights.

Middleware, outermost first: metrics (every request, timed), security headers, the request limits
(body cap, byte budget, body and answer deadlines, disconnects: :mod:`app.limits`), CORS (only when
``DIGITS_CORS_ORIGINS`` is set), and the start-up failure trimmer (lifespan messages only).
"""

from __future__ import annotations

import logging

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from model.recipe import FORMAT_NAMES

from .errors import install_error_handlers
from .headers import SecurityHeadersMiddleware
from .lifespan import Loader, make_lifespan
from .limits import ByteBudget, LimitsMiddleware
from .metrics import Metrics, MetricsMiddleware
from .openapi import ANY_REQUEST, WITH_BODY, error_responses
from .routes import collect_router, explain_router, page_router, predict_router, status_router
from .routes.page import STATIC_DIR, SWAGGER_DIR, SWAGGER_URL
from .settings import Settings, SettingsError, environment_settings
from .startup import CleanStartupMiddleware, load_network

DESCRIPTION = f"""Reads handwritten digits with a convolutional network written from scratch in NumPy.

Send an image ({FORMAT_NAMES}; a drawing or a photo) to `POST /predict` as a
multipart upload, a raw body or JSON with base64 / a data URL. Errors are JSON `{{"detail": ...}}`
saying what was wrong and what is accepted. The draw-pad page is at `/`."""


def configure_logging(level: str) -> None:
    """Give the ``app`` logger a handler (once) and the configured level."""
    logger = logging.getLogger("app")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s:     %(name)s: %(message)s"))
        logger.addHandler(handler)
        logger.propagate = False
    logger.setLevel(level.upper())


class Labelled:
    """A mounted ASGI app that names itself as the request's route (``scope["route"].path``), so the
    metrics count its requests under ``path`` instead of "unmatched"."""

    def __init__(self, app: ASGIApp, path: str) -> None:
        self.app = app
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["route"] = self
        await self.app(scope, receive, send)


def create_app(settings: Settings | None = None, loader: Loader = load_network) -> FastAPI:
    """The service. ``settings`` default to the environment; ``loader`` turns the weights path into a
    network (tests and benchmarks may pass another)."""
    settings = settings or environment_settings()
    configure_logging(settings.log_level)
    metrics = Metrics()
    budget = ByteBudget(settings.max_buffered_bytes)
    app = FastAPI(
        title="Handwritten digit recognition",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=make_lifespan(loader, settings, metrics, budget),
        docs_url=None,  # served by routes.page from the package's own Swagger UI files
        redoc_url=None,  # ReDoc would load from a CDN
        responses=error_responses(*ANY_REQUEST),
    )
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.predictor = None
    install_error_handlers(app)
    app.include_router(predict_router, responses=error_responses(*WITH_BODY))
    app.include_router(explain_router, responses=error_responses(*WITH_BODY))
    app.include_router(status_router)
    app.include_router(collect_router)
    app.include_router(page_router)
    app.mount("/static", Labelled(StaticFiles(directory=STATIC_DIR, check_dir=False), "/static"), name="static")
    app.mount(SWAGGER_URL, Labelled(StaticFiles(directory=SWAGGER_DIR, check_dir=False), SWAGGER_URL), name="swagger")
    app.add_middleware(CleanStartupMiddleware)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Content-Type"],
        )
    app.add_middleware(
        LimitsMiddleware,
        max_bytes=settings.max_upload_bytes,
        budget=budget,
        body_timeout=settings.body_timeout,
        request_timeout=settings.request_timeout,
    )
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    return app


try:
    app = create_app()
except SettingsError as exc:  # a clean one-line message instead of a traceback, then exit
    raise SystemExit(f"invalid configuration: {exc}") from None

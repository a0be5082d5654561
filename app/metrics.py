"""Prometheus metrics (prometheus-client): requests and latency by route and status, predictions by
digit, rejected images by reason, micro-batch sizes, numbers read twice, model info, and the process
collectors.

Each app owns its registry, so several apps (tests) never clash; ``GET /metrics`` renders it. Every
answer also says its own server time, ``Server-Timing: app;dur=<ms>`` (the W3C header browsers show in
their network panel), from the request's arrival to its answer's start.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    Info,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from .limits import ByteBudget
    from .predictor import Predictor

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
UNMATCHED = "unmatched"  # the route label of requests no route matched (404s), to bound cardinality
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})  # others: "other"


class Metrics:
    """The service's collectors, in a registry of their own."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        for collector in (ProcessCollector, PlatformCollector, GCCollector):
            collector(registry=r)
        labels = ("method", "route", "status")
        self.requests = Counter("digits_http_requests", "HTTP requests answered.", labels, registry=r)
        self.latency = Histogram(
            "digits_http_request_duration_seconds",
            "Time from request to the end of the response, seconds.",
            labels,
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.predictions = Counter(
            "digits_predictions", 'Images classified, by digit ("none": refused as not a digit).', ("digit",),
            registry=r,
        )
        self._by_digit = [self.predictions.labels(digit=str(d)) for d in range(10)]
        self._not_digit = self.predictions.labels(digit="none")
        self.rejected = Counter(
            "digits_rejected_images", "Images that could not be classified, by reason.", ("reason",), registry=r
        )
        self.batch_size = Histogram(
            "digits_inference_batch_size",
            "Images per network call (concurrent requests are micro-batched).",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128),
            registry=r,
        )
        self.second_readings = Counter(
            "digits_number_second_readings",
            "Numbers read a second time with finer cuts (a part refused beside read digits), by whether the "
            "second reading was kept.",
            ("kept",),
            registry=r,
        )
        self.model = Info("digits_model", "The loaded model.", registry=r)
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:  # labels() takes a lock and builds a key: do it once per combination
            labels = (method, route, str(status))
            children = self._children.setdefault(key, (self.requests.labels(*labels), self.latency.labels(*labels)))
        children[0].inc()
        children[1].observe(seconds)

    def count_prediction(self, digit: int | None) -> None:
        """Count one answer: ``digit`` read, or ``None`` when the image was refused as not a digit."""
        (self._not_digit if digit is None else self._by_digit[digit]).inc()

    def count_rejection(self, reason: str) -> None:
        self.rejected.labels(reason=reason).inc()

    def count_second_reading(self, kept: bool) -> None:
        self.second_readings.labels(kept=str(kept).lower()).inc()

    def set_model(self, info: dict[str, Any]) -> None:
        self.model.info({k: str(v) for k, v in info.items()})

    def render(self) -> bytes:
        """The Prometheus text exposition of every collector."""
        return generate_latest(self.registry)


class MetricsMiddleware:
    """Pure ASGI: count and time every HTTP request by method, route template and status, and tell the
    client the time in a ``Server-Timing`` header."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                timing = f"app;dur={(time.perf_counter() - start) * 1000:.2f}".encode()
                message = {**message, "headers": [*message.get("headers", ()), (b"server-timing", timing)]}
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = getattr(scope.get("route"), "path", None) or UNMATCHED
            method = scope["method"] if scope["method"] in METHODS else "other"
            self.metrics.observe_request(method, route, status, time.perf_counter() - start)


class ServingCollector(Collector):
    """Prometheus metrics of the serving core, read when scraped: images dropped because their client
    had gone, images waiting, request body bytes held and bodies waiting for room."""

    def __init__(self, predictor: Predictor, budget: ByteBudget) -> None:
        self.predictor = predictor
        self.budget = budget

    def collect(self) -> Iterator[Metric]:
        yield CounterMetricFamily(
            "digits_dropped_images", "Images not decoded because their request was cancelled (client gone, "
            "deadline).", value=self.predictor.dropped
        )
        yield GaugeMetricFamily("digits_pending_images", "Images waiting to be decoded.", value=self.predictor.pending)
        yield GaugeMetricFamily(
            "digits_buffered_body_bytes", "Request body bytes reserved by requests in flight.", value=self.budget.held
        )
        yield GaugeMetricFamily(
            "digits_waiting_bodies", "Request bodies waiting for room in the byte budget.", value=self.budget.waiting
        )

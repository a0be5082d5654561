"""What the routes call: each kind of request as one reading program, run by the scheduler.

``/predict`` and every image of ``/predict/batch`` are :func:`~model.recipe.digit_reader.read_digit`,
``/predict/number`` is :func:`~model.recipe.number_reader.read_number`, and ``/explain`` is
:func:`~model.recipe.digit_reader.explain_digit`: the same programs the scripts
run with :func:`model.steps.run`, so the service and the evaluation read alike. The scheduler
(:mod:`app.scheduler`) runs them off the event loop, fairly, with their digits batched; a lone small
``/predict`` upload is read on the event loop instead (:mod:`app.idle_lane`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

import numpy as np

from model.explain import Explanation
from model.recipe.digit_reader import Reading, explain_digit, read_digit
from model.recipe.number_reader import NumberReading, read_number

from .errors import NotExplainableError
from .idle_lane import IdleLane
from .network import Network
from .scheduler import MAX_PENDING, Scheduler

__all__ = ["Network", "Predictor"]
from .settings import Settings


class Predictor:
    """The loaded network behind the service: ``start()``, then ``await predict(...)`` and the like."""

    def __init__(
        self,
        net: Network,
        settings: Settings | None = None,
        on_batch: Callable[[int], None] | None = None,
        max_pending: int = MAX_PENDING,
        version: str = "",
    ) -> None:
        """``settings``: the service's (the limits and the batch size are read from them; defaults when
        None); ``on_batch(n)`` is told each network call's size; ``max_pending``: readings in flight
        before new requests get a 503; ``version`` names the model in answers."""
        settings = settings or Settings()
        metadata = net.metadata
        self.net = net
        self.settings = settings
        self.metadata = metadata
        self.version = version or str(metadata.get("name", "model"))
        self.max_pixels = settings.max_image_pixels
        self.reject_threshold: float | None = metadata.get("calibration", {}).get("reject_threshold")
        self.scheduler = Scheduler(
            net,
            max_batch=settings.max_batch,
            max_pixels=settings.max_image_pixels,
            max_pending=max_pending,
            decode_budget=settings.request_timeout,
            on_batch=on_batch,
        )
        self.on_batch = on_batch
        self.lane = IdleLane(self._predict_here, self._idle, self.reject_threshold, self.max_pixels)

    @property
    def alive(self) -> bool:
        return self.scheduler.alive

    @property
    def pending(self) -> int:
        """Readings in flight."""
        return self.scheduler.pending

    @property
    def dropped(self) -> int:
        """Readings stopped because nobody waited for them any more."""
        return self.scheduler.dropped

    def start(self) -> None:
        self.scheduler.start()

    def close(self, timeout: float = 5.0) -> None:
        self.scheduler.close(timeout)

    async def predict(self, data: bytes) -> Reading:
        """The digit in one encoded image; raises :class:`~model.recipe.ImageError` for what cannot be read.
        A lone small image takes the idle lane (:mod:`app.idle_lane`), any other the scheduler."""
        here = await self.lane.read(data)
        if here is not None:
            return here
        (future,) = self.scheduler.submit([read_digit(data, self.reject_threshold, self.max_pixels)])
        reading: Reading = await future
        return reading

    def _idle(self) -> bool:
        return self.scheduler.pending == 0 and self.scheduler.alive

    def _predict_here(self, digits: np.ndarray) -> np.ndarray:
        """The network on ``digits`` in the calling thread (the idle lane's), counted like a batch."""
        scores = self.net.predict(digits)
        if self.on_batch is not None:
            self.on_batch(len(digits))
        return scores

    async def predict_many(self, images: Sequence[bytes]) -> list[Reading | Exception]:
        """The digit in each image, in order, as one request (fair to the others); an image that cannot
        be read, or that hits a bug of ours, has its exception in its place."""
        futures = self.scheduler.submit([read_digit(d, self.reject_threshold, self.max_pixels) for d in images])
        results = await asyncio.gather(*futures, return_exceptions=True)
        out: list[Reading | Exception] = []
        for result in results:
            if isinstance(result, BaseException) and not isinstance(result, Exception):
                raise result  # cancellation and the like are not per-image problems
            out.append(result)
        return out

    async def explain(self, data: bytes, target: int | None) -> Explanation:
        """Look inside the network for one encoded image (``target``: the digit to look for; default the
        digit read): read as for :meth:`predict`, by the same scheduler and limits, then explained in
        the predictor thread. A network without ``explain`` is a 501."""
        explain = getattr(self.net, "explain", None)
        if not callable(explain):
            raise NotExplainableError(f"the loaded model ({self.version}) cannot explain its readings")
        (future,) = self.scheduler.submit([explain_digit(data, explain, target, self.max_pixels)])
        explanation: Explanation = await future
        return explanation

    async def read_number(self, data: bytes) -> NumberReading:
        """The digits of a number written left to right in one encoded image."""
        (future,) = self.scheduler.submit([read_number(data, self.reject_threshold, self.max_pixels)])
        reading: NumberReading = await future
        return reading

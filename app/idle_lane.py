"""The idle lane: a lone small ``/predict`` upload read on the event loop while the scheduler is idle.

Every other reading goes through the scheduler (:mod:`app.scheduler`), whose predictor thread costs
a request two thread hand-offs: the event loop wakes the thread, the thread wakes the loop. Under load
those are shared by a whole batch; for a lone request they are a share of its latency worth keeping
(``benchmarks/README.md``). So an upload that comes **alone** (no reading in flight, and no other
request reaching this lane in the same turn of the event loop) and is **small** (a decode cost of
at most ``INLINE_PIXELS``, a draw-pad canvas, in at most ``INLINE_BYTES``) is read right here, through the same program
(:func:`~model.recipe.digit_reader.read_digit`) the scheduler would run. Its cost is bounded by that
size: the loop is held for about one small reading, and only when nobody else was waiting.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Final

import numpy as np

from model.recipe import ImageError, upload_cost
from model.recipe.digit_reader import Reading, read_digit
from model.steps import run

INLINE_PIXELS: Final = 320 * 320  # the largest decode cost read on the event loop: a draw-pad canvas
INLINE_BYTES: Final = 256 * 1024  # and the largest upload: what it holds beside its pixels is read too


class IdleLane:
    """``await lane.read(data)``: the reading, or None when the upload must take the scheduler."""

    def __init__(
        self,
        predict: Callable[[np.ndarray], np.ndarray],
        idle: Callable[[], bool],
        threshold: float | None,
        max_pixels: int,
    ) -> None:
        """``predict``: the network, called in this thread; ``idle()``: whether the scheduler has
        nothing in flight; ``threshold`` and ``max_pixels`` as for :func:`read_digit`."""
        self.predict = predict
        self.idle = idle
        self.threshold = threshold
        self.max_pixels = max_pixels
        self.taken = 0  # readings done in this lane
        self._arriving = 0

    async def read(self, data: bytes) -> Reading | None:
        """The digit in ``data`` read here when it is alone and small; None otherwise. Raises the
        reading's :class:`~model.recipe.ImageError`, as the scheduler's road would."""
        if not self.idle() or not self._small(data):
            return None
        self._arriving += 1
        try:
            await asyncio.sleep(0)  # one turn of the loop: requests that came with this one get here too
        finally:
            self._arriving -= 1
        if self._arriving or not self.idle():
            return None
        self.taken += 1
        return run(read_digit(data, self.threshold, self.max_pixels), self.predict)

    def _small(self, data: bytes) -> bool:
        """Is the upload at most ``INLINE_BYTES``, and its decode cost, by its header, at most
        ``INLINE_PIXELS``? A header that cannot be read is not: the scheduler's road says what is wrong."""
        if len(data) > INLINE_BYTES:
            return False
        try:
            return upload_cost(data, self.max_pixels) <= INLINE_PIXELS
        except ImageError:
            return False

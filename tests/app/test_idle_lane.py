"""The idle lane (``app.idle_lane``): a lone small upload is read on the event loop, with the reading the
scheduler's road gives; anything else (company, a large or odd upload, a busy scheduler) takes the road."""

from __future__ import annotations

import asyncio
import io

import numpy as np
import pytest
from PIL import Image

from app.idle_lane import INLINE_BYTES, IdleLane
from app.predictor import Predictor
from model.recipe import NoDigitError
from model.recipe.digit_reader import Reading
from tests.helpers import FakeNetwork, png


def lane_of(net: FakeNetwork, idle: bool = True) -> IdleLane:
    return IdleLane(net.predict, lambda: idle, None, 2048 * 2048)


def test_a_lone_small_upload_is_read_here(fake_net: FakeNetwork, seven: bytes) -> None:
    lane = lane_of(fake_net)
    reading = asyncio.run(lane.read(seven))
    assert reading is not None and reading.digit == 3 and reading.is_digit
    assert fake_net.batches == [1]


def test_uploads_that_come_together_take_the_road_and_share_a_network_call(fake_net: FakeNetwork, seven: bytes) -> None:
    predictor = Predictor(fake_net)
    predictor.start()
    fake_net.batches.clear()
    try:

        async def together() -> list[Reading]:
            return list(await asyncio.gather(*(predictor.predict(seven) for _ in range(3))))

        readings = asyncio.run(together())
    finally:
        predictor.close()
    assert [r.digit for r in readings] == [3, 3, 3]
    assert predictor.lane.taken == 0 and fake_net.batches == [3]


def test_a_busy_scheduler_sends_uploads_the_road(fake_net: FakeNetwork, seven: bytes) -> None:
    assert asyncio.run(lane_of(fake_net, idle=False).read(seven)) is None


@pytest.mark.parametrize("side", [321, 640])
def test_a_large_image_takes_the_road(fake_net: FakeNetwork, side: int) -> None:
    assert asyncio.run(lane_of(fake_net).read(png(np.zeros((side, side), np.uint8)))) is None


def test_a_large_upload_of_a_small_image_takes_the_road(fake_net: FakeNetwork) -> None:
    buf = io.BytesIO()
    Image.new("L", (28, 28)).save(buf, "PNG", pnginfo=_padding(INLINE_BYTES))
    assert len(buf.getvalue()) > INLINE_BYTES
    assert asyncio.run(lane_of(fake_net).read(buf.getvalue())) is None


def test_an_unreadable_header_takes_the_road_which_names_the_problem(fake_net: FakeNetwork) -> None:
    assert asyncio.run(lane_of(fake_net).read(b"not an image")) is None


def test_a_blank_image_fails_here_as_on_the_road(fake_net: FakeNetwork) -> None:
    with pytest.raises(NoDigitError):
        asyncio.run(lane_of(fake_net).read(png(np.zeros((28, 28), np.uint8))))


def test_the_predictor_reads_alike_on_both_roads(digits: tuple[list[bytes], np.ndarray]) -> None:
    """The shipped network: each sample digit alone (the lane) and in company (the scheduler)."""
    from model import load

    predictor = Predictor(load())
    predictor.start()
    try:

        async def alone_then_together() -> tuple[list[Reading], list[Reading]]:
            alone = [await predictor.predict(d) for d in digits[0]]
            together = await asyncio.gather(*(predictor.predict(d) for d in digits[0]))
            return alone, list(together)

        taken_before = predictor.lane.taken
        alone, together = asyncio.run(alone_then_together())
        assert predictor.lane.taken - taken_before == len(digits[0])
    finally:
        predictor.close()
    for a, b in zip(alone, together, strict=True):
        assert a.digit == b.digit and a.is_digit == b.is_digit
        np.testing.assert_allclose(a.probabilities, b.probabilities, atol=1e-6)


def _padding(size: int) -> object:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("padding", "x" * size)
    return info

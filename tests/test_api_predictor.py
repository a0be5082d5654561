"""The predictor behind the API: micro-batching, per-image errors, bugs reported (not swallowed), and the
app's answer when the network itself fails."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from app.main import create_app
from app.predictor import Predictor
from app.settings import Settings
from model.recipe import NoDigitError, UnsupportedImageError
from tests.helpers import png, sample_digits


class FakeNetwork:
    """Answers 3 for every image and records the batch sizes; ``gate`` holds calls until it is set, so
    that requests pile up behind the first one."""

    def __init__(self) -> None:
        self.metadata: dict[str, Any] = {"name": "fake", "sha256": "0" * 64}
        self.batches: list[int] = []
        self.gate = threading.Event()
        self.gate.set()

    def predict(self, images: np.ndarray) -> np.ndarray:
        assert images.dtype == np.uint8 and images.shape[1:] == (28, 28)
        self.gate.wait(10)
        self.batches.append(len(images))
        p = np.zeros((len(images), 10), np.float32)
        p[:, 3] = 1
        return p


@pytest.fixture(scope="module")
def images() -> list[bytes]:
    x, _ = sample_digits()
    return [png(d) for d in x[:40]]


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_concurrent_requests_share_network_calls(images: list[bytes]) -> None:
    net = FakeNetwork()
    predictor = Predictor(net, max_batch=16)
    predictor.start()  # one warm-up call
    net.batches.clear()
    net.gate.clear()  # hold the first batch so the rest queue up behind it

    async def main() -> list[Any]:
        pending = asyncio.gather(*(predictor.predict(data) for data in images))
        await asyncio.sleep(0.5)
        net.gate.set()
        return list(await pending)

    try:
        outcomes = run(main())
    finally:
        predictor.close()
    assert all(o.error is None and int(o.probabilities.argmax()) == 3 for o in outcomes)
    assert sum(net.batches) == len(images)
    assert max(net.batches) > 1 and max(net.batches) <= 16
    assert len(net.batches) < len(images)


def test_each_image_gets_its_own_error(images: list[bytes]) -> None:
    predictor = Predictor(FakeNetwork())
    predictor.start()
    blank = png(np.zeros((28, 28), np.uint8))
    try:
        outcomes = run(predictor.predict_many([images[0], b"not an image", blank, images[1]], debug=True))
    finally:
        predictor.close()
    good, unsupported, blank_outcome, good2 = outcomes
    assert good.probabilities is not None and good.seen_png is not None and good2.error is None
    assert isinstance(unsupported.error, UnsupportedImageError)
    assert isinstance(blank_outcome.error, NoDigitError)
    assert not predictor.alive


def test_a_failing_network_is_a_500_with_json_not_a_hang(images: list[bytes]) -> None:
    app = create_app(Settings(), loader=lambda path: _failing_after_warmup())
    with TestClient(app, raise_server_exceptions=False) as client:
        r = client.post("/predict", content=images[0], headers={"content-type": "image/png"})
        assert r.status_code == 500
        assert "bug in the service" in r.json()["detail"]
        assert client.get("/ready").status_code == 200  # the worker threads survived
        r = client.post("/predict", content=b"junk", headers={"content-type": "image/png"})
        assert r.status_code == 422  # client mistakes are still answered as such


def _failing_after_warmup() -> FakeNetwork:
    net = FakeNetwork()

    def predict(images: np.ndarray) -> np.ndarray:
        if len(net.batches) == 0:
            net.batches.append(len(images))  # the warm-up call succeeds
            return np.zeros((len(images), 10), np.float32)
        raise RuntimeError("the network broke")

    net.predict = predict  # type: ignore[method-assign]
    return net


def test_a_bug_on_one_batch_image_fails_only_that_image(
    images: list[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    import app.predictor
    from app.errors import INTERNAL_ERROR

    real = app.predictor.read_header

    def buggy(data: bytes, max_pixels: int) -> Image.Image:
        if data == b"trigger the bug":
            raise RuntimeError("a bug in preprocessing")
        return real(data, max_pixels)

    monkeypatch.setattr(app.predictor, "read_header", buggy)
    with TestClient(create_app(Settings()), raise_server_exceptions=False) as client:
        files = [("files", ("a.png", images[0], "image/png")), ("files", ("b.png", b"trigger the bug", "image/png"))]
        r = client.post("/predict/batch", files=files)
        assert r.status_code == 200
        first, second = r.json()["predictions"]
        assert first["digit"] == 7
        assert second == {"error": INTERNAL_ERROR, "status": 500}
        r = client.post("/predict", content=b"trigger the bug", headers={"content-type": "image/png"})
        assert r.status_code == 500 and r.json() == {"detail": INTERNAL_ERROR}
        assert 'digits_rejected_images_total{reason="InternalError"} 1.0' in client.get("/metrics").text


def test_run_decoder_runs_a_function_of_the_image_in_the_decoder_process(images: list[bytes]) -> None:
    from model.recipe import preprocess

    predictor = Predictor(FakeNetwork())
    predictor.start()

    async def main() -> tuple[np.ndarray, BaseException | None]:
        digit = await predictor.run_decoder(preprocess, images[0], 4096 * 4096)
        try:
            await predictor.run_decoder(preprocess, b"not an image", 4096 * 4096)
        except UnsupportedImageError as exc:
            return digit, exc
        return digit, None

    try:
        digit, error = run(main())
    finally:
        predictor.close()
    assert np.array_equal(digit, preprocess(images[0]))
    assert isinstance(error, UnsupportedImageError)


def test_a_decoder_crash_is_that_image_s_error_and_the_next_image_is_decoded(images: list[bytes]) -> None:
    import ctypes

    from app.decoder_process import DecoderCrashedError
    from model.recipe import preprocess

    predictor = Predictor(FakeNetwork())
    predictor.start()

    async def main() -> tuple[BaseException | None, np.ndarray]:
        try:  # a segmentation fault in the child, as a decoder bug on a hostile file would give
            await predictor.run_decoder(ctypes.string_at, 0)  # type: ignore[arg-type]  # reads address 0
            crashed: BaseException | None = None
        except DecoderCrashedError as exc:
            crashed = exc
        return crashed, await predictor.run_decoder(preprocess, images[0], 4096 * 4096)

    try:
        crashed, digit = run(main())
    finally:
        predictor.close()
    assert isinstance(crashed, DecoderCrashedError) and "crashed the decoder" in str(crashed)
    assert np.array_equal(digit, preprocess(images[0]))


def test_a_lone_small_request_is_read_on_the_loop_and_a_large_one_in_the_thread(images: list[bytes]) -> None:
    net = FakeNetwork()
    predictor = Predictor(net)
    predictor.start()
    large = png(np.full((400, 400), 255, np.uint8) - np.pad(np.full((200, 200), 255, np.uint8), 100))
    try:
        lone = run(predictor.predict(images[0]))
        assert predictor.inline == 1 and int(lone.probabilities.argmax()) == 3
        big = run(predictor.predict(large))  # 160,000 pixels: over INLINE_PIXELS
        assert big.error is None and predictor.inline == 1
        blank = run(predictor.predict(png(np.zeros((28, 28), np.uint8))))
        assert isinstance(blank.error, NoDigitError) and predictor.inline == 2  # its error answered in the lane
    finally:
        predictor.close()

"""Bugs of ours through the API: reported as a JSON 500 (not swallowed, not a hang), for the request or
the batch image they hit alone, and the worker lives on."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from tests.helpers import FakeNetwork


def test_a_failing_network_is_a_500_with_json_not_a_hang(seven: bytes) -> None:
    app = create_app(Settings(), loader=lambda path: _failing_after_warmup())
    with TestClient(app, raise_server_exceptions=False) as client:
        r = client.post("/predict", content=seven, headers={"content-type": "image/png"})
        assert r.status_code == 500
        assert "bug in the service" in r.json()["detail"]
        assert client.get("/ready").status_code == 200  # the worker threads survived
        r = client.post("/predict", content=b"junk", headers={"content-type": "image/png"})
        assert r.status_code == 422  # client mistakes are still answered as such


def _failing_after_warmup() -> FakeNetwork:
    """A network whose warm-up call works and every later call raises."""
    net = FakeNetwork()

    def predict(images: np.ndarray) -> np.ndarray:
        if len(net.batches) == 0:
            net.batches.append(len(images))  # the warm-up call succeeds
            return np.zeros((len(images), 10), np.float32)
        raise RuntimeError("the network broke")

    net.predict = predict  # type: ignore[method-assign]
    return net


def test_a_bug_on_one_batch_image_fails_only_that_image(seven: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    from app.errors import INTERNAL_ERROR
    from model.recipe import digit_reader

    real = digit_reader.preprocess

    def buggy(data: bytes, max_pixels: int) -> np.ndarray:
        if data == b"trigger the bug":
            raise RuntimeError("a bug in preprocessing")
        return real(data, max_pixels)

    monkeypatch.setattr(digit_reader, "preprocess", buggy)
    with TestClient(create_app(Settings()), raise_server_exceptions=False) as client:
        files = [("files", ("a.png", seven, "image/png")), ("files", ("b.png", b"trigger the bug", "image/png"))]
        r = client.post("/predict/batch", files=files)
        assert r.status_code == 200
        first, second = r.json()["predictions"]
        assert first["digit"] == 7
        assert second == {"error": INTERNAL_ERROR, "status": 500}
        r = client.post("/predict", content=b"trigger the bug", headers={"content-type": "image/png"})
        assert r.status_code == 500 and r.json() == {"detail": INTERNAL_ERROR}
        assert 'digits_rejected_images_total{reason="InternalError"} 1.0' in client.get("/metrics").text

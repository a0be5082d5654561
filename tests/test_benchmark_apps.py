"""The yardstick apps of ``benchmarks/bench_service.py`` answer what the benchmark sends them."""

from __future__ import annotations

import importlib.util
import io

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from benchmarks import baseline_apps
from tests.helpers import sample_digits


@pytest.fixture(scope="module")
def seven() -> bytes:
    buf = io.BytesIO()
    Image.fromarray(sample_digits()[0][0]).save(buf, format="PNG")
    return buf.getvalue()


@pytest.mark.parametrize("name", ["decode_only_app", "preprocess_only_app"])
def test_constant_yardsticks_decode_and_answer_a_constant(name: str, seven: bytes) -> None:
    with TestClient(getattr(baseline_apps, name)) as c:
        r = c.post("/predict", content=seven, headers={"content-type": "image/png"})
        assert r.status_code == 200 and r.json() == baseline_apps.CONSTANT
        with pytest.raises(Exception, match="image"):  # they really decode: garbage is not answered
            c.post("/predict", content=b"not an image", headers={"content-type": "image/png"})


def test_free_network_app_is_our_service_with_a_network_that_always_says_3(seven: bytes) -> None:
    with TestClient(baseline_apps.free_network_app) as c:
        r = c.post("/predict", content=seven, headers={"content-type": "image/png"})
        assert r.status_code == 200 and r.json()["digit"] == 3 and r.json()["model"].startswith("free")
        assert c.post("/predict", content=b"not an image", headers={"content-type": "image/png"}).status_code == 422


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="PyTorch is not installed (the bench extra)")
def test_torch_app_reads_the_seven(seven: bytes) -> None:
    with TestClient(baseline_apps.torch_app) as c:
        r = c.post("/predict", content=seven, headers={"content-type": "image/png"})
        assert r.status_code == 200 and r.json()["model"].startswith("torch-seed")

"""The yardstick apps of ``benchmarks/bench_service.py`` answer what the benchmark sends them."""

from __future__ import annotations

import importlib.util

import pytest
from fastapi.testclient import TestClient
from PIL import UnidentifiedImageError

from benchmarks import baseline_apps
from model.recipe import UnsupportedImageError

PNG = {"content-type": "image/png"}


@pytest.mark.parametrize(
    ("name", "error"),
    [("decode_only_app", UnidentifiedImageError), ("preprocess_only_app", UnsupportedImageError)],
)
def test_constant_yardsticks_decode_and_answer_a_constant(name: str, error: type[Exception], seven: bytes) -> None:
    with TestClient(getattr(baseline_apps, name)) as c:
        r = c.post("/predict", content=seven, headers=PNG)
        assert r.status_code == 200 and r.json() == baseline_apps.CONSTANT
        with pytest.raises(error):  # they really decode: garbage is not answered
            c.post("/predict", content=b"not an image", headers=PNG)


@pytest.mark.parametrize("name", ["free_network_app", "inline_free_network_app"])
def test_free_network_apps_are_our_service_with_a_network_that_always_says_3(name: str, seven: bytes) -> None:
    with TestClient(getattr(baseline_apps, name)) as c:
        r = c.post("/predict", content=seven, headers=PNG)
        assert r.status_code == 200 and r.json()["digit"] == 3 and r.json()["model"].startswith("free")
        assert c.post("/predict", content=b"not an image", headers=PNG).status_code == 422


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="PyTorch is not installed (the bench extra)")
def test_torch_app_reads_the_seven(seven: bytes) -> None:
    with TestClient(baseline_apps.torch_app) as c:
        r = c.post("/predict", content=seven, headers=PNG)
        assert r.status_code == 200 and r.json()["model"].startswith("torch-small")

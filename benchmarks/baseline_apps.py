"""Yardstick apps for ``bench_service.py`` (uvicorn targets ``benchmarks.baseline_apps:<name>``).

- ``decode_only_app``: reads the raw body, decodes the PNG with Pillow and answers a constant: the
  ceiling of any model served on this stack.
- ``preprocess_only_app``: the same, with the service's preprocessing (crop, 20x20 resize, centre of
  mass) after the decode: what the MNIST recipe alone costs, before any network or service feature.
- ``torch_app``: our service, unchanged, with the network swapped for the ``small`` architecture in
  PyTorch eval mode (the ``bench`` extra), so the two differ only in the model.
- ``free_network_app``: our service with a network that costs nothing: what everything but the model
  costs (preprocessing, the worker thread, metrics, FastAPI).
- ``inline_free_network_app``: the same, with decoding and preprocessing run on the event loop instead
  of the worker thread (swapped in through FastAPI's ``dependency_overrides``): what the hand-off to
  the thread costs. (Not how to serve: it blocks the loop.)

The apps are built on first access, so starting one imports nothing the others need.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from PIL import Image

decode_only_app = FastAPI()  # built eagerly: the others are made by __getattr__ below
CONSTANT = {"digit": 0, "confidence": 1.0, "probabilities": [1.0] + [0.0] * 9, "model": "constant"}


@decode_only_app.post("/predict")
async def decode_only(request: Request) -> JSONResponse:
    with Image.open(io.BytesIO(await request.body())) as im:
        im.load()
    return JSONResponse(CONSTANT)


class TorchSmall:
    """``predict((N, 28, 28) uint8) -> (N, 10) float32`` with the small network in PyTorch."""

    def __init__(self, metadata: dict[str, Any]) -> None:
        import torch

        from benchmarks.torch_small import torch_small
        from model import architectures, manual_seed

        torch.set_num_threads(1)
        manual_seed(0)
        self.torch = torch
        self.net = torch_small().eval()
        self.metadata = {**metadata, "name": "torch-small", "parameters": architectures.build("small").num_parameters()}

    def predict(self, images: np.ndarray) -> np.ndarray:
        from model.normalize import to_network_input

        with self.torch.inference_mode():
            x = self.torch.from_numpy(to_network_input(images))
            return self.torch.softmax(self.net(x), dim=1).numpy()


class FreeNetwork:
    """A network that costs nothing: every digit is a 3."""

    def __init__(self, metadata: dict[str, Any]) -> None:
        self.metadata = {**metadata, "name": "free"}

    def predict(self, images: np.ndarray) -> np.ndarray:
        p = np.zeros((len(images), 10), np.float32)
        p[:, 3] = 1
        return p


def _shipped_metadata(path: Any) -> dict[str, Any]:
    from app.startup import load_network

    return dict(load_network(path).metadata)


def _make_preprocess_only_app() -> FastAPI:
    from model.recipe import preprocess

    app = FastAPI()

    @app.post("/predict")
    async def preprocess_only(request: Request) -> JSONResponse:
        preprocess(await request.body())
        return JSONResponse(CONSTANT)

    return app


def _make_torch_app() -> FastAPI:
    from app.main import create_app

    return create_app(loader=lambda path: TorchSmall(_shipped_metadata(path)))


def _make_free_network_app() -> FastAPI:
    from app.main import create_app

    return create_app(loader=lambda path: FreeNetwork(_shipped_metadata(path)))


def _make_inline_free_network_app() -> FastAPI:
    from app.dependencies import get_predictor
    from app.predictor import Predictor
    from model.recipe.digit_reader import Reading, read_digit
    from model.steps import run

    class InlinePredictor(Predictor):
        """The loaded predictor's network and limits, run on the event loop (its thread never starts)."""

        async def predict(self, data: bytes) -> Reading:
            return run(read_digit(data, self.reject_threshold, self.max_pixels), self.net.predict)

    inline: dict[int, InlinePredictor] = {}

    async def inline_predictor(request: Request) -> Predictor:
        loaded = await get_predictor(request)  # 503 until the lifespan has loaded the weights
        if id(loaded) not in inline:
            inline.clear()
            inline[id(loaded)] = InlinePredictor(loaded.net, loaded.settings, version=loaded.version)
        return inline[id(loaded)]

    app = _make_free_network_app()
    app.dependency_overrides[get_predictor] = inline_predictor
    return app


_FACTORIES = {
    "preprocess_only_app": _make_preprocess_only_app,
    "torch_app": _make_torch_app,
    "free_network_app": _make_free_network_app,
    "inline_free_network_app": _make_inline_free_network_app,
}


def __getattr__(name: str) -> FastAPI:
    """The apps other than ``decode_only_app``, built when uvicorn first asks for them."""
    if name not in _FACTORIES:
        raise AttributeError(name)
    built = _FACTORIES[name]()
    globals()[name] = built
    return built

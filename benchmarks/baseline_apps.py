"""Yardstick apps for ``bench_service.py`` (uvicorn targets ``benchmarks.baseline_apps:<name>``).

- ``decode_only_app``: reads the raw body, decodes the PNG with Pillow and answers a constant: the
  ceiling of any model served on this stack.
- ``torch_app``: our service, unchanged, with the network swapped for the ``seed`` architecture in
  PyTorch eval mode (the ``bench`` extra), so the two differ only in the model.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from PIL import Image

decode_only_app = FastAPI()
CONSTANT = {"digit": 0, "confidence": 1.0, "probabilities": [1.0] + [0.0] * 9, "model": "constant"}


@decode_only_app.post("/predict")
async def decode_only(request: Request) -> JSONResponse:
    with Image.open(io.BytesIO(await request.body())) as im:
        im.load()
    return JSONResponse(CONSTANT)


class TorchSeed:
    """``predict((N, 28, 28) uint8) -> (N, 10) float32`` with the seed network in PyTorch."""

    def __init__(self, metadata: dict[str, Any]) -> None:
        import torch

        from benchmarks.torch_seed import torch_seed
        from model import architectures, manual_seed

        torch.set_num_threads(1)
        manual_seed(0)
        self.torch = torch
        self.net = torch_seed().eval()
        self.metadata = {**metadata, "name": "torch-seed", "parameters": architectures.build("seed").num_parameters()}

    def predict(self, images: np.ndarray) -> np.ndarray:
        from model.normalize import to_network_input

        with self.torch.inference_mode():
            x = self.torch.from_numpy(to_network_input(images))
            return self.torch.softmax(self.net(x), dim=1).numpy()


def _torch_loader(path: Any) -> TorchSeed:
    from app.lifespan import load_network

    return TorchSeed(load_network(path).metadata)


def _make_torch_app() -> FastAPI:
    from app.main import create_app

    return create_app(loader=_torch_loader)


torch_app = _make_torch_app()

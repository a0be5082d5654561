"""Peer: FastAPI + PyTorch, the network run inline in the endpoint (uvicorn with uvloop + httptools).

    uvicorn benchmarks.peers.fastapi_torch:app --loop uvloop --http httptools   # BENCH_EXPORT_DIR set

The exported network rebuilt in PyTorch (:mod:`benchmarks.peers.torch_net`), eval mode,
``torch.set_num_threads(1)`` (the server is pinned to one CPU), each call under ``inference_mode``; the
service's preprocessing and answer (:mod:`benchmarks.peers.common`).
"""

from __future__ import annotations

from typing import Annotated

import torch
from fastapi import FastAPI, File, UploadFile
from fastapi.responses import JSONResponse

from benchmarks.peers.common import ImageError, export_dir, network_input, preprocess, readings, shipped
from benchmarks.peers.torch_net import load

torch.set_num_threads(1)
NET = shipped()
MODEL = load(export_dir())

app = FastAPI()


@app.post("/predict")
async def predict(file: Annotated[UploadFile, File()]) -> JSONResponse:
    try:
        digit = preprocess(await file.read())
    except ImageError as exc:
        return JSONResponse({"detail": str(exc)}, status_code=422)
    with torch.inference_mode():
        probabilities = MODEL(torch.from_numpy(network_input(digit[None], NET))).numpy()
    return JSONResponse(readings(probabilities, NET)[0])

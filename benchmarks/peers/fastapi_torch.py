"""Peer: FastAPI + PyTorch, the network run inline in the endpoint (uvicorn with uvloop + httptools).

    uvicorn benchmarks.peers.fastapi_torch:app --loop uvloop --http httptools   # BENCH_EXPORT_DIR set

The exported network rebuilt in PyTorch (:mod:`benchmarks.peers.torch_net`), eval mode,
``torch.set_num_threads(1)`` (the server is pinned to one CPU), each call under ``inference_mode``; the
service's preprocessing and answer (:mod:`benchmarks.peers.common`).

It takes the image as the multipart field ``file`` or, when the Content-Type is ``image/*``, as the raw
body (``await request.body()``); anything else gets a 422 saying so.
"""

from __future__ import annotations

from typing import Annotated

import torch
from fastapi import FastAPI, File, Request, UploadFile
from fastapi.responses import JSONResponse

from benchmarks.peers.common import ImageError, export_dir, network_input, preprocess, readings, shipped
from benchmarks.peers.torch_net import load

torch.set_num_threads(1)
NET = shipped()
MODEL = load(export_dir())

UPLOADS = "send the image as the multipart field 'file' or as the raw body with an image/* Content-Type"
app = FastAPI()


@app.post("/predict")
async def predict(request: Request, file: Annotated[UploadFile | None, File()] = None) -> JSONResponse:
    if file is not None:
        data = await file.read()
    elif request.headers.get("content-type", "").startswith("image/"):
        data = await request.body()
    else:
        return JSONResponse({"detail": UPLOADS}, status_code=422)
    try:
        digit = preprocess(data)
    except ImageError as exc:
        return JSONResponse({"detail": str(exc)}, status_code=422)
    with torch.inference_mode():
        probabilities = MODEL(torch.from_numpy(network_input(digit[None], NET))).numpy()
    return JSONResponse(readings(probabilities, NET)[0])

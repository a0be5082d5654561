"""Peer: FastAPI + onnxruntime, the network run inline in the endpoint (uvicorn with uvloop + httptools).

    uvicorn benchmarks.peers.fastapi_ort:app --loop uvloop --http httptools   # BENCH_EXPORT_DIR set

One onnxruntime session on the exported ``network.onnx``, one intra-op and one inter-op thread (the
server is pinned to one CPU); the service's preprocessing and answer (:mod:`benchmarks.peers.common`).

It takes the image as the multipart field ``file`` or, when the Content-Type is ``image/*``, as the raw
body (``await request.body()``); anything else gets a 422 saying so.
"""

from __future__ import annotations

from typing import Annotated

import onnxruntime as ort
from fastapi import FastAPI, File, Request, UploadFile
from fastapi.responses import JSONResponse

from benchmarks.peers.common import ImageError, export_dir, network_input, preprocess, readings, shipped

NET = shipped()
_options = ort.SessionOptions()
_options.intra_op_num_threads = _options.inter_op_num_threads = 1
SESSION = ort.InferenceSession(str(export_dir() / "network.onnx"), _options, providers=["CPUExecutionProvider"])

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
    probabilities = SESSION.run(None, {"x": network_input(digit[None], NET)})[0]
    return JSONResponse(readings(probabilities, NET)[0])

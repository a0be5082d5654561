"""Peer: the ceiling. FastAPI on uvloop + httptools that reads the upload, decodes the image with Pillow
and answers a constant: no preprocessing, no network. No digit service on this stack can be faster.

    uvicorn benchmarks.peers.decode_only:app --loop uvloop --http httptools

It takes the image as the multipart field ``file`` or, when the Content-Type is ``image/*``, as the raw
body (``await request.body()``); anything else gets a 422 saying so.
"""

from __future__ import annotations

import io
from typing import Annotated

from fastapi import FastAPI, File, Request, UploadFile
from fastapi.responses import JSONResponse
from PIL import Image

CONSTANT = {"digit": 0, "confidence": 1.0, "probabilities": [1.0] + [0.0] * 9, "is_digit": True}

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
    with Image.open(io.BytesIO(data)) as im:
        im.load()
    return JSONResponse(CONSTANT)

"""Peer: the ceiling. FastAPI on uvloop + httptools that reads the upload, decodes the image with Pillow
and answers a constant: no preprocessing, no network. No digit service on this stack can be faster.

    uvicorn benchmarks.peers.decode_only:app --loop uvloop --http httptools
"""

from __future__ import annotations

import io
from typing import Annotated

from fastapi import FastAPI, File, UploadFile
from fastapi.responses import JSONResponse
from PIL import Image

CONSTANT = {"digit": 0, "confidence": 1.0, "probabilities": [1.0] + [0.0] * 9, "is_digit": True}

app = FastAPI()


@app.post("/predict")
async def predict(file: Annotated[UploadFile, File()]) -> JSONResponse:
    with Image.open(io.BytesIO(await file.read())) as im:
        im.load()
    return JSONResponse(CONSTANT)

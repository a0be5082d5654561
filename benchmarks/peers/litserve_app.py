"""Peer: LitServe serving the network in PyTorch, with LitServe's default settings.

    python -m benchmarks.peers.litserve_app PORT   # BENCH_EXPORT_DIR set

PyTorch, because that is what LitServe's own examples serve (``setup`` loads a ``torch.nn.Module``).
``LitServer(api, accelerator="cpu")``: one inference worker process beside one API server process
(uvicorn, uvloop + httptools), ``max_batch_size=1`` (LitServe's default: no batching; its batching
waits up to ``batch_timeout`` for a batch to fill, which a lone client pays on every request). Set
``BENCH_LITSERVE_BATCH=16,0.005`` (max_batch_size, batch_timeout in seconds) to try batching.
Request decoding (the service's preprocessing) runs in the inference worker, as LitServe calls
``decode_request`` there. Logs at warning level and no generated ``client.py``, as for every server.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import litserve as ls
import numpy as np
import torch
from fastapi import HTTPException

from benchmarks.peers.common import ImageError, export_dir, network_input, preprocess, readings, shipped
from benchmarks.peers.torch_net import load


class DigitAPI(ls.LitAPI):
    def setup(self, device: str) -> None:
        torch.set_num_threads(1)
        self.net = shipped()
        self.model = load(export_dir()).to(device)

    # ``request`` unannotated: LitServe then parses the body (here, the multipart form) and passes it on.
    def decode_request(self, request) -> np.ndarray:
        try:
            return preprocess(request["file"].file.read())
        except ImageError as exc:
            raise HTTPException(422, str(exc)) from exc

    def predict(self, digits: np.ndarray) -> np.ndarray:
        digits = digits if digits.ndim == 3 else digits[None]  # batched, LitServe's batch() stacked them
        with torch.inference_mode():
            return self.model(torch.from_numpy(network_input(digits, self.net))).numpy()

    def encode_response(self, probabilities: np.ndarray) -> dict[str, Any]:
        return readings(np.atleast_2d(probabilities), self.net)[0]  # batched: one row of the batch


def main() -> None:
    batch = os.environ.get("BENCH_LITSERVE_BATCH")
    size, timeout = (int(batch.split(",")[0]), float(batch.split(",")[1])) if batch else (1, 0.0)
    server = ls.LitServer(DigitAPI(max_batch_size=size, batch_timeout=timeout), accelerator="cpu")
    server.run(host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", generate_client_file=False)


if __name__ == "__main__":
    main()

"""Peer: a BentoML service with adaptive batching, one worker, the network in PyTorch.

    bentoml serve benchmarks.peers.bentoml_service:Digits --host 127.0.0.1 --port PORT   # BENCH_EXPORT_DIR set

BentoML's idiom for batching (``@bentoml.api(batchable=True)``, its defaults: ``max_batch_size=100``,
``max_latency_ms=60000``): the API takes a batch, ``file: list[Path]``, and BentoML's adaptive
dispatcher merges the files of concurrent requests into one call. A request posts one multipart field
``file`` like every other server's, and so gets back a list of one answer (a batchable API answers each
request with its slice of the batch). Preprocessing runs inside the batch, in BentoML's one inference
thread. ``workers=1``, ``torch.set_num_threads(1)`` (the server is pinned to one CPU), access log off as
for every server.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import bentoml
import numpy as np
import torch

from benchmarks.peers.common import export_dir, network_input, preprocess, readings, shipped
from benchmarks.peers.torch_net import load


@bentoml.service(workers=1, logging={"access": {"enabled": False}})
class Digits:
    def __init__(self) -> None:
        torch.set_num_threads(1)
        self.net = shipped()
        self.model = load(export_dir())

    @bentoml.api(batchable=True)
    def predict(self, file: list[Path]) -> list[dict[str, Any]]:
        digits = np.stack([preprocess(p.read_bytes()) for p in file])
        with torch.inference_mode():
            probabilities = self.model(torch.from_numpy(network_input(digits, self.net))).numpy()
        return readings(probabilities, self.net)

"""Export the shipped network to ONNX and check each engine against ``model.load().predict``.

Run by ``benchmarks.peers.check`` inside the peers' environments, with ``BENCH_EXPORT_DIR`` holding
``network.json`` / ``network.npz`` (the NumPy ops) and ``reference.npz`` (digits, the NumPy network's
probabilities and ``is_digit``, the exact float64 probabilities)::

    python -m benchmarks.peers.export torch DIR                # PyTorch vs NumPy
    python -m benchmarks.peers.export torch DIR --write-onnx   # the same, then DIR/network.onnx (needs onnx)
    python -m benchmarks.peers.export onnx DIR                 # onnxruntime on DIR/network.onnx vs NumPy

The ONNX file comes from ``torch.onnx.export(..., dynamo=False)`` (opset 17, dynamic batch axis).

Prints one JSON line: the largest absolute difference of the probabilities from NumPy's, over the whole
reference set in one batch and one digit at a time, for the MNIST digits and the preprocessed canvases
apart; how many images differ by more than 5e-7; the largest difference from the exact result (the
same ops evaluated in float64, ``reference.npz``'s ``exact``); and whether every ``is_digit`` and
closest digit agree. ``benchmarks.peers.check.judge`` decides whether that passes.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

from benchmarks.peers.common import network_input, readings, shipped

KINDS = ("mnist", "canvas")  # reference.npz's "kind": 0 = an MNIST test digit, 1 = a preprocessed canvas
TOLERANCE = 5e-7  # the bound on |probability - model.load().predict|


def compare(run: Callable[[np.ndarray], np.ndarray], directory: Path) -> dict[str, object]:
    net = shipped(directory)
    with np.load(directory / "reference.npz") as f:
        digits, expected, exact, kind = f["digits"], f["probabilities"], f["exact"], f["kind"]
        expected_is_digit = f["is_digit"]
    x = network_input(digits, net)
    batch = run(x)
    single = np.concatenate([run(x[i : i + 1]) for i in range(len(x))])
    report: dict[str, object] = {"images": len(x)}
    for k, name in enumerate(KINDS):
        m = kind == k
        report[f"{name}_max_abs_diff_batch"] = float(np.abs(batch[m] - expected[m]).max())
        report[f"{name}_max_abs_diff_single"] = float(np.abs(single[m] - expected[m]).max())
    per_image = np.maximum(np.abs(batch - expected), np.abs(single - expected)).max(axis=1)
    report["max_abs_diff"] = float(per_image.max())
    report["images_over_tolerance"] = int((per_image > TOLERANCE).sum())
    report["worst_image_top_probabilities"] = np.sort(expected[per_image.argmax()])[-2:].astype(float).round(4).tolist()
    report["max_abs_diff_from_exact"] = float(max(np.abs(batch - exact).max(), np.abs(single - exact).max()))
    answers = readings(batch, net)
    report["is_digit_equal"] = all(a["is_digit"] == bool(e) for a, e in zip(answers, expected_is_digit, strict=True))
    report["argmax_equal"] = bool((batch.argmax(axis=1) == expected.argmax(axis=1)).all())
    return report


def check_torch(directory: Path, write_onnx: bool = False) -> dict[str, object]:
    import torch

    from benchmarks.peers.torch_net import load

    torch.set_num_threads(1)
    model = load(directory)

    def run(x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return model(torch.from_numpy(x)).numpy()

    report = compare(run, directory)
    report["engine"] = f"torch {torch.__version__}"
    if not write_onnx:
        return report
    example = torch.from_numpy(np.zeros((1, 1, 28, 28), np.float32))
    torch.onnx.export(
        model,
        (example,),
        str(directory / "network.onnx"),
        input_names=["x"],
        output_names=["probabilities"],
        dynamic_axes={"x": {0: "n"}, "probabilities": {0: "n"}},
        opset_version=17,
        dynamo=False,
    )
    report["onnx"] = str(directory / "network.onnx")
    return report


def check_onnx(directory: Path) -> dict[str, object]:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(directory / "network.onnx"), options, providers=["CPUExecutionProvider"])

    def run(x: np.ndarray) -> np.ndarray:
        return np.asarray(session.run(None, {"x": x})[0])

    report = compare(run, directory)
    report["engine"] = f"onnxruntime {ort.__version__}"
    return report


def main() -> None:
    engine, directory = sys.argv[1], Path(sys.argv[2])
    if engine == "torch":
        report = check_torch(directory, write_onnx="--write-onnx" in sys.argv[3:])
    else:
        report = check_onnx(directory)
    print(json.dumps(report))


if __name__ == "__main__":
    main()

"""The same network everywhere, checked: the export of the shipped network and each engine's numbers.

``model.load().ops`` are written to ``network.json`` / ``network.npz`` in the cache, rebuilt in PyTorch
and exported to ONNX there (``benchmarks/peers/export.py``), and every engine is checked against
``model.load().predict`` on the 1,000 MNIST test digits of the sample and on 64 preprocessed canvases,
in one batch and one digit at a time; the largest probability difference is printed. An engine passes
within 5e-7, or else (unless ``--strict-export``) when the difference is float32 rounding: when the
engine is within max(5e-7, twice NumPy's own error) of the exact result, the same ops evaluated in
float64. Any other difference, or any closest digit or ``is_digit`` that differs, stops the script.
(Every float32 engine, NumPy's included, is some 4-7e-7 from the exact result on a few undecided
digits, so two of them can differ by ~1e-6 there.) The same preprocessing everywhere:
``model.recipe.preprocess``, imported from this repository. Before measuring, every peer's answer to
both payloads, in each upload it takes, is compared with ours (:func:`check_answers`); ``ours@REV``'s
too, but as another revision may answer otherwise, a difference is printed and does not stop the run.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.peers.payloads import SAMPLE
from benchmarks.peers.servers import ROOT, TORCH_SERVERS

TOLERANCE = 5e-7  # the bound on |probability - model.load().predict| of an exported engine
EXPORT_RULE = (
    "every closest digit and is_digit equal, and max |p - model.load().predict| <= 5e-7, or (unless "
    "--strict-export) the engine within max(5e-7, 2x NumPy's own error) of the exact float64 result"
)
ANSWER_TOLERANCE = 2e-6  # answers are rounded to 6 decimals, so two engines within 5e-7 may differ by 1e-6
NOT_COMPARED = ("ours", "ours-free", "decode-only")  # ours itself, and the servers that run no network


def _op_spec(i: int, op: Any, arrays: dict[str, Any]) -> dict[str, Any]:
    """One compiled op as ``network.json`` describes it; its arrays go to ``arrays`` as ``w{i}``, ``b{i}``."""
    from model.layers.activation import ReLUOp
    from model.layers.conv import ConvOp
    from model.layers.flatten import FlattenOp
    from model.layers.linear import LinearOp
    from model.layers.pooling import MaxPoolOp

    if isinstance(op, ConvOp):
        arrays[f"w{i}"], arrays[f"b{i}"] = op.weight, op.bias
        return {"type": "conv", "weight": f"w{i}", "bias": f"b{i}", "stride": op.stride, "padding": op.padding}
    if isinstance(op, LinearOp):
        arrays[f"w{i}"], arrays[f"b{i}"] = op.weight, op.bias
        return {"type": "linear", "weight": f"w{i}", "bias": f"b{i}"}
    if isinstance(op, MaxPoolOp):
        return {"type": "maxpool", "kernel_size": op.kernel_size, "stride": op.stride}
    if isinstance(op, ReLUOp):
        return {"type": "relu"}
    if isinstance(op, FlattenOp):
        return {"type": "flatten"}
    raise SystemExit(f"bench_peers cannot export {type(op).__name__} yet: teach dump_network and torch_net")


def dump_network(directory: Path) -> dict[str, Any]:
    """``model.load()``'s compiled ops -> ``network.json`` + ``network.npz``; returns the spec."""
    import model

    net = model.load()
    arrays: dict[str, Any] = {}  # (Any: numpy's savez stub types **kwds as its allow_pickle flag)
    ops = [_op_spec(i, op, arrays) for i, op in enumerate(net.ops)]
    spec = {
        "ops": ops,
        "temperature": net.temperature,
        "reject_threshold": net.reject_threshold,
        "mean": net.mean,
        "std": net.std,
        "labels": net.metadata.get("labels"),
        "weights_sha256": net.metadata.get("sha256"),
    }
    directory.mkdir(parents=True, exist_ok=True)
    np.savez(directory / "network.npz", **arrays)
    (directory / "network.json").write_text(json.dumps(spec, indent=1))
    return spec


def reference_canvases(digits: np.ndarray, n: int, seed: int = 12) -> list[bytes]:
    """``n`` canvases of the sample digits as people send them: pen strokes or enlarged pixels, on a
    transparent or white canvas of 128-512 px, off-centre; PNG bytes."""
    from model.generators import canvas as cv
    from model.generators.pen import pen_redraw
    from model.normalize import DIGIT_BOX, INPUT_SIZE

    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        side = int(rng.integers(128, 513))
        size = (side, side)
        box = cv.random_box(rng, size, (0.35, 0.85))
        digit = digits[i % len(digits)]
        if i % 2:
            ink = pen_redraw(digit, size, box, rng.uniform(0.06, 0.16) * box[2] * DIGIT_BOX / INPUT_SIZE)
        else:
            ink = cv.paste_pixels(size, digit, box)
        style = cv.STYLES[2] if i % 3 else cv.STYLES[0]  # black on transparent, or black on white
        out.append(cv.encode(cv.compose(ink, style), "PNG"))
    return out


def exact_probabilities(digits: np.ndarray) -> np.ndarray:
    """The shipped network's ops evaluated in float64 (same float32 weights): the exact result that
    every float32 engine, NumPy's included, approximates."""
    import model
    from model.layers.loss import softmax
    from model.normalize import to_network_input

    net = model.load()
    x = to_network_input(digits, net.mean, net.std).astype(np.float64)
    for op in net.ops:
        x = op(x)
    return softmax(x * float(np.float32(1 / net.temperature)))


def write_reference(directory: Path) -> float:
    """``reference.npz``: the sample's MNIST digits and preprocessed canvases with NumPy's probabilities,
    ``is_digit`` and the exact float64 result. Returns NumPy's own distance from the exact result."""
    import model
    from model.recipe import preprocess

    with np.load(SAMPLE) as f:
        mnist = f["x"]
    canvases = np.stack([preprocess(data) for data in reference_canvases(mnist[500:], 64)])
    digits = np.concatenate([mnist, canvases])
    net = model.load()
    probabilities = net.predict(digits)
    _, is_digit = net.classify(digits)
    exact = exact_probabilities(digits)
    floor = float(np.abs(probabilities - exact).max())  # NumPy's own float32 rounding on this set
    kind = np.r_[np.zeros(len(mnist), np.int8), np.ones(len(canvases), np.int8)]
    np.savez(
        directory / "reference.npz",
        digits=digits,
        probabilities=probabilities,
        exact=exact,
        is_digit=is_digit,
        kind=kind,
    )
    print(
        f"export: {len(digits)} reference images ({len(mnist)} MNIST test digits, {len(canvases)} preprocessed "
        f"canvases); model.load().predict is {floor:.2e} from the exact (float64) result",
        flush=True,
    )
    return floor


def judge(report: dict[str, Any], bound: float, strict: bool) -> str:
    """Mark ``report`` (one engine's, from ``benchmarks.peers.export``) passed or not by EXPORT_RULE;
    returns the verdict's words."""
    within = report["max_abs_diff"] <= TOLERANCE
    rounding = report["max_abs_diff_from_exact"] <= bound
    agree = report["is_digit_equal"] and report["argmax_equal"]
    ok = agree and (within or (rounding and not strict))
    report.update(within_tolerance=within, within_float32_rounding=rounding, passed=ok)
    if within and agree:
        return "ok: within 5e-7"
    if ok:
        return (
            f"ok: {report['images_over_tolerance']} image(s) over 5e-7 (worst: top probabilities "
            f"{report['worst_image_top_probabilities']}), float32 rounding: {report['max_abs_diff_from_exact']:.2e} "
            f"from the exact result (bound {bound:.2e})"
        )
    return "FAILED"


def _jobs(venvs: dict[str, Path], ort: bool) -> list[tuple[str, Path, list[str]]]:
    """(name, environment, arguments of ``benchmarks.peers.export``) of each engine to check."""
    order = [n for n in TORCH_SERVERS if n in venvs]
    order.sort(key=lambda n: n != "fastapi-torch")  # fastapi-torch's environment writes network.onnx
    jobs = [(f"torch ({n})", venvs[n], ["torch", "--write-onnx"] if n == "fastapi-torch" else ["torch"]) for n in order]
    if ort:
        jobs.append(("onnxruntime (fastapi-ort)", venvs["fastapi-ort"], ["onnx"]))
    return jobs


def export_and_check(cache: Path, venvs: dict[str, Path], ort: bool, strict: bool) -> dict[str, Any]:
    """Export the network from our weights, check PyTorch (in every torch environment) and onnxruntime
    against ``model.load().predict``; stop unless every engine passes (see EXPORT_RULE)."""
    directory = cache / "export"
    spec = dump_network(directory)
    floor = write_reference(directory)
    bound = max(TOLERANCE, 2 * floor)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "BENCH_EXPORT_DIR": str(directory)}
    env.pop("PYTHONHOME", None)
    checks: dict[str, Any] = {}
    for name, venv, engine in _jobs(venvs, ort):
        cmd = [str(venv / "bin" / "python"), "-m", "benchmarks.peers.export", engine[0], str(directory), *engine[1:]]
        done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"export check {name} failed:\n{done.stderr[-4000:]}")
        report = json.loads(done.stdout.strip().splitlines()[-1])
        verdict = judge(report, bound, strict)
        checks[name] = report
        print(
            f"export check {name}: max |p - model.load().predict| = {report['max_abs_diff']:.2e} "
            f"(MNIST {report['mnist_max_abs_diff_batch']:.2e} batch / {report['mnist_max_abs_diff_single']:.2e} "
            f"one at a time; canvases {report['canvas_max_abs_diff_batch']:.2e} / "
            f"{report['canvas_max_abs_diff_single']:.2e}); {verdict}",
            flush=True,
        )
        if not report["passed"]:
            raise SystemExit(
                f"{name}: the exported network does not match model.load().predict ({EXPORT_RULE}): {report}"
            )
    return {
        "directory": str(directory),
        "weights_sha256": spec["weights_sha256"],
        "numpy_max_abs_diff_from_exact": floor,
        "rule": EXPORT_RULE,
        "tolerance": TOLERANCE,
        "float32_bound": bound,
        "strict": strict,
        "checks": checks,
    }


def same_answer(a: dict[str, Any], o: dict[str, Any]) -> tuple[bool, float]:
    """Whether answer ``a`` is ours, ``o``: the same digit and ``is_digit``, probabilities within
    ANSWER_TOLERANCE; and the largest probability difference."""
    diff = float(np.abs(np.array(a["probabilities"]) - np.array(o["probabilities"])).max())
    return a["digit"] == o["digit"] and a["is_digit"] == o["is_digit"] and diff <= ANSWER_TOLERANCE, diff


def check_answers(answers: dict[str, dict[str, Any]], names: list[str]) -> None:
    """Stop unless every network peer answers each case as ours does (``answers[server][case]``)."""
    if "ours" not in names:
        return
    for name in names:
        if name in NOT_COMPARED:
            continue
        for payload, o in answers["ours"].items():
            if payload not in answers[name]:  # a raw-body case the peer does not take
                continue
            a = answers[name][payload]
            same, diff = same_answer(a, o)
            print(
                f"answer check {name:13s} {payload:10s}: digit {a['digit']} is_digit {a['is_digit']}, "
                f"max |p - ours| {diff:.1e} {'ok' if same else 'DIFFERENT'}",
                flush=True,
            )
            if not same and not name.startswith("ours@"):  # another revision of ours may answer otherwise
                raise SystemExit(f"{name} answers the {payload} payload differently from ours: {a} vs {o}")
    reads = [
        f"{k} -> {a['digit']}" + (f" (is_digit {a['is_digit']})" * k.startswith("canvas"))
        for k, a in answers["ours"].items()
    ]
    print("ours reads: " + ", ".join(reads))

"""Accuracy on drawn input: the drawn evaluation sets (:mod:`scripts.drawn_sets`) read through the
service's own preprocessing, or through a running service's HTTP API, summarised as Markdown.

Used by ``scripts/evaluate.py``; every figure says which set and how many samples it is over.
"""

from __future__ import annotations

import gzip
import importlib.util
import io
import json
import urllib.request
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from model.calibration import expected_calibration_error, split_refusal
from model.inference import InferenceNetwork
from model.layers.loss import softmax
from model.recipe import ImageError, preprocess
from model.recipe.number_reader import read_number
from model.second_look import look_again
from model.steps import run
from scripts.components_splitter import read_by_components
from scripts.drawn_sets import NOT_DIGIT, Sample


@dataclass(frozen=True)
class Reading:
    """What was read in one sample: the closest digit, whether it is a digit, and (locally) the raw
    logits for calibration; ``digit = -1`` when the image was refused with a 4xx."""

    digit: int
    is_digit: bool
    logits: np.ndarray | None = None


Reader = Callable[[list[Sample]], list[Reading]]


def local_reader(net: InferenceNetwork) -> Reader:
    """Read samples in this process: ``model.recipe.preprocess`` then the network, in batches."""

    def read(samples: list[Sample]) -> list[Reading]:
        digits, ok = [], []
        for s in samples:
            try:
                digits.append(preprocess(s.data))
                ok.append(True)
            except ImageError:
                ok.append(False)
        x = np.stack(digits) if digits else np.zeros((0, 28, 28), np.uint8)
        logits = net.logits(_network_input(net, x)) if digits else np.zeros((0, 10))
        scores = look_again(net.predict, x, softmax(logits / net.temperature))  # as /predict reads them
        probs, is_digit = split_refusal(scores, net.reject_threshold)
        it = iter(range(len(digits)))
        out = []
        for good in ok:
            if not good:
                out.append(Reading(-1, False))
                continue
            k = next(it)
            out.append(Reading(int(probs[k].argmax()), bool(is_digit[k]), logits[k]))
        return out

    return read


def _network_input(net: InferenceNetwork, digits: np.ndarray) -> np.ndarray:
    from model.normalize import to_network_input

    return to_network_input(digits, net.mean, net.std)


def http_reader(url: str) -> Reader:
    """Read samples through a running service: ``POST {url}/predict`` with each image as the raw body."""

    def read(samples: list[Sample]) -> list[Reading]:
        out = []
        for s in samples:
            status, body = _post(f"{url.rstrip('/')}/predict", s.data)
            out.append(Reading(int(body["digit"]), bool(body.get("is_digit", True))) if status == 200
                       else Reading(-1, False))
        return out

    return read


def _post(url: str, data: bytes) -> tuple[int, dict[str, Any]]:
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/octet-stream"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def digit_set_lines(name: str, samples: list[Sample], readings: list[Reading]) -> tuple[list[str], dict[str, float]]:
    """Markdown lines for a digit set: accuracy (a refused digit counts as wrong), refusals, per style."""
    right = np.array([r.is_digit and r.digit == s.label for s, r in zip(samples, readings, strict=True)])
    refused = np.array([not r.is_digit for r in readings])
    by_style: dict[str, list[bool]] = defaultdict(list)
    by_format: dict[str, list[bool]] = defaultdict(list)
    for s, ok in zip(samples, right, strict=True):
        style, _, fmt = s.style.partition("/")
        by_style[style].append(bool(ok))
        by_format[fmt].append(bool(ok))
    figures = {"accuracy": float(right.mean()), "refused": float(refused.mean())}
    lines = [
        f"- **{name}**: {right.mean():.2%} right ({int(right.sum())}/{len(right)}), {refused.mean():.2%} refused",
        "  - " + ", ".join(f"{k} {np.mean(v):.2%} ({len(v)})" for k, v in sorted(by_style.items())),
    ]
    if len(by_format) > 1:
        lines.append("  - " + ", ".join(f"{k} {np.mean(v):.2%} ({len(v)})" for k, v in sorted(by_format.items())))
    return lines, figures


def negative_lines(samples: list[Sample], readings: list[Reading]) -> tuple[list[str], dict[str, float]]:
    """Markdown lines for the non-digits: the share refused, overall and per kind of drawing."""
    by_kind: dict[str, list[bool]] = defaultdict(list)
    for s, r in zip(samples, readings, strict=True):
        by_kind[s.style].append(not r.is_digit)
    refused = float(np.mean([not r.is_digit for r in readings]))
    lines = [f"- **not digits**: {refused:.2%} refused ({len(readings)} drawings)"]
    lines.append("  - " + ", ".join(f"{k} {np.mean(v):.2%} ({len(v)})" for k, v in sorted(by_kind.items())))
    return lines, {"refused": refused}


def calibration_lines(net: InferenceNetwork, sets: Iterable[tuple[str, list[Sample], list[Reading]]]) -> list[str]:
    """Expected calibration error of the digit sets' probabilities, before and after the temperature."""
    logits, labels = [], []
    for _, samples, readings in sets:
        for s, r in zip(samples, readings, strict=True):
            if r.logits is not None and s.label != NOT_DIGIT:
                logits.append(r.logits)
                labels.append(s.label)
    if not logits:
        return []
    z, y = np.stack(logits), np.asarray(labels)
    before = expected_calibration_error(softmax(z), y)
    after = expected_calibration_error(softmax(z / net.temperature), y)
    return [f"- expected calibration error (15 bins, {len(y)} digits): {before:.4f} before, {after:.4f} after the "
            f"temperature {net.temperature:.3f}"]


def other_writers() -> list[Sample]:
    """The UCI handwritten digits (43 writers, none of them MNIST's), as shipped by scikit-learn, each
    8x8 scan enlarged to a 128 px canvas, dark on white; empty when scikit-learn is not installed.
    Only the data file is read: scikit-learn itself is not imported."""
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        return []
    path = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data" / "digits.csv.gz"
    if not path.exists():
        return []
    with gzip.open(path) as f:
        table = np.loadtxt(f, delimiter=",")
    out = []
    for row in table:
        pixels = (255 - row[:64].reshape(8, 8) * (255 / 16)).astype(np.uint8)
        buf = io.BytesIO()
        Image.fromarray(pixels).resize((128, 128), Image.Resampling.BICUBIC).save(buf, "PNG")
        out.append(Sample(buf.getvalue(), int(row[64]), "other-writers", "uci-8x8/PNG"))
    return out


def read_as_number(data: bytes, net: InferenceNetwork | None, url: str | None) -> str | None:
    """What ``/predict/number`` answers for ``data`` (in this process, or through ``url``): the
    number, or None when it refuses a part or rejects the image."""
    if url:
        status, body = _post(f"{url.rstrip('/')}/predict/number", data)
        return str(body.get("number")) if status == 200 else None
    assert net is not None
    try:
        parts = run(read_number(data, net.reject_threshold), net.predict).digits
    except ImageError:
        return None
    return "".join(str(int(p.probabilities.argmax())) for p in parts) if all(p.is_digit for p in parts) else None


def numbers_by_kind(samples: list[Sample], read: Callable[[bytes], str | None]) -> dict[str, list[bool]]:
    """Whether ``read`` gets each number canvas exactly right, by kind (``"pen/tight"``, ...)."""
    by_kind: dict[str, list[bool]] = defaultdict(list)
    for s in samples:
        by_kind["/".join(s.style.split("/")[:2])].append(read(s.data) == s.number)
    return by_kind


def number_lines(
    samples: list[Sample], net: InferenceNetwork | None, url: str | None
) -> tuple[list[str], dict[str, float]]:
    """Whole numbers read exactly right, overall and per kind (pixels or pen, spaced or tight)."""
    by_kind = numbers_by_kind(samples, lambda data: read_as_number(data, net, url))
    right = float(np.mean(sum(by_kind.values(), [])))
    lines = [f"- **numbers** (2-5 digits): {right:.2%} read exactly ({len(samples)} canvases)"]
    lines.append("  - " + ", ".join(f"{k} {np.mean(v):.2%} ({len(v)})" for k, v in sorted(by_kind.items())))
    return lines, {"accuracy": right}


def components_lines(samples: list[Sample], net: InferenceNetwork) -> tuple[list[str], dict[str, float]]:
    """The same numbers read by the yardstick, a plain connected-components splitter in front of
    ``/predict`` (:mod:`scripts.components_splitter`): how hard the set is."""
    by_kind = numbers_by_kind(samples, lambda data: read_by_components(data, net))
    right = float(np.mean(sum(by_kind.values(), [])))
    pen = float(np.mean([ok for k, v in by_kind.items() if k.startswith("pen/") for ok in v]))
    lines = [f"  - a connected-components splitter in front of /predict reads {right:.2%} of them "
             f"({pen:.2%} of the pen-stroke ones): "
             + ", ".join(f"{k} {np.mean(v):.2%}" for k, v in sorted(by_kind.items()))]
    return lines, {"accuracy": right, "pen": pen}


def single_digit_number_lines(
    name: str, samples: list[Sample], net: InferenceNetwork | None, url: str | None
) -> tuple[list[str], dict[str, float]]:
    """The drawn digits of one set sent to ``/predict/number``: read as that one digit (a refusal or
    a split into several digits counts as wrong), to compare with ``/predict`` on the same set."""
    right = float(np.mean([read_as_number(s.data, net, url) == str(s.label) for s in samples]))
    return [f"- {name} digits through /predict/number: {right:.2%} read as that one digit"], {"accuracy": right}

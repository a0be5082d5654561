"""How well weights read a folder of labelled images (``DIR/0/`` ... ``DIR/9/``, ``DIR/not_digit/``), as
the service reads them: several weights side by side, or a running service through its HTTP API.

Used by ``scripts/evaluate.py --images DIR``. A digit is right when it is read as itself and not
refused; a ``not_digit`` image when it is refused. Writes ``report.md`` (accuracy, per class, the
confusion matrices) and one ``misclassified-<name>.png`` sheet per weights.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model import load
from model.finetune import REFUSED, right
from model.recipe.folders import CLASS_FOLDERS, LabelledImages, read_folder
from scripts.drawn_report import _post
from scripts.sheets import gallery

COLUMNS = [*map(str, range(10)), "refused"]


@dataclass(frozen=True)
class Readings:
    """What one reader answered for each image: ``(N,)`` digits (``REFUSED`` 10: refused or not read)
    and ``(N,)`` confidences of the answer."""

    name: str
    digits: np.ndarray
    confidence: np.ndarray


def local(weights: Path | None) -> Callable[[LabelledImages], Readings]:
    """Read in this process with ``weights`` (None: the shipped ones), as ``/predict`` does."""

    def read(found: LabelledImages) -> Readings:
        net = load(weights)
        probs, is_digit = net.classify(found.images)
        digits = np.where(is_digit, probs.argmax(axis=1), REFUSED)
        return Readings(net.metadata.get("name", "weights") + "-" + str(net.metadata.get("sha256", ""))[:12],
                        digits.astype(np.int64), probs.max(axis=1))

    return read


def http(url: str) -> Callable[[LabelledImages], Readings]:
    """Read through a running service: each file as the raw body of ``POST {url}/predict``."""
    base = url.rstrip("/")

    def read(found: LabelledImages) -> Readings:
        with urllib.request.urlopen(f"{base}/model", timeout=30) as r:
            name = json.loads(r.read())["version"]
        digits, confidence = [], []
        for path in found.paths:
            status, body = _post(f"{base}/predict", path.read_bytes())
            ok = status == 200 and body.get("is_digit", True)
            digits.append(int(body["digit"]) if ok else REFUSED)
            confidence.append(float(body.get("confidence", 0.0)) if status == 200 else 0.0)
        return Readings(f"{name} via {base}", np.asarray(digits, np.int64), np.asarray(confidence))

    return read


def confusion(labels: np.ndarray, digits: np.ndarray) -> np.ndarray:
    """``(11, 11)`` counts: rows the true class (0-9, not_digit), columns the answer (0-9, refused)."""
    out = np.zeros((len(CLASS_FOLDERS), len(COLUMNS)), np.int64)
    np.add.at(out, (labels, digits), 1)
    return out


def table(found: LabelledImages, readings: list[Readings]) -> list[str]:
    """Markdown: accuracy and each class's, one column per reader."""
    ok = [right(r.digits, found.labels) for r in readings]
    lines = ["| | " + " | ".join(f"`{r.name}`" for r in readings) + " |", "|---" * (len(readings) + 1) + "|"]
    lines.append(f"| **all** ({len(found.labels)}) | " + " | ".join(f"**{o.mean():.2%}**" for o in ok) + " |")
    for k in np.unique(found.labels):
        m = found.labels == k
        lines.append(f"| {CLASS_FOLDERS[k]} ({int(m.sum())}) | " + " | ".join(f"{o[m].mean():.2%}" for o in ok) + " |")
    refused = [float(np.mean(r.digits[found.labels < 10] == REFUSED)) for r in readings]
    lines.append("| digits refused | " + " | ".join(f"{v:.2%}" for v in refused) + " |")
    return lines


def matrix_lines(found: LabelledImages, r: Readings) -> list[str]:
    cm = confusion(found.labels, r.digits)
    rows = [i for i in range(len(CLASS_FOLDERS)) if cm[i].sum()]
    head = "true \\ read " + " ".join(f"{c:>7}" for c in COLUMNS)
    body = [f"{CLASS_FOLDERS[i]:>12} " + " ".join(f"{v:>7}" for v in cm[i]) for i in rows]
    return [f"### `{r.name}` (rows: the folder's class, columns: the answer)", "", "```", head, *body, "```", ""]


def sheet(found: LabelledImages, r: Readings, path: Path, limit: int) -> int:
    """The misclassified images (most confident first) as ``path``; returns how many there are."""
    wrong = np.flatnonzero(~right(r.digits, found.labels))
    wrong = wrong[np.argsort(-r.confidence[wrong], kind="stable")][:limit]
    names = np.asarray([c if c != "not_digit" else "nd" for c in CLASS_FOLDERS])
    read = np.asarray([*map(str, range(10)), "?"])
    gallery(found.images[wrong], names[found.labels[wrong]], read[r.digits[wrong]], r.confidence[wrong]).save(path)
    return int((~right(r.digits, found.labels)).sum())


def report(folder: Path, readers: list[Callable[[LabelledImages], Readings]], out: Path, limit: int = 100) -> str:
    """Read ``folder`` with each reader, write ``out/report.md`` and the sheets; returns the report."""
    found = read_folder(folder)
    readings = [read(found) for read in readers]
    out.mkdir(parents=True, exist_ok=True)
    lines = [f"# `{folder}` read as the service reads it", "", f"{len(found.labels)} images, per class "
             f"{found.counts()}; a digit refused counts as wrong, a not_digit image refused as right.", ""]
    if found.problems:
        lines += [f"{len(found.problems)} files not read:", "", *[f"- {p}" for p in found.problems], ""]
    lines += [*table(found, readings), "", "## Confusion matrices", ""]
    for n, r in enumerate(readings):
        lines += matrix_lines(found, r)
        wrong = sheet(found, r, out / f"misclassified-{n}.png", limit)
        lines += [f"{wrong} misclassified: ![misclassified by {r.name}](misclassified-{n}.png)", ""]
    text = "\n".join(lines) + "\n"
    (out / "report.md").write_text(text)
    return text

#!/usr/bin/env python
"""The README's example answers, made by the shipped weights: run every ``$ command`` of README.md's
console blocks, top-down, against a real ``digits-serve``, and write each command's output under it.

    python scripts/readme_examples.py            # rewrite README.md's answers
    python scripts/readme_examples.py --check    # only compare; exit status 1 if an answer differs

The commands run in a fresh temporary folder (holding a copy of the MNIST test sample at its path in
the repository, the one file they read), against ``digits-serve`` on a free port with no ``DIGITS_*``
variable set: ``localhost:8000`` in a command is replaced by that port. In a console block a command
starts with ``$ `` and goes on while bash would read more (a trailing ``\\``, an open quote); its
output is the lines after it, up to a blank line or the next command. ``tests/integration/test_readme.py``
runs the same blocks and compares with :func:`mismatch`: JSON as parsed values (floats within 1e-6,
PNG data URLs by their pixels), other lines as text.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import math
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
SAMPLE = Path("tests/data/mnist_test_sample.npz")  # the one repository file the examples read
PORT_IN_README = "localhost:8000"
TOLERANCE = 1.5e-6  # JSON floats are rounded to 6 decimals: another CPU's float32 sums can flip the last one
PNG_URL = "data:image/png;base64,"
FENCE = re.compile(r"^```console\s*$")


@dataclass(frozen=True)
class Example:
    """One ``$ command`` of a console block: its text (without ``$ ``, continuation lines included),
    the output shown under it, and where that output sits in the file (lines ``[start, end)``, 0-based)."""

    command: str
    shown: list[str]
    start: int
    end: int
    line: int  # 1-based line of the ``$``, for messages


def _complete(command: str) -> bool:
    """Whether bash would run ``command`` as it is, without reading another line."""
    if command.endswith("\\"):
        return False
    return subprocess.run(["bash", "-n", "-c", command], capture_output=True).returncode == 0


def examples(text: str) -> list[Example]:
    """Every ``$ command`` of ``text``'s console blocks, in order."""
    lines = text.split("\n")
    found: list[Example] = []
    i, in_block = 0, False
    while i < len(lines):
        line = lines[i]
        if not in_block:
            in_block = bool(FENCE.match(line))
            i += 1
            continue
        if line.startswith("```"):
            in_block = False
            i += 1
            continue
        if not line.startswith("$ "):
            i += 1
            continue
        first, command = i, line[2:]
        i += 1
        while not _complete(command) and i < len(lines) and not lines[i].startswith("```"):
            command += "\n" + lines[i]
            i += 1
        start = i
        while i < len(lines) and lines[i].strip() and not lines[i].startswith(("$ ", "```")):
            i += 1
        found.append(Example(command, lines[start:i], start, i, first + 1))
    return found


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _environment(folder: Path) -> dict[str, str]:
    """The examples' environment: this interpreter's ``python`` and ``digits-serve`` first on PATH, the
    repository importable, and no ``DIGITS_*`` setting (the defaults the README documents)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGITS_")}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["PYTHONPATH"] = os.pathsep.join(p for p in [str(ROOT), env.get("PYTHONPATH", "")] if p)
    env["HOME"] = env.get("HOME", str(folder))
    return env


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return bool(r.status == 200)
    except (OSError, urllib.error.URLError):
        return False


@contextmanager
def workspace(timeout: float = 60.0) -> Iterator[tuple[Path, int, dict[str, str]]]:
    """A temporary folder holding the test sample, and ``digits-serve`` answering on a free port:
    yields the folder, the port and the environment to run the examples in."""
    with tempfile.TemporaryDirectory(prefix="readme-") as name, tempfile.TemporaryFile("w+") as log:
        folder = Path(name)
        (folder / SAMPLE).parent.mkdir(parents=True)
        shutil.copy(ROOT / SAMPLE, folder / SAMPLE)
        env, port = _environment(folder), free_port()
        serve = shutil.which("digits-serve", path=env["PATH"]) or "digits-serve"
        proc = subprocess.Popen([serve, "--port", str(port)], cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + timeout
            while not _ready(f"http://127.0.0.1:{port}/ready"):
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    raise RuntimeError(f"digits-serve did not become ready:\n{log.read()[-3000:]}")
                time.sleep(0.1)
            yield folder, port, env
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def run(command: str, folder: Path, port: int, env: dict[str, str]) -> list[str]:
    """The output lines of ``command`` run by bash in ``folder`` against the service on ``port``."""
    done = subprocess.run(
        ["bash", "-c", command.replace(PORT_IN_README, f"localhost:{port}")],
        cwd=folder, env=env, capture_output=True, text=True, timeout=120,
    )
    if done.returncode != 0:
        raise RuntimeError(f"exit status {done.returncode} from {command!r}:\n{done.stderr[-2000:]}")
    return done.stdout.splitlines()


def _png_pixels(url: str) -> Any:
    import numpy as np
    from PIL import Image

    with Image.open(io.BytesIO(base64.b64decode(url[len(PNG_URL):]))) as im:
        return np.asarray(im.convert("RGBA"))


def _same(shown: Any, got: Any) -> bool:
    """Equal as JSON values: floats within :data:`TOLERANCE`, PNG data URLs by their pixels."""
    if isinstance(shown, bool) or isinstance(got, bool):
        return shown is got
    if isinstance(shown, int | float) and isinstance(got, int | float):
        return math.isclose(shown, got, rel_tol=0.0, abs_tol=TOLERANCE)
    if isinstance(shown, dict) and isinstance(got, dict):
        return shown.keys() == got.keys() and all(_same(shown[k], got[k]) for k in shown)
    if isinstance(shown, list) and isinstance(got, list):
        return len(shown) == len(got) and all(_same(a, b) for a, b in zip(shown, got, strict=True))
    if _both_pngs(shown, got):
        return _same_pixels(shown, got)
    return bool(shown == got)


def _both_pngs(shown: Any, got: Any) -> bool:
    return isinstance(shown, str) and isinstance(got, str) and shown.startswith(PNG_URL) and got.startswith(PNG_URL)


def _same_pixels(shown: str, got: str) -> bool:
    """Two PNG data URLs of the same pixels (different zlib builds compress them differently)."""
    import numpy as np

    a, b = _png_pixels(shown), _png_pixels(got)
    return bool(a.shape == b.shape and np.array_equal(a, b))


def _line_matches(shown: str, got: str) -> bool:
    try:
        return _same(json.loads(shown), json.loads(got))
    except ValueError:
        return shown.rstrip() == got.rstrip()


def mismatch(shown: list[str], got: list[str]) -> str | None:
    """Why the output ``got`` differs from the output the README shows, or None if it matches."""
    if len(shown) != len(got):
        return f"{len(got)} output lines where the README shows {len(shown)}:\n" + "\n".join(got)
    for number, (a, b) in enumerate(zip(shown, got, strict=True), 1):
        if not _line_matches(a, b):
            return f"output line {number} differs:\nREADME: {a}\nnow:    {b}"
    return None


def rewrite(text: str, found: list[Example], outputs: list[list[str]]) -> str:
    """``text`` with each example's shown output replaced by the matching ``outputs`` entry."""
    lines = text.split("\n")
    for example, output in sorted(zip(found, outputs, strict=True), key=lambda p: p[0].start, reverse=True):
        lines[example.start:example.end] = output
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--readme", type=Path, default=README)
    p.add_argument("--check", action="store_true", help="only compare with the README; exit 1 on a difference")
    args = p.parse_args(argv)
    text = args.readme.read_text()
    found = examples(text)
    with workspace() as (folder, port, env):
        outputs = [run(e.command, folder, port, env) for e in found]
    problems = [f"line {e.line}: {why}" for e, out in zip(found, outputs, strict=True)
                if (why := mismatch(e.shown, out))]
    if args.check:
        print("\n\n".join(problems) or f"{len(found)} examples match")
        return 1 if problems else 0
    args.readme.write_text(rewrite(text, found, outputs))
    print(f"{len(found)} examples run; {len(problems)} answers rewritten in {args.readme}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

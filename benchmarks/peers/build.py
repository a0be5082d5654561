"""The peers' virtual environments: one per server, built with ``python3 -m venv`` + pip.

Each lives under ``--venv-dir`` (default ``~/.cache/numpy-digits-bench/venvs/<peer>``) and is reused while
its requirement list (and ``python3``'s version) is unchanged; the first build takes a few minutes. A
server with no requirements of its own (``ours``, ``ours-free``) runs in this Python's environment.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import shutil
import subprocess
import sys
from pathlib import Path

from benchmarks.peers.servers import Server

KEY_PACKAGES = (
    "fastapi",
    "starlette",
    "uvicorn",
    "uvloop",
    "httptools",
    "onnxruntime",
    "torch",
    "litserve",
    "bentoml",
    "numpy",
    "pillow",
)


def ensure_venv(root: Path, server: Server) -> Path:
    """The server's environment: built once, rebuilt when its requirement list changes."""
    if not server.requirements:
        return Path(sys.executable).parent.parent
    venv = root / server.name
    marker = venv / ".bench-requirements"
    python = subprocess.run(["python3", "--version"], capture_output=True, text=True, check=True).stdout.strip()
    wanted = "\n".join([python, *server.requirements]) + "\n"
    if marker.exists() and marker.read_text() == wanted:
        return venv
    print(f"building {venv} ({', '.join(server.requirements)}); a few minutes the first time", flush=True)
    shutil.rmtree(venv, ignore_errors=True)
    venv.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["python3", "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    log = venv / "pip.log"
    with log.open("w") as out:
        done = subprocess.run([*pip, *server.requirements], stdout=out, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        raise SystemExit(f"pip install for {server.name} failed; see {log}")
    freeze = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "freeze"], capture_output=True, text=True)
    (venv / ".bench-freeze").write_text(freeze.stdout)
    marker.write_text(wanted)
    return venv


def key_versions(venv: Path) -> dict[str, str]:
    """Versions of the packages that matter, from the environment's ``pip freeze`` (or this Python's)."""
    freeze = venv / ".bench-freeze"
    if freeze.exists():
        pins = dict(line.split("==", 1) for line in freeze.read_text().splitlines() if "==" in line)
        return {n: pins[n] for n in KEY_PACKAGES if n in pins}
    out = {}
    for n in KEY_PACKAGES:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            out[n] = importlib.metadata.version(n)
    return out

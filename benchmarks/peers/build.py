"""What the servers run from: the peers' virtual environments, and the source tree of another revision.

Each peer's environment is built with ``python3 -m venv`` + pip under ``--venv-dir`` (default
``~/.cache/numpy-digits-bench/venvs/<peer>``) and reused while its requirement list (and ``python3``'s
version) is unchanged; the first build takes a few minutes. A server with no requirements of its own
(``ours``, ``ours-free``, ``ours@REV``) runs in this Python's environment.

``--against REV``'s tree is ``git archive REV`` unpacked under ``<cache>/revisions/<commit>`` (kept
for the next run): the same files a ``git worktree add`` would check out, without registering a
worktree in the repository that other worktrees share.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import shutil
import subprocess
import sys
from pathlib import Path

from benchmarks.peers.servers import ROOT, Server

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


def _git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"git {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout.strip()


def revision_tree(rev: str, cache: Path) -> tuple[str, Path]:
    """``rev``'s short commit id and its source tree, unpacked once under ``cache/revisions``."""
    commit = _git("rev-parse", "--verify", f"{rev}^{{commit}}")
    short = _git("rev-parse", "--short", commit)
    tree = cache / "revisions" / commit
    if not (tree / ".bench-complete").exists():
        shutil.rmtree(tree, ignore_errors=True)
        tree.mkdir(parents=True)
        archive = subprocess.Popen(["git", "archive", commit], cwd=ROOT, stdout=subprocess.PIPE)
        unpacked = subprocess.run(["tar", "-x", "-C", str(tree)], stdin=archive.stdout)
        if archive.wait() != 0 or unpacked.returncode != 0:
            raise SystemExit(f"could not unpack {rev} ({commit}) into {tree}")
        (tree / ".bench-complete").write_text(commit + "\n")
    return short, tree


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

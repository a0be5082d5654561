"""The servers ``bench_peers`` compares, each with the command that starts it and its own environment.

Each server runs in its own virtual environment (built by :mod:`benchmarks.peers.build`), with this
repository first on ``PYTHONPATH`` and the command's working directory at the repository's root:

- ``ours``: the service as the README starts it, ``digits-serve --port P`` (the ``digits-serve`` beside
  this Python, default settings), with this repository first on ``PYTHONPATH``;
- ``fastapi-ort``: FastAPI + onnxruntime, inference inline in the endpoint, uvicorn with uvloop + httptools;
- ``fastapi-torch``: the same with PyTorch 2.13.0 (one thread, ``inference_mode``);
- ``litserve``: LitServe with its defaults (one inference worker, no batching), PyTorch;
- ``bentoml``: BentoML with adaptive batching (``@bentoml.api(batchable=True)``), one worker, PyTorch;
- ``ours-free``: this service with its network swapped for one that costs nothing
  (``benchmarks.baseline_apps:free_network_app``): no network, however fast, takes the service past it;
- ``decode-only``: the ceiling: FastAPI on uvloop + httptools that only decodes the upload with Pillow;
- ``ours@REV`` (with ``--against REV``, :func:`add_revision`): the service from another git revision,
  measured in the same interleaved rounds, so a change is compared with the tree before it in one run.

Every server takes the multipart upload. All but LitServe and BentoML take the raw body too
(``Server.raw_body`` says why those two do not): ours and ours-free as the service always has, and the
FastAPI peers read ``await request.body()`` when the Content-Type is ``image/*``.
"""

from __future__ import annotations

import importlib.metadata
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TORCH = "torch==2.13.0"  # a CPU wheel pip finds on this machine; any other spec may fetch the CUDA build
WEB = ("fastapi", "uvicorn[standard]", "python-multipart")


@dataclass(frozen=True)
class Server:
    name: str
    label: str  # the table's first column
    engine: str  # what runs the network, and how requests are batched
    requirements: tuple[str, ...]  # pip requirements of its own environment; () = the project's environment
    command: Callable[[Path, int], list[str]]  # (environment, port) -> the command line, cwd = ``root``
    root: Path = ROOT  # the source tree it runs from: its working directory, first on its PYTHONPATH
    raw_body: str = ""  # why it takes no raw-body upload ("": it takes one)
    own_threads: bool = False  # it sets its own thread counts (else OMP_NUM_THREADS=1 and friends)


def _uvicorn(target: str) -> Callable[[Path, int], list[str]]:
    def command(venv: Path, port: int) -> list[str]:
        return [
            str(venv / "bin" / "uvicorn"),
            target,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--no-access-log",
            "--log-level",
            "warning",
        ]

    return command


def _digits_serve(venv: Path, port: int) -> list[str]:
    exe = Path(sys.executable).parent / "digits-serve"
    found = str(exe) if exe.exists() else shutil.which("digits-serve")
    if not found:
        raise SystemExit("digits-serve not found beside this Python nor on PATH: pip install -e . first")
    return [found, "--port", str(port)]


def _litserve(venv: Path, port: int) -> list[str]:
    return [str(venv / "bin" / "python"), "-m", "benchmarks.peers.litserve_app", str(port)]


def _bentoml(venv: Path, port: int) -> list[str]:
    return [
        str(venv / "bin" / "bentoml"),
        "serve",
        "benchmarks.peers.bentoml_service:Digits",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--working-dir",
        str(ROOT),
    ]


def _ours_free(venv: Path, port: int) -> list[str]:
    return [
        str(venv / "bin" / "python"),
        "-m",
        "uvicorn",
        "benchmarks.baseline_apps:free_network_app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--http",
        "app.protocol:GuardedProtocol",
        "--no-access-log",
        "--log-level",
        "warning",
    ]


def _pinned_versions() -> tuple[str, ...]:
    """NumPy and Pillow at the project environment's versions, so the preprocessing is the same code."""
    return tuple(f"{p}=={importlib.metadata.version(p)}" for p in ("numpy", "pillow"))


SERVERS: dict[str, Server] = {
    s.name: s
    for s in (
        Server(
            "ours",
            "this service (digits-serve, README defaults)",
            "NumPy (the service's own)",
            (),
            _digits_serve,
            own_threads=True,
        ),
        Server(
            "fastapi-ort",
            "FastAPI + onnxruntime, inline, uvloop + httptools",
            "onnxruntime, 1 thread, batch 1",
            (*WEB, "onnxruntime", *_pinned_versions()),
            _uvicorn("benchmarks.peers.fastapi_ort:app"),
        ),
        Server(
            "fastapi-torch",
            "FastAPI + PyTorch, inline, uvloop + httptools",
            "PyTorch 2.13.0, 1 thread, inference_mode, batch 1",
            (*WEB, TORCH, "onnx", *_pinned_versions()),
            _uvicorn("benchmarks.peers.fastapi_torch:app"),
        ),
        Server(
            "litserve",
            "LitServe (defaults: 1 worker, no batching), PyTorch",
            "PyTorch 2.13.0, 1 thread; LitServe default max_batch_size=1",
            ("litserve", TORCH, "python-multipart", *_pinned_versions()),
            _litserve,
            raw_body="LitServe's request path parses the body as a form or as JSON before decode_request sees it",
        ),
        Server(
            "bentoml",
            "BentoML, adaptive batching, 1 worker, PyTorch",
            "PyTorch 2.13.0, 1 thread; batchable=True (max_batch_size=100, max_latency_ms=60000)",
            ("bentoml", TORCH, *_pinned_versions()),
            _bentoml,
            raw_body="its batchable API takes the files of a multipart form (a raw body would need BentoML's "
            "root input, not tried here)",
        ),
        Server(
            "ours-free",
            "this service with a network that costs nothing (its stack's bound)",
            "none: every digit is a 3 (benchmarks.baseline_apps.FreeNetwork)",
            (),
            _ours_free,
        ),
        Server(
            "decode-only",
            "decode-only endpoint (the ceiling), uvloop + httptools",
            "none: Pillow decode only",
            (*WEB, _pinned_versions()[1]),
            _uvicorn("benchmarks.peers.decode_only:app"),
        ),
    )
}


def add_revision(rev: str, tree: Path) -> str:
    """Register ``ours@REV``: the service from the source tree of another revision (``--against``),
    started as ours is (``digits-serve`` beside this Python) with ``tree`` first on its PYTHONPATH and as
    its working directory, so ``app`` and ``model`` (and the weights beside them) come from ``tree``.
    Returns its name."""
    name = f"ours@{rev}"
    SERVERS[name] = Server(
        name,
        f"this service at {rev} (digits-serve, README defaults)",
        f"NumPy (the service's own, at {rev})",
        (),
        _digits_serve,
        root=tree,
        own_threads=True,
    )
    return name


def takes_raw_body(name: str) -> bool:
    return not SERVERS[name].raw_body


PEERS = ("fastapi-ort", "fastapi-torch", "litserve", "bentoml")  # the targets' "every peer"
TORCH_SERVERS = ("fastapi-torch", "litserve", "bentoml")


def select(only: str | None) -> list[str]:
    """``--only``'s comma-separated names (default every server), in the tables' order."""
    names = [n.strip() for n in only.split(",")] if only else list(SERVERS)
    unknown = set(names) - set(SERVERS)
    if unknown:
        raise SystemExit(f"unknown servers {sorted(unknown)}; choose from {', '.join(SERVERS)}")
    return [n for n in SERVERS if n in names]


def environments_needed(names: list[str]) -> list[str]:
    """The servers whose environments to build: those that run (ours needs none of its own), plus
    fastapi-torch's, which exports the network to ONNX, whenever a network peer runs."""
    needed = [n for n in names if n != "ours"]
    if any(n in PEERS for n in names) and "fastapi-torch" not in needed:
        needed.append("fastapi-torch")
    return needed

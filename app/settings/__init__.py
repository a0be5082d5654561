"""Every environment variable the service reads, declared once here: ``DIGITS_<FIELD NAME>``.

Each setting is one field of :class:`Settings`, with its default, its unit and meaning in the field's
``help``. The service reads the environment once, through :func:`environment_settings`, and passes the
result down (``create_app``, the HTTP protocol's guards, ``digits-serve``'s checks); nothing else reads a
``DIGITS_*`` variable. ``python -m app.settings`` prints the list (as text, a Markdown table for the
README, or a Kubernetes ``env`` list), and a test checks the README and the deployment files against it.

``DIGITS_THREADS`` becomes ``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS`` and ``MKL_NUM_THREADS`` (unless
those are set) when the ``app`` package is imported, before NumPy is: several uvicorn workers then
share the cores instead of each starting a BLAS thread per core.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from functools import cache
from pathlib import Path
from typing import Any

PREFIX = "DIGITS_"
LOG_LEVELS = ("critical", "error", "warning", "info", "debug")
BLAS_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


class SettingsError(ValueError):
    """An environment variable has a value the service cannot use; the message names it."""


def _positive_int(raw: str, name: str) -> int:
    try:
        value = int(raw.replace("_", ""))
    except ValueError:
        value = 0
    if value < 1:
        raise SettingsError(f"{name}={raw!r}: expected a positive whole number")
    return value


def _positive_float(raw: str, name: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if not value > 0 or value == float("inf"):
        raise SettingsError(f"{name}={raw!r}: expected a positive number of seconds")
    return value


def _origins(raw: str, name: str) -> tuple[str, ...]:
    return tuple(o.strip().rstrip("/") for o in raw.split(",") if o.strip())


def _log_level(raw: str, name: str) -> str:
    level = raw.strip().lower()
    if level not in LOG_LEVELS:
        raise SettingsError(f"{name}={raw!r}: expected one of {', '.join(LOG_LEVELS)}")
    return level


def _path(raw: str, name: str) -> Path:
    return Path(raw)


def _setting(default: Any, parse: Callable[[str, str], Any], help: str) -> Any:
    """A field of :class:`Settings`: its default, how to read the variable, and what it means."""
    return field(default=default, metadata={"parse": parse, "help": help})


@dataclass(frozen=True)
class Settings:
    """The service configuration. Build it with :meth:`from_env`, or directly in tests."""

    weights: Path | None = _setting(
        None, _path, "weights file (.npz with its .json beside it); unset: the shipped ones"
    )
    max_upload_bytes: int = _setting(8 * 1024 * 1024, _positive_int, "largest request body, bytes (batches too)")
    max_image_pixels: int = _setting(
        2048 * 2048, _positive_int, "largest PNG/WebP/GIF/BMP/TIFF image, width x height (JPEG: 4x)"
    )
    max_batch: int = _setting(64, _positive_int, "most images in one POST /predict/batch")
    cors_origins: tuple[str, ...] = _setting((), _origins, "comma-separated origins allowed by CORS; * for any")
    log_level: str = _setting("info", _log_level, "critical, error, warning, info or debug")
    threads: int = _setting(1, _positive_int, "NumPy/BLAS threads per worker process")
    request_timeout: float = _setting(10.0, _positive_float, "seconds from a request's body to its answer (504)")
    body_timeout: float = _setting(30.0, _positive_float, "seconds a request body may take to arrive (408)")
    header_timeout: float = _setting(10.0, _positive_float, "seconds a connection may take to send its headers")
    max_buffered_bytes: int = _setting(
        64 * 1024 * 1024, _positive_int, "request body bytes one worker holds at once; more waits 2 s, then 503"
    )
    max_connections: int = _setting(512, _positive_int, "open connections per worker (under the file limit; 503)")
    collect_dir: Path | None = _setting(
        None, _path, "folder where POST /collect saves labelled drawings (DIR/<digit>/*.png); unset: off"
    )
    collect_max_bytes: int = _setting(
        256 * 1024 * 1024, _positive_int, "most bytes the collect folder may hold; past it POST /collect is a 507"
    )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read the ``DIGITS_*`` variables; raises :class:`SettingsError` naming a bad one."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(PREFIX + f.name.upper(), "").strip()
            if raw:
                values[f.name] = f.metadata["parse"](raw, PREFIX + f.name.upper())
        return cls(**values)


@cache
def environment_settings() -> Settings:
    """The settings of this process's environment, read once (the one door to ``DIGITS_*``)."""
    return Settings.from_env()


def variables() -> list[tuple[str, str, str]]:
    """``(variable, default, meaning)`` of every setting, in declaration order ("" for no default)."""
    return [
        (PREFIX + f.name.upper(), "" if f.default in (None, ()) else str(f.default), f.metadata["help"])
        for f in fields(Settings)
    ]


def table() -> str:
    """Every variable with its default and meaning, one per line."""
    return "\n".join(f"{name:26} {default or '-':>10}  {meaning}" for name, default, meaning in variables())


def markdown_table() -> str:
    """Every variable as a Markdown table (the README's)."""
    rows = [f"| `{name}` | {f'`{value}`' if value else '-'} | {meaning} |" for name, value, meaning in variables()]
    return "\n".join(["| variable | default | meaning |", "|---|---|---|", *rows])


def kubernetes_env(indent: int = 12) -> str:
    """Every variable at its default as a Kubernetes container ``env`` list (the deployment's)."""
    pad = " " * indent
    return "\n".join(
        f'{pad}- name: {name}\n{pad}  value: "{default}"  # {meaning}' for name, default, meaning in variables()
    )


def configure_blas_threads(environ: Mapping[str, str] | None = None) -> None:
    """Set the BLAS/OpenMP thread variables from ``DIGITS_THREADS`` (default 1) where they are unset.

    Must run before NumPy is imported to take effect; a bad value is left for :meth:`Settings.from_env`
    to report.
    """
    env = os.environ if environ is None else environ
    raw = env.get(f"{PREFIX}THREADS", "").strip()
    try:
        threads = _positive_int(raw, f"{PREFIX}THREADS") if raw else Settings.threads
    except SettingsError:
        return
    for variable in BLAS_THREAD_VARIABLES:
        os.environ.setdefault(variable, str(threads))



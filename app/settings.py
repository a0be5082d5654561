"""Every environment variable the service reads, read here and only here.

==========================  =======================================================  ===============
variable                    meaning                                                  default
==========================  =======================================================  ===============
DIGITS_WEIGHTS              weights file (``.npz`` with its ``.json`` beside it)      the shipped
                                                                                     weights/default
DIGITS_MAX_UPLOAD_BYTES     largest request body, bytes (batches included)           8 MiB
DIGITS_MAX_IMAGE_PIXELS     largest image, width x height (checked before decoding)  16,777,216
DIGITS_MAX_BATCH            most images in one POST /predict/batch                   64
DIGITS_CORS_ORIGINS         comma-separated origins allowed by CORS; ``*`` for any   none (no CORS)
DIGITS_LOG_LEVEL            critical, error, warning, info or debug                  info
DIGITS_THREADS              NumPy/BLAS threads per worker process                    1
==========================  =======================================================  ===============

``DIGITS_THREADS`` becomes ``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS`` and ``MKL_NUM_THREADS`` (unless
those are set) when the ``app`` package is imported, before NumPy is: several uvicorn workers then
share the cores instead of each starting a BLAS thread per core.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

PREFIX = "DIGITS_"
LOG_LEVELS = ("critical", "error", "warning", "info", "debug")
BLAS_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


class SettingsError(ValueError):
    """An environment variable has a value the service cannot use; the message names it."""


@dataclass(frozen=True)
class Settings:
    """The service configuration. Build it with :meth:`from_env`, or directly in tests."""

    weights: Path | None = None  # None: the shipped weights/default.npz
    max_upload_bytes: int = 8 * 1024 * 1024
    max_image_pixels: int = 4096 * 4096
    max_batch: int = 64
    cors_origins: tuple[str, ...] = field(default=())
    log_level: str = "info"
    threads: int = 1

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read the ``DIGITS_*`` variables; raises :class:`SettingsError` naming a bad one."""
        env = os.environ if environ is None else environ
        default = cls()
        weights = env.get(f"{PREFIX}WEIGHTS", "").strip()
        return cls(
            weights=Path(weights) if weights else None,
            max_upload_bytes=_positive_int(env, "MAX_UPLOAD_BYTES", default.max_upload_bytes),
            max_image_pixels=_positive_int(env, "MAX_IMAGE_PIXELS", default.max_image_pixels),
            max_batch=_positive_int(env, "MAX_BATCH", default.max_batch),
            cors_origins=_origins(env.get(f"{PREFIX}CORS_ORIGINS", "")),
            log_level=_log_level(env.get(f"{PREFIX}LOG_LEVEL", default.log_level)),
            threads=_positive_int(env, "THREADS", default.threads),
        )


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(PREFIX + name, "").strip().replace("_", "")
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise SettingsError(f"{PREFIX}{name}={env[PREFIX + name]!r}: expected a positive whole number")
    return value


def _origins(raw: str) -> tuple[str, ...]:
    return tuple(o.strip().rstrip("/") for o in raw.split(",") if o.strip())


def _log_level(raw: str) -> str:
    level = raw.strip().lower()
    if level not in LOG_LEVELS:
        raise SettingsError(f"{PREFIX}LOG_LEVEL={raw!r}: expected one of {', '.join(LOG_LEVELS)}")
    return level


def configure_blas_threads(environ: Mapping[str, str] | None = None) -> None:
    """Set the BLAS/OpenMP thread variables from ``DIGITS_THREADS`` (default 1) where they are unset.

    Must run before NumPy is imported to take effect; a bad value is left for :meth:`Settings.from_env`
    to report.
    """
    env = os.environ if environ is None else environ
    try:
        threads = _positive_int(env, "THREADS", Settings.threads)
    except SettingsError:
        return
    for variable in BLAS_THREAD_VARIABLES:
        os.environ.setdefault(variable, str(threads))

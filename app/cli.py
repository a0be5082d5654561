"""``digits-serve``: start the service with uvicorn, like ``uvicorn app.main:app --http
app.protocol:GuardedProtocol`` (httptools, TCP_NODELAY, the header timeout and size cap, the connection cap: see
:mod:`app.protocol`), after checking the settings and the weights in this process first.

uvicorn's supervisor exits with status 0 when its workers fail to start (uvicorn 0.54), so with
``--workers 2`` a broken weights file would stop the service "successfully". Checked here, before any
worker starts, the failure is one line on stderr and exit status 3 (uvicorn's own start-up failure code).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys

import uvicorn

from .protocol import SPEC, GuardedProtocol

STARTUP_FAILURE = 3  # uvicorn's exit status for a failed start-up


def preflight() -> str | None:
    """Why the service cannot start (settings, weights), as one line; None if it can."""
    from .errors import StartupError
    from .settings import SettingsError, environment_settings
    from .startup import load_network

    try:
        settings = environment_settings()
        load_network(settings.weights)
    except SettingsError as exc:
        return f"invalid configuration: {exc}"
    except StartupError as exc:
        return str(exc)
    return None


def _worker_failed(signum: int, frame: object) -> None:
    """A worker could not start: stop the others (uvicorn's supervisor loop is left by the exception,
    and the interpreter's exit waits for them), then exit with uvicorn's start-up failure status."""
    from .supervisor import child_pids

    for pid in child_pids(os.getpid()):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGTERM)
    raise SystemExit(STARTUP_FAILURE)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description="Serve the digit recognizer (settings: DIGITS_* variables).")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=None, help="worker processes (default: $WEB_CONCURRENCY or 1)")
    p.add_argument("--http", default=SPEC, help=f"uvicorn HTTP protocol (default: {SPEC})")
    p.add_argument("--proxy-headers", action=argparse.BooleanOptionalAction, default=True)
    args = p.parse_args(argv)
    problem = preflight()
    if problem is not None:
        print(problem, file=sys.stderr)
        raise SystemExit(STARTUP_FAILURE)
    # A worker that fails to start anyway stops the supervisor with SIGALRM (app.supervisor.stop_supervisor);
    # handled here, so it also works as a container's PID 1 (which ignores signals it has no handler for).
    previous = signal.signal(signal.SIGALRM, _worker_failed)
    try:
        uvicorn.run(
            "app.main:app",
            host=args.host,
            port=args.port,
            workers=args.workers,
            # the connection guards of app.protocol: TCP_NODELAY, header timeout and cap, connection cap
            http=GuardedProtocol if args.http == SPEC else args.http,
            proxy_headers=args.proxy_headers,
            access_log=False,
        )
    finally:
        signal.signal(signal.SIGALRM, previous)


if __name__ == "__main__":
    main()

"""``digits-serve``: start the service with uvicorn, like ``uvicorn app.main:app --http
app.nodelay:NoDelayH11Protocol`` (the protocol that keeps several workers from answering ~40 ms late)."""

from __future__ import annotations

import argparse

import uvicorn

from .nodelay import NoDelayH11Protocol


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description="Serve the digit recognizer (settings: DIGITS_* variables).")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=None, help="worker processes (default: $WEB_CONCURRENCY or 1)")
    args = p.parse_args(argv)
    uvicorn.run(
        "app.main:app",
        host=args.host,
        port=args.port,
        workers=args.workers,
        http=NoDelayH11Protocol,  # several workers would otherwise answer ~40 ms late (see app.nodelay)
        access_log=False,
    )


if __name__ == "__main__":
    main()

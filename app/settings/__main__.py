"""``python -m app.settings [--format text|markdown|kubernetes]``: every ``DIGITS_*`` variable."""

from __future__ import annotations

import argparse

from . import kubernetes_env, markdown_table, table


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description="List the service's DIGITS_* settings with their defaults.")
    p.add_argument("--format", choices=["text", "markdown", "kubernetes"], default="text")
    args = p.parse_args(argv)
    print({"text": table, "markdown": markdown_table, "kubernetes": kubernetes_env}[args.format]())


main()

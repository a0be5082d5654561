"""Peer benchmark (issues 12 and 32): this service against the stacks people would pick instead, all
serving the same shipped network with the same preprocessing, each sent multipart and raw-body uploads.

    python -m benchmarks.bench_peers --quick       # smoke test: 1 round of 3 s runs
    python -m benchmarks.bench_peers               # 7 rounds of 5 s runs (benchmarks/README.md: how long)
    python -m benchmarks.bench_peers --uploads multipart       # multipart uploads only
    python -m benchmarks.bench_peers --only ours,fastapi-ort,decode-only --out peers.json
    python -m benchmarks.bench_peers --only ours,fastapi-ort --against 9edfd16   # this tree vs 9edfd16

Run from the repository's root with the project's environment active (``.venv/bin/python -m ...``).
This module only reads the arguments and wires the parts of :mod:`benchmarks.peers`, one job each:

- :mod:`~benchmarks.peers.servers`: the servers and their commands (``ours``, ``fastapi-ort``,
  ``fastapi-torch``, ``litserve``, ``bentoml``, ``ours-free``, ``decode-only``);
- :mod:`~benchmarks.peers.build`: each peer's virtual environment, built with ``python3 -m venv`` + pip
  under ``--venv-dir`` (default ``~/.cache/numpy-digits-bench/venvs/<peer>``), reused after;
- :mod:`~benchmarks.peers.check`: the network exported from ``model.load()`` to PyTorch and ONNX, every
  engine checked against ``model.load().predict``, every peer's answers compared with ours;
- :mod:`~benchmarks.peers.payloads`: the request (``POST /predict``, multipart or the raw body) and its
  two payloads, a 28x28 PNG and a 280x280 draw-pad canvas;
- :mod:`~benchmarks.peers.processes` and :mod:`~benchmarks.peers.load`: servers pinned with ``taskset``,
  wrk runs, the open-loop generator;
- :mod:`~benchmarks.peers.runner`: what is measured, in which order (rounds in random order, cold start,
  RSS, open loop);
- :mod:`~benchmarks.peers.report`: the markdown tables, ratios, the issues' targets and the JSON.

It prints one markdown table per payload and upload, the ceiling ratios and the issues' targets marked
met or missed, and writes everything as JSON with ``--out``. The machine is shared and noisy: compare
servers within one run, not across runs. Needs wrk (Debian: ``apt-get install wrk``), taskset,
``python3`` with venv, and two CPUs.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
from pathlib import Path

from benchmarks.peers.build import ensure_venv, revision_tree
from benchmarks.peers.check import export_and_check
from benchmarks.peers.payloads import UPLOADS, make_payloads
from benchmarks.peers.report import (
    print_report,
    print_targets,
    results_json,
    summarize,
    targets,
    targets_28,
    targets_32,
)
from benchmarks.peers.runner import Plan, run
from benchmarks.peers.servers import PEERS, SERVERS, add_revision, environments_needed, select

DEFAULT_CACHE = Path.home() / ".cache" / "numpy-digits-bench"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", help=f"comma-separated servers (default all: {','.join(SERVERS)})")
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--duration", type=int, default=5, help="seconds of each measurement (default 5)")
    p.add_argument("--warmup", type=int, default=1, help="seconds of warm-up before each server+payload (1)")
    p.add_argument("--cold-starts", type=int, default=3, help="starts per server for the cold-start median (3)")
    p.add_argument("--rss-requests", type=int, default=10_000, help="requests of the RSS check (10,000)")
    p.add_argument("--open-loop", default="ours,fastapi-ort", help="servers for the open-loop run ('' for none)")
    p.add_argument("--open-loop-rate", type=float, default=300.0)
    p.add_argument("--open-loop-seconds", type=float, default=10.0)
    p.add_argument(
        "--quick",
        action="store_true",
        help="smoke test: 1 round of 3 s runs, 1 cold start, 2,000 RSS requests, 5 s open loop",
    )
    p.add_argument("--server-cpu", default="0", help="CPU list the servers are pinned to (taskset -c; 0)")
    p.add_argument("--client-cpu", default="1", help="CPU list of wrk, the open-loop generator and this script (1)")
    p.add_argument("--venv-dir", type=Path, default=DEFAULT_CACHE / "venvs", help="where the peer environments live")
    p.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE, help="exported network, payloads, server logs")
    p.add_argument(
        "--strict-export",
        action="store_true",
        help="fail when any exported engine differs from model.load().predict by more than 5e-7, even by float32 "
        "rounding (without it, such an engine passes when it is as close to the exact float64 result as NumPy)",
    )
    p.add_argument(
        "--uploads",
        default=",".join(UPLOADS),
        help="how the image is sent: multipart, raw (the whole body, Content-Type image/png) or both (default)",
    )
    p.add_argument(
        "--against",
        metavar="REV",
        help="also run ours from git revision REV (its tree unpacked under the cache dir) as the server ours@REV, "
        "in the same interleaved rounds; needs ours among the servers",
    )
    p.add_argument("--seed", type=int, help="seed of the visiting order (default: random, printed)")
    p.add_argument("--out", type=Path, help="write all results as JSON here")
    args = p.parse_args(argv)
    uploads = [u.strip() for u in args.uploads.split(",") if u.strip()]
    if not uploads or set(uploads) - set(UPLOADS):
        p.error(f"--uploads: choose from {', '.join(UPLOADS)}, got {args.uploads!r}")
    args.uploads = tuple(u for u in UPLOADS if u in uploads)
    args.cold_starts = max(1, args.cold_starts)
    if args.quick:
        args.rounds, args.duration, args.cold_starts = 1, 3, 1
        args.rss_requests, args.open_loop_seconds = 2_000, 5.0
    return args


def require_tools() -> None:
    for tool, package in (("wrk", "wrk"), ("taskset", "util-linux")):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} not found (Debian: apt-get install {package})")


def with_revision(names: list[str], rev: str | None, cache: Path) -> list[str]:
    """``names`` with ``ours@REV`` just after ours when ``--against REV`` is given."""
    if rev is None:
        return names
    if "ours" not in names:
        raise SystemExit("--against compares ours with ours@REV: keep ours among the servers")
    name = add_revision(*revision_tree(rev, cache))
    print(f"against: {name} from {SERVERS[name].root}", flush=True)
    at = names.index("ours") + 1
    return [*names[:at], name, *names[at:]]


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    require_tools()
    cache: Path = args.cache_dir
    names = with_revision(select(args.only), args.against, cache)
    seed = args.seed if args.seed is not None else random.randrange(2**32)
    venvs = {n: ensure_venv(args.venv_dir, SERVERS[n]) for n in environments_needed(names)}
    venvs["ours"] = ensure_venv(args.venv_dir, SERVERS["ours"])
    network_peers = any(n in PEERS for n in names)
    export = export_and_check(cache, venvs, "fastapi-ort" in names, args.strict_export) if network_peers else {}
    (cache / "export").mkdir(parents=True, exist_ok=True)
    payloads = make_payloads(cache / "payloads")
    print(
        f"payloads: {payloads['28x28']} ({payloads['28x28'].stat().st_size} B), {payloads['canvas']} "
        f"({payloads['canvas'].stat().st_size} B); servers on CPU {args.server_cpu}, load on CPU {args.client_cpu}; "
        f"seed {seed}; load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    os.sched_setaffinity(0, {int(c) for c in args.client_cpu.split(",")})
    plan = Plan(
        names=names,
        venvs=venvs,
        cache=cache,
        payloads=payloads,
        rng=random.Random(seed),
        server_cpu=args.server_cpu,
        client_cpu=args.client_cpu,
        rounds=args.rounds,
        duration=args.duration,
        warmup=args.warmup,
        cold_starts=args.cold_starts,
        rss_requests=args.rss_requests,
        open_loop=[n.strip() for n in args.open_loop.split(",") if n.strip()],
        open_loop_rate=args.open_loop_rate,
        open_loop_seconds=args.open_loop_seconds,
        uploads=args.uploads,
    )
    results = run(plan)
    summary = summarize(results.rounds, names)
    head = (
        f"{args.rounds} round(s) of {args.duration:g} s per measurement; medians over rounds, ratios within "
        f"rounds (min-max over rounds in brackets); server on CPU {args.server_cpu}, wrk on CPU {args.client_cpu}; "
        f"load average now {os.getloadavg()[0]:.2f}."
    )
    print_report(summary, results.extra, names, head, args.rss_requests)
    checks = targets(summary, results.extra, results.loops, names)
    print_targets(checks, "targets (issue 12)")
    checks_32 = targets_32(summary, names)
    print_targets(checks_32, "targets (issue 32: ours / FastAPI + onnxruntime)")
    checks_28 = targets_28(summary, names)
    print_targets(checks_28, f"targets (issue 28: this tree against {args.against})")
    if args.out:
        config = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()} | {"seed": seed}
        out = results_json(config, venvs, export, payloads, results, summary, checks)
        args.out.write_text(json.dumps(out | {"targets_issue_32": checks_32, "targets_issue_28": checks_28}, indent=1))
        print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()

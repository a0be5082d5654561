"""The report: medians over rounds, ratios against ours within each round, one markdown table per
payload, the ceiling ratios, the issue's targets marked met or missed, and everything as JSON
(``--out``). The machine is shared and noisy: compare servers within one run, not across runs.
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks.peers.build import key_versions
from benchmarks.peers.payloads import PAYLOADS, TITLES
from benchmarks.peers.servers import PEERS, SERVERS

if TYPE_CHECKING:
    from benchmarks.peers.runner import Results

# rounds[k][server][payload]["c1" or "c16"]: one wrk run's numbers (``benchmarks.peers.load.measure``)
Rounds = list[dict[str, dict[str, dict[str, dict[str, float]]]]]
FLAT_MIB = 4.0  # RSS growth over --rss-requests that still counts as flat


def median(values: Sequence[float]) -> float:
    """The median of the values that are numbers (NaN left out); NaN when none is."""
    values = [v for v in values if v == v]
    return float(statistics.median(values)) if values else float("nan")


def spread(values: Sequence[float]) -> dict[str, float]:
    """Median, min and max of the values that are numbers."""
    values = [v for v in values if v == v]
    if not values:
        return {"median": float("nan"), "min": float("nan"), "max": float("nan")}
    return {"median": median(values), "min": min(values), "max": max(values)}


def _ratios(runs: list[Any], ours: list[Any]) -> dict[str, dict[str, float]]:
    """Each round's ratios of one server's runs against ours, spread over the rounds."""

    def over(top: Callable[[Any, Any], float], bottom: Callable[[Any, Any], float]) -> dict[str, float]:
        return spread([top(x, o) / bottom(x, o) for x, o in zip(runs, ours, strict=True)])

    return {
        "peer_over_ours_16": over(lambda x, o: x["c16"]["req_per_s"], lambda x, o: o["c16"]["req_per_s"]),
        "ours_over_peer_16": over(lambda x, o: o["c16"]["req_per_s"], lambda x, o: x["c16"]["req_per_s"]),
        "ours_over_peer_1": over(lambda x, o: o["c1"]["req_per_s"], lambda x, o: x["c1"]["req_per_s"]),
    }


def summarize(rounds: Rounds, names: list[str]) -> dict[str, Any]:
    """Medians over rounds per server and payload; ratios against ours taken within each round."""
    out: dict[str, Any] = {}
    for name in names:
        out[name] = {}
        for payload in PAYLOADS:
            runs = [r[name][payload] for r in rounds if name in r]
            s: dict[str, Any] = {
                "rps_1": median([x["c1"]["req_per_s"] for x in runs]),
                "rps_16": median([x["c16"]["req_per_s"] for x in runs]),
                "p99_ms_16": median([x["c16"]["p99_ms"] for x in runs]),
                "p99_ms_1": median([x["c1"]["p99_ms"] for x in runs]),
                "cpu_ms_per_request_16": median([x["c16"]["cpu_ms_per_request"] for x in runs]),
                "errors": int(sum(x["c1"]["errors"] + x["c16"]["errors"] for x in runs)),
            }
            if "ours" in names:
                s.update(_ratios(runs, [r["ours"][payload] for r in rounds]))
            out[name][payload] = s
    return out


def fmt(v: float, digits: int = 0) -> str:
    return "-" if v != v else f"{v:,.{digits}f}"


def ratio(s: dict[str, float]) -> str:
    """A ratio's median, with its min-max over the rounds when they differ."""
    if s["median"] != s["median"]:
        return "-"
    if abs(s["max"] - s["min"]) < 0.005:
        return f"{s['median']:.2f}"
    return f"{s['median']:.2f} ({s['min']:.2f}-{s['max']:.2f})"


def memory(e: dict[str, Any]) -> str:
    """Idle RSS summed over the process tree; with PSS beside it when the server runs several processes
    (forked processes share pages, which the RSS sum counts once per process)."""
    if e["processes"] == 1:
        return f"{fmt(e['idle_rss_mib'])} MiB"
    return f"{fmt(e['idle_rss_mib'])} MiB (PSS {fmt(e['idle_pss_mib'])}, {e['processes']} processes)"


def table(payload: str, summary: dict[str, Any], extra: dict[str, dict[str, Any]], names: list[str]) -> str:
    """One payload's markdown table, a row per server."""
    lines = [
        "| server | 1 conn req/s | 16 conn req/s | p99 @16 | ×ours @16 | idle RSS | cold start | CPU ms/req @16 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name in names:
        s, e = summary[name][payload], extra[name]
        times = "1" if name == "ours" else ratio(s["peer_over_ours_16"]) if "peer_over_ours_16" in s else "-"
        lines.append(
            f"| {SERVERS[name].label} | {fmt(s['rps_1'])} | {fmt(s['rps_16'])} | {fmt(s['p99_ms_16'], 1)} ms | "
            f"{times} | {memory(e)} | {fmt(e['cold_start_s'], 2)} s | "
            f"{fmt(s['cpu_ms_per_request_16'], 2)} |"
        )
    return "\n".join(lines)


Target = dict[str, Any]  # {"target": what, "value": the measured value in words, "met": True, False or None}


def target(what: str, value: str, met: bool | None) -> Target:
    return {"target": what, "value": value, "met": met}


def _every_peer(summary: dict[str, Any], names: list[str], payload: str) -> Target:
    what = f">= 1.5x every peer at 16 connections, {payload}"
    worst = [(summary[p][payload]["ours_over_peer_16"]["median"], p) for p in PEERS if p in names]
    if not worst:
        return target(what, "no peer run", None)
    r, p = min(worst)
    value = f"{r:.2f}x (lowest: {p})"
    if "ours-free" in names:  # ours / peer over ours / ours-free = ours-free / peer
        bound = r / summary["ours-free"][payload]["ours_over_peer_16"]["median"]
        value += f"; with a network that costs nothing {bound:.2f}x"
    return target(what, value, r >= 1.5)


def _against(summary: dict[str, Any], names: list[str], peer: str, payload: str, key: str, bound: float) -> Target:
    """Ours over ``peer`` (``key``: ``ours_over_peer_16`` or ``_1``) at least ``bound``."""
    where = "16 connections" if key.endswith("16") else "1 connection"
    what = {
        "decode-only": f">= {bound}x the decode-only ceiling, {payload}",
        "fastapi-ort": f">= the onnxruntime endpoint at {where}, {payload}",
    }[peer]
    if peer not in names:
        return target(what, f"{peer} not run", None)
    r = summary[peer][payload][key]["median"]
    return target(what, f"{r:.2f}x", r >= bound)


def _memory_targets(extra: dict[str, dict[str, Any]], loops: dict[str, Any]) -> list[Target]:
    out = []
    if "ours" in loops:
        o = loops["ours"]
        out.append(
            target(
                f"open loop {o['rate']:g} req/s 28x28: p99 <= 10 ms",
                f"p99 {o['p99_ms']:.1f} ms, max {o['max_ms']:.1f} ms, {o['error_count']} errors",
                o["p99_ms"] <= 10 and o["error_count"] == 0,
            )
        )
    else:
        out.append(target("open loop 300 req/s 28x28: p99 <= 10 ms", "not run", None))
    e = extra["ours"]
    out.append(target("cold start <= 1.0 s", f"{e['cold_start_s']:.2f} s", e["cold_start_s"] <= 1.0))
    out.append(target("idle RSS <= 90 MiB", f"{e['idle_rss_mib']:.0f} MiB", e["idle_rss_mib"] <= 90))
    if e.get("rss_after_mib") is not None:
        growth = e["rss_after_mib"] - e["rss_before_mib"]
        out.append(
            target(
                f"RSS flat over {e['rss_requests']:,} requests (growth <= {FLAT_MIB:g} MiB)",
                f"{e['rss_before_mib']:.0f} -> {e['rss_after_mib']:.0f} MiB",
                growth <= FLAT_MIB,
            )
        )
    return out


def targets(
    summary: dict[str, Any], extra: dict[str, dict[str, Any]], loops: dict[str, Any], names: list[str]
) -> list[Target]:
    """The issue's targets for ours, each with the measured value and met (True/False) or None (not measured)."""
    if "ours" not in names:
        return []
    out = [_every_peer(summary, names, payload) for payload in PAYLOADS]
    out += [
        _against(summary, names, "decode-only", p, "ours_over_peer_16", b) for p, b in (("canvas", 0.7), ("28x28", 0.5))
    ]
    out += [_against(summary, names, "fastapi-ort", p, "ours_over_peer_1", 1.0) for p in PAYLOADS]
    return out + _memory_targets(extra, loops)


def print_report(
    summary: dict[str, Any], extra: dict[str, dict[str, Any]], names: list[str], head: str, rss_requests: int
) -> None:
    """The tables, RSS over the run and the ceiling ratios, after ``head`` (how the run was made)."""
    print(f"\n{head}")
    for payload in PAYLOADS:
        print(f"\n### {TITLES[payload]}\n")
        print(table(payload, summary, extra, names))
    print(
        f"\nRSS before -> after {rss_requests:,}+ more 28x28 requests at 16 connections: "
        + ", ".join(f"{n} {extra[n]['rss_before_mib']:.0f} -> {extra[n]['rss_after_mib']:.0f} MiB" for n in names)
    )
    if "ours" in names and "decode-only" in names:
        print(
            "\nceiling ratios (ours / decode-only at 16 connections): "
            + ", ".join(f"{p} {ratio(summary['decode-only'][p]['ours_over_peer_16'])}" for p in ("canvas", "28x28"))
        )


def print_targets(checks: list[Target], title: str) -> None:
    if checks:
        print(f"\n{title}:")
        for c in checks:
            mark = {True: "met", False: "MISSED", None: "not measured"}[c["met"]]
            print(f"- {c['target']}: {c['value']} -> {mark}")


def results_json(
    config: dict[str, Any],
    venvs: dict[str, Path],
    export: dict[str, Any],
    payloads: dict[str, Path],
    results: Results,
    summary: dict[str, Any],
    checks: list[Target],
) -> dict[str, Any]:
    """Everything the run measured, as ``--out`` writes it."""
    names = list(summary)
    return {
        "config": config,
        "machine": {"cpus": os.cpu_count(), "load_average_end": os.getloadavg()},
        "servers": {
            n: {
                "label": SERVERS[n].label,
                "engine": SERVERS[n].engine,
                "venv": str(venvs[n]),
                "versions": key_versions(venvs[n]),
                "command": SERVERS[n].command(venvs[n], 0),
            }
            for n in names
        },
        "export": export,
        "payloads": {k: {"path": str(p), "bytes": p.stat().st_size} for k, p in payloads.items()},
        "answers": results.answers,
        "rounds": results.rounds,
        "summary": summary,
        "memory_and_start": results.extra,
        "open_loop": results.loops,
        "targets": checks,
    }

"""The report: medians over rounds, ratios against ours within each round, one markdown table per
case (payload x upload), the ceiling ratios, the issues' targets marked met or missed, and everything
as JSON (``--out``). The machine is shared and noisy: compare servers within one run, not across runs.

Issue 12's targets are read on the multipart cases, as they always were. Issue 32's compare ours with
FastAPI + onnxruntime: at least 1.0x at 16 connections with multipart uploads and 0.8x with raw bodies,
on both payloads, and 0.9x at one connection (multipart, the upload the issue's figures were taken on).
Issue 28's, with ``--against REV``: ours no more than 5 % slower than ``ours@REV`` at 1 and 16
connections, every case (faster is no regression).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks.peers.build import key_versions
from benchmarks.peers.payloads import CASES, PAYLOADS, case, title
from benchmarks.peers.servers import PEERS, SERVERS
from benchmarks.peers.stats import Rounds, median, spread

if TYPE_CHECKING:
    from benchmarks.peers.runner import Results

FLAT_MIB = 4.0  # RSS growth over --rss-requests that still counts as flat


def _ratios(runs: list[Any], ours: list[Any]) -> dict[str, dict[str, float]]:
    """Each round's ratios of one server's runs against ours, spread over the rounds."""

    def over(top: Callable[[Any, Any], float], bottom: Callable[[Any, Any], float]) -> dict[str, float]:
        return spread([top(x, o) / bottom(x, o) for x, o in zip(runs, ours, strict=True)])

    return {
        "peer_over_ours_16": over(lambda x, o: x["c16"]["req_per_s"], lambda x, o: o["c16"]["req_per_s"]),
        "ours_over_peer_16": over(lambda x, o: o["c16"]["req_per_s"], lambda x, o: x["c16"]["req_per_s"]),
        "ours_over_peer_1": over(lambda x, o: o["c1"]["req_per_s"], lambda x, o: x["c1"]["req_per_s"]),
    }


def _medians(runs: list[dict[str, dict[str, float]]]) -> dict[str, Any]:
    """One server's runs on one case: the medians over rounds, and every error."""
    return {
        "rps_1": median([x["c1"]["req_per_s"] for x in runs]),
        "rps_16": median([x["c16"]["req_per_s"] for x in runs]),
        "p99_ms_16": median([x["c16"]["p99_ms"] for x in runs]),
        "p99_ms_1": median([x["c1"]["p99_ms"] for x in runs]),
        "cpu_ms_per_request_16": median([x["c16"]["cpu_ms_per_request"] for x in runs]),
        "errors": int(sum(x["c1"]["errors"] + x["c16"]["errors"] for x in runs)),
    }


def summarize(rounds: Rounds, names: list[str]) -> dict[str, Any]:
    """Medians over rounds per server and case; ratios against ours taken within each round."""
    out: dict[str, Any] = {}
    for name in names:
        out[name] = {}
        for key in CASES:
            runs = [r[name][key] for r in rounds if name in r and key in r[name]]
            if not runs and any(name in r for r in rounds):
                continue  # a case this server is not measured on
            s = _medians(runs)
            if "ours" in names:
                s.update(_ratios(runs, [r["ours"][key] for r in rounds]))
            out[name][key] = s
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
    """One case's markdown table, a row per server measured on it."""
    lines = [
        "| server | 1 conn req/s | 16 conn req/s | p99 @16 | ×ours @16 | idle RSS | cold start | CPU ms/req @16 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name in (n for n in names if payload in summary[n]):
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


def ours_over(summary: dict[str, Any], peer: str, key: str, stat: str) -> float | None:
    """The median over rounds of ours / ``peer`` (``stat``: ``ours_over_peer_16`` or ``_1``) on case
    ``key``; None when either was not measured on it."""
    s = summary.get(peer, {}).get(key, {})
    return s[stat]["median"] if stat in s else None


def _every_peer(summary: dict[str, Any], names: list[str], payload: str) -> Target:
    what = f">= 1.5x every peer at 16 connections, {payload}"
    worst = [(r, p) for p in PEERS if p in names if (r := ours_over(summary, p, payload, "ours_over_peer_16"))]
    if not worst:
        return target(what, "no peer run", None)
    r, p = min(worst)
    value = f"{r:.2f}x (lowest: {p})"
    free = ours_over(summary, "ours-free", payload, "ours_over_peer_16")
    if free:  # ours / peer over ours / ours-free = ours-free / peer
        value += f"; with a network that costs nothing {r / free:.2f}x"
    return target(what, value, r >= 1.5)


def at_least(summary: dict[str, Any], what: str, peer: str, key: str, stat: str, bound: float) -> Target:
    """Target ``what``: ours / ``peer`` on case ``key`` (``stat``) at least ``bound``."""
    r = ours_over(summary, peer, key, stat)
    if r is None:
        return target(what, f"{peer} not run" if peer not in summary else f"{key} not measured", None)
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
    """Issue 12's targets for ours, each with the measured value and met (True/False) or None (not measured)."""
    if "ours" not in names:
        return []
    out = [_every_peer(summary, names, payload) for payload in PAYLOADS]
    for p, bound in (("canvas", 0.7), ("28x28", 0.5)):
        out.append(
            at_least(summary, f">= {bound}x the decode-only ceiling, {p}", "decode-only", p, "ours_over_peer_16", bound)
        )
    for p in PAYLOADS:
        what = f">= the onnxruntime endpoint at 1 connection, {p}"
        out.append(at_least(summary, what, "fastapi-ort", p, "ours_over_peer_1", 1.0))
    return out + _memory_targets(extra, loops)


def targets_32(summary: dict[str, Any], names: list[str]) -> list[Target]:
    """Issue 32's targets: ours against FastAPI + onnxruntime (see the module's docstring)."""
    if "ours" not in names:
        return []
    out = []
    for p in PAYLOADS:
        for key, stat, bound, where in (
            (case(p, "multipart"), "ours_over_peer_16", 1.0, "16 connections, multipart"),
            (case(p, "raw"), "ours_over_peer_16", 0.8, "16 connections, raw body"),
            (case(p, "multipart"), "ours_over_peer_1", 0.9, "1 connection, multipart"),
        ):
            what = f">= {bound}x FastAPI + onnxruntime at {where}, {p}"
            out.append(at_least(summary, what, "fastapi-ort", key, stat, bound))
    return out


SAME_BAND = 0.05  # issue 28: requests per second "within 5 %" of the tree before the change, or more


def targets_28(summary: dict[str, Any], names: list[str]) -> list[Target]:
    """Issue 28's targets: ours / ``ours@REV`` at least 0.95x at 1 and 16 connections, every case run."""
    out = []
    for rev in (n for n in names if n.startswith("ours@")):
        for key in (k for k in CASES if k in summary.get(rev, {})):
            for stat, where in (("ours_over_peer_1", "1 connection"), ("ours_over_peer_16", "16 connections")):
                what = f"ours / {rev} >= {1 - SAME_BAND:.2f}x at {where}, {key}"
                r = ours_over(summary, rev, key, stat)
                if r is None or r != r:
                    out.append(target(what, "not measured", None))
                else:
                    value = ratio(summary[rev][key][stat])
                    out.append(target(what, value, r >= 1 - SAME_BAND))
    return out


def print_report(
    summary: dict[str, Any], extra: dict[str, dict[str, Any]], names: list[str], head: str, rss_requests: int
) -> None:
    """The tables, RSS over the run and the ceiling ratios, after ``head`` (how the run was made)."""
    print(f"\n{head}")
    for key in CASES:
        if not any(key in summary[n] for n in names):
            continue
        print(f"\n### {title(key)}\n")
        print(table(key, summary, extra, names))
        left_out = [f"{n} ({SERVERS[n].raw_body})" for n in names if key not in summary[n]]
        if left_out:
            print(f"\nnot in this table, no raw-body upload: {'; '.join(left_out)}")
    print(
        f"\nRSS before -> after {rss_requests:,}+ more 28x28 requests at 16 connections: "
        + ", ".join(f"{n} {extra[n]['rss_before_mib']:.0f} -> {extra[n]['rss_after_mib']:.0f} MiB" for n in names)
    )
    if "ours" in names and "decode-only" in names:
        print(
            "\nceiling ratios (ours / decode-only at 16 connections): "
            + ", ".join(
                f"{p} {ratio(summary['decode-only'][p]['ours_over_peer_16'])}"
                for p in ("canvas", "28x28")
                if p in summary["decode-only"]
            )
        )


def print_targets(checks: list[Target], heading: str) -> None:
    if checks:
        print(f"\n{heading}:")
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
                "root": str(SERVERS[n].root),
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

"""The measurements, with every server up at once, each server's process tree pinned to CPU 0
(``taskset -c 0``) and the load generator to CPU 1 (``taskset -c 1 wrk -t1``):

- per round (``--rounds``, servers in a new random order each round): for each server and case (payload
  x upload, ``--uploads``; in a new random order too) a warm-up (``--warmup`` s at 16 connections), then
  requests/s at 1 connection and at 16 (``--duration`` s each), p99 at 16, and the server's CPU time per
  request at 16; ratios against ours are taken within each round and reported as the median over
  rounds (min-max beside it);
- cold start: spawn to the first 200 from ``/predict``, median of ``--cold-starts`` starts;
- idle RSS (summed over the process tree; PSS beside it for servers of several processes) after start
  and a few requests; RSS before and after ``--rss-requests`` more requests (28x28 PNGs, multipart, at
  16 connections) at the end: flat or not;
- open loop (``--open-loop``, default ours and fastapi-ort): a fixed ``--open-loop-rate`` of 28x28 PNGs
  (multipart) for ``--open-loop-seconds`` after a 1 s warm-up, from a Python generator on CPU 1 over
  keep-alive connections (Debian has no wrk2), latency counted from each request's scheduled send time (no
  coordinated omission); p50, p99, max, errors, and the generator's own send lag.
"""

from __future__ import annotations

import json
import math
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.peers.check import check_answers
from benchmarks.peers.load import measure, open_loop, wrk
from benchmarks.peers.payloads import PAYLOADS, UPLOADS, case, multipart, post, request_body, split_case
from benchmarks.peers.processes import Running, memory_mib, start, stop, tree
from benchmarks.peers.servers import SERVERS, takes_raw_body
from benchmarks.peers.stats import Rounds, median

WARM_REQUESTS = 10  # requests of each case before the idle memory is read
LONGEST_RUN = 600  # seconds of one wrk run of the RSS check


@dataclass
class Plan:
    """What to run: the servers, where they run, and how long each measurement takes."""

    names: list[str]
    venvs: dict[str, Path]
    cache: Path
    payloads: dict[str, Path]
    rng: random.Random
    server_cpu: str = "0"
    client_cpu: str = "1"
    rounds: int = 7
    duration: int = 5
    warmup: int = 1
    cold_starts: int = 3
    rss_requests: int = 10_000
    open_loop: list[str] = field(default_factory=list)
    open_loop_rate: float = 300.0
    open_loop_seconds: float = 10.0
    uploads: tuple[str, ...] = UPLOADS

    @property
    def cases(self) -> list[str]:
        return [case(p, u) for u in self.uploads for p in PAYLOADS]

    def cases_of(self, name: str) -> list[str]:
        """The cases ``name`` is measured on: every one, but raw-body ones only if it takes a raw body."""
        return [c for c in self.cases if split_case(c)[1] == "multipart" or takes_raw_body(name)]

    def request(self, name: str) -> tuple[str, bytes]:
        """Case ``name``'s Content-Type and body."""
        payload, upload = split_case(name)
        return request_body(upload, self.payloads[payload].read_bytes())


@dataclass
class Results:
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)
    extra: dict[str, dict[str, Any]] = field(default_factory=dict)  # cold start and memory, per server
    rounds: Rounds = field(default_factory=list)
    loops: dict[str, Any] = field(default_factory=dict)


def start_all(plan: Plan, running: dict[str, Running]) -> None:
    """Start every server (the cold-start trials one server at a time), and leave them all running."""
    ready = multipart(plan.payloads["28x28"].read_bytes())
    for name in plan.rng.sample(plan.names, len(plan.names)):
        trials: list[float] = []
        for i in range(plan.cold_starts):
            r = start(
                SERVERS[name], plan.venvs[name], plan.server_cpu, plan.cache / "export", plan.cache / "logs", ready
            )
            trials += r.cold_starts
            if i < plan.cold_starts - 1:
                stop(r)
                time.sleep(0.5)
        r.cold_starts = trials
        running[name] = r
        print(f"started {name:13s} port {r.port}: cold start {', '.join(f'{t:.2f}' for t in trials)} s", flush=True)


def collect_answers(plan: Plan, running: dict[str, Running]) -> dict[str, dict[str, Any]]:
    """Each server's answer to each case, sent a few times (the warm-up before idle memory)."""
    answers: dict[str, dict[str, Any]] = {}
    for name in plan.names:
        port = running[name].port
        answers[name] = {}
        for key in plan.cases_of(name):
            content_type, body = plan.request(key)
            status, data = post(port, body, content_type=content_type)
            if status != 200:
                raise SystemExit(f"{name} answered {status} to the {key} payload: {data[:300]!r}")
            answer = json.loads(data)
            answers[name][key] = answer[0] if isinstance(answer, list) else answer  # BentoML's batch of one
            for _ in range(WARM_REQUESTS - 1):
                post(port, body, content_type=content_type)
    return answers


def idle_memory(plan: Plan, running: dict[str, Running]) -> dict[str, dict[str, Any]]:
    """Cold starts, idle RSS and PSS, and the number of processes, per server."""
    extra = {}
    for name in plan.names:
        r = running[name]
        mem = memory_mib(r.proc.pid)
        extra[name] = {
            "cold_start_s": median(r.cold_starts),
            "cold_starts_s": r.cold_starts,
            "idle_rss_mib": mem["rss"],
            "idle_pss_mib": mem["pss"],
            "processes": len(tree(r.proc.pid)),
        }
    return extra


def _line(k: int, plan: Plan, name: str, key: str, c1: dict[str, float], c16: dict[str, float]) -> str:
    bad = c1["errors"] + c16["errors"]
    return (
        f"round {k + 1}/{plan.rounds} {name:13s} {key:10s} 1 conn {c1['req_per_s']:7.0f} req/s  "
        f"16 conn {c16['req_per_s']:7.0f} req/s p99 {c16['p99_ms']:6.1f} ms  "
        f"{c16['cpu_ms_per_request']:.2f} CPU ms/req{f'  ERRORS {bad:.0f}' if bad else ''}"
    )


def run_rounds(plan: Plan, running: dict[str, Running]) -> Rounds:
    """Every server and case per round, servers (and cases) in a new random order each round."""
    rounds: Rounds = []
    for k in range(plan.rounds):
        result: dict[str, dict[str, dict[str, dict[str, float]]]] = {}
        for name in plan.rng.sample(plan.names, len(plan.names)):
            r = running[name]
            result[name] = {}
            cases = plan.cases_of(name)
            for key in plan.rng.sample(cases, len(cases)):
                payload, upload = split_case(key)
                path = plan.payloads[payload]
                wrk(r.port, path, 16, plan.warmup, plan.client_cpu, upload)
                c1 = measure(r, path, 1, plan.duration, plan.client_cpu, upload)
                c16 = measure(r, path, 16, plan.duration, plan.client_cpu, upload)
                result[name][key] = {"c1": c1, "c16": c16}
                print(_line(k, plan, name, key, c1, c16), flush=True)
        rounds.append(result)
    return rounds


def rss_check(plan: Plan, running: dict[str, Running], rounds: Rounds, extra: dict[str, dict[str, Any]]) -> None:
    """Memory over many more requests, after the rounds (wrk runs for a time, so runs sized from the
    rate just measured follow each other until the count is reached)."""
    for name in plan.names:
        r = running[name]
        time.sleep(0.5)
        before = memory_mib(r.proc.pid)["rss"]
        sent = errors = 0
        rate = median([x[name]["28x28"]["c16"]["req_per_s"] for x in rounds if "28x28" in x[name]])
        rate = 100.0 if rate != rate else rate  # no multipart 28x28 run to size it from
        while sent < plan.rss_requests:
            seconds = min(LONGEST_RUN, math.ceil(1.1 * (plan.rss_requests - sent) / max(rate, 1.0)))
            done = wrk(r.port, plan.payloads["28x28"], 16, seconds, plan.client_cpu)
            sent += int(done["requests"])
            errors += int(done["socket_errors"] + done["non_2xx"])
            rate = max(done["req_per_s"], 1.0)
        time.sleep(1.0)
        after = memory_mib(r.proc.pid)["rss"]
        extra[name].update(rss_before_mib=before, rss_after_mib=after, rss_requests=sent, rss_errors=errors)
        print(f"RSS {name:13s} {before:6.0f} -> {after:6.0f} MiB over {sent:,} requests", flush=True)


def open_loops(plan: Plan, running: dict[str, Running]) -> dict[str, Any]:
    """The open-loop run of each ``--open-loop`` server that runs."""
    loops: dict[str, Any] = {}
    for name in plan.open_loop:
        if name not in running:
            continue
        o = open_loop(running[name].port, plan.payloads["28x28"], plan.open_loop_rate, plan.open_loop_seconds)
        loops[name] = o
        print(
            f"open loop {name:13s} {o['rate']:g} req/s for {o['seconds']:g} s: p50 {o['p50_ms']:.2f} ms  "
            f"p99 {o['p99_ms']:.2f} ms  p99.9 {o['p999_ms']:.2f} ms  max {o['max_ms']:.1f} ms  "
            f"errors {o['error_count']} {o['errors'] or ''} (generator send lag p99 "
            f"{o['send_lag_p99_ms']:.2f} ms, {o['connections_opened']} connections)",
            flush=True,
        )
    return loops


def run(plan: Plan) -> Results:
    """Start every server, check their answers, then measure; every server is stopped at the end."""
    running: dict[str, Running] = {}
    out = Results()
    try:
        start_all(plan, running)
        out.answers = collect_answers(plan, running)
        check_answers(out.answers, plan.names)
        time.sleep(1.0)
        out.extra = idle_memory(plan, running)
        out.rounds = run_rounds(plan, running)
        rss_check(plan, running, out.rounds, out.extra)
        out.loops = open_loops(plan, running)
    finally:
        for r in running.values():
            stop(r)
    return out

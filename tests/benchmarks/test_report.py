"""bench_peers' report: medians and ratios within rounds, the tables, and the issues' targets."""

from __future__ import annotations

import math
from typing import Any

import pytest

from benchmarks.peers.report import ratio, summarize, table, targets, targets_28, targets_32
from benchmarks.peers.stats import Rounds, median, spread


def run(rps: float, p99: float = 5.0) -> dict[str, float]:
    """One wrk run's numbers, as ``benchmarks.peers.load.measure`` returns them."""
    return {"req_per_s": rps, "p99_ms": p99, "cpu_ms_per_request": 1000 / rps, "errors": 0.0}


def rounds_of(rates: dict[str, dict[str, list[tuple[float, float]]]]) -> Rounds:
    """``rates[server][case]``: one (1-connection, 16-connection) req/s pair per round."""
    n = len(next(iter(next(iter(rates.values())).values())))
    return [
        {
            name: {key: {"c1": run(pairs[k][0]), "c16": run(pairs[k][1])} for key, pairs in cases.items()}
            for name, cases in rates.items()
        }
        for k in range(n)
    ]


def extra_for(names: list[str]) -> dict[str, dict[str, Any]]:
    return {
        n: {
            "cold_start_s": 0.4,
            "idle_rss_mib": 80.0,
            "idle_pss_mib": 60.0,
            "processes": 1,
            "rss_before_mib": 80.0,
            "rss_after_mib": 81.0,
            "rss_requests": 2000,
        }
        for n in names
    }


def test_median_and_spread_leave_out_missing_values() -> None:
    nan = float("nan")
    assert median([3.0, nan, 1.0, 2.0]) == 2.0
    assert math.isnan(median([nan]))
    assert spread([2.0, nan, 1.0, 4.0]) == {"median": 2.0, "min": 1.0, "max": 4.0}


def test_ratios_are_taken_within_each_round_then_the_median_over_rounds() -> None:
    # The peer is twice as fast in round 1 and as fast in round 2 and 3: its own medians say 1.0x
    # (2,000 req/s each) but the ratios within rounds say 1.0x with a spread 1.0-2.0.
    rounds = rounds_of(
        {
            "ours": {"28x28": [(500, 1000), (1000, 2000), (1000, 2000)]},
            "fastapi-ort": {"28x28": [(2000, 2000), (1000, 2000), (1000, 2000)]},
        }
    )
    s = summarize(rounds, ["ours", "fastapi-ort"])["fastapi-ort"]["28x28"]
    assert s["rps_16"] == 2000
    assert s["peer_over_ours_16"] == {"median": 1.0, "min": 1.0, "max": 2.0}
    assert s["ours_over_peer_16"] == {"median": 1.0, "min": 0.5, "max": 1.0}
    assert s["ours_over_peer_1"]["min"] == 0.25
    assert ratio(s["peer_over_ours_16"]) == "1.00 (1.00-2.00)"
    assert ratio({"median": 0.5, "min": 0.5, "max": 0.5}) == "0.50"


def test_a_case_a_server_does_not_take_is_left_out_of_its_summary_and_table() -> None:
    rounds = rounds_of(
        {
            "ours": {"28x28": [(1000, 2000)], "28x28-raw": [(1100, 2200)]},
            "litserve": {"28x28": [(500, 700)]},
        }
    )
    names = ["ours", "litserve"]
    summary = summarize(rounds, names)
    assert set(summary["ours"]) == {"28x28", "28x28-raw"} and set(summary["litserve"]) == {"28x28"}
    raw = table("28x28-raw", summary, extra_for(names), names)
    assert "LitServe" not in raw and "this service" in raw
    rows = table("28x28", summary, extra_for(names), names).splitlines()
    assert rows[2].split(" | ")[4] == "1"  # ours against itself
    assert rows[3].split(" | ")[4] == "0.35"  # LitServe: 700 / 2000


def by_target(checks: list[dict[str, Any]]) -> dict[str, Any]:
    return {c["target"]: c["met"] for c in checks}


def test_issue_12_reads_the_lowest_peer_and_says_what_was_not_run() -> None:
    rounds = rounds_of(
        {
            "ours": {"28x28": [(1000, 3000)], "canvas": [(900, 2000)]},
            "fastapi-ort": {"28x28": [(900, 1500)], "canvas": [(1000, 2000)]},
            "fastapi-torch": {"28x28": [(500, 1000)], "canvas": [(500, 1000)]},
        }
    )
    names = ["ours", "fastapi-ort", "fastapi-torch"]
    checks = targets(summarize(rounds, names), extra_for(names), {}, names)
    met = by_target(checks)
    assert met[">= 1.5x every peer at 16 connections, 28x28"] is True  # 3000 / 1500 = 2.0
    assert met[">= 1.5x every peer at 16 connections, canvas"] is False  # lowest: fastapi-ort, 1.0
    assert met[">= the onnxruntime endpoint at 1 connection, 28x28"] is True
    assert met[">= the onnxruntime endpoint at 1 connection, canvas"] is False
    assert met[">= 0.7x the decode-only ceiling, canvas"] is None  # decode-only not run
    assert met["open loop 300 req/s 28x28: p99 <= 10 ms"] is None
    assert met["cold start <= 1.0 s"] is True and met["idle RSS <= 90 MiB"] is True
    lowest = next(c for c in checks if c["target"].endswith("canvas") and "every peer" in c["target"])
    assert lowest["value"] == "1.00x (lowest: fastapi-ort)"


@pytest.mark.parametrize(
    ("multipart_16", "raw_16", "multipart_1", "expected"),  # (ours, fastapi-ort) req/s
    [
        ((2000, 2000), (1600, 2000), (900, 1000), (True, True, True)),  # exactly at 1.0x, 0.8x and 0.9x
        ((1990, 2000), (1590, 2000), (890, 1000), (False, False, False)),  # just under each bound
    ],
)
def test_issue_32_bounds_are_1_0x_multipart_0_8x_raw_and_0_9x_at_one_connection(
    multipart_16: tuple[float, float],
    raw_16: tuple[float, float],
    multipart_1: tuple[float, float],
    expected: tuple[bool, bool, bool],
) -> None:
    ours_m, ort_m = (multipart_1[0], multipart_16[0]), (multipart_1[1], multipart_16[1])
    rounds = rounds_of(
        {
            "ours": {"canvas": [ours_m], "canvas-raw": [(1000, raw_16[0])]},
            "fastapi-ort": {"canvas": [ort_m], "canvas-raw": [(1000, raw_16[1])]},
        }
    )
    met = by_target(targets_32(summarize(rounds, ["ours", "fastapi-ort"]), ["ours", "fastapi-ort"]))
    assert (
        met[">= 1.0x FastAPI + onnxruntime at 16 connections, multipart, canvas"],
        met[">= 0.8x FastAPI + onnxruntime at 16 connections, raw body, canvas"],
        met[">= 0.9x FastAPI + onnxruntime at 1 connection, multipart, canvas"],
    ) == expected
    assert met[">= 1.0x FastAPI + onnxruntime at 16 connections, multipart, 28x28"] is None  # not measured


def test_issue_32_is_not_measured_without_the_onnxruntime_endpoint() -> None:
    rounds = rounds_of({"ours": {"28x28": [(1000, 2000)]}})
    assert {c["met"] for c in targets_32(summarize(rounds, ["ours"]), ["ours"])} == {None}
    assert targets_32(summarize(rounds, ["ours"]), ["fastapi-ort"]) == []  # ours not run: no target


def test_issue_28_wants_this_tree_no_more_than_5_percent_slower_than_the_revision_before() -> None:
    rounds = rounds_of(
        {
            "ours": {"28x28": [(1050, 2000), (1000, 2000), (1000, 2000)], "canvas": [(1000, 2000)] * 3,
                     "28x28-raw": [(1000, 2600)] * 3},
            "ours@9edfd16": {
                "28x28": [(1000, 2000)] * 3, "canvas": [(1000, 2200)] * 3, "28x28-raw": [(1000, 2000)] * 3
            },
        }
    )
    names = ["ours", "ours@9edfd16"]
    checks = targets_28(summarize(rounds, names), names)
    met = by_target(checks)
    assert met["ours / ours@9edfd16 >= 0.95x at 1 connection, 28x28"] is True  # median 1.00 (1.00-1.05)
    assert met["ours / ours@9edfd16 >= 0.95x at 16 connections, 28x28"] is True
    assert met["ours / ours@9edfd16 >= 0.95x at 16 connections, canvas"] is False  # 0.91x
    assert met["ours / ours@9edfd16 >= 0.95x at 16 connections, 28x28-raw"] is True  # 1.30x: faster is no regression
    assert next(c["value"] for c in checks if c["target"].endswith("1 connection, 28x28")) == "1.00 (1.00-1.05)"
    assert targets_28(summarize(rounds, ["ours"]), ["ours"]) == []  # no --against: no target

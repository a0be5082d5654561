"""The shape of a run's measurements and the statistics over its rounds, shared by the runner (which
fills them) and the report (which reads them)."""

from __future__ import annotations

import statistics
from collections.abc import Sequence

# rounds[k][server][case]["c1" or "c16"]: one wrk run's numbers (``benchmarks.peers.load.measure``)
Rounds = list[dict[str, dict[str, dict[str, dict[str, float]]]]]


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

"""Fair order between requests: whoever has been served least goes next.

Each request has an :class:`Account` of the seconds of work done for it; a :class:`FairQueue` hands out
items in the order of their account's service, then of arrival. A new request starts at zero, so it
goes before the rest of a large batch that came earlier.
"""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass, field
from typing import Any


@dataclass(eq=False)
class Account:
    """One request's share of the worker: the seconds of work done for it so far."""

    seq: int
    served: float = 0.0


@dataclass
class FairQueue:
    """Items in the order of their account's service (least first), then of arrival. Lazy: an item
    whose account was served since it was queued is put back with its new key when it comes up."""

    heap: list[tuple[float, int, int, Any]] = field(default_factory=list)
    order: itertools.count[int] = field(default_factory=itertools.count)

    def push(self, account: Account, item: Any) -> None:
        heapq.heappush(self.heap, (account.served, account.seq, next(self.order), (account, item)))

    def pop(self) -> Any | None:
        while self.heap:
            served, seq, n, (account, item) = heapq.heappop(self.heap)
            if served == account.served:
                return item
            heapq.heappush(self.heap, (account.served, seq, n, (account, item)))
        return None

    def __len__(self) -> int:
        return len(self.heap)

"""Memory of a worker: freed heap given back to the system after heavy work, and the start-up objects
kept out of the garbage collector's scans.

The service keeps freed memory for reuse (:func:`model.allocator.keep_freed_memory`), which is right
for the network's activations but would keep the peak of any heavy request (a burst of 8 MB bodies,
a megapixel decode, a huge JSON body) resident for good. After such work, once the worker is quiet,
glibc's ``malloc_trim`` hands the free pages back.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import sys
from typing import Final

HEAVY_BYTES: Final = 1024 * 1024  # a request body at least this large is followed by a trim
HEAVY_SECONDS: Final = 0.02  # work of one reading at least this long (decoding, segmenting) too
TRIM_DELAY: Final = 1.0  # seconds of quiet before the trim: not in the middle of a burst


def release_free_memory() -> bool:
    """Hand the heap's free pages back to the system (glibc ``malloc_trim``); False where unavailable."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.malloc_trim(0))
    except (OSError, AttributeError):
        return False


_serving = 0  # apps of this process between start-up and shut-down (several in tests)


def freeze_start_up_objects() -> None:
    """Move every object made so far out of the garbage collector's reach (``gc.freeze()``).

    Without this, each full collection rescans the modules, routes and schemas of start-up, and under
    load those pauses set the p99 latency (``benchmarks/bench_service.py`` prints it). No
    ``gc.collect()`` first: it would lengthen start-up to free a few hundred objects.
    """
    global _serving
    gc.freeze()
    _serving += 1


def thaw_start_up_objects() -> None:
    """Undo :func:`freeze_start_up_objects` once the last app of the process has shut down."""
    global _serving
    _serving -= 1
    if _serving == 0:
        gc.unfreeze()

"""Keep freed activation memory in the process instead of handing it back to the OS.

Each training step allocates and frees the same few dozen arrays of up to megabytes. glibc serves blocks
that large with ``mmap`` and unmaps them on free, so every step page-faults all of its activations in
again (``python benchmarks/bench_kernels.py`` times a training step with and without this).
Raising glibc's mmap and trim thresholds keeps the blocks on the heap for reuse; resident memory then
stays at the step's peak. Opt-in and process-wide, so a library import never changes it behind
anybody's back: the training CLI, the benchmarks and the service call :func:`keep_freed_memory`.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

M_TRIM_THRESHOLD = -1
M_TOP_PAD = -2
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_MAX = 32 * 1024 * 1024  # glibc's ceiling on 64-bit systems


def keep_freed_memory(top_pad: int = 64 * 1024 * 1024) -> bool:
    """Apply the thresholds with ``mallopt``; False (and nothing changed) where libc is not glibc."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    ok = mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_MAX) == 1
    ok &= mallopt(M_TRIM_THRESHOLD, 2**31 - 1) == 1
    ok &= mallopt(M_TOP_PAD, top_pad) == 1
    return bool(ok)

#!/usr/bin/env python
"""Hostile and heavy load (issue 12): what it costs the service, and what a normal client sees meanwhile.

1. **Decoding the worst files**, each in a fresh process: time and peak RSS of ``preprocess`` on a
   lossless WebP that decodes to 4096x4096, a 1x16,777,216 PNG, a 12 MP phone photo (baseline and
   progressive JPEG), and the worst the limits still accept (2048x2048 WebP, 1x4,194,304 PNG,
   16.7 MP progressive JPEG).
2. **A normal request under hostile load**: one uvicorn worker (``--http app.protocol:GuardedProtocol``,
   default settings) on 127.0.0.1; a probe client posts a 28x28 PNG every 20 ms on its own keep-alive
   connection and reports p50/p99/max latency and failures, with no load and then under each load (a
   fresh server for each, under a 4 GB address-space cap):
   batches of 64 costly images on 2 connections, the same batches abandoned after 0.2 s, 4 connections
   looping one costly image, 4 looping a 4096x4096 WebP bomb, a slowloris crowd (idle, header-drip and
   body-drip connections: the server's open descriptors are printed too), and 64 concurrent 8 MB uploads
   (the server's RSS during the burst and 10 s after).

3. **Small inputs that were costly** (issue 31), each sent once on a fresh server beside the probe:
   speck canvases, header padding of PNG, JPEG and GIF, a JSON body of 500,000 keys, a 300-character
   multipart boundary, 20 and 50 KB of headers in one piece. Each row gives the case's own status and
   time and the probe's worst latency; the script exits non-zero when a case of this tree misses its
   bounds (its right answer, or a 503 or 504, within 2 s, 10 s for an image that must be read; the
   probe's worst 500 ms).

``--rev REV`` runs everything a second time on the code of a git revision (``git archive``: the working
tree is not touched) and prints both, so before/after come from the same machine state::

    python benchmarks/bench_hostile.py                  # this tree
    python benchmarks/bench_hostile.py --rev 92070c9    # and the code of 92070c9, for comparison
    python benchmarks/bench_hostile.py --only decode    # one section (decode, load)
    python benchmarks/bench_hostile.py --only load --phases bombs,uploads
    python benchmarks/bench_hostile.py --only cases --cases speck,JSON
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
PROTOCOL = "app.protocol:GuardedProtocol"
PROBE_EVERY = 0.02  # seconds between the probe's requests
PHASE = 8.0  # seconds of each load phase
SERVER_MEMORY = 4 * 1024**3  # bytes of address space the server under test may have


# ---- files ----------------------------------------------------------------------------------------------


def encode(im: Image.Image, fmt: str, **options: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **options)  # type: ignore[arg-type]
    return buf.getvalue()


def webp_bomb(side: int) -> bytes:
    return encode(Image.new("RGBA", (side, side), (255, 255, 255, 0)), "WEBP", lossless=True, method=6)


def png_line(width: int) -> bytes:
    return encode(Image.new("L", (width, 1), 255), "PNG", optimize=True)


def photo(width: int, height: int, progressive: bool = False) -> bytes:
    """A photo-like JPEG of a dark stroke on light, noisy paper."""
    rng = np.random.default_rng(0)
    a = np.full((height, width, 3), 230, np.int16)
    a[height // 4 : 3 * height // 4, width // 2 - width // 30 : width // 2 + width // 30] = 30
    a += rng.integers(-10, 10, a.shape, dtype=np.int16)
    return encode(Image.fromarray(np.clip(a, 0, 255).astype(np.uint8)), "JPEG", quality=90, progressive=progressive)


def noise_png(nbytes: int) -> bytes:
    """A noise RGB PNG of about ``nbytes`` (incompressible: ~3 bytes a pixel)."""
    side = int((nbytes / 3) ** 0.5)
    pixels = np.random.default_rng(1).integers(0, 256, (side, side, 3), dtype=np.uint8)
    return encode(Image.fromarray(pixels), "PNG", compress_level=1)


def digit_png() -> bytes:
    with np.load(ROOT / "tests" / "data" / "mnist_test_sample.npz") as f:
        return encode(Image.fromarray(f["x"][0]), "PNG")


def multipart(images: list[bytes]) -> tuple[bytes, str]:
    boundary = "bench-boundary"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{i}.img"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n".encode() + data + b"\r\n"
        for i, data in enumerate(images)
    ]
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


# ---- 1. decoding the worst files ------------------------------------------------------------------------

DECODE_SCRIPT = """
import sys, time
sys.path.insert(0, sys.argv[1])
from model.recipe import ImageError, preprocess
from PIL import Image
import io
data = open(sys.argv[2], "rb").read()
try:
    Image.open(io.BytesIO(data)).size  # the format plugin's import is not the decode
except Exception:
    pass
def peak_mb():  # VmHWM: this process's high-water mark (ru_maxrss would count the forking parent's)
    return int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM:")).split()[1]) / 1024
base = peak_mb()
start = time.perf_counter()
try:
    preprocess(data)
    result = "read"
except ImageError as exc:
    result = type(exc).__name__
seconds = time.perf_counter() - start
peak = peak_mb()
print(f"{seconds * 1000:.1f} {peak - base:.0f} {peak:.0f} {result}")
"""


def decode_cases() -> dict[str, bytes]:
    return {
        "WebP lossless -> 4096x4096 RGBA": webp_bomb(4096),
        "PNG 1x16,777,216": png_line(16_777_216),
        "JPEG 12 MP phone photo": photo(4000, 3000),
        "JPEG 12 MP progressive": photo(4000, 3000, progressive=True),
        "WebP lossless -> 2048x2048 RGBA": webp_bomb(2048),
        "PNG 1x4,194,304": png_line(4_194_304),
        "JPEG 16.7 MP progressive": photo(4096, 4096, progressive=True),
    }


def bench_decode(trees: dict[str, Path]) -> None:
    print("\n== 1. decoding the worst files (fresh process each; ms, peak RSS added / total MB, result)")
    cases = decode_cases()
    with tempfile.TemporaryDirectory() as tmp:
        print(f"{'file':34} {'bytes':>9}  " + "  ".join(f"{name:>34}" for name in trees))
        for label, data in cases.items():
            path = Path(tmp) / "image"
            path.write_bytes(data)
            cells = []
            for tree in trees.values():
                runs = [_decode_once(tree, path) for _ in range(3)]
                best = min(runs, key=lambda r: float(r[0]))
                cells.append(f"{float(best[0]):7.1f} ms {best[1]:>4}/{best[2]:>4} MB {best[3][:14]:>14}")
            print(f"{label:34} {len(data):>9,}  " + "  ".join(f"{c:>34}" for c in cells))


def _decode_once(tree: Path, image: Path) -> list[str]:
    out = subprocess.run([sys.executable, "-c", DECODE_SCRIPT, str(tree), str(image)],
                         capture_output=True, text=True, check=True, cwd=tree)
    return out.stdout.strip().split(maxsplit=3)


# ---- 2. a normal request under hostile load -----------------------------------------------------------


@contextmanager
def serve(tree: Path) -> Iterator[tuple[int, int]]:
    """One uvicorn worker on ``tree``'s app: yields ``(port, pid)``; its log goes to a temporary file,
    printed if it dies."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = tempfile.TemporaryFile("w+")  # noqa: SIM115 (closed in the finally below, after the server)
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "app.main:app", "--port", str(port), "--no-access-log",
         "--log-level", "warning", "--http", PROTOCOL],
        cwd=tree, env={**os.environ, "PYTHONPATH": str(tree)}, stdout=log, stderr=subprocess.STDOUT,
        preexec_fn=_cap_memory,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=1)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the server did not start: {_tail(log)}") from None
                time.sleep(0.1)
        yield port, proc.pid
    finally:
        if proc.poll() is not None:
            print(f"  the server died (status {proc.returncode}): {_tail(log)}")
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _cap_memory() -> None:
    """In the server's process, before exec: at most ``SERVER_MEMORY`` bytes of address space, so a
    server without bounds (an old revision) fails its own allocations instead of taking the machine's
    memory from everything else (unbounded, the code before issue 12 grew past 20 GB here)."""
    resource.setrlimit(resource.RLIMIT_AS, (SERVER_MEMORY, SERVER_MEMORY))


def _tail(log: io.TextIOBase) -> str:
    log.seek(0)
    return " | ".join(log.read().strip().splitlines()[-5:])


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def post(port: int, body: bytes, content_type: str, path: str = "/predict", timeout: float = 60) -> int:
    """One POST on a fresh connection, the answer read while the body is still being sent (as curl and
    browsers do: a 503 or 413 comes before the body is taken in); the status, 0 if none."""
    try:
        sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    except OSError:
        return 0
    with sock:
        head = (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n")

        def send() -> None:
            with suppress(OSError):
                sock.sendall(head.encode() + body)

        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        try:
            answer = sock.recv(64)
        except OSError:
            answer = b""
        sender.join(timeout)
    return int(answer.split()[1]) if answer.startswith(b"HTTP/1.1") else 0


class Probe:
    """Posts a 28x28 PNG every ``PROBE_EVERY`` seconds on one keep-alive connection; latencies in ms."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.latencies: list[float] = []
        self.failures = 0
        self.failed: dict[str, int] = {}  # status (or error) -> count
        self.stop = threading.Event()
        self.body = digit_png()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        import http.client

        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        while not self.stop.is_set():
            start = time.perf_counter()
            try:
                conn.request("POST", "/predict", body=self.body, headers={"Content-Type": "image/png"})
                response = conn.getresponse()
                response.read()
                ok = response.status == 200
                if not ok:
                    self.failed[str(response.status)] = self.failed.get(str(response.status), 0) + 1
            except OSError as exc:
                ok = False
                self.failed[type(exc).__name__] = self.failed.get(type(exc).__name__, 0) + 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            if ok:
                self.latencies.append((time.perf_counter() - start) * 1000)
            else:
                self.failures += 1
            self.stop.wait(PROBE_EVERY)
        conn.close()

    def __enter__(self) -> Probe:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(70)

    def summary(self) -> str:
        if not self.latencies:
            return f"no answer ({self.failures} failed)"
        lat = self.latencies
        q = statistics.quantiles(lat, n=100, method="inclusive") if len(lat) > 1 else lat * 99
        return (f"p50 {q[49]:7.1f}  p99 {q[98]:7.1f}  max {max(self.latencies):7.1f} ms  "
                f"({len(self.latencies)} ok, {self.failures} failed{' ' + str(self.failed) if self.failed else ''})")


def looping(workers: int, action: Callable[[], object], stop: threading.Event) -> list[threading.Thread]:
    def loop() -> None:
        while not stop.is_set():
            action()

    threads = [threading.Thread(target=loop, daemon=True) for _ in range(workers)]
    for t in threads:
        t.start()
    return threads


def phase(port: int, pid: int, label: str, load: Callable[[threading.Event], list[threading.Thread]] | None,
          extra: Callable[[], str] | None = None) -> str:
    stop = threading.Event()
    with Probe(port) as probe:
        threads = load(stop) if load else []
        time.sleep(PHASE)
        note = extra() if extra else ""
        note += f" RSS {rss_mb(pid):.0f} MB"
        stop.set()
    for t in threads:
        t.join(70)
    return f"  {label:44} {probe.summary()}{note}"


def bench_load(tree: Path, phases: set[str]) -> Iterator[str]:
    """Each phase on a fresh server (a backlog left by one load must not be charged to the next)."""
    batch, kind = multipart([webp_bomb(2048)] * 64)
    costly = webp_bomb(2048)
    bomb = webp_bomb(4096)

    def batches(port: int, pid: int) -> str:
        return phase(port, pid, "batches of 64 2048^2 WebPs, 2 connections",
                     lambda stop: looping(2, lambda: post(port, batch, kind, "/predict/batch"), stop))

    def abandoned(port: int, pid: int) -> str:
        def abandon() -> None:
            with suppress(OSError), socket.create_connection(("127.0.0.1", port)) as sock:
                sock.sendall(f"POST /predict/batch HTTP/1.1\r\nHost: x\r\nContent-Type: {kind}\r\n"
                             f"Content-Length: {len(batch)}\r\n\r\n".encode() + batch)
                time.sleep(0.2)

        return phase(port, pid, "the same batches abandoned after 0.2 s", lambda stop: looping(2, abandon, stop))

    def singles(port: int, pid: int) -> str:
        return phase(port, pid, "4 connections looping one 2048^2 WebP",
                     lambda stop: looping(4, lambda: post(port, costly, "image/webp"), stop))

    def bombs(port: int, pid: int) -> str:
        answers: list[int] = []
        row = phase(port, pid, "4 connections looping a 4096^2 WebP bomb",
                    lambda stop: looping(4, lambda: answers.append(post(port, bomb, "image/webp")), stop))
        codes = {c: answers.count(c) for c in sorted(set(answers))}
        return row + f"; bombs answered {len(answers) / PHASE:.0f}/s {codes}"

    def idle(port: int, pid: int) -> str:
        return f"  idle RSS {rss_mb(pid):.0f} MB\n" + phase(port, pid, "no load", None)

    for run in (idle, batches, abandoned, singles, bombs, slowloris, uploads):
        if phases and run.__name__ not in phases:
            continue
        try:
            with serve(tree) as (port, pid):
                yield run(port, pid)
        except RuntimeError as exc:
            yield f"  {run.__name__}: {exc}"


def slowloris(port: int, pid: int) -> str:
    """1,000 idle connections, 200 dripping headers, 200 dripping a body; the server's descriptors."""
    socks: list[socket.socket] = []

    def crowd(stop: threading.Event) -> list[threading.Thread]:
        def run() -> None:
            for i in range(1400):
                try:
                    s = socket.create_connection(("127.0.0.1", port), timeout=5)
                except OSError:
                    continue
                if i >= 1000:
                    s.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\n" if i < 1200 else
                              b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n"
                              b"Content-Length: 100000\r\n\r\n")
                socks.append(s)
            while not stop.is_set():  # drip one byte a second on the dripping ones
                for s in socks[1000:]:
                    with suppress(OSError):
                        s.send(b"x")
                stop.wait(1.0)

        t = threading.Thread(target=run, daemon=True)
        t.start()
        return [t]

    row = phase(port, pid, "slowloris: 1,000 idle + 400 drip connections", crowd,
                lambda: f"fds {open_fds(pid)}")
    time.sleep(14 - PHASE)  # the crowd stays connected past the header timeout (10 s)
    held = open_fds(pid)
    for sock in socks:
        sock.close()
    return row + f", still connected at 14 s: fds {held}"


def uploads(port: int, pid: int) -> str:
    """64 concurrent ~8 MB uploads: the probe meanwhile, and the server's RSS at peak and 10 s after."""
    body = noise_png(7_900_000)
    peak = [0.0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], rss_mb(pid))
            time.sleep(0.05)

    statuses: list[int] = []

    def burst(stop: threading.Event) -> list[threading.Thread]:
        threads = [threading.Thread(target=lambda: statuses.append(post(port, body, "image/png")), daemon=True)
                   for _ in range(64)]
        threads.append(threading.Thread(target=sample, daemon=True))
        for t in threads:
            t.start()
        return threads

    before = rss_mb(pid)
    stop_sampling = threading.Timer(PHASE + 30, done.set)
    stop_sampling.start()
    row = phase(port, pid, "64 concurrent 8 MB uploads", burst)
    done.set()
    stop_sampling.cancel()
    time.sleep(10)
    codes = {c: statuses.count(c) for c in sorted(set(statuses))}
    memory = f"RSS {before:.0f} -> peak {peak[0]:.0f} MB, 10 s later {rss_mb(pid):.0f} MB"
    return row + f"\n  {'':44} {memory}; answers {codes}"


# ---- 3. small inputs that were costly (issue 31) -----------------------------------------------------

CASE_BOUND = 2.0  # seconds: the case's own answer (a clear 4xx, 503 or 504)
READ_BOUND = 10.0  # seconds: the answer to an image that must really be read (its deadline)
PROBE_BOUND = 500.0  # ms: the probe's worst latency beside any case


def hostile_cases() -> dict[str, tuple[str, bytes, str, float, tuple[int, ...]]]:
    """label -> (path, whole request or body, content type ('' for a whole request), bound in s, the
    statuses that answer it right besides 503 and 504)."""
    sys.path.insert(0, str(ROOT))  # run as a script, the repository root is not on the path
    from benchmarks import hostile_inputs as h

    digit = digit_png()
    jpeg = encode(Image.open(io.BytesIO(digit)), "JPEG")
    gif = encode(Image.open(io.BytesIO(digit)), "GIF")
    boundary, kind = h.multipart_body("b" * 300, digit)
    number, refused = "/predict/number", (422,)
    return {
        "speck canvas 1024x400, dots every 16 px": (number, h.speck_canvas(1024, 400, 16), "image/png", READ_BOUND,
                                                    (200, 422)),
        "speck canvas 1024x400, dots every 8 px": (number, h.speck_canvas(1024, 400, 8), "image/png", CASE_BOUND,
                                                   refused),
        "speck canvas 2048x2048, dots every 32 px": (number, h.speck_canvas(2048, 2048, 32), "image/png", READ_BOUND,
                                                     (200, 422)),
        "speck canvas 2048x2048, dots every 16 px": (number, h.speck_canvas(2048, 2048, 16), "image/png", CASE_BOUND,
                                                     refused),
        "PNG + 559,000 tEXt chunks (8 MB)": ("/predict", h.padded_png(digit, 559_000), "image/png", CASE_BOUND,
                                             refused),
        "PNG + 559,000 tEXt chunks, /predict/number": (number, h.padded_png(digit, 559_000), "image/png", CASE_BOUND,
                                                       refused),
        "JPEG + 1.3M COM markers (8 MB)": ("/predict", h.padded_jpeg(jpeg, 1_300_000), "image/jpeg", CASE_BOUND,
                                           refused),
        "GIF + 1.6M comment blocks (8 MB)": ("/predict", h.padded_gif(gif, 1_600_000), "image/gif", CASE_BOUND,
                                             refused),
        "JSON with 500,000 keys (6.9 MB)": ("/predict", h.many_keys_json(500_000), "application/json", CASE_BOUND,
                                            refused),
        "multipart boundary of 300 chars": ("/predict", boundary, kind, CASE_BOUND, (400,)),
        "multipart boundary of 300 chars, batch": ("/predict/batch", boundary, kind, CASE_BOUND, (400,)),
        "20 KB of headers in one piece": ("/predict", h.big_headers_request("/predict", digit, "image/png", 20_000), "",
                                          CASE_BOUND, (431,)),
        "50 KB of headers in one piece": ("/predict", h.big_headers_request("/predict", digit, "image/png", 50_000), "",
                                          CASE_BOUND, (431,)),
    }


def send_whole(port: int, request: bytes, timeout: float = 60) -> int:
    """``request`` (a whole HTTP request) in one ``sendall``; the answer's status, 0 if none."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            with suppress(OSError):
                sock.sendall(request)
            answer = sock.recv(64)
    except OSError:
        return 0
    return int(answer.split()[1]) if answer.startswith(b"HTTP/1.1") else 0


def bench_cases(tree: Path, only: set[str]) -> Iterator[tuple[str, bool]]:
    """Each case on a fresh server, once, 0.5 s into a probe that runs 1 s past its answer: the row, and
    whether the case kept its bounds (its right answer, or a 503 or 504, in time; the probe's worst
    under ``PROBE_BOUND``)."""
    for label, (path, payload, kind, bound, right) in hostile_cases().items():
        if only and not any(word in label for word in only):
            continue
        try:
            with serve(tree) as (port, pid), Probe(port) as probe:
                time.sleep(0.5)
                start = time.perf_counter()
                status = post(port, payload, kind, path) if kind else send_whole(port, payload)
                took = time.perf_counter() - start
                time.sleep(1.0)
                rss = rss_mb(pid)
        except RuntimeError as exc:
            yield f"  {label:44} {exc}", False
            continue
        worst = max(probe.latencies, default=float("inf"))
        ok = status in (*right, 503, 504) and took <= bound and worst <= PROBE_BOUND and not probe.failures
        verdict = "ok" if ok else "OVER BOUNDS"
        yield (f"  {label:44} {path:16} -> {status or 'no answer'} in {took * 1000:7.0f} ms (bound {bound:g} s); "
               f"probe worst {worst:7.1f} ms, {probe.failures} failed; RSS {rss:.0f} MB  {verdict}"), ok


# ---- main --------------------------------------------------------------------------------------------------


def checkout(rev: str, into: Path) -> Path:
    """The tracked files of ``rev`` (app, model, weights...) extracted under ``into``."""
    archive = subprocess.run(["git", "archive", rev], cwd=ROOT, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rev", help="also run on this git revision's code (before/after)")
    p.add_argument("--only", choices=["decode", "load", "cases"])
    p.add_argument("--phases", help="load phases to run, comma-separated: idle, batches, abandoned, singles, "
                   "bombs, slowloris, uploads (default: all)")
    p.add_argument("--cases", help="cases of section 3 to run: comma-separated words of their labels (default: all)")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        trees = {"this tree": ROOT}
        if args.rev:
            trees = {args.rev: checkout(args.rev, Path(tmp)), **trees}
        if args.only in (None, "decode"):
            bench_decode(trees)
        if args.only in (None, "load"):
            print(f"\n== 2. a 28x28 PNG every {PROBE_EVERY * 1000:.0f} ms on one connection, under each load "
                  f"({PHASE:.0f} s each), one worker")
            for name, tree in trees.items():
                print(f"-- {name}")
                for row in bench_load(tree, set(args.phases.split(",")) if args.phases else set()):
                    print(row, flush=True)
        missed = 0
        if args.only in (None, "cases"):
            print(f"\n== 3. small costly inputs, each once beside a 28x28 PNG every {PROBE_EVERY * 1000:.0f} ms, one "
                  f"worker; bounds: the probe's worst {PROBE_BOUND:g} ms, the case's answer {CASE_BOUND:g} s "
                  f"({READ_BOUND:g} s for an image that must be read)")
            for name, tree in trees.items():
                print(f"-- {name}")
                for row, ok in bench_cases(tree, set(args.cases.split(",")) if args.cases else set()):
                    print(row, flush=True)
                    missed += name == "this tree" and not ok
    if missed:
        print(f"\n{missed} case(s) of this tree over their bounds", file=sys.stderr)
        raise SystemExit(1)


if __name__ == "__main__":
    main()

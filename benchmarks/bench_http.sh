#!/usr/bin/env bash
# Throughput of POST /predict (one raw 28x28 PNG from the MNIST test sample) with wrk.
#
#   benchmarks/bench_http.sh 1            # start uvicorn with 1 worker on a free localhost port, measure, stop
#   benchmarks/bench_http.sh 2            # same with 2 worker processes
#   benchmarks/bench_http.sh url http://127.0.0.1:8000    # measure a running server (e.g. docker compose)
#
# DURATION (default 15s), CONNECTIONS (16), THREADS (2). Needs wrk (Debian: apt-get install wrk) and the
# project installed in the current Python (numpy, Pillow, uvicorn). Prints wrk's latency table and a
# RESULT line with req/s and percentiles.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
DURATION=${DURATION:-15s} CONNECTIONS=${CONNECTIONS:-16} THREADS=${THREADS:-2}
command -v wrk >/dev/null || { echo "wrk not found (apt-get install wrk)" >&2; exit 1; }

tmp=$(mktemp -d); pid=
cleanup() { if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi; rm -rf "$tmp"; }
trap cleanup EXIT

"$PY" - "$tmp/digit.png" <<'PY'
import sys
import numpy as np
from PIL import Image
d = np.load("tests/data/mnist_test_sample.npz")
Image.fromarray(d["x"][0], mode="L").save(sys.argv[1])
print(f"payload: MNIST test digit #0 (label {int(d['y'][0])}), raw PNG")
PY

if [ "${1:-1}" = url ]; then
  base=${2:?usage: bench_http.sh url http://HOST:PORT}
else
  workers=${1:-1}
  port=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 \
    "$PY" -m uvicorn app.main:app --host 127.0.0.1 --port "$port" --workers "$workers" \
    --http app.protocol:GuardedProtocol --no-access-log --log-level warning &
  pid=$!
  base=http://127.0.0.1:$port
  for _ in $(seq 120); do
    "$PY" -c "import urllib.request,sys; urllib.request.urlopen('$base/ready', timeout=1)" 2>/dev/null && break
    sleep 0.5
  done
  echo "uvicorn: $workers worker(s) at $base"
fi

# CPU seconds used so far by the server we started (uvicorn and its worker processes).
server_cpu() {
  [ -n "$pid" ] || { echo 0; return; }
  local p t=0 tick; tick=$(getconf CLK_TCK)
  for p in $pid $(pgrep -P "$pid" || true); do
    [ -r "/proc/$p/stat" ] && t=$(( t + $(awk '{print $14 + $15}' "/proc/$p/stat") ))
  done
  echo "$t $tick" | awk '{printf "%.2f", $1 / $2}'
}

# Warm-up, then the measured run.
PNG=$tmp/digit.png wrk -t "$THREADS" -c "$CONNECTIONS" -d 2s -s benchmarks/http/predict.lua "$base/predict" >/dev/null
echo "load average before the run: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) cores)"
cpu0=$(server_cpu); t0=$(date +%s.%N)
PNG=$tmp/digit.png wrk -t "$THREADS" -c "$CONNECTIONS" -d "$DURATION" --latency -s benchmarks/http/predict.lua \
  "$base/predict" | tee "$tmp/wrk.out"
if [ -n "$pid" ]; then
  cpu1=$(server_cpu); t1=$(date +%s.%N)
  awk -v c0="$cpu0" -v c1="$cpu1" -v t0="$t0" -v t1="$t1" '/^RESULT/ {
        for (i = 2; i <= NF; i++) { split($i, kv, "="); r[kv[1]] = kv[2] }
        printf "SERVER cpu_cores_used=%.2f cpu_ms_per_request=%.2f\n", (c1 - c0) / (t1 - t0), 1000 * (c1 - c0) / r["requests"]
      }' "$tmp/wrk.out"
fi

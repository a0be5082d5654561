#!/usr/bin/env bash
# Smoke test of the container image: build it, run it the way Kubernetes does (non-root, read-only root
# filesystem, writable /tmp only), wait for its own HEALTHCHECK to report healthy, then post real MNIST
# test digits (from tests/data/mnist_test_sample.npz) to /predict in the three accepted forms and check
# the answered digit equals the label. The container is removed on exit, pass or fail.
#
#   scripts/docker_smoke.sh                    # IMAGE=numpy-digits:smoke, samples 0 1 2 3
#   IMAGE=numpy-digits:1.0.0 SMOKE_SAMPLES="0 7 42" scripts/docker_smoke.sh
#
# Needs a Docker engine and a `python:3.12-slim` base; where no registry is reachable,
# ../shared/tools/offline-python-image.sh (if present) starts an engine and builds a local stand-in.
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE=${IMAGE:-numpy-digits:smoke}
BASE=python:3.12-slim
read -r -a SAMPLES <<<"${SMOKE_SAMPLES:-0 1 2 3}"  # indices into the npz
WAIT_S=${SMOKE_WAIT_S:-120}
HOST_PY=${PYTHON:-python3}
command -v "$HOST_PY" >/dev/null || HOST_PY=python
t_start=$(date +%s)

say() { printf '[docker-smoke] %s\n' "$*"; }
die() { printf '[docker-smoke] FAIL: %s\n' "$*" >&2; exit 1; }

command -v docker >/dev/null || die "no docker client on PATH"
if ! docker info >/dev/null 2>&1 || ! docker image inspect "$BASE" >/dev/null 2>&1; then
  if [ -x ../shared/tools/offline-python-image.sh ]; then
    say "starting the engine / building the offline $BASE stand-in"
    ../shared/tools/offline-python-image.sh 3.12
  fi
fi
docker info >/dev/null 2>&1 || die "no Docker engine reachable"

tmp=$(mktemp -d)
cid=
cleanup() {
  if [ -n "$cid" ]; then docker rm -f "$cid" >/dev/null 2>&1 || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- build ------------------------------------------------------------------------------------------
say "docker build -t $IMAGE ."
t0=$(date +%s)
previous=$(docker image inspect -f '{{.Id}}' "$IMAGE" 2>/dev/null || true)
docker build -q -t "$IMAGE" . >"$tmp/build.log" 2>&1 || { cat "$tmp/build.log" >&2; die "docker build failed"; }
say "built in $(( $(date +%s) - t0 )) s"
# The image this tag pointed to before, now untagged: drop it (its shared layers stay as build cache).
if [ -n "$previous" ] && [ "$previous" != "$(docker image inspect -f '{{.Id}}' "$IMAGE")" ]; then
  docker rmi "$previous" >/dev/null 2>&1 || true
fi
img_bytes=$(docker image inspect -f '{{.Size}}' "$IMAGE")
base_bytes=$(docker image inspect -f '{{.Size}}' "$BASE")
say "image $(( img_bytes / 1000000 )) MB; added over $BASE: $(( (img_bytes - base_bytes) / 1000000 )) MB"
user=$(docker image inspect -f '{{.Config.User}}' "$IMAGE")
case "$user" in ""|root|0|0:*) die "image runs as root (User='$user')";; esac

# --- sample PNGs: raw 28x28 greyscale MNIST test digits ----------------------------------------------
# Made with numpy+Pillow on the host when it has them, else inside the image just built (which has both).
make_pngs='
import io, sys, tarfile
import numpy as np
from PIL import Image
d = np.load(io.BytesIO(sys.stdin.buffer.read()))
with tarfile.open(fileobj=sys.stdout.buffer, mode="w|") as tar:
    for i in map(int, sys.argv[1:]):
        buf = io.BytesIO()
        Image.fromarray(d["x"][i], mode="L").save(buf, format="PNG")
        for name, data in ((f"{i}.png", buf.getvalue()), (f"{i}.label", str(int(d["y"][i])).encode())):
            info = tarfile.TarInfo(name); info.size = len(data); tar.addfile(info, io.BytesIO(data))
'
if "$HOST_PY" -c 'import numpy, PIL' >/dev/null 2>&1; then
  "$HOST_PY" -c "$make_pngs" "${SAMPLES[@]}" <tests/data/mnist_test_sample.npz >"$tmp/samples.tar"
else
  docker run --rm -i "$IMAGE" python -c "$make_pngs" "${SAMPLES[@]}" <tests/data/mnist_test_sample.npz >"$tmp/samples.tar"
fi
mkdir "$tmp/samples" && tar -C "$tmp/samples" -xf "$tmp/samples.tar"

# --- run as Kubernetes would: read-only root fs, /tmp writable, random free localhost port ------------
cid=$(docker run -d --read-only --tmpfs /tmp:rw,size=64m --health-interval=2s -p 127.0.0.1::8000 "$IMAGE")
say "container ${cid:0:12} started"
t0=$(date +%s)
while :; do
  status=$(docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{end}}/{{.State.Status}}' "$cid")
  case "$status" in
    healthy/running) break ;;
    unhealthy/*|*/exited|*/dead) docker logs "$cid" >&2 || true; die "container is $status" ;;
  esac
  [ $(( $(date +%s) - t0 )) -lt "$WAIT_S" ] || { docker logs "$cid" >&2 || true; die "not healthy after ${WAIT_S}s ($status)"; }
  sleep 1
done
say "HEALTHCHECK reports healthy after $(( $(date +%s) - t0 )) s"
[ "$(docker exec "$cid" id -u)" != 0 ] || die "process runs as root"
hostport=$(docker port "$cid" 8000/tcp | head -n1)

# --- HTTP checks (Python standard library only) --------------------------------------------------------
"$HOST_PY" - "$hostport" "$tmp/samples" "${SAMPLES[@]}" <<'PY' || { docker logs --tail 50 "$cid" >&2 || true; die "HTTP checks failed"; }
import base64, json, pathlib, sys, time, urllib.error, urllib.request

hostport, sample_dir, *indices = sys.argv[1:]
base = f"http://{hostport}"


def call(path, body=None, ctype=None, timeout=10):
    req = urllib.request.Request(base + path, data=body, method="POST" if body is not None else "GET")
    if ctype:
        req.add_header("Content-Type", ctype)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


# /ready is 503 until the weights are loaded; give it a little time after /health turns green.
deadline = time.time() + 60
while (status := call("/ready")[0]) != 200:
    if time.time() > deadline:
        sys.exit(f"/ready still {status}")
    time.sleep(0.5)
print("[docker-smoke] /health 200, /ready 200")


def check(kind, status, raw, label):
    if status != 200:
        sys.exit(f"{kind}: HTTP {status}: {raw[:300]!r}")
    ans = json.loads(raw)
    probs = ans["probabilities"]
    if len(probs) != 10 or abs(sum(probs) - 1) > 1e-3:
        sys.exit(f"{kind}: bad probabilities {probs}")
    ok = ans["digit"] == label
    print(f"[docker-smoke] {kind:<10} label {label} -> digit {ans['digit']} "
          f"(confidence {ans['confidence']:.3f}, model {ans.get('model')}) {'ok' if ok else 'WRONG'}")
    return ok


good = True
for n, i in enumerate(indices):
    png = pathlib.Path(sample_dir, f"{i}.png").read_bytes()
    label = int(pathlib.Path(sample_dir, f"{i}.label").read_text())
    good &= check(f"#{i} png", *call("/predict", png, "image/png"), label)
    if n == 0:  # the other two accepted request forms, once
        boundary = "smoke-boundary-7d1f"
        form = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{i}.png\"\r\n"
                f"Content-Type: image/png\r\n\r\n").encode() + png + f"\r\n--{boundary}--\r\n".encode()
        good &= check(f"#{i} form", *call("/predict", form, f"multipart/form-data; boundary={boundary}"), label)
        b64 = json.dumps({"image": base64.b64encode(png).decode()}).encode()
        good &= check(f"#{i} json", *call("/predict", b64, "application/json"), label)
sys.exit(0 if good else "a digit was misread")
PY

say "PASS in $(( $(date +%s) - t_start )) s (build, start, health check, predictions)"

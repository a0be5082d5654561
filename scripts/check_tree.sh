#!/usr/bin/env bash
# Fails when the repository tracks what does not belong in every clone and Docker build context:
# any file over 2 MB other than the shipped weights (weights/*.npz), and wheels, archives, compiled
# files, build and run folders, whatever their size. Run by .ci/run; run it before committing a large file.
set -euo pipefail
cd "$(git -C "$(dirname "$0")" rev-parse --show-toplevel)"

MAX_BYTES=$((2 * 1024 * 1024))
status=0

while IFS= read -r -d '' path; do
  [ -f "$path" ] || continue  # deleted in the working tree, not yet committed
  case "$path" in
    weights/*.npz) continue ;;
  esac
  size=$(stat -c %s "$path")
  if [ "$size" -gt "$MAX_BYTES" ]; then
    echo "check_tree: $path is $size bytes (over 2 MB); keep large files out of git" >&2
    status=1
  fi
done < <(git ls-files -z)

# Build products and local state: never tracked, whatever their size.
while IFS= read -r -d '' path; do
  echo "check_tree: $path is a build product or local state; remove it from git (git rm --cached)" >&2
  status=1
done < <(git ls-files -z -- '*.whl' '*.egg' '*.tar.gz' '*.zip' '*.so' '*.pyd' '*.pyc' '*.pyo' \
  '*.egg-info/*' '**/__pycache__/*' 'build/*' 'dist/*' 'runs/*' '*.ckpt.npz' 'mnist.npz' '**/mnist.npz')

if [ "$status" -eq 0 ]; then echo "check_tree: ok ($(git ls-files | wc -l) tracked files)"; fi
exit "$status"

#!/usr/bin/env bash
# On the GPU server, from the checkout's copy with .gpu/ and .gl/ (scripts/gpu-bare-pack.sh):
# unpacks the Debian libraries into / (as root), the benchmark and Node into /tmp/gpu-bench-pack,
# and runs `node bench-gpu.js` there with this script's arguments, e.g.
#   bash scripts/gpu-bare-run.sh --batch 64,128,256 --steps 40 --warmup 30 --profile | tee bench.log
# `--trainer ARGS...` runs the packed `trainer.js ARGS...` in the checkout instead (its configs/), e.g.
#   bash scripts/gpu-bare-run.sh --trainer train --config configs/mnist-immiscible.json
set -euo pipefail
cd "$(dirname "$0")/.."
for f in .gl/*.deb; do dpkg -x "$f" /; done
ldconfig
dest=/tmp/gpu-bench-pack
rm -rf "$dest"
mkdir -p "$dest"
# python3's tarfile: a bare image may lack xz.
python3 -c "import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])" .gpu/pack.tar.xz "$dest"
export PATH="$dest:$PATH"
if [ "${1:-}" = "--trainer" ]; then
  shift
  exec node "$dest/gpu-bench/trainer.js" "$@"
fi
cd "$dest/gpu-bench"
exec node bench-gpu.js "$@"

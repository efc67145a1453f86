#!/usr/bin/env bash
# The GPU measurements of bench:gpu and the trainer, in one call under a time budget: bench:gpu at
# batches 64, 128 and 256 with the step replayed and not (and PyTorch where it is installed), then
# the trainer at the standard UNet's size with and without the replay (DDPM; replayed with every
# captured submit, the default, and with them merged), kNN k = 64 with its
# candidates on the GPU and on the CPU, kNN k = 4 with and without the noise threads, consistency
# training with and without the replay, and last the forward convolutions by tfjs's shader against
# our tile GEMM (IMMISCIBLE_WEBGPU_CONV_MM, the default on a GPU). Each part
# runs only if the budget left allows it. $OUT gets summary.txt, the benches' logs and
# details.tar.gz (every part's log, and the runs without their checkpoints): the device tool brings
# back 8 files at most, and a run's checkpoint is 38 MB.
#   OUT=/path BUDGET=540 bash scripts/gpu-session.sh          on a bare server (scripts/gpu-bare-pack.sh first)
#   LOCAL=1 NULL_DEVICE=1 bash scripts/gpu-session.sh         a dry run here, from dist/, on Dawn's null device
#   GL_ROOT=/tmp/gl NULL_DEVICE=1 bash scripts/gpu-session.sh  a dry run of the pack itself
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-/tmp/gpu-session}
budget=${BUDGET:-540}
steps=${STEPS:-300}
mkdir -p "$out/logs"
runs=$(mktemp -d /tmp/gpu-session-runs.XXXXXX)
start=$SECONDS
left() { echo $((budget - (SECONDS - start))); }

if [ "${LOCAL:-0}" = 1 ]; then
  bench=(node dist/bench-gpu.js)
  trainer=(node dist/trainer.js)
else
  # GL_ROOT: where the Debian libraries go (/ on the server; elsewhere for a dry run of the pack).
  for f in .gl/*.deb; do dpkg -x "$f" "${GL_ROOT:-/}"; done
  ldconfig
  dest=/tmp/gpu-bench-pack
  rm -rf "$dest" && mkdir -p "$dest"
  python3 -c "import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])" .gpu/pack.tar.xz "$dest"
  export PATH="$dest:$PATH"
  bench=(node "$dest/gpu-bench/bench-gpu.js")
  trainer=(node "$dest/gpu-bench/trainer.js")
fi
benchArgs=(--batch 64,128,256 --steps 40 --warmup 30 --settle 15 --profile --replay on,off)
if [ "${NULL_DEVICE:-0}" = 1 ]; then
  export IMMISCIBLE_DAWN_FLAGS=backend=null
  benchArgs=(--null-device --batch 4,16 --steps 20 --warmup 20 --settle 0 --no-torch --replay on,off)
  # The null device's memory holds the standard UNet at batch 16, and it reads back garbage
  # (the linear assignment's cost matrix among it): no assignment there, except kNN's.
  size=(--set training.batchSize=16 --set assignment.mode=none)
else
  size=(--set training.batchSize=128)
fi
echo "gpu session $(date -u +%FT%TZ), budget ${budget} s, out ${out}" | tee "$out/summary.txt"
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,memory.used --format=csv 2>&1 | tee -a "$out/summary.txt"

# part NAME SECONDS_NEEDED COMMAND...: runs COMMAND if that many seconds are left.
part() {
  local name=$1 need=$2
  shift 2
  if [ "$(left)" -lt "$need" ]; then
    echo "$name: skipped, $(left) s left of the budget" | tee -a "$out/summary.txt"
    return
  fi
  echo "== $name ($(left) s left)"
  local t0=$SECONDS
  timeout "$(($(left) - 5))" "$@" >"$out/logs/$name.log" 2>&1
  echo "$name: exit $? after $((SECONDS - t0)) s" | tee -a "$out/summary.txt"
}

standard=(--config configs/mnist-immiscible.json --runs "$runs" --set backend=webgpu --set data.imageSize=32 --set model.baseChannels=32 --set 'model.channelMults=[1,2,4]' --set "training.steps=$steps" --set training.sampleEvery=0 --set training.checkpointEvery=0 --set evaluation.every=0 --set sampling.count=8)
part bench 240 "${bench[@]}" "${benchArgs[@]}"
part ddpm-replay 60 env IMMISCIBLE_WEBGPU_REPLAY=1 "${trainer[@]}" train "${standard[@]}" "${size[@]}" --name ddpm-replay
part ddpm-replay-merged 60 env IMMISCIBLE_WEBGPU_MERGE_SUBMITS=1 "${trainer[@]}" train "${standard[@]}" "${size[@]}" --name ddpm-replay-merged
part ddpm-recorded 60 env IMMISCIBLE_WEBGPU_REPLAY=0 "${trainer[@]}" train "${standard[@]}" "${size[@]}" --name ddpm-recorded
# kNN with the paper's large k: its candidates drawn on the CPU against on the GPU (knnOn).
part knn64-backend 45 "${trainer[@]}" train "${standard[@]}" "${size[@]}" --set assignment.mode=knn --set assignment.k=64 --set assignment.knnOn=backend --name knn64-backend
part knn64-cpu 60 "${trainer[@]}" train "${standard[@]}" "${size[@]}" --set assignment.mode=knn --set assignment.k=64 --set training.steps=100 --name knn64-cpu
part knn4-threads 60 "${trainer[@]}" train "${standard[@]}" "${size[@]}" --set assignment.mode=knn --set assignment.k=4 --name knn4-threads
part knn4-nothreads 60 env IMMISCIBLE_NOISE_THREADS=0 "${trainer[@]}" train "${standard[@]}" "${size[@]}" --set assignment.mode=knn --set assignment.k=4 --name knn4-nothreads
part consistency-replay 60 env IMMISCIBLE_WEBGPU_REPLAY=1 "${trainer[@]}" train "${standard[@]}" "${size[@]}" --config configs/mnist-consistency.json --name consistency-replay
part consistency-recorded 60 env IMMISCIBLE_WEBGPU_REPLAY=0 "${trainer[@]}" train "${standard[@]}" "${size[@]}" --config configs/mnist-consistency.json --name consistency-recorded
# Last, if time is left: tfjs's shader in the forward convolutions against our tile GEMM (the
# default on a GPU since the H200 run of 2026-11-28), replayed, without PyTorch.
part bench-convmm 150 "${bench[@]}" "${benchArgs[@]/%on,off/on}" --no-torch --variants IMMISCIBLE_WEBGPU_CONV_MM=false

grep -h '"bench":"gpu"' "$out/logs/bench.log" 2>/dev/null | node -e '
  let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
    if (!s.trim()) return;
    const r = JSON.parse(s);
    console.log("bench ratios to PyTorch (replay on):", JSON.stringify(r.replayRatios ?? r.ratios));
  });' | tee -a "$out/summary.txt"
node scripts/runs-throughput.mjs "$runs" | tee -a "$out/summary.txt"
cp "$out"/logs/bench*.log "$out/" 2>/dev/null
tar -czf "$out/details.tar.gz" --exclude=checkpoints -C "$out" logs -C "$(dirname "$runs")" "$(basename "$runs")"
rm -rf "$out/logs"
echo "done after $((SECONDS - start)) s: $(ls "$out" | tr '\n' ' ')" | tee -a "$out/summary.txt"

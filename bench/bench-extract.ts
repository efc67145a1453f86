/**
 * Feature extraction speed: `node --import tsx bench/bench-extract.ts [--batch 8] [--batches 3]
 * [--side 32] [--backend wasm] [--weights FILE.pth]`.
 *
 * Times the Inception extractor (pytorch-fid's pool3, inputs resized to 299x299) on random
 * images, after one warm-up batch, and prints features per second. Without --weights it uses a
 * random-weights .pth written by test/trainer/fixtures/inception_reference.py under Debian's
 * python3-torch (the speed does not depend on the weights' values), and prints torch's own speed
 * on the same network, batch and machine (2 threads). Without torch and without --weights it says
 * why it cannot run. Wall and CPU seconds are both printed: this machine is often shared.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { selectBackend, type BackendRequest } from '../src/trainer/backend/select';
import { loadInceptionExtractor } from '../src/trainer/metrics/inception/extractor';

const PYTHON = '/usr/bin/python3';
const SCRIPT = path.resolve(__dirname, '../test/trainer/fixtures/inception_reference.py');

interface TorchTiming {
  torch: string;
  threads: number;
  batch: number;
  seconds: number;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      batch: { type: 'string', default: '8' },
      batches: { type: 'string', default: '3' },
      side: { type: 'string', default: '32' },
      backend: { type: 'string', default: 'wasm' },
      weights: { type: 'string' },
    },
  });
  const batch = Number(values.batch);
  const batches = Number(values.batches);
  const side = Number(values.side);
  for (const [k, v] of Object.entries({ batch, batches, side })) if (!Number.isInteger(v) || v < 1) throw new Error(`--${k}: expected a positive integer`);
  const choice = await selectBackend(values.backend as BackendRequest);
  console.log(`node ${process.version}, ${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'}); backend ${choice.name}: ${choice.device}`);

  let weights = values.weights;
  let tmp: string | undefined;
  let torchTiming: TorchTiming | string = 'not measured (--weights given)';
  if (!weights) {
    const probe = fs.existsSync(PYTHON) ? spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' }) : null;
    if (!probe || probe.status !== 0) {
      console.log(`cannot run: no --weights file given and python3-torch is not installed (${PYTHON} cannot import torch), so no random-weights .pth can be made; pass --weights pt_inception-2015-12-05-6726825d.pth or apt-get install python3-torch`);
      return;
    }
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-extract-'));
    const r = spawnSync(PYTHON, [SCRIPT, tmp, '--weights-only', '--time-batch', String(batch)], { encoding: 'utf8', timeout: 600_000 });
    if (r.status !== 0) throw new Error(`inception_reference.py failed: ${r.stderr}`);
    weights = path.join(tmp, 'weights.pth');
    torchTiming = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as TorchTiming;
  }
  try {
    const t0 = performance.now();
    const ex = await loadInceptionExtractor(weights);
    console.log(`loaded ${path.basename(weights)} in ${((performance.now() - t0) / 1000).toFixed(2)} s (sha256 ${ex.weightsSha256.slice(0, 16)}...)`);
    const images = tf.randomUniform([batch, side, side, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
    await ex.features(images); // warm-up: kernel setup and the first allocations
    console.log(`load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')} (wall time is inflated when other processes share the cores)`);
    const wall: number[] = [];
    const c = process.cpuUsage();
    for (let i = 0; i < batches; i++) {
      const t = performance.now();
      await ex.features(images);
      wall.push((performance.now() - t) / 1000);
    }
    const cu = process.cpuUsage(c);
    const cpu = (cu.user + cu.system) / 1e6 / batches;
    const best = Math.min(...wall);
    const mean = wall.reduce((a, b) => a + b, 0) / wall.length;
    console.log(`inception ${choice.name} batch ${batch} (${side}x${side}x3 -> 299x299): ${(batch / best).toFixed(2)} features/s (best of ${batches}: ${best.toFixed(2)} s/batch; mean ${mean.toFixed(2)} s wall, ${cpu.toFixed(2)} s cpu per batch)`);
    if (typeof torchTiming === 'string') console.log(`torch: ${torchTiming}`);
    else {
      console.log(`torch ${torchTiming.torch} (${torchTiming.threads} threads) batch ${torchTiming.batch}: ${(torchTiming.batch / torchTiming.seconds).toFixed(2)} features/s (best of 3: ${torchTiming.seconds.toFixed(2)} s/batch); ours/torch time ${(best / torchTiming.seconds).toFixed(2)}x`);
    }
    images.dispose();
    ex.dispose();
  } finally {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : String(e));
  process.exit(1);
});

/**
 * Gaussian noise draws: `node --import tsx bench/bench-noise.ts [--rounds 7] [--threads N]`.
 *
 * A training step draws its noise on the CPU: per image one Gaussian per pixel and channel, k
 * times that for kNN assignment. For three batches (MNIST at 32x32, CIFAR-10, CIFAR-10 with kNN
 * k = 4; 128 images each) it times, alternating within each round:
 * - the anchor, `normal()` called once per draw;
 * - `fillNormal` in this thread (words drawn in a loop over locals, then the transform);
 * - `fillNormal` with the Box-Muller transform shared with a NormalPool of N threads (default: as
 *   the trainer, IMMISCIBLE_NOISE_THREADS or one per further core, at most 7).
 * Prints each method's median ms and its speed over the anchor, checks the pooled draws equal the
 * others bit for bit (exit 1 if not), and ends with one JSON line.
 */
import * as os from 'node:os';
import { parseArgs } from 'node:util';
import { defaultNoiseThreads, NormalPool } from '../src/trainer/noise/normalPool';
import { Rng } from '../src/trainer/rng';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '7' }, threads: { type: 'string' } } });
const rounds = Number(values.rounds);
const threads = values.threads === undefined ? defaultNoiseThreads() : Number(values.threads);

const BATCHES = [
  { name: 'MNIST 32x32, b128', draws: 128 * 32 * 32 },
  { name: 'CIFAR-10, b128', draws: 128 * 3 * 32 * 32 },
  { name: 'CIFAR-10 kNN k=4, b128', draws: 128 * 4 * 3 * 32 * 32 },
];

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1];

function perCall(r: Rng, out: Float32Array): Float32Array {
  for (let i = 0; i < out.length; i++) out[i] = r.normal();
  return out;
}

const pause = (): Promise<void> => new Promise((r) => setTimeout(r, 20));

async function main(): Promise<void> {
  const pool = new NormalPool(threads);
  console.log(`noise draws: ${os.cpus()[0]?.model ?? 'cpu'}, ${os.availableParallelism()} cores; pool of ${pool.threads} threads besides this one; median of ${rounds} rounds`);
  const rows: { batch: string; draws: number; perCallMs: number; hereMs: number; pooledMs: number }[] = [];
  let identical = true;
  for (const b of BATCHES) {
    const t = { perCall: [] as number[], here: [] as number[], pooled: [] as number[] };
    const outs = [new Float32Array(b.draws), new Float32Array(b.draws), new Float32Array(b.draws)];
    // Round 0 warms V8 and starts the pool's threads; it is not counted.
    for (let k = 0; k <= rounds; k++) {
      const seed = 1000 + k;
      const pooledRng = new Rng(seed);
      pooledRng.transformWith(pool);
      const runs: [keyof typeof t, () => Float32Array][] = [
        ['perCall', () => perCall(new Rng(seed), outs[0])],
        ['here', () => new Rng(seed).fillNormal(outs[1])],
        ['pooled', () => pooledRng.fillNormal(outs[2])],
      ];
      for (const [name, f] of runs) {
        await pause();
        const t0 = performance.now();
        f();
        if (k > 0) t[name].push(performance.now() - t0);
      }
      const same = outs.every((o) => Buffer.from(o.buffer).equals(Buffer.from(outs[0].buffer)));
      if (!same) identical = false;
    }
    const row = { batch: b.name, draws: b.draws, perCallMs: median(t.perCall), hereMs: median(t.here), pooledMs: median(t.pooled) };
    rows.push(row);
    const speed = (ms: number): string => `${ms.toFixed(1)} ms (${(row.perCallMs / ms).toFixed(2)}x)`;
    console.log(`${b.name.padEnd(24)} ${b.draws.toLocaleString('en').padStart(10)} draws   normal() per draw ${row.perCallMs.toFixed(1)} ms   fillNormal ${speed(row.hereMs)}   pooled ${speed(row.pooledMs)}`);
  }
  const used = pool.threads;
  await pool.close();
  if (!identical) console.log('FAIL: the pooled draws differ from one thread');
  console.log(JSON.stringify({ bench: 'noise', threads: used, cores: os.availableParallelism(), rounds, identical, rows }));
  process.exitCode = identical ? 0 : 1;
}

void main();

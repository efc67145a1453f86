/**
 * Slurm benchmark on a real one-node cluster (test/fixtures/slurmCluster.ts; needs Slurm's Debian
 * packages and root): how long a run trained by a Slurm job pauses when its trainer hands it on to
 * the next job near the time limit (`submit --resubmit`), against the anchor measured in the same
 * run, the pause of a manual stop and `submit --resume`. Each round trains the 2-D toy config,
 * then times from the signal (or the resubmission) to the run's first new step.
 *   npm run bench:slurm [-- --rounds 5]
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { readMetrics, readRunRecord } from '../src/core/run/reader';
import { slurmUnavailable, startSlurm } from '../test/fixtures/slurmCluster';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '5' } } });
const rounds = Number(values.rounds);
const CLI = path.resolve(__dirname, '..', 'dist', 'trainer.js');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function until(ok: () => boolean, what: string, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

async function main(): Promise<void> {
  const why = slurmUnavailable();
  if (why) throw new Error(`bench:slurm cannot run: ${why}`);
  if (!fs.existsSync(CLI)) throw new Error(`${CLI} missing: run npm run build`);
  const cluster = await startSlurm();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-slurm-'));
  const cli = (args: string[]): string => {
    const r = spawnSync(process.execPath, [CLI, ...args], { cwd: dir, env: cluster.env, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`immiscible ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  fs.writeFileSync(
    path.join(dir, 'toy.json'),
    JSON.stringify({ backend: 'wasm', data: { source: 'toy2d', count: 1024 }, model: { type: 'mlp', hidden: 16, layers: 2 }, diffusion: { timesteps: 50 }, assignment: { mode: 'linear' }, training: { steps: 1_000_000, batchSize: 16, sampleEvery: 0, checkpointEvery: 0 }, evaluation: { every: 0 } }),
  );
  const handOff: number[] = [];
  const manual: number[] = [];
  const recorded: number[] = [];
  try {
    for (let round = 0; round < rounds; round++) {
      const { runDir, jobId } = JSON.parse(cli(['submit', '--config', 'toy.json', '--runs', 'runs', '--sbatch=--time=30', '--resubmit', '1'])) as { runDir: string; jobId: string };
      const logged = (): number => readMetrics(runDir).metrics.length;
      await until(() => logged() >= 50, 'the first job to train 50 steps');
      // Hand-off: what Slurm sends before the time limit, sent now.
      let t0 = performance.now();
      spawnSync('scancel', ['--signal=USR1', '--batch', jobId], { env: cluster.env });
      await until(() => readRunRecord(runDir).record?.scheduler?.jobId !== jobId, 'the next job recorded');
      recorded.push(performance.now() - t0);
      await until(() => readRunRecord(runDir).record?.status === 'running', 'the next job to start');
      let at = readRunRecord(runDir).record?.step ?? 0;
      await until(() => logged() > at, 'its first step');
      handOff.push(performance.now() - t0);
      // Anchor: stop with a checkpoint, then resubmit by hand, timed from the resubmission.
      await until(() => logged() >= at + 50, '50 steps more');
      cli(['stop', runDir]);
      await until(() => readRunRecord(runDir).record?.status === 'stopped', 'the stop');
      at = readRunRecord(runDir).record?.step ?? 0;
      t0 = performance.now();
      cli(['submit', '--resume', runDir]);
      await until(() => logged() > at, 'the resubmitted run\'s first step');
      manual.push(performance.now() - t0);
      cli(['stop', runDir]);
      await until(() => readRunRecord(runDir).record?.status === 'stopped', 'the last stop');
      const steps = readMetrics(runDir).metrics.map((m) => m.step);
      if (steps.some((s, i) => s !== i + 1)) throw new Error(`${runDir}: a step logged twice or missed`);
    }
  } finally {
    await cluster.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const f = (xs: number[]): string => `median ${median(xs).toFixed(0)} ms (${Math.min(...xs).toFixed(0)}-${Math.max(...xs).toFixed(0)})`;
  console.log(`machine: ${os.cpus().length} x ${os.cpus()[0]?.model ?? '?'}, load ${os.loadavg()[0].toFixed(2)}; ${rounds} rounds, the 2-D toy config (MLP 16x2, batch 16, wasm)`);
  console.log(`hand-off, SIGUSR1 -> the next job recorded in run.json: ${f(recorded)}`);
  console.log(`hand-off, SIGUSR1 -> the next job's first step: ${f(handOff)}`);
  console.log(`anchor, submit --resume of a stopped run -> its first step: ${f(manual)}`);
  console.log(`hand-off / anchor = ${(median(handOff) / median(manual)).toFixed(2)}`);
}

void main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});

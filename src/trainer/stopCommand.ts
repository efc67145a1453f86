/**
 * `immiscible stop RUN_DIR`: asks a run's trainer to stop, wherever it runs. A trainer on this
 * host gets SIGTERM; a Slurm job leaves the queue, or its trainer gets SIGTERM through scancel.
 * Either way the trainer ends its step, writes a checkpoint and marks the run `stopped`.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { isPidAlive } from '../core/run/liveness';
import { readRunRecord } from '../core/run/reader';
import { slurmJobOf, stopSlurmRun } from '../core/slurm/slurmRun';
import { UsageError } from './cliOptions';

export async function stopCommand(argv: string[]): Promise<number> {
  if (argv.length !== 1) throw new UsageError('stop needs one run directory');
  const dir = path.resolve(argv[0]);
  const s = readRunRecord(dir);
  if (!s.record) throw new UsageError(`cannot stop: ${s.recordError}`);
  const r = s.record;
  const job = slurmJobOf(r);
  if (job && (r.status === 'queued' || r.status === 'running')) {
    const what = await stopSlurmRun(dir);
    const say = {
      cancelled: `${dir}: Slurm job ${job.jobId} taken off the queue; the run is stopped`,
      signalled: `${dir}: SIGTERM sent to Slurm job ${job.jobId}; its trainer writes a checkpoint and stops`,
      'not-running': `${dir}: Slurm job ${job.jobId} is not running; the run is ${readRunRecord(dir).record?.status ?? 'unreadable'}`,
    }[what];
    process.stdout.write(say + '\n');
    return 0;
  }
  if (r.status !== 'running') {
    process.stdout.write(`${dir}: not running (${r.status})\n`);
    return 0;
  }
  if (r.host !== os.hostname()) throw new UsageError(`${dir}: trained on ${r.host} by pid ${r.pid ?? '?'}; stop it there`);
  if (r.pid === null || !isPidAlive(r.pid)) {
    process.stdout.write(`${dir}: its trainer (pid ${r.pid ?? '?'}) is gone\n`);
    return 1;
  }
  process.kill(r.pid, 'SIGTERM');
  process.stdout.write(`${dir}: SIGTERM sent to pid ${r.pid}; it writes a checkpoint and stops\n`);
  return 0;
}

/**
 * `immiscible runs`: a runs folder at a glance from a terminal (a cluster's login node, where VS
 * Code may not be): each run's name, status, step, newest loss, where it trains and its last
 * heartbeat, oldest first. Read-only: a `running` record whose trainer is gone shows `dead`, as
 * in the runs tree, without being rewritten; a run.json that cannot be read shows `broken`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { formatAge, formatLoss } from '../core/run/describe';
import { isMetricsLine, RUN_FILES, type RunStatus } from '../core/run/format';
import { isDeadRun } from '../core/run/liveness';
import { listRunDirs, readRunRecord } from '../core/run/reader';
import { readLastJsonLine } from '../core/run/tail';
import { slurmJobOf } from '../core/slurm/slurmRun';
import { UsageError } from './cliOptions';

export const RUNS_USAGE = 'immiscible runs [--runs DIR] [--json]';

export interface RunRow {
  dir: string;
  id: string;
  name: string;
  group: string;
  status: RunStatus | 'dead' | 'broken';
  step: number | null;
  totalSteps: number | null;
  /** Of the newest metrics line. */
  loss: number | null;
  backend: string | null;
  /** `slurm job N` while a Slurm job has the run, else the trainer's host. */
  where: string;
  updatedAt: string | null;
  /** Why it failed, or why run.json is unreadable. */
  error: string | null;
}

/** The runs of `runsDir`, oldest first (by `createdAt`; unreadable ones last). */
export function runRows(runsDir: string, now = Date.now()): RunRow[] {
  const records = listRunDirs(runsDir).map((dir) => readRunRecord(dir));
  const created = (s: (typeof records)[number]): string => s.record?.createdAt ?? '\uffff';
  records.sort((a, b) => (created(a) < created(b) ? -1 : created(a) > created(b) ? 1 : a.id < b.id ? -1 : 1));
  return records.map((s): RunRow => {
    const { dir, record: r } = s;
    if (!r) return { dir, id: s.id, name: s.id, group: '', status: 'broken', step: null, totalSteps: null, loss: null, backend: null, where: '', updatedAt: null, error: s.recordError };
    const last = readLastJsonLine(path.join(dir, RUN_FILES.metrics), isMetricsLine).value;
    const job = slurmJobOf(r);
    const waitingOrTraining = r.status === 'queued' || r.status === 'running';
    return {
      dir,
      id: r.id,
      name: r.name ?? r.id,
      group: r.group ?? '',
      status: isDeadRun(r, { now }) ? 'dead' : r.status,
      // The heartbeat's step lags the newest metrics line by up to a few seconds.
      step: Math.max(r.step, last?.step ?? 0),
      totalSteps: r.totalSteps ?? null,
      loss: last?.loss ?? null,
      backend: r.backend ?? null,
      where: job && waitingOrTraining ? `slurm job ${job.jobId}` : (r.host ?? ''),
      updatedAt: r.updatedAt ?? null,
      error: r.error?.message ?? null,
    };
  });
}

/** The rows as an aligned table, one line each, and a line per error under it. */
export function formatRunsTable(rows: readonly RunRow[], now = Date.now()): string {
  const head = ['NAME', 'STATUS', 'STEP', 'LOSS', 'BACKEND', 'WHERE', 'UPDATED'];
  const cells = rows.map((w) => [
    w.group ? `${w.group}/${w.name}` : w.name,
    w.status,
    w.step === null ? '-' : `${w.step}/${w.totalSteps ?? '?'}`,
    w.loss === null ? '-' : formatLoss(w.loss),
    w.backend ?? '-',
    w.where || '-',
    w.updatedAt ? formatAge(w.updatedAt, now) : '-',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]): string => c.map((x, i) => (i === c.length - 1 ? x : x.padEnd(widths[i]))).join('  ');
  const errors = rows.filter((w) => w.error && (w.status === 'failed' || w.status === 'broken')).map((w) => `${w.name}: ${w.error}`);
  return [line(head), ...cells.map(line), ...(errors.length ? ['', ...errors] : [])].join('\n');
}

export async function runsCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { runs: { type: 'string', default: 'runs' }, json: { type: 'boolean', default: false } } });
  const dir = path.resolve(values.runs ?? 'runs');
  if (!fs.existsSync(dir)) throw new UsageError(`--runs: no folder ${dir} (the runs folder: where train, submit and study write their runs)`);
  const now = Date.now();
  const rows = runRows(dir, now);
  if (values.json) process.stdout.write(JSON.stringify(rows) + '\n');
  else process.stdout.write(rows.length ? formatRunsTable(rows, now) + '\n' : `no runs in ${dir}\n`);
  return 0;
}

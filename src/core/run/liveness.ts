/**
 * Telling a live trainer from a dead one. run.json says `running` until the trainer itself writes
 * the final status, so a trainer killed hard (SIGKILL, OOM, power loss) leaves `running` behind
 * forever; the pid and the heartbeat (`updatedAt`) are what tell the two apart.
 */
import * as os from 'node:os';
import type { RunRecord } from './format';

/** run.json's heartbeat is refreshed at least every 5 s while training; 30 s leaves room for slow steps. */
export const DEFAULT_STALE_MS = 30_000;

export function isPidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    // Signal 0 checks existence and permission without delivering anything.
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: the process exists but belongs to someone else, so it is alive.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function heartbeatAgeMs(record: Pick<RunRecord, 'updatedAt'>, now: number): number {
  const t = Date.parse(record.updatedAt);
  // An unparseable heartbeat cannot prove the run alive.
  return Number.isFinite(t) ? now - t : Number.POSITIVE_INFINITY;
}

export interface LivenessOptions {
  staleMs?: number;
  now?: number;
  isAlive?: (pid: number) => boolean;
  hostname?: string;
}

/**
 * A `running` record whose process is gone AND whose heartbeat is stale. Both are required: a pid
 * can be reused by an unrelated process, and a live trainer can go quiet for a while (loading
 * data, writing a large sample grid). A run from another host (a shared runs folder) cannot have
 * its pid checked here, so there only the heartbeat counts.
 */
export function isDeadRun(record: RunRecord, o: LivenessOptions = {}): boolean {
  if (record.status !== 'running') return false;
  const now = o.now ?? Date.now();
  const stale = heartbeatAgeMs(record, now) > (o.staleMs ?? DEFAULT_STALE_MS);
  if (!stale) return false;
  const localHost = record.host === (o.hostname ?? os.hostname());
  if (!localHost || record.pid === null) return true;
  return !(o.isAlive ?? isPidAlive)(record.pid);
}

/**
 * Whether a trainer is training the run now, so that no second one may write to it: `running`,
 * and on this host its pid alive (a reused pid errs towards refusing), elsewhere its heartbeat
 * fresh.
 */
export function isRunBeingTrained(record: RunRecord, o: LivenessOptions = {}): boolean {
  if (record.status !== 'running') return false;
  if (record.host === (o.hostname ?? os.hostname()) && record.pid !== null) return (o.isAlive ?? isPidAlive)(record.pid);
  return heartbeatAgeMs(record, o.now ?? Date.now()) <= (o.staleMs ?? DEFAULT_STALE_MS);
}

/** Why a run cannot be resumed while its trainer runs, and what to do. */
export function beingTrained(dir: string, record: RunRecord, now = Date.now()): string {
  const age = heartbeatAgeMs(record, now);
  const beat = Number.isFinite(age) ? `, last heartbeat ${Math.max(0, Math.round(age / 1000))} s ago` : '';
  return `${dir}: being trained now by pid ${record.pid ?? '?'} on ${record.host}${beat}; stop that trainer first (SIGINT or SIGTERM: it writes a checkpoint), then resume`;
}

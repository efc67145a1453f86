/**
 * Telling a live trainer from a dead one. run.json says `running` until the trainer itself writes
 * the final status, so a trainer killed hard (SIGKILL, OOM, power loss) leaves `running` behind
 * forever; the pid and the heartbeat (`updatedAt`) are what tell the two apart.
 */
import * as os from 'node:os';
import type { RunRecord } from '../../core/run/format';

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

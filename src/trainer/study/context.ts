/** What the study's steps share: its flags, its record, and how it reports. */
import type { spawn } from 'node:child_process';
import { listRunDirs, readRunRecord } from '../../core/run/reader';
import { readRunCurve } from '../../core/study/analyze';
import type { StudyEvent } from '../../core/protocol/studyEvents';
import type { StudyRecord, StudyRunEntry } from '../../core/study/format';
import type { StudyArgs } from './args';

export interface Ctx {
  a: StudyArgs;
  rec: StudyRecord;
  tty: boolean;
  emit: (e: StudyEvent) => void;
  say: (line: string) => void;
  save: () => void;
  /** `child`: the local trainer to pass a stop signal on to; `onStop`: what else a stop must do (the Slurm jobs). */
  stopping: { requested: boolean; child: ReturnType<typeof spawn> | null; onStop?: () => void };
}

/** A run this study created before it was interrupted, though study.json had not yet recorded it. */
export function findCreatedRun(c: Ctx, e: StudyRunEntry): string | null {
  for (const dir of listRunDirs(c.a.runsDir)) {
    const r = readRunRecord(dir).record;
    if (r && r.name === e.name && r.group === c.a.name && r.createdAt >= c.rec.startedAt) return dir;
  }
  return null;
}

export function finalValue(c: Ctx, e: StudyRunEntry): number | null {
  if (!e.runDir) return null;
  return readRunCurve({ mode: e.mode, seed: e.seed, runDir: e.runDir }, c.a.metric).final?.value ?? null;
}


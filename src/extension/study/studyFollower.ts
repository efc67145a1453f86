/**
 * Following a study that this window did not start: after a window reload the study process (detached)
 * runs on, but its stdout went with the old extension host. study.json names its pid while it
 * runs, and events.jsonl holds every event but the per-step progress, so a new host finds it and
 * follows it from there; the per-step progress comes from the current run's own events.jsonl (the
 * trainer's), so that the notification moves with the steps as before the reload. Plain Node, no
 * `vscode`, no TensorFlow.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { TrainerEvent } from '../../core/protocol/events';
import { makeStudyEvent, parseStudyEvent, type StudyEvent } from '../../core/protocol/studyEvents';
import { RUN_FILES } from '../../core/run/format';
import { STUDY_FILES, STUDY_FORMAT, STUDY_FORMAT_VERSION, type StudyRecord } from '../../core/study/format';
import { EventsFollower } from '../launch/follow';
import { isPidAlive } from '../../core/run/liveness';
import type { StudyOutcome } from './studyProcess';

export interface RunningStudy {
  outDir: string;
  record: StudyRecord;
  pid: number;
}

/** study.json of `outDir`, or null where there is none or it is not a study record of our version. */
export function readStudyJson(outDir: string): StudyRecord | null {
  try {
    const v = JSON.parse(fs.readFileSync(path.join(outDir, STUDY_FILES.record), 'utf8')) as StudyRecord;
    return v.format === STUDY_FORMAT && v.version === STUDY_FORMAT_VERSION ? v : null;
  } catch {
    return null;
  }
}

/** The studies under `studiesDir` whose record says running and whose process is alive. */
export function findRunningStudies(studiesDir: string, isAlive: (pid: number) => boolean = isPidAlive): RunningStudy[] {
  let names: string[];
  try {
    names = fs.readdirSync(studiesDir);
  } catch {
    return [];
  }
  const found: RunningStudy[] = [];
  for (const name of names.sort()) {
    const outDir = path.join(studiesDir, name);
    const record = readStudyJson(outDir);
    const pid = record?.pid;
    // A study on another host (a shared folder) cannot be followed or signalled from here: its pid is not ours.
    const here = (record?.host ?? os.hostname()) === os.hostname();
    if (record?.status === 'running' && here && typeof pid === 'number' && isAlive(pid)) found.push({ outDir, record, pid });
  }
  return found;
}

/**
 * Where the current attempt's events begin in events.jsonl: after the last `study-finished` (a
 * resumed study appends to the file of its stopped attempts).
 */
export function currentAttemptOffset(file: string): number {
  let data: Buffer;
  try {
    data = fs.readFileSync(file);
  } catch {
    return 0;
  }
  let end = 0;
  let offset = 0;
  for (const line of data.toString('utf8').split('\n')) {
    end += Buffer.byteLength(line) + 1;
    if (parseStudyEvent(line)?.type === 'study-finished') offset = Math.min(end, data.length);
  }
  return offset;
}

export interface StudyFollowerOptions {
  pollMs?: number;
  isAlive?: (pid: number) => boolean;
}

/** Follows a running study's events from the start of its current attempt until it ends. */
export class StudyFollower {
  readonly done: Promise<StudyOutcome>;
  private readonly events: EventsFollower<StudyEvent>;
  private readonly timer: NodeJS.Timeout;
  /** The current run's trainer events, for its per-step progress. */
  private run: EventsFollower<TrainerEvent> | null = null;

  constructor(
    readonly outDir: string,
    readonly pid: number,
    onEvent: (e: StudyEvent) => void,
    o: StudyFollowerOptions = {},
  ) {
    const isAlive = o.isAlive ?? isPidAlive;
    let finish: (outcome: StudyOutcome) => void = () => undefined;
    this.done = new Promise((resolve) => (finish = resolve));
    let ended = false;
    const end = (outcome: StudyOutcome): void => {
      if (ended) return;
      ended = true;
      this.events.close();
      this.run?.close();
      clearInterval(this.timer);
      finish(outcome);
    };
    // While replaying what the attempt did so far, a run's progress starts where its file ends.
    let replaying = true;
    this.events = new EventsFollower<StudyEvent>(outDir, {
      offset: currentAttemptOffset(path.join(outDir, STUDY_FILES.events)),
      fileName: STUDY_FILES.events,
      parse: parseStudyEvent,
      pollMs: o.pollMs,
      onEvent: (e) => {
        if (ended) return;
        // A run's last progress lines come before its end.
        if (e.type === 'run-finished') this.followRun(null);
        onEvent(e);
        if (e.type === 'run-started') this.followRun(e, replaying, onEvent, o.pollMs);
        if (e.type === 'study-finished' && e.status !== 'running') end({ status: e.status, report: e.report, error: e.error, exitCode: null });
      },
    });
    // A study killed hard writes no study-finished: its process is what tells.
    this.timer = setInterval(() => {
      if (isAlive(pid)) return;
      this.events.readNew();
      const rec = readStudyJson(outDir);
      const report = path.join(outDir, STUDY_FILES.report);
      if (rec && rec.status !== 'running') end({ status: rec.status, report: rec.status === 'completed' && fs.existsSync(report) ? report : null, error: rec.error, exitCode: null });
      else end({ status: 'failed', report: null, error: `the study process (pid ${pid}) ended without finishing; run the same study again to resume it`, exitCode: null });
    }, o.pollMs ?? 1000);
    // What the current attempt has done so far (its runs started and finished).
    this.events.readNew();
    replaying = false;
  }

  /**
   * Follows `started`'s run folder for its trainer's progress events, reported as the study's
   * run-progress (null: stops following). A run that started during the replay is followed from
   * the end of its events file: only its progress from now on.
   */
  private followRun(started: Extract<StudyEvent, { type: 'run-started' }> | null, fromEnd = false, onEvent?: (e: StudyEvent) => void, pollMs?: number): void {
    // What the run wrote since the last read is delivered first.
    this.run?.readNew();
    this.run?.close();
    this.run = null;
    if (!started || !onEvent) return;
    const { index, total, mode, seed } = started;
    // A run folder named relative to the study's working directory (its --runs was relative).
    const runDir = path.resolve(readStudyJson(this.outDir)?.cwd ?? this.outDir, started.runDir);
    let offset = 0;
    if (fromEnd) {
      try {
        offset = fs.statSync(path.join(runDir, RUN_FILES.events)).size;
      } catch {
        // not written yet: from its start
      }
    }
    this.run = new EventsFollower<TrainerEvent>(runDir, {
      offset,
      pollMs,
      onEvent: (t) => {
        if (t.type === 'progress') onEvent(makeStudyEvent('run-progress', started.study, { index, total, mode, seed, step: t.step, totalSteps: t.totalSteps, loss: t.loss }));
      },
    });
  }

  /** Asks the study to stop, as its own notification's Cancel does: after the current run's step, with a checkpoint. */
  stop(): void {
    try {
      process.kill(this.pid, 'SIGINT');
    } catch {
      // already gone: the timer reports how it ended
    }
  }
}

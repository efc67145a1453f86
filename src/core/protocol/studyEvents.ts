/**
 * Study-to-host events: what `immiscible study` prints, one JSON object per line, when its stdout
 * is not a terminal (also appended to the study folder's events.jsonl). The trainer's own events
 * (events.ts) stay in each run's folder.
 */
import type { RunStatus } from '../run/format';
import { parseEventLine } from './parseLine';
import type { StudyMode, StudyStatus } from '../study/format';

export const STUDY_PROTOCOL_VERSION = 1;

interface Base {
  v: typeof STUDY_PROTOCOL_VERSION;
  time: string;
  study: string;
}

interface RunRef {
  /** 0-based; `total` runs in the study. */
  index: number;
  total: number;
  mode: StudyMode;
  seed: number;
}

export type StudyEvent =
  | (Base & { type: 'study-started'; studyDir: string; total: number; completed: number; resumed: boolean })
  | (Base & RunRef & { type: 'run-started'; runDir: string; resumed: boolean })
  | (Base & RunRef & { type: 'run-progress'; step: number; totalSteps: number; loss: number })
  | (Base & RunRef & { type: 'run-finished'; runDir: string | null; status: RunStatus; metric: string; value: number | null; seconds: number })
  | (Base & { type: 'study-log'; level: 'info' | 'warn' | 'error'; message: string })
  | (Base & { type: 'study-finished'; status: StudyStatus; report: string | null; error: string | null });

export type StudyEventType = StudyEvent['type'];

type Payload<T extends StudyEventType> = Omit<Extract<StudyEvent, { type: T }>, 'v' | 'time' | 'study' | 'type'>;

export function makeStudyEvent<T extends StudyEventType>(type: T, study: string, payload: Payload<T>): StudyEvent {
  return { v: STUDY_PROTOCOL_VERSION, time: new Date().toISOString(), study, type, ...payload } as unknown as StudyEvent;
}

const TYPES: readonly StudyEventType[] = ['study-started', 'run-started', 'run-progress', 'run-finished', 'study-log', 'study-finished'];

/** Parses one stdout line; null for anything that is not a study event. */
export function parseStudyEvent(line: string): StudyEvent | null {
  return parseEventLine<StudyEvent>(line, STUDY_PROTOCOL_VERSION, TYPES, 'study');
}

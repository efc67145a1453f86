/**
 * Trainer-to-host events: one JSON object per line on the trainer's stdout (when not on a
 * terminal), also appended to the run's events.jsonl so a host that reattaches can catch up.
 */
import type { RunStatus } from '../run/format';
import { parseEventLine } from './parseLine';

export const PROTOCOL_VERSION = 1;

interface Base {
  v: typeof PROTOCOL_VERSION;
  time: string;
  runId: string;
}

export type TrainerEvent =
  | (Base & { type: 'started'; runDir: string; step: number; totalSteps: number; backend: string; device: string; resumed: boolean })
  | (Base & { type: 'progress'; step: number; totalSteps: number; loss: number; imagesPerSec: number; etaSeconds: number | null })
  | (Base & { type: 'sample'; step: number; file: string })
  | (Base & { type: 'checkpoint'; step: number; dir: string })
  | (Base & { type: 'eval'; step: number; metric: string; value: number })
  | (Base & { type: 'log'; level: 'info' | 'warn' | 'error'; message: string })
  | (Base & { type: 'finished'; status: RunStatus; step: number; error: string | null })
  /** From `immiscible submit`: the run is queued as a batch job, which will train it elsewhere. */
  | (Base & { type: 'submitted'; runDir: string; scheduler: 'slurm'; jobId: string });

export type TrainerEventType = TrainerEvent['type'];

type Payload<T extends TrainerEventType> = Omit<Extract<TrainerEvent, { type: T }>, 'v' | 'time' | 'runId' | 'type'>;

export function makeEvent<T extends TrainerEventType>(type: T, runId: string, payload: Payload<T>): TrainerEvent {
  return { v: PROTOCOL_VERSION, time: new Date().toISOString(), runId, type, ...payload } as unknown as TrainerEvent;
}

const TYPES: readonly TrainerEventType[] = ['started', 'progress', 'sample', 'checkpoint', 'eval', 'log', 'finished', 'submitted'];

/** Parses one stdout line; returns null for anything that is not one of our events. */
export function parseEvent(line: string): TrainerEvent | null {
  return parseEventLine<TrainerEvent>(line, PROTOCOL_VERSION, TYPES, 'runId');
}

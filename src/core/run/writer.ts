import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { RunConfig } from '../config/types';
import { RUN_FILES, RUN_FORMAT_VERSION, type EvalLine, type MetricsLine, type RunRecord } from './format';
import { appendJsonLine, writeJsonAtomic } from './fsAtomic';

export function configHash(config: RunConfig): string {
  return createHash('sha256').update(stableStringify(config)).digest('hex').slice(0, 16);
}

function stableStringify(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableStringify).join(',')}]`;
  if (v && typeof v === 'object')
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableStringify((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(v);
}

function slug(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 40) || 'run';
}

export function newRunId(name: string, now = new Date()): string {
  const t = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  const rand = Math.floor(Math.random() * 0x10000).toString(16).padStart(4, '0');
  return `${t}-${slug(name)}-${rand}`;
}

/** The single writer of a run directory. */
export class RunWriter {
  private constructor(
    readonly dir: string,
    private record: RunRecord,
  ) {}

  /** Creates a fresh run directory holding the resolved config and a `created` record. */
  static create(runsDir: string, config: RunConfig, name: string): RunWriter {
    if (fs.existsSync(runsDir) && !fs.statSync(runsDir).isDirectory()) throw new Error(`${runsDir}: expected a folder for runs, found a file`);
    fs.mkdirSync(runsDir, { recursive: true });
    const id = newRunId(name);
    const dir = path.join(runsDir, id);
    fs.mkdirSync(dir);
    fs.mkdirSync(path.join(dir, RUN_FILES.samples));
    fs.mkdirSync(path.join(dir, RUN_FILES.checkpoints));
    writeJsonAtomic(path.join(dir, RUN_FILES.config), config);
    const now = new Date().toISOString();
    const record: RunRecord = {
      formatVersion: RUN_FORMAT_VERSION,
      id,
      name,
      group: config.group,
      status: 'created',
      createdAt: now,
      startedAt: null,
      endedAt: null,
      updatedAt: now,
      pid: null,
      host: os.hostname(),
      backend: null,
      device: null,
      backendReasons: {},
      configHash: configHash(config),
      step: 0,
      totalSteps: config.training.steps,
      error: null,
    };
    const w = new RunWriter(dir, record);
    w.flush();
    return w;
  }

  /** Reopens an existing run (for --resume). */
  static open(dir: string): RunWriter {
    const record = JSON.parse(fs.readFileSync(path.join(dir, RUN_FILES.record), 'utf8')) as RunRecord;
    return new RunWriter(dir, record);
  }

  get current(): Readonly<RunRecord> {
    return this.record;
  }

  update(patch: Partial<RunRecord>): void {
    this.record = { ...this.record, ...patch, updatedAt: new Date().toISOString() };
    this.flush();
  }

  private flush(): void {
    writeJsonAtomic(path.join(this.dir, RUN_FILES.record), this.record);
  }

  appendMetrics(line: MetricsLine): void {
    appendJsonLine(path.join(this.dir, RUN_FILES.metrics), line);
  }

  appendEval(line: EvalLine): void {
    appendJsonLine(path.join(this.dir, RUN_FILES.eval), line);
  }

  appendEvent(event: unknown): void {
    appendJsonLine(path.join(this.dir, RUN_FILES.events), event);
  }

  log(message: string): void {
    fs.appendFileSync(path.join(this.dir, RUN_FILES.log), `${new Date().toISOString()} ${message}\n`);
  }

  path(...parts: string[]): string {
    return path.join(this.dir, ...parts);
  }
}

/**
 * The runs tree model: groups -> runs -> (config, metrics, samples, checkpoints, log), built from a
 * runs folder. Plain Node, no `vscode`: the tree view glue wraps it.
 *
 * Reading is cheap: a run's node needs only run.json and the last ~4 KiB of metrics.jsonl; its
 * config (for the tooltip) and its samples and checkpoints (its children) are read when first
 * asked for. Refreshing is incremental: each run keeps the stat fingerprints of the files it was
 * built from, a refresh re-reads only the parts whose fingerprint changed, and given the changed
 * run dirs (from RunsWatcher) it does not even stat the other runs.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { RunConfig } from '../../core/config/types';
import {
  isMetricsLine,
  RUN_FILES,
  slurmOutputName,
  type CheckpointInfo,
  type MetricsLine,
  type RunRecord,
  type RunStatus,
  type SampleInfo,
} from '../../core/run/format';
import { listCheckpoints, listRunDirs, listSamples, readRunConfig, readRunRecord, type RunSummary } from '../../core/run/reader';
import { DEFAULT_STALE_MS, isDeadRun, isPidAlive } from '../../core/run/liveness';
import { runDescription, runTooltip, type BestMetric } from './summary';
import { readJsonLines } from '../../core/run/fsAtomic';
import { readLastJsonLine, statFingerprint } from '../../core/run/tail';

/** `broken`: run.json unreadable; `dead`: run.json says running but the trainer is gone. */
export type RunNodeStatus = RunStatus | 'broken' | 'dead';

interface ChildBase {
  label: string;
  description: string;
  /** The file or folder the child stands for. */
  path: string;
}
export type RunChildNode =
  | (ChildBase & { kind: 'config' })
  | (ChildBase & { kind: 'metrics'; bytes: number; tornTail: boolean })
  | (ChildBase & { kind: 'samples'; count: number; latest: SampleInfo | null })
  | (ChildBase & { kind: 'checkpoints'; count: number; latest: CheckpointInfo | null })
  | (ChildBase & { kind: 'log' })
  /** The output file of the Slurm job that trains (or trained) the run. */
  | (ChildBase & { kind: 'jobOutput' });

/** A node is rebuilt (a new object) whenever what it shows changed, and never mutated. */
export interface RunNode {
  readonly kind: 'run';
  readonly id: string;
  readonly dir: string;
  readonly label: string;
  readonly group: string;
  readonly status: RunNodeStatus;
  /** Why the run is broken, failed or dead. */
  readonly error: string | null;
  readonly description: string;
  /** Plain text, config summary included; computed (config.json read) on first access. */
  readonly tooltip: string;
  readonly record: RunRecord | null;
  readonly lastMetrics: MetricsLine | null;
  /** config, metrics, samples, checkpoints, log; samples/ and checkpoints/ listed on first access. */
  readonly children: RunChildNode[];
}

export interface GroupNode {
  kind: 'group';
  /** run.json `group`; '' holds the ungrouped runs (and broken ones, whose group is unknown). */
  group: string;
  label: string;
  runs: RunNode[];
}

export interface RunsTreeOptions {
  /** Heartbeat age past which a `running` run with no live process is dead. */
  staleMs?: number;
  now?: () => number;
  isAlive?: (pid: number) => boolean;
  /** Label of the '' group. */
  ungroupedLabel?: string;
}

/** What a refresh did, so callers can update only what changed (and tests can check the cost). */
export interface RefreshResult {
  added: string[];
  removed: string[];
  /** Runs whose node was rebuilt (added ones included). */
  changed: RunNode[];
  /** Files read: run.json records and metrics tails (the lazily read parts are not counted here). */
  reads: { records: number; metrics: number };
  ms: number;
}

/** A part read only when first asked for, with the fingerprint it was read at. */
interface Lazy<T> {
  fp: string;
  value: T;
}

interface ConfigRead {
  config: RunConfig | null;
  configError: string | null;
}

interface Entry {
  dir: string;
  recordFp: string;
  summary: RunSummary;
  metricsFp: string;
  last: MetricsLine | null;
  tornTail: boolean;
  metricsBytes: number;
  evalFp: string;
  best: BestMetric | null;
  // Only the tooltip needs the config and only an expanded run its samples and checkpoints, so
  // a cold build of many runs reads two small files per run and nothing else.
  config: Lazy<ConfigRead> | null;
  samples: Lazy<SampleInfo[]> | null;
  checkpoints: Lazy<CheckpointInfo[]> | null;
  node: RunNode;
}

/**
 * The best (lowest) value of the run's headline evaluation metric: `fid` when the run has it,
 * else the first `fd_*` metric, else the first metric. eval.jsonl holds a few lines per
 * evaluation, so it is read whole when it changed.
 */
function readBestMetric(dir: string): BestMetric | null {
  const { records } = readJsonLines<{ step?: unknown; metric?: unknown; value?: unknown } | null>(path.join(dir, RUN_FILES.eval));
  const best = new Map<string, BestMetric>();
  for (const l of records) {
    if (!l || typeof l.metric !== 'string' || typeof l.value !== 'number' || typeof l.step !== 'number' || !Number.isFinite(l.value)) continue;
    const b = best.get(l.metric);
    if (!b || l.value < b.value) best.set(l.metric, { metric: l.metric, value: l.value, step: l.step });
  }
  const names = [...best.keys()];
  const pick = names.find((n) => n === 'fid') ?? names.find((n) => n.startsWith('fd_')) ?? names[0];
  return pick ? (best.get(pick) ?? null) : null;
}

const fingerprint = (file: string): string => statFingerprint(fs.statSync(file, { throwIfNoEntry: false }));

function readConfig(dir: string): ConfigRead {
  try {
    return { config: readRunConfig(dir), configError: null };
  } catch (e) {
    return { config: null, configError: (e as Error).message };
  }
}

const plural = (n: number, what: string): string => `${n} ${what}${n === 1 ? '' : 's'}`;

interface NodeFields {
  id: string;
  dir: string;
  label: string;
  group: string;
  status: RunNodeStatus;
  error: string | null;
  description: string;
  record: RunRecord | null;
  lastMetrics: MetricsLine | null;
}

/** A run node whose tooltip and children are computed on first access (VS Code asks for them on hover and expand). */
class LazyRunNode implements RunNode {
  readonly kind = 'run';
  readonly id: string;
  readonly dir: string;
  readonly label: string;
  readonly group: string;
  readonly status: RunNodeStatus;
  readonly error: string | null;
  readonly description: string;
  readonly record: RunRecord | null;
  readonly lastMetrics: MetricsLine | null;
  private tooltipText: string | null = null;
  private childList: RunChildNode[] | null = null;

  constructor(
    f: NodeFields,
    private readonly makeTooltip: () => string,
    private readonly makeChildren: () => RunChildNode[],
  ) {
    this.id = f.id;
    this.dir = f.dir;
    this.label = f.label;
    this.group = f.group;
    this.status = f.status;
    this.error = f.error;
    this.description = f.description;
    this.record = f.record;
    this.lastMetrics = f.lastMetrics;
  }

  get tooltip(): string {
    return (this.tooltipText ??= this.makeTooltip());
  }

  get children(): RunChildNode[] {
    return (this.childList ??= this.makeChildren());
  }
}

export class RunsTreeModel {
  readonly runsDir: string;
  private readonly entries = new Map<string, Entry>();
  private groupList: GroupNode[] = [];
  private readonly staleMs: number;
  private readonly now: () => number;
  private readonly isAlive: (pid: number) => boolean;
  private readonly hostname = os.hostname();
  private readonly ungroupedLabel: string;

  constructor(runsDir: string, o: RunsTreeOptions = {}) {
    this.runsDir = path.resolve(runsDir);
    this.staleMs = o.staleMs ?? DEFAULT_STALE_MS;
    this.now = o.now ?? Date.now;
    this.isAlive = o.isAlive ?? isPidAlive;
    this.ungroupedLabel = o.ungroupedLabel ?? '(ungrouped)';
  }

  get groups(): readonly GroupNode[] {
    return this.groupList;
  }

  get runs(): RunNode[] {
    return [...this.entries.values()].map((e) => e.node);
  }

  getRun(dirOrId: string): RunNode | undefined {
    return this.entries.get(path.resolve(this.runsDir, dirOrId))?.node;
  }

  /**
   * Brings the tree up to date. Without `changedDirs` the runs folder is listed and every run is
   * checked by stat (two stats per run, plus one per part already read lazily; no reads unless
   * something changed). With it (RunsWatcher's report) only those dirs are looked at, including
   * added and removed ones. Runs that say `running` are always re-checked for liveness: a trainer
   * can die without touching a file.
   */
  refresh(changedDirs?: Iterable<string>): RefreshResult {
    const t0 = performance.now();
    const reads = { records: 0, metrics: 0 };
    const added: string[] = [];
    const removed: string[] = [];
    const changed: RunNode[] = [];
    const now = this.now();
    const visit = (dir: string): void => {
      const e = this.entries.get(dir);
      if (!e) {
        added.push(dir);
        const fresh = this.load(dir, reads, now);
        this.entries.set(dir, fresh);
        changed.push(fresh.node);
      } else if (this.update(e, reads)) {
        e.node = this.buildNode(e, now);
        changed.push(e.node);
      } else if (this.relive(e, now)) {
        changed.push(e.node);
      }
    };

    if (changedDirs) {
      // The watcher reports added and removed runs as changed dirs too: no need to list the folder.
      const hinted = new Set([...changedDirs].map((d) => path.resolve(this.runsDir, d)));
      for (const dir of [...hinted].sort()) {
        if (path.dirname(dir) !== this.runsDir || path.basename(dir).startsWith('.')) continue;
        if (fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory()) visit(dir);
        else if (this.entries.delete(dir)) removed.push(dir);
      }
      for (const e of this.entries.values()) if (!hinted.has(e.dir) && this.relive(e, now)) changed.push(e.node);
    } else {
      const dirs = listRunDirs(this.runsDir);
      const present = new Set(dirs);
      for (const dir of this.entries.keys())
        if (!present.has(dir)) {
          this.entries.delete(dir);
          removed.push(dir);
        }
      for (const dir of dirs) visit(dir);
    }

    if (added.length || removed.length || changed.length) this.regroup();
    return { added, removed, changed, reads, ms: performance.now() - t0 };
  }

  private load(dir: string, reads: RefreshResult['reads'], now: number): Entry {
    // Stat before reading: if the file changes in between, the next refresh sees a newer fingerprint.
    const recordFp = fingerprint(path.join(dir, RUN_FILES.record));
    reads.records++;
    const summary = readRunRecord(dir);
    reads.metrics++;
    const m = readLastJsonLine(path.join(dir, RUN_FILES.metrics), isMetricsLine);
    const evalFp = fingerprint(path.join(dir, RUN_FILES.eval));
    const e: Omit<Entry, 'node'> = {
      evalFp,
      best: evalFp === '-' ? null : readBestMetric(dir),
      dir,
      recordFp,
      summary,
      metricsFp: m.fingerprint,
      last: m.value,
      tornTail: m.tornTail,
      metricsBytes: m.size,
      config: null,
      samples: null,
      checkpoints: null,
    };
    return Object.assign(e, { node: this.buildNode(e, now) });
  }

  /** Re-reads what changed on disk; returns whether anything did. */
  private update(e: Entry, reads: RefreshResult['reads']): boolean {
    let changed = false;
    const recordFp = fingerprint(path.join(e.dir, RUN_FILES.record));
    if (recordFp !== e.recordFp) {
      reads.records++;
      e.recordFp = recordFp;
      e.summary = readRunRecord(e.dir);
      changed = true;
    }
    const metricsFile = path.join(e.dir, RUN_FILES.metrics);
    if (fingerprint(metricsFile) !== e.metricsFp) {
      reads.metrics++;
      const m = readLastJsonLine(metricsFile, isMetricsLine);
      Object.assign(e, { metricsFp: m.fingerprint, last: m.value, tornTail: m.tornTail, metricsBytes: m.size });
      changed = true;
    }
    const evalFp = fingerprint(path.join(e.dir, RUN_FILES.eval));
    if (evalFp !== e.evalFp) {
      Object.assign(e, { evalFp, best: evalFp === '-' ? null : readBestMetric(e.dir) });
      changed = true;
    }
    // Lazy parts already read are dropped when their file changed; they are read again on demand.
    if (e.config && fingerprint(path.join(e.dir, RUN_FILES.config)) !== e.config.fp) {
      e.config = null;
      changed = true;
    }
    if (e.samples && fingerprint(path.join(e.dir, RUN_FILES.samples)) !== e.samples.fp) {
      e.samples = null;
      changed = true;
    }
    if (e.checkpoints && fingerprint(path.join(e.dir, RUN_FILES.checkpoints)) !== e.checkpoints.fp) {
      e.checkpoints = null;
      changed = true;
    }
    return changed;
  }

  /** Re-evaluates a `running` run's liveness; rebuilds its node if it changed. */
  private relive(e: Entry, now: number): boolean {
    const r = e.summary.record;
    if (!r || r.status !== 'running') return false;
    // A live run's description carries no clock, so only a flip between running and dead matters.
    if (this.statusOf(r, now) === e.node.status) return false;
    e.node = this.buildNode(e, now);
    return true;
  }

  private statusOf(r: RunRecord, now: number): RunNodeStatus {
    return isDeadRun(r, { staleMs: this.staleMs, now, isAlive: this.isAlive, hostname: this.hostname }) ? 'dead' : r.status;
  }

  private configOf(e: Omit<Entry, 'node'>): ConfigRead {
    if (!e.config) {
      const fp = fingerprint(path.join(e.dir, RUN_FILES.config));
      e.config = { fp, value: readConfig(e.dir) };
    }
    return e.config.value;
  }

  private samplesOf(e: Omit<Entry, 'node'>): SampleInfo[] {
    if (!e.samples) {
      const fp = fingerprint(path.join(e.dir, RUN_FILES.samples));
      e.samples = { fp, value: listSamples(e.dir) };
    }
    return e.samples.value;
  }

  private checkpointsOf(e: Omit<Entry, 'node'>): CheckpointInfo[] {
    if (!e.checkpoints) {
      const fp = fingerprint(path.join(e.dir, RUN_FILES.checkpoints));
      e.checkpoints = { fp, value: listCheckpoints(e.dir) };
    }
    return e.checkpoints.value;
  }

  private buildNode(e: Omit<Entry, 'node'>, now: number): RunNode {
    const { dir, summary } = e;
    const r = summary.record;
    const status: RunNodeStatus = r ? this.statusOf(r, now) : 'broken';
    const label = r?.name || summary.id;
    const error =
      status === 'broken'
        ? summary.recordError
        : status === 'dead' && r
          ? `trainer process ${r.pid ?? '?'} ended without finishing`
          : (r?.error?.message ?? null);
    const input = { status, record: r, recordError: summary.recordError, last: e.last, best: e.best };
    const last = e.last;
    const tornTail = e.tornTail;
    const metricsBytes = e.metricsBytes;
    const fields: NodeFields = {
      id: r?.id ?? summary.id,
      dir,
      label,
      group: typeof r?.group === 'string' ? r.group : '',
      status,
      error,
      description: runDescription(input),
      record: r,
      lastMetrics: last,
    };
    const tooltip = (): string => {
      const c = this.configOf(e);
      return runTooltip({ ...input, id: summary.id, label, config: c.config, configError: c.configError, metricsTornTail: tornTail });
    };
    const children = (): RunChildNode[] => {
      const samples = this.samplesOf(e);
      const checkpoints = this.checkpointsOf(e);
      const latestSample = samples.length ? samples[samples.length - 1] : null;
      const latestCheckpoint = checkpoints.length ? checkpoints[checkpoints.length - 1] : null;
      return [
        { kind: 'config', label: 'config', path: path.join(dir, RUN_FILES.config), description: r ? `hash ${r.configHash}` : '' },
        {
          kind: 'metrics',
          label: 'metrics',
          path: path.join(dir, RUN_FILES.metrics),
          bytes: metricsBytes,
          tornTail,
          description: last ? `last step ${last.step}${tornTail ? ' · torn last line' : ''}` : 'none yet',
        },
        {
          kind: 'samples',
          label: 'samples',
          path: path.join(dir, RUN_FILES.samples),
          count: samples.length,
          latest: latestSample,
          description: latestSample ? `${plural(samples.length, 'grid')} · latest step ${latestSample.step}` : 'none yet',
        },
        {
          kind: 'checkpoints',
          label: 'checkpoints',
          path: path.join(dir, RUN_FILES.checkpoints),
          count: checkpoints.length,
          latest: latestCheckpoint,
          description: latestCheckpoint ? `${plural(checkpoints.length, 'checkpoint')} · latest step ${latestCheckpoint.step}` : 'none yet',
        },
        { kind: 'log', label: 'log', path: path.join(dir, RUN_FILES.log), description: RUN_FILES.log },
        ...(r?.scheduler?.kind === 'slurm'
          ? [{ kind: 'jobOutput' as const, label: 'Slurm output', path: path.join(dir, slurmOutputName(r.scheduler.jobId)), description: `job ${r.scheduler.jobId} · ${slurmOutputName(r.scheduler.jobId)}` }]
          : []),
      ];
    };
    return new LazyRunNode(fields, tooltip, children);
  }

  private regroup(): void {
    const byGroup = new Map<string, RunNode[]>();
    for (const e of this.entries.values()) {
      let list = byGroup.get(e.node.group);
      if (!list) byGroup.set(e.node.group, (list = []));
      list.push(e.node);
    }
    // Newest run first; run ids start with their UTC creation time, so they sort the same way.
    const key = (n: RunNode): string => n.record?.createdAt ?? n.id;
    const groups = [...byGroup.entries()].map(([group, runs]) => ({
      kind: 'group' as const,
      group,
      label: group || this.ungroupedLabel,
      runs: runs.sort((a, b) => (key(a) < key(b) ? 1 : key(a) > key(b) ? -1 : a.id < b.id ? 1 : -1)),
    }));
    // Named groups alphabetically, the ungrouped runs last.
    groups.sort((a, b) => (a.group === '' ? 1 : b.group === '' ? -1 : a.group.localeCompare(b.group)));
    this.groupList = groups;
  }
}

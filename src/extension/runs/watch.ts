/**
 * Reports which run directories changed, so the tree refreshes only those.
 *
 * One non-recursive fs.watch on the runs folder (runs added, removed, renamed) and one per run
 * directory (run.json renamed over, metrics.jsonl / events.jsonl appended). Changes inside
 * samples/ and checkpoints/ are not watched separately: the trainer appends a `sample` or
 * `checkpoint` event to events.jsonl for each, which the run directory's watch sees. This keeps
 * it to one watch per run instead of Node's recursive watch, which on Linux adds one per folder.
 *
 * Events are batched: the first change schedules a report `debounceMs` later and further
 * changes join that batch, so a trainer appending every step yields at most one report per
 * `debounceMs` (a trailing debounce would never fire while a run is training).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { listRunDirs } from '../../core/run/reader';

export interface RunsWatcherOptions {
  debounceMs?: number;
  /** A watch could not be set up (e.g. the inotify limit): the caller may fall back to slow polling. */
  onError?: (err: Error, dir: string) => void;
}

export class RunsWatcher {
  readonly runsDir: string;
  private readonly debounceMs: number;
  private rootWatch: fs.FSWatcher | null = null;
  private readonly runWatches = new Map<string, fs.FSWatcher>();
  private pending = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    runsDir: string,
    private readonly onChange: (changedRunDirs: string[]) => void,
    private readonly o: RunsWatcherOptions = {},
  ) {
    this.runsDir = path.resolve(runsDir);
    this.debounceMs = o.debounceMs ?? 300;
    this.start();
  }

  /** Number of fs.watch handles held (for tests and diagnostics). */
  get watchCount(): number {
    return this.runWatches.size + (this.rootWatch ? 1 : 0);
  }

  private start(): void {
    try {
      this.rootWatch = fs.watch(this.runsDir, { persistent: false }, (_event, name) => this.onRootEvent(name));
      this.rootWatch.on('error', (err) => this.fail(err, this.runsDir));
    } catch (e) {
      // No runs folder yet (or no watch available): report it; the caller can retry later.
      this.fail(e as Error, this.runsDir);
      return;
    }
    for (const dir of listRunDirs(this.runsDir)) this.watchRun(dir);
  }

  private fail(err: Error, dir: string): void {
    this.o.onError?.(err, dir);
  }

  private onRootEvent(name: string | Buffer | null): void {
    if (this.closed) return;
    if (name === null) {
      // The platform did not say which entry changed: treat every run as changed.
      for (const dir of listRunDirs(this.runsDir)) this.mark(dir);
      return;
    }
    const base = name.toString();
    if (base.startsWith('.')) return;
    const dir = path.join(this.runsDir, base);
    this.mark(dir);
    const isDir = fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory() ?? false;
    if (isDir) this.watchRun(dir);
    else this.unwatchRun(dir);
  }

  private watchRun(dir: string): void {
    if (this.closed || this.runWatches.has(dir)) return;
    try {
      const w = fs.watch(dir, { persistent: false }, () => this.mark(dir));
      w.on('error', () => {
        // The run folder went away; the root watch reports the removal.
        this.unwatchRun(dir);
        this.mark(dir);
      });
      this.runWatches.set(dir, w);
    } catch (e) {
      this.fail(e as Error, dir);
    }
  }

  private unwatchRun(dir: string): void {
    this.runWatches.get(dir)?.close();
    this.runWatches.delete(dir);
  }

  private mark(dir: string): void {
    if (this.closed) return;
    this.pending.add(dir);
    this.timer ??= setTimeout(() => this.flush(), this.debounceMs);
  }

  private flush(): void {
    this.timer = null;
    if (this.closed || this.pending.size === 0) return;
    const dirs = [...this.pending].sort();
    this.pending = new Set();
    this.onChange(dirs);
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.rootWatch?.close();
    this.rootWatch = null;
    for (const w of this.runWatches.values()) w.close();
    this.runWatches.clear();
  }
}

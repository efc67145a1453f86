/**
 * Following a run's events.jsonl as the trainer appends to it: how a host that did not spawn the
 * trainer (or was restarted) gets the same events the trainer prints on stdout.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { parseEvent, type TrainerEvent } from '../../core/protocol/events';
import { RUN_FILES } from '../../core/run/format';

/** Splits a byte or text stream into complete lines, holding back a partial last line. */
export class LineBuffer {
  private rest = '';
  private readonly decoder = new StringDecoder('utf8');

  /** Accepts Buffers too: a chunk can end inside a multi-byte character. */
  push(chunk: string | Buffer): string[] {
    this.rest += typeof chunk === 'string' ? chunk : this.decoder.write(chunk);
    const parts = this.rest.split('\n');
    this.rest = parts.pop() ?? '';
    return parts.filter((l) => l.trim() !== '');
  }

  /** What is left at end of stream: a line without its newline (returned only if non-blank). */
  end(): string[] {
    const last = this.rest + this.decoder.end();
    this.rest = '';
    return last.trim() === '' ? [] : [last];
  }
}

export function fileSize(file: string): number {
  return fs.statSync(file, { throwIfNoEntry: false })?.size ?? 0;
}

export interface EventsFollowerOptions<E = TrainerEvent> {
  /** Byte offset to start at (the file's size when reattaching, so old events are not replayed). */
  offset: number;
  onEvent: (e: E) => void;
  /** Safety net for missed watch notifications; cheap (one fstat when nothing changed). */
  pollMs?: number;
  /** The events file in the folder and its line parser: a run's by default; a study's has its own. */
  fileName?: string;
  parse?: (line: string) => E | null;
}

export class EventsFollower<E = TrainerEvent> {
  readonly file: string;
  private offset: number;
  private readonly lines = new LineBuffer();
  private readonly parse: (line: string) => E | null;
  private watcher: fs.FSWatcher | null = null;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    readonly runDir: string,
    private readonly o: EventsFollowerOptions<E>,
  ) {
    const fileName = o.fileName ?? RUN_FILES.events;
    this.file = path.join(runDir, fileName);
    this.offset = o.offset;
    this.parse = o.parse ?? (parseEvent as unknown as (line: string) => E | null);
    try {
      // Watch the folder, not the file: it works before the events file exists.
      this.watcher = fs.watch(runDir, { persistent: false }, (_ev, name) => {
        if (name === null || name.toString() === fileName) this.readNew();
      });
      this.watcher.on('error', () => this.stopWatching());
    } catch {
      // Without a watch the poll below still delivers events, only later.
      this.watcher = null;
    }
    this.timer = setInterval(() => this.readNew(), o.pollMs ?? 1000);
  }

  /** Reads whatever was appended since the last read and delivers its complete lines. */
  readNew(): void {
    if (this.closed) return;
    let fd: number;
    try {
      fd = fs.openSync(this.file, 'r');
    } catch {
      return;
    }
    try {
      const size = fs.fstatSync(fd).size;
      // events.jsonl is append-only; a shorter file was replaced, so start over.
      if (size < this.offset) this.offset = 0;
      const buf = Buffer.alloc(64 * 1024);
      while (this.offset < size && !this.closed) {
        const n = fs.readSync(fd, buf, 0, Math.min(buf.length, size - this.offset), this.offset);
        if (n === 0) break;
        this.offset += n;
        for (const line of this.lines.push(buf.subarray(0, n))) {
          const e = this.parse(line);
          if (e) this.o.onEvent(e);
          if (this.closed) return;
        }
      }
    } finally {
      fs.closeSync(fd);
    }
  }

  private stopWatching(): void {
    this.watcher?.close();
    this.watcher = null;
  }

  close(): void {
    this.closed = true;
    this.stopWatching();
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}

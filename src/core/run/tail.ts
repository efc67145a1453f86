/**
 * Reading the end of an append-only .jsonl file without reading the whole file: the tree only
 * needs the newest metrics line, and a long run's metrics.jsonl grows by one line per logged step.
 */
import * as fs from 'node:fs';

export const TAIL_BYTES = 4096;
const NL = 0x0a;
/** One retry with a larger window, for files whose last lines are unusually long or all torn. */
const TAIL_RETRY_BYTES = 65536;

export interface Tail {
  bytes: Buffer;
  /** File size when read. */
  size: number;
  /** Identity of what was read (inode, size, mtime), from the same open file: a change detector. */
  fingerprint: string;
  /** Whether `text` starts at byte 0 (otherwise its first line may be cut). */
  fromStart: boolean;
}

/** ino catches an atomic rename that kept size and mtime; mtimeMs has sub-ms resolution here. */
export function statFingerprint(s: fs.Stats | undefined): string {
  return s ? `${s.ino}:${s.size}:${s.mtimeMs}` : '-';
}

/** The last `bytes` bytes of a file, or null if it does not exist. */
export function readTail(file: string, bytes = TAIL_BYTES): Tail | null {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  try {
    const st = fs.fstatSync(fd);
    const size = st.size;
    const start = Math.max(0, size - bytes);
    const buf = Buffer.allocUnsafe(size - start);
    let got = 0;
    while (got < buf.length) {
      const n = fs.readSync(fd, buf, got, buf.length - got, start + got);
      if (n === 0) break;
      got += n;
    }
    return { bytes: buf.subarray(0, got), size, fingerprint: statFingerprint(st), fromStart: start === 0 };
  } finally {
    fs.closeSync(fd);
  }
}

export interface LastLine<T> {
  value: T | null;
  /** The file ends in a line without its newline that does not parse (a write in progress or a crash). */
  tornTail: boolean;
  size: number;
  /** statFingerprint of the file as read ('-' if missing). */
  fingerprint: string;
}

/** The newest line of a .jsonl file that parses and passes `accept`; a torn last line is skipped. */
export function readLastJsonLine<T>(file: string, accept: (v: unknown) => v is T, bytes = TAIL_BYTES): LastLine<T> {
  let result: LastLine<T> = { value: null, tornTail: false, size: 0, fingerprint: '-' };
  for (const window of bytes >= TAIL_RETRY_BYTES ? [bytes] : [bytes, TAIL_RETRY_BYTES]) {
    const tail = readTail(file, window);
    if (!tail) return result;
    const b = tail.bytes;
    // A window that starts mid-file starts mid-line: everything up to its first newline is cut.
    const firstNl = b.indexOf(NL);
    const floor = tail.fromStart ? 0 : firstNl < 0 ? b.length : firstNl + 1;
    let tornTail = false;
    // Walk the lines from the end, decoding only those looked at (usually just the last). The
    // first segment seen is whatever follows the last newline: empty, or a torn line.
    let end = b.length;
    for (let unterminated = true; end >= floor; unterminated = false) {
      const nl = end > 0 ? b.lastIndexOf(NL, end - 1) : -1;
      const line = b.toString('utf8', Math.max(nl + 1, floor), end).trim();
      if (line !== '') {
        let v: unknown = undefined;
        let parsed = true;
        try {
          v = JSON.parse(line);
        } catch {
          parsed = false;
          if (unterminated) tornTail = true;
        }
        if (parsed && accept(v)) return { value: v, tornTail, size: tail.size, fingerprint: tail.fingerprint };
      }
      if (nl < floor) break;
      end = nl;
    }
    result = { value: null, tornTail, size: tail.size, fingerprint: tail.fingerprint };
    if (tail.fromStart) break;
  }
  return result;
}

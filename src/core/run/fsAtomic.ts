import * as fs from 'node:fs';
import * as path from 'node:path';

let counter = 0;

/** Writes a file so that readers see either the old or the new content, never a mix. */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${counter++}.tmp`);
  const fd = fs.openSync(tmp, 'w');
  try {
    fs.writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}

export function writeJsonAtomic(file: string, value: unknown): void {
  writeFileAtomic(file, JSON.stringify(value, null, 2) + '\n');
}

/** Appends one JSON line in a single write, so a crash can tear at most the last line. */
export function appendJsonLine(file: string, value: unknown): void {
  fs.appendFileSync(file, JSON.stringify(value) + '\n');
}

export interface JsonLines<T> {
  records: T[];
  /** A last line without its newline that did not parse: a write in progress or a crash. */
  tornTail: boolean;
  /** 1-based numbers of complete lines that did not parse. */
  badLines: number[];
}

export function parseJsonLines<T>(text: string): JsonLines<T> {
  const records: T[] = [];
  const badLines: number[] = [];
  let tornTail = false;
  const lines = text.split('\n');
  const complete = text.endsWith('\n');
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    const isLast = i === lines.length - 1;
    try {
      records.push(JSON.parse(line) as T);
    } catch {
      if (isLast && !complete) tornTail = true;
      else badLines.push(i + 1);
    }
  });
  return { records, tornTail, badLines };
}

export function readJsonLines<T>(file: string): JsonLines<T> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { records: [], tornTail: false, badLines: [] };
    throw e;
  }
  return parseJsonLines<T>(text);
}

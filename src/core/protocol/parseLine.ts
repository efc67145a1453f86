/**
 * One stdout line as an event of a line protocol (the trainer's, the study's): a JSON object with
 * the protocol's version `v`, a known `type`, a `time` and the string id field that names its
 * sender. Anything else (a stray print, another protocol, a torn line) is null, not an error.
 */
export function parseEventLine<T>(line: string, version: number, types: readonly string[], idField: string): T | null {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null) return null;
  const o = v as Record<string, unknown>;
  if (o.v !== version || typeof o.type !== 'string' || !types.includes(o.type)) return null;
  if (typeof o[idField] !== 'string' || typeof o.time !== 'string') return null;
  return o as T;
}

/**
 * Flips `assignment.mode` of a config between "none" and the last non-"none" mode, editing the
 * text in place (JSONC edits), so the user's formatting and comments survive.
 */
import { applyEdits, modify, parse, printParseErrorCode, type ParseError } from 'jsonc-parser';
import type { AssignmentMode } from '../../core/config/types';

export interface ToggleResult {
  text: string;
  /** The mode after the toggle. */
  mode: AssignmentMode;
  /** The mode before it. */
  previous: AssignmentMode;
}

const MODES: readonly AssignmentMode[] = ['none', 'linear', 'knn'];

export function readAssignmentMode(text: string, file: string): AssignmentMode {
  const errors: ParseError[] = [];
  const root = parse(text, errors, { allowTrailingComma: true }) as unknown;
  if (errors.length) throw new Error(`${file}: not valid JSON (${printParseErrorCode(errors[0].error)} at offset ${errors[0].offset})`);
  if (typeof root !== 'object' || root === null || Array.isArray(root)) throw new Error(`${file}: expected a JSON object`);
  const assignment = (root as Record<string, unknown>).assignment;
  if (assignment === undefined) return 'none';
  if (typeof assignment !== 'object' || assignment === null) throw new Error(`${file}: assignment: expected an object`);
  const mode = (assignment as Record<string, unknown>).mode;
  if (mode === undefined) return 'none';
  if (typeof mode !== 'string' || !MODES.includes(mode as AssignmentMode))
    throw new Error(`${file}: assignment.mode: expected one of "none", "linear", "knn", found ${JSON.stringify(mode)}`);
  return mode as AssignmentMode;
}

/** `lastActive` is the mode to restore when turning assignment back on (default "linear"). */
export function toggleAssignment(text: string, file: string, lastActive: AssignmentMode = 'linear'): ToggleResult {
  const previous = readAssignmentMode(text, file);
  const mode: AssignmentMode = previous === 'none' ? (lastActive === 'none' ? 'linear' : lastActive) : 'none';
  const eol = text.includes('\r\n') ? '\r\n' : '\n';
  const indent = /\n(\t| +)"/.exec(text)?.[1] ?? '  ';
  const edits = modify(text, ['assignment', 'mode'], mode, {
    formattingOptions: { insertSpaces: !indent.startsWith('\t'), tabSize: indent.startsWith('\t') ? 1 : indent.length, eol },
  });
  return { text: applyEdits(text, edits), mode, previous };
}

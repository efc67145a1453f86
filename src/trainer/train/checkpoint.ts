/**
 * Checkpoints: one directory per step holding tensors.bin (float32, little-endian, concatenated)
 * and state.json (the tensor table and everything else needed to continue exactly). Written into
 * a hidden temporary directory and renamed, so a listed checkpoint is always complete.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { checkpointDirName } from '../../core/run/format';
import { writeFileAtomic, writeJsonAtomic } from '../../core/run/fsAtomic';
import type { RngState } from '../rng';

export const CHECKPOINT_VERSION = 1;

export interface TensorEntry {
  name: string;
  shape: number[];
  /** Offset in float32 elements. */
  offset: number;
  length: number;
}

export interface CheckpointState {
  version: number;
  step: number;
  wallTime: number;
  configHash: string;
  adamT: number;
  emaUpdates: number;
  rng: RngState;
  sampler: { epoch: number; position: number; rng: RngState };
  tensors: TensorEntry[];
}

export interface NamedArray {
  name: string;
  shape: number[];
  data: Float32Array;
}

export function writeCheckpoint(
  checkpointsDir: string,
  state: Omit<CheckpointState, 'tensors' | 'version'>,
  arrays: NamedArray[],
  keep: number,
): string {
  const finalDir = path.join(checkpointsDir, checkpointDirName(state.step));
  const tmpDir = path.join(checkpointsDir, `.tmp-${checkpointDirName(state.step)}-${process.pid}`);
  fs.rmSync(tmpDir, { recursive: true, force: true });
  fs.mkdirSync(tmpDir, { recursive: true });
  const tensors: TensorEntry[] = [];
  let offset = 0;
  for (const a of arrays) {
    tensors.push({ name: a.name, shape: a.shape, offset, length: a.data.length });
    offset += a.data.length;
  }
  const buf = new Float32Array(offset);
  for (let i = 0; i < arrays.length; i++) buf.set(arrays[i].data, tensors[i].offset);
  writeFileAtomic(path.join(tmpDir, 'tensors.bin'), new Uint8Array(buf.buffer));
  writeJsonAtomic(path.join(tmpDir, 'state.json'), { version: CHECKPOINT_VERSION, ...state, tensors });
  fs.rmSync(finalDir, { recursive: true, force: true });
  fs.renameSync(tmpDir, finalDir);
  pruneCheckpoints(checkpointsDir, keep);
  return finalDir;
}

function pruneCheckpoints(dir: string, keep: number): void {
  const names = fs
    .readdirSync(dir)
    .filter((n) => /^step-\d+$/.test(n))
    .sort();
  for (const n of names.slice(0, Math.max(0, names.length - keep))) fs.rmSync(path.join(dir, n), { recursive: true, force: true });
}

export interface LoadedCheckpoint {
  state: CheckpointState;
  arrays: Map<string, NamedArray>;
}

export function readCheckpoint(dir: string): LoadedCheckpoint {
  const stateFile = path.join(dir, 'state.json');
  const state = JSON.parse(fs.readFileSync(stateFile, 'utf8')) as CheckpointState;
  if (state.version !== CHECKPOINT_VERSION)
    throw new Error(`${stateFile}: checkpoint version ${state.version}, expected ${CHECKPOINT_VERSION}`);
  const binFile = path.join(dir, 'tensors.bin');
  const bytes = fs.readFileSync(binFile);
  const total = state.tensors.reduce((n, t) => n + t.length, 0);
  if (bytes.length !== total * 4) throw new Error(`${binFile}: expected ${total * 4} bytes, found ${bytes.length}`);
  const all = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
  const arrays = new Map<string, NamedArray>();
  for (const t of state.tensors) arrays.set(t.name, { name: t.name, shape: t.shape, data: all.slice(t.offset, t.offset + t.length) });
  return { state, arrays };
}

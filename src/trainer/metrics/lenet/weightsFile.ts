/**
 * The shipped LeNet weights: `<name>.bin` (float32 little-endian, the tensors of LENET_PARAMS
 * back to back) and `<name>.json`, a manifest with the tensor table, the SHA-256 of the .bin,
 * how it was trained and its measured test accuracy. The .bin's SHA-256 is the extractor's
 * `weightsSha256`, recorded with every metric value.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../../../core/run/fsAtomic';
import { LENET_PARAMS } from './network';

export interface LenetManifest {
  format: 'immiscible-lenet-weights';
  version: 1;
  architecture: string;
  weightsFile: string;
  sha256: string;
  tensors: { name: string; shape: number[]; offset: number; length: number }[];
  training: Record<string, string | number>;
  testAccuracy: number;
  testExamples: number;
}

export const LENET_ARCHITECTURE = 'conv5x5(1->6,same)-relu-pool2-conv5x5(6->16,valid)-relu-pool2-fc120-relu-fc84-relu(features)-fc10';

export function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Writes `<base>.bin` and `<base>.json` (atomically); returns the manifest. */
export function writeLenetWeights(base: string, values: Map<string, Float32Array>, info: Omit<LenetManifest, 'format' | 'version' | 'architecture' | 'weightsFile' | 'sha256' | 'tensors'>): LenetManifest {
  const tensors: LenetManifest['tensors'] = [];
  let offset = 0;
  for (const p of LENET_PARAMS) {
    const v = values.get(p.name);
    if (!v) throw new Error(`writeLenetWeights: missing tensor ${p.name}`);
    tensors.push({ name: p.name, shape: p.shape, offset, length: v.length });
    offset += v.length;
  }
  const all = new Float32Array(offset);
  for (const t of tensors) all.set(values.get(t.name) as Float32Array, t.offset);
  const bytes = new Uint8Array(all.buffer);
  const manifest: LenetManifest = {
    format: 'immiscible-lenet-weights',
    version: 1,
    architecture: LENET_ARCHITECTURE,
    weightsFile: path.basename(base) + '.bin',
    sha256: sha256Hex(bytes),
    tensors,
    ...info,
  };
  writeFileAtomic(base + '.bin', bytes);
  writeFileAtomic(base + '.json', JSON.stringify(manifest, null, 2) + '\n');
  return manifest;
}

export interface LoadedLenetWeights {
  manifest: LenetManifest;
  values: Map<string, Float32Array>;
  sha256: string;
}

/** Reads and checks a manifest and its .bin: the hash, every tensor's shape and extent. */
export function readLenetWeights(manifestFile: string): LoadedLenetWeights {
  let manifest: LenetManifest;
  try {
    manifest = JSON.parse(fs.readFileSync(manifestFile, 'utf8')) as LenetManifest;
  } catch (e) {
    throw new Error(`${manifestFile}: cannot read the LeNet weights manifest (${(e as Error).message})`);
  }
  if (manifest.format !== 'immiscible-lenet-weights' || manifest.version !== 1)
    throw new Error(`${manifestFile}: field "format"/"version": expected immiscible-lenet-weights version 1`);
  const binFile = path.join(path.dirname(manifestFile), manifest.weightsFile);
  let buf: Buffer;
  try {
    buf = fs.readFileSync(binFile);
  } catch (e) {
    throw new Error(`${binFile}: cannot read the LeNet weights (${(e as Error).message})`);
  }
  const sha256 = sha256Hex(buf);
  if (sha256 !== manifest.sha256) throw new Error(`${binFile}: SHA-256 is ${sha256} but ${manifestFile} field "sha256" says ${manifest.sha256}`);
  const all = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  const values = new Map<string, Float32Array>();
  for (const p of LENET_PARAMS) {
    const t = manifest.tensors.find((x) => x.name === p.name);
    const size = p.shape.reduce((a, b) => a * b, 1);
    if (!t || t.length !== size || t.shape.join('x') !== p.shape.join('x') || t.offset + t.length > all.length)
      throw new Error(`${manifestFile}: field "tensors": expected ${p.name} of shape [${p.shape.join(', ')}] within ${binFile}`);
    values.set(p.name, all.slice(t.offset, t.offset + t.length));
  }
  return { manifest, values, sha256 };
}

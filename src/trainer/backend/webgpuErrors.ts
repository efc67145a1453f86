/**
 * Errors that Dawn reports outside any error scope (out of memory, validation, internal), and a
 * lost device. tfjs pushes no error scopes, so a step that runs out of GPU memory fails later,
 * reading back an invalid buffer, with an empty message; the first such error is kept here so the
 * run's failure can name its cause and what to change.
 */
export interface GpuErrorRecord {
  kind: 'out of memory' | 'validation' | 'internal' | 'device lost' | 'error';
  message: string;
}

interface UncapturedEvent {
  error: { message: string };
}

/** What the watcher needs of a GPUDevice. */
export interface WatchedDevice {
  addEventListener(type: 'uncapturederror', listener: (e: UncapturedEvent) => void): void;
  readonly lost?: Promise<{ reason?: string; message?: string }>;
}

const watched = new WeakSet<object>();
let first: GpuErrorRecord | null = null;

function kindOf(error: object): GpuErrorRecord['kind'] {
  const name = error.constructor?.name ?? '';
  if (/OutOfMemory/i.test(name)) return 'out of memory';
  if (/Validation/i.test(name)) return 'validation';
  if (/Internal/i.test(name)) return 'internal';
  return 'error';
}

/** Keeps the first uncaptured error of `device` (once per device). */
export function watchDeviceErrors(device: WatchedDevice): void {
  if (watched.has(device)) return;
  watched.add(device);
  device.addEventListener('uncapturederror', (e) => {
    first ??= { kind: kindOf(e.error), message: e.error.message.trim() };
  });
  void device.lost?.then((info) => {
    // tfjs destroys its device on dispose: 'destroyed' is not a failure.
    if (info.reason !== 'destroyed') first ??= { kind: 'device lost', message: `${info.reason ?? 'unknown'}: ${info.message ?? ''}`.trim() };
  });
}

/** The first GPU error since the last call, and forgets it. */
export function takeGpuError(): GpuErrorRecord | null {
  const e = first;
  first = null;
  return e;
}

/** A run's failure message: the GPU's error, what to change, then the error that surfaced. */
export function explainGpuFailure(gpu: GpuErrorRecord, surfaced: string): string {
  // Dawn's message: its first line is the error, then the calls that made it.
  const head = (gpu.message.split('\n')[0] ?? '').trim().replace(/\.$/, '');
  const call = /calling \[([^\]]+)\]\.(\w+)/.exec(gpu.message);
  const what = call ? `${head}, in ${call[1]}.${call[2]}` : head;
  const then = surfaced ? ` (then: ${surfaced})` : '';
  switch (gpu.kind) {
    case 'out of memory':
      return `the GPU ran out of memory (${what}): the model and batch need more than the adapter has; lower training.batchSize, or the model's size (model.baseChannels, model.channelMults, model.resBlocks)${then}`;
    case 'device lost':
      return `the GPU device was lost (${what}): the driver reset it or the GPU went away; resume the run from its last checkpoint${then}`;
    default:
      return `GPU ${gpu.kind} error (${what})${then}`;
  }
}

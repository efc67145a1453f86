/**
 * The CPU time spent inside Dawn's calls that a step's recording makes (queue submits, buffer
 * writes and creation, bind groups, command encoders and their finish), by wrapping them on one
 * device: where the time to enqueue a step goes when it grows with the batch on a GPU, though its
 * commands do not (bench:gpu --call-times).
 */

export interface CallTime {
  calls: number;
  ms: number;
}

export interface DawnCallTimes {
  reset(): void;
  snapshot(): Record<string, CallTime>;
}

type Method = (...args: unknown[]) => unknown;

interface DeviceLike {
  queue: object;
  createCommandEncoder: Method;
}

/** Wraps `obj[name]` (an own property shadowing the prototype's) to add its time to `times[label]`. */
function timeMethod(obj: object, name: string, label: string, times: Map<string, CallTime>, after?: (result: unknown) => void): void {
  const target = obj as Record<string, Method>;
  const original = target[name];
  if (typeof original !== 'function') return;
  const entry: CallTime = { calls: 0, ms: 0 };
  times.set(label, entry);
  Object.defineProperty(obj, name, {
    configurable: true,
    writable: true,
    value(this: unknown, ...args: unknown[]): unknown {
      const t0 = performance.now();
      const r = original.apply(this, args);
      entry.ms += performance.now() - t0;
      entry.calls++;
      after?.(r);
      return r;
    },
  });
}

export function instrumentDawnCalls(device: object): DawnCallTimes {
  const d = device as DeviceLike;
  const times = new Map<string, CallTime>();
  for (const name of ['submit', 'writeBuffer', 'onSubmittedWorkDone']) timeMethod(d.queue, name, `queue.${name}`, times);
  for (const name of ['createBuffer', 'createBindGroup', 'createQuerySet']) timeMethod(d, name, `device.${name}`, times);
  // Each encoder is new: time its finish and its compute passes' begin/end through the factory.
  const finish: CallTime = { calls: 0, ms: 0 };
  times.set('encoder.finish', finish);
  timeMethod(d, 'createCommandEncoder', 'device.createCommandEncoder', times, (encoder) => {
    const e = encoder as Record<string, Method>;
    const original = e.finish;
    e.finish = function (this: unknown, ...args: unknown[]): unknown {
      const t0 = performance.now();
      const r = original.apply(this, args);
      finish.ms += performance.now() - t0;
      finish.calls++;
      return r;
    };
  });
  return {
    reset(): void {
      for (const t of times.values()) {
        t.calls = 0;
        t.ms = 0;
      }
    },
    snapshot(): Record<string, CallTime> {
      return Object.fromEntries([...times].map(([k, v]) => [k, { ...v }]));
    },
  };
}

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

/** Wraps `obj[name]` (an own property shadowing the prototype's) to add its calls and time to `entry`. */
function timeMethod(obj: object, name: string, entry: CallTime, after?: (result: unknown) => void): void {
  const original = (obj as Record<string, Method>)[name];
  if (typeof original !== 'function') return;
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
  const entry = (label: string): CallTime => {
    const t = { calls: 0, ms: 0 };
    times.set(label, t);
    return t;
  };
  for (const name of ['submit', 'writeBuffer', 'onSubmittedWorkDone']) timeMethod(d.queue, name, entry(`queue.${name}`));
  for (const name of ['createBuffer', 'createBindGroup', 'createQuerySet']) timeMethod(d, name, entry(`device.${name}`));
  // Each encoder is new: its finish is wrapped as the factory makes it.
  const finish = entry('encoder.finish');
  timeMethod(d, 'createCommandEncoder', entry('device.createCommandEncoder'), (encoder) => timeMethod(encoder as object, 'finish', finish));
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

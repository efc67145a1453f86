import { main } from './cli';
import { limitOpenMpThreads } from './cpuLimit';

// Before anything loads the native kernels: libgomp reads OMP_NUM_THREADS once, when loaded.
limitOpenMpThreads();

// When the host reading our stdout goes away (a window reload), writes fail with EPIPE; training
// must go on, and every event is also in the run's events.jsonl.
process.stdout.on('error', () => {});
process.stderr.on('error', () => {});

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`immiscible: ${(e as Error).stack ?? String(e)}\n`);
    process.exitCode = 1;
  },
);

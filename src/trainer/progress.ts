/** A one-line terminal progress bar fed by trainer events. */
import type { TrainerEvent } from '../core/protocol/events';

function formatDuration(s: number): string {
  if (!Number.isFinite(s)) return '--';
  const m = Math.floor(s / 60);
  const sec = Math.floor(s % 60);
  return m >= 60 ? `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m` : `${m}m${String(sec).padStart(2, '0')}s`;
}

export class ProgressBar {
  constructor(private out: NodeJS.WriteStream) {}

  onEvent(e: TrainerEvent): void {
    switch (e.type) {
      case 'progress': {
        const width = 30;
        const frac = e.totalSteps ? e.step / e.totalSteps : 0;
        const filled = Math.round(frac * width);
        const bar = '#'.repeat(filled) + '-'.repeat(width - filled);
        this.out.write(
          `\r[${bar}] ${e.step}/${e.totalSteps} loss ${e.loss.toFixed(4)} ${e.imagesPerSec.toFixed(1)} img/s ETA ${formatDuration(e.etaSeconds ?? NaN)}   `,
        );
        break;
      }
      case 'started':
        this.out.write(`${e.resumed ? 'resuming' : 'training'} on ${e.backend} (${e.device}) from step ${e.step}\n`);
        break;
      case 'log':
        if (e.level !== 'info') this.out.write(`\n${e.level}: ${e.message}\n`);
        break;
      case 'sample':
        break;
      case 'checkpoint':
        break;
      case 'finished':
        break;
    }
  }

  finish(status: string, dir: string): void {
    this.out.write(`\n${status}: ${dir}\n`);
  }
}

/**
 * A study's progress notification: its message and how far the study is. Runs here train one
 * after another, and the message is the current run's ("run 2 of 6 (linear, seed 1): step
 * 120/400"). A Slurm study trains several at once; then one run's line after another's would
 * jump back and forth, so the message lists every training run in index order, and the fraction
 * sums each run's own.
 */
import type { StudyEvent } from '../../core/protocol/studyEvents';
import type { StudyMode } from '../../core/study/format';
import { progressMessage } from './studyProcess';

export interface StudyProgressReport {
  message: string;
  /** Of the whole study, 0 to 1. */
  fraction: number;
}

interface RunProgress {
  mode: StudyMode;
  step: number;
  totalSteps: number | null;
  ended: boolean;
}

/** How many training runs the message names; the rest are counted. */
const LISTED = 3;

export class StudyProgress {
  private total = 0;
  /** Runs completed before this attempt of the study (they send no events). */
  private completedBefore = 0;
  private readonly runs = new Map<number, RunProgress>();
  private fraction = 0;

  /** The notification after `e`, or null when `e` says nothing to show. */
  update(e: StudyEvent): StudyProgressReport | null {
    switch (e.type) {
      case 'study-started':
        this.total = e.total;
        this.completedBefore = e.completed;
        this.runs.clear();
        return null;
      case 'run-started':
      case 'run-progress':
      case 'run-finished': {
        this.total = e.total;
        const r = this.runs.get(e.index) ?? { mode: e.mode, step: 0, totalSteps: null, ended: false };
        if (e.type === 'run-started') r.ended = false;
        if (e.type === 'run-progress') Object.assign(r, { step: e.step, totalSteps: e.totalSteps, ended: false });
        if (e.type === 'run-finished') r.ended = true;
        this.runs.set(e.index, r);
        this.fraction = this.sumFraction();
        return { message: this.message(e), fraction: this.fraction };
      }
      case 'study-log':
        return { message: e.message, fraction: this.fraction };
      default:
        return null;
    }
  }

  private sumFraction(): number {
    if (this.total <= 0) return 0;
    let sum = this.completedBefore;
    for (const r of this.runs.values()) sum += r.ended ? 1 : r.totalSteps ? Math.min(1, r.step / r.totalSteps) : 0;
    return Math.min(1, sum / this.total);
  }

  private message(e: StudyEvent): string {
    const training = [...this.runs.entries()].filter(([, r]) => !r.ended).sort(([a], [b]) => a - b);
    if (training.length <= 1) return progressMessage(e) ?? '';
    const ended = this.completedBefore + [...this.runs.values()].filter((r) => r.ended).length;
    const listed = training.slice(0, LISTED).map(([i, r]) => `run ${i + 1} (${r.mode}) ${r.totalSteps ? `${r.step}/${r.totalSteps}` : 'starting'}`);
    const more = training.length > LISTED ? `, ${training.length - LISTED} more` : '';
    return `${ended} of ${this.total} finished; training ${listed.join(', ')}${more}`;
  }
}

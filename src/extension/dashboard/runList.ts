/**
 * The dashboard's list of runs, built from the runs model. A run's config is read once (it is
 * written once, when the run is created) and kept flattened for grouping and diffs.
 */
import { readRunConfig } from '../../core/run/reader';
import { flattenConfig, type FlatValue } from '../../core/compare/configDiff';
import type { DashboardRun } from '../../core/webview/messages';
import type { RunNode } from '../runs';

export class DashboardRunList {
  private readonly configs = new Map<string, Record<string, FlatValue>>();

  toMessage(runs: readonly RunNode[]): DashboardRun[] {
    return runs.map((r) => this.toRun(r)).sort((a, b) => (b.createdAt ?? '').localeCompare(a.createdAt ?? '') || a.id.localeCompare(b.id));
  }

  private configOf(r: RunNode): Record<string, FlatValue> {
    let c = this.configs.get(r.dir);
    if (!c) {
      try {
        c = flattenConfig(readRunConfig(r.dir));
        this.configs.set(r.dir, c);
      } catch {
        // Not written yet (a run being created) or broken: try again on the next refresh.
        c = {};
      }
    }
    return c;
  }

  private toRun(r: RunNode): DashboardRun {
    const config = this.configOf(r);
    const mode = config['assignment.mode'];
    return {
      id: r.id,
      name: r.label,
      group: r.group,
      status: r.status,
      step: r.record?.step ?? 0,
      totalSteps: r.record?.totalSteps ?? 0,
      mode: typeof mode === 'string' ? mode : '',
      config,
      createdAt: r.record?.createdAt ?? null,
    };
  }

  forget(dir: string): void {
    this.configs.delete(dir);
  }
}

/** One status bar item: the active config's assignment mode, or the progress of running runs. */
import * as vscode from 'vscode';
import type { TrainerEvent } from '../core/protocol/events';
import { readAssignmentMode } from './config/toggleAssignment';

type Progress = Extract<TrainerEvent, { type: 'progress' }>;

function eta(s: number | null): string {
  if (s === null || !Number.isFinite(s)) return '';
  const m = Math.floor(s / 60);
  return m >= 60 ? ` · ETA ${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}` : ` · ETA ${m}m${String(Math.floor(s % 60)).padStart(2, '0')}s`;
}

export class StatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Left, 50);
  private readonly running = new Map<string, Progress>();
  private mode: string | null = null;

  constructor() {
    this.item.name = 'Immiscible Lab';
    this.render();
  }

  /** Shows the assignment mode of the config in the active editor, when it is one. */
  showConfigMode(doc: vscode.TextDocument | undefined): void {
    this.mode = null;
    if (doc && /(\.immiscible\.json|[\\/]configs[\\/][^\\/]+\.json)$/.test(doc.uri.fsPath)) {
      try {
        this.mode = readAssignmentMode(doc.getText(), doc.uri.fsPath);
      } catch {
        this.mode = '?';
      }
    }
    this.render();
  }

  progress(runId: string, e: Progress): void {
    this.running.set(runId, e);
    this.render();
  }

  finished(runId: string): void {
    this.running.delete(runId);
    this.render();
  }

  private render(): void {
    const runs = [...this.running.values()];
    if (runs.length === 1) {
      const e = runs[0];
      this.item.text = `$(sync~spin) ${e.step}/${e.totalSteps} · ${e.imagesPerSec.toFixed(1)} img/s${eta(e.etaSeconds)}`;
      this.item.tooltip = `Immiscible Lab: run ${e.runId}, loss ${e.loss.toFixed(4)}`;
      this.item.command = 'workbench.view.extension.immiscible';
    } else if (runs.length > 1) {
      this.item.text = `$(sync~spin) ${runs.length} runs training`;
      this.item.tooltip = runs.map((e) => `${e.runId}: ${e.step}/${e.totalSteps}`).join('\n');
      this.item.command = 'workbench.view.extension.immiscible';
    } else if (this.mode) {
      this.item.text = `$(symbol-event) Immiscible: ${this.mode}`;
      this.item.tooltip = 'Assignment mode of this config (click to toggle)';
      this.item.command = 'immiscible.toggleAssignment';
    } else {
      this.item.hide();
      return;
    }
    this.item.show();
  }

  dispose(): void {
    this.item.dispose();
  }
}

/**
 * Sample galleries with one step slider for all shown runs: the slider runs over every step at
 * which any run has a grid, and each run shows its grid nearest that step, marked when it is not
 * the exact step. Play steps through; clicking a grid toggles full resolution (pixelated zoom).
 */
import { nearestStep, unionSteps } from '../../src/core/compare/steps';
import { clear, el } from './dom';
import type { Store } from './store';

export class Galleries {
  readonly root = el('section', { className: 'card gallery-card' });
  private readonly slider = el('input', { type: 'range', min: '0', max: '0', step: '1', className: 'step-slider', title: 'Sample step (all runs)' });
  private readonly stepLabel = el('span', { className: 'step-label' });
  private readonly playBtn = el('button', { className: 'icon-button', textContent: 'Play', title: 'Step through the grids' });
  private readonly row = el('div', { className: 'gallery-row' });
  private steps: number[] = [];
  private runIds: string[] = [];
  private timer: number | null = null;
  private readonly tiles = new Map<string, { root: HTMLElement; img: HTMLImageElement; caption: HTMLElement }>();
  /** The step the user picked, kept while new grids arrive; null follows the latest. */
  private picked: number | null = null;

  constructor(
    private readonly store: Store,
    private readonly onStep: (step: number | null) => void,
  ) {
    this.slider.addEventListener('input', () => this.pick(this.steps[Number(this.slider.value)] ?? null));
    this.playBtn.addEventListener('click', () => this.togglePlay());
    this.root.append(el('header', {}, el('h3', { textContent: 'Samples' }), this.playBtn), el('div', { className: 'slider-row' }, this.slider, this.stepLabel), this.row);
  }

  update(runIds: readonly string[], initialStep: number | null): void {
    const changedRuns = runIds.join('\0') !== this.runIds.join('\0');
    this.runIds = [...runIds];
    if (changedRuns) {
      clear(this.row);
      this.tiles.clear();
      this.picked = initialStep;
      for (const id of runIds) {
        const img = el('img', { className: 'grid-image', alt: `samples of ${id}` });
        const caption = el('div', { className: 'tile-caption' });
        const root = el('figure', { className: 'tile', dataset: { run: id } }, el('figcaption', { textContent: this.store.runById.get(id)?.name ?? id }), img, caption);
        img.addEventListener('click', () => {
          // Zoomed: whole pixels of the grid, at the largest integer scale that fits about 600 px.
          const zoomed = root.classList.toggle('zoomed');
          const scale = Math.max(1, Math.floor(600 / Math.max(1, img.naturalWidth)));
          img.style.width = zoomed ? `${img.naturalWidth * scale}px` : '';
          img.style.height = zoomed ? `${img.naturalHeight * scale}px` : '';
        });
        this.tiles.set(id, { root, img, caption });
        this.row.append(root);
      }
    }
    this.steps = unionSteps(runIds.map((id) => (this.store.series.get(id)?.samples ?? []).map((s) => s.step)));
    this.slider.max = String(Math.max(0, this.steps.length - 1));
    this.slider.disabled = this.steps.length < 2;
    this.show(this.picked ?? this.steps[this.steps.length - 1] ?? null);
  }

  /** Moves every gallery to `step` (nearest available per run). */
  pick(step: number | null): void {
    this.picked = step;
    this.show(step);
    this.onStep(step);
  }

  private show(step: number | null): void {
    if (step === null) {
      this.stepLabel.textContent = 'no sample grids yet';
      for (const t of this.tiles.values()) {
        t.img.removeAttribute('src');
        t.caption.textContent = '';
      }
      return;
    }
    const at = nearestStep(this.steps, step);
    if (at) this.slider.value = String(this.steps.indexOf(at.step));
    this.stepLabel.textContent = `step ${at?.step ?? step}`;
    for (const id of this.runIds) {
      const t = this.tiles.get(id);
      if (!t) continue;
      const samples = this.store.series.get(id)?.samples ?? [];
      const near = nearestStep(
        samples.map((s) => s.step),
        at?.step ?? step,
      );
      if (!near) {
        t.img.removeAttribute('src');
        t.caption.textContent = 'no grids';
        t.root.dataset.step = '';
        continue;
      }
      const uri = samples.find((s) => s.step === near.step)?.uri ?? '';
      if (t.img.getAttribute('src') !== uri) t.img.src = uri;
      t.root.dataset.step = String(near.step);
      t.root.classList.toggle('inexact', !near.exact);
      t.caption.textContent = near.exact ? `step ${near.step}` : `step ${near.step} (nearest to ${at?.step ?? step})`;
    }
  }

  private togglePlay(): void {
    if (this.timer !== null) {
      window.clearInterval(this.timer);
      this.timer = null;
      this.playBtn.textContent = 'Play';
      return;
    }
    this.playBtn.textContent = 'Pause';
    this.timer = window.setInterval(() => {
      const i = Number(this.slider.value);
      if (i >= this.steps.length - 1) return this.togglePlay();
      this.pick(this.steps[i + 1]);
    }, 400);
  }
}

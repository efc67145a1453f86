/** The warning shown wherever the training loss would compare runs of different assignment modes. */
import type { Store } from './store';

/**
 * With assignment the training noise is partly predictable from the image, so a run can reach a
 * lower loss with worse samples (docs/results: every seed of the DDPM studies).
 */
export const LOSS_ACROSS_MODES =
  'These runs differ in assignment.mode: with assignment the training noise is partly predictable from the image, so a run can reach a lower loss with worse samples. Compare them by an evaluation metric (evaluation.every > 0).';

/** True when the runs shown are of more than one assignment mode. */
export function modesDiffer(runIds: readonly string[], store: Store): boolean {
  return new Set(runIds.map((id) => store.runById.get(id)?.mode).filter((m) => m !== undefined)).size > 1;
}

/** Step arithmetic for the synced galleries. */

export interface NearestStep {
  step: number;
  /** Whether the run has a grid at exactly the requested step. */
  exact: boolean;
}

/** The available step closest to `target` (ties go to the earlier step); null for no steps. `steps` ascending. */
export function nearestStep(steps: readonly number[], target: number): NearestStep | null {
  if (steps.length === 0) return null;
  let lo = 0;
  let hi = steps.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (steps[mid] < target) lo = mid + 1;
    else hi = mid;
  }
  let best = lo;
  if (lo > 0 && target - steps[lo - 1] <= steps[lo] - target) best = lo - 1;
  return { step: steps[best], exact: steps[best] === target };
}

/** Every step at which any of the runs has a grid, ascending, without repeats. */
export function unionSteps(lists: readonly (readonly number[])[]): number[] {
  const all = new Set<number>();
  for (const l of lists) for (const s of l) all.add(s);
  return [...all].sort((a, b) => a - b);
}

/** Which config keys differ between runs: the compare view shows only those. */

export type FlatValue = string | number | boolean | null;

/** Nested objects become dotted keys; arrays are kept whole, as their JSON text. */
export function flattenConfig(value: unknown, prefix = '', out: Record<string, FlatValue> = {}): Record<string, FlatValue> {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (k === '$schema') continue;
      flattenConfig(v, prefix ? `${prefix}.${k}` : k, out);
    }
  } else if (prefix) {
    out[prefix] = Array.isArray(value) ? JSON.stringify(value) : (value as FlatValue);
  }
  return out;
}

/** Keys whose value is not the same in every config (a key missing from some counts as differing), sorted. */
export function differingKeys(configs: readonly Record<string, FlatValue>[]): string[] {
  if (configs.length < 2) return [];
  const keys = new Set<string>();
  for (const c of configs) for (const k of Object.keys(c)) keys.add(k);
  const out: string[] = [];
  for (const k of keys) {
    const first = configs[0][k];
    if (configs.some((c) => !(k in c) || c[k] !== first)) out.push(k);
  }
  return out.sort();
}

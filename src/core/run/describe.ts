/** Short texts about a run, shared by the runs tree and `immiscible runs`. */

export function formatLoss(loss: number): string {
  if (!Number.isFinite(loss)) return String(loss);
  // Three significant digits, switching to exponent form where fixed notation would hide them.
  return Math.abs(loss) >= 0.001 || loss === 0 ? String(Number(loss.toPrecision(3))) : loss.toExponential(2);
}

/** "12 s ago", "5 min ago", "3 h ago", "2 d ago": how long before `now` an ISO time was. */
export function formatAge(iso: string, now: number): string {
  const t = Date.parse(iso);
  if (!Number.isFinite(t)) return '?';
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 120) return `${s} s ago`;
  if (s < 7200) return `${Math.round(s / 60)} min ago`;
  if (s < 172_800) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86_400)} d ago`;
}

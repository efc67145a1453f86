// Prints where a V8 CPU profile (node --cpu-prof) spent its time: the functions with the most
// self time, and the inclusive time of the functions named on the command line. --from 0.5 keeps
// the samples after that fraction of the profile's span (the steady state, without start-up and
// shader compiles).
// Usage: node scripts/cpuprofile-top.mjs FILE.cpuprofile [--top 30] [--from 0.5] [name ...]
import { readFileSync } from 'node:fs';

const args = process.argv.slice(2);
const file = args.shift();
if (!file) {
  console.error('usage: node scripts/cpuprofile-top.mjs FILE.cpuprofile [--top N] [--from FRACTION] [function ...]');
  process.exit(2);
}
let top = 30;
let from = 0;
const names = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--top') top = Number(args[++i]);
  else if (args[i] === '--from') from = Number(args[++i]);
  else names.push(args[i]);
}
if (!(from >= 0 && from < 1)) {
  console.error(`--from: expected a fraction in [0, 1), got ${from}`);
  process.exit(2);
}
const profile = JSON.parse(readFileSync(file, 'utf8'));
const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const label = (n) => `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.split('/').pop()}:${n.callFrame.lineNumber + 1}`;
const self = new Map();
const inclusive = new Map();
let total = 0;
const start = profile.startTime + from * (profile.endTime - profile.startTime);
let t = profile.startTime;
profile.samples.forEach((id, i) => {
  const dt = profile.timeDeltas[i] ?? 0;
  t += dt;
  if (t < start) return;
  total += dt;
  const key = label(nodes.get(id));
  self.set(key, (self.get(key) ?? 0) + dt);
  const seen = new Set();
  for (let x = id; x !== undefined; x = parent.get(x)) {
    const name = nodes.get(x).callFrame.functionName;
    // Methods appear as Class.method: a plain name matches either.
    const match = names.find((n) => name === n || name.endsWith(`.${n}`));
    if (match && !seen.has(match)) {
      seen.add(match);
      inclusive.set(match, (inclusive.get(match) ?? 0) + dt);
    }
  }
});
console.log(`${(total / 1000).toFixed(0)} ms sampled${from > 0 ? ` (after ${from} of the span)` : ''}`);
for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`self ${(v / 1000).toFixed(1).padStart(9)} ms ${((100 * v) / total).toFixed(1).padStart(5)}%  ${k}`);
for (const n of names) console.log(`inclusive ${((inclusive.get(n) ?? 0) / 1000).toFixed(1).padStart(9)} ms  ${n}`);

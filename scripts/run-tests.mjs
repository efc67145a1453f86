// Runs every test file under test/ (or those given) with node:test; exits non-zero on any failure.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function find(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...find(p));
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

// The end-to-end suite (a real VS Code) runs when IMMISCIBLE_E2E=1 (set by .ci/run) or when named.
const args = process.argv.slice(2);
const e2e = process.env.IMMISCIBLE_E2E === '1';
const files = (args.length ? args : ['test'])
  .flatMap((a) => (statSync(a).isDirectory() ? find(a).filter((f) => e2e || !f.includes(`${'test'}/e2e/`)) : [a]))
  .sort();
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);
